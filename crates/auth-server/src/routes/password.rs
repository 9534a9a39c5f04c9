//! `POST /api/auth/change-password`.

use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};

use crate::body::{self, Accepts};
use crate::db::{accounts, sessions, users};
use crate::error::ApiError;
use crate::rate_limit::Account;
use crate::session_service::{self, ClientInfo};
use crate::state::AppState;

/// Replaces the password after checking the current one. With
/// `revokeOtherSessions: true` every session ends and a fresh one is returned.
#[utoipa::path(post, path = "/api/auth/change-password", tag = "auth",
    request_body(content = crate::openapi::ChangePasswordBody, content_type = "application/json"),
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, body = auth_wire::TokenAndUser), (status = 400, body = auth_wire::ErrorBody, description = "INVALID_PASSWORD, PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG"), (status = 401, body = auth_wire::ErrorBody)))]
pub async fn change_password(
    req: HttpRequest,
    body: Bytes,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.check_origin(&req)?;
    let mut f = body::parse(&req, &body, Accepts::Json)?.object()?;
    let new_password = f.string("newPassword");
    let current_password = f.string("currentPassword");
    let revoke_others = f.opt_bool("revokeOtherSessions").unwrap_or(false);
    f.finish()?;
    let current = session_service::require(&state, &req).await?;
    state.check_password_length(&new_password)?;
    state
        .check_rate_limit(&req, Account::User(current.user.id))
        .await?;
    if current_password.encode_utf16().count() > state.settings.password_max_length {
        return Err(ApiError::InvalidPassword);
    }

    let stored = accounts::credential_hash(&state.pool.get().await?, current.user.id)
        .await?
        .ok_or(ApiError::CredentialAccountNotFound)?;
    if !state
        .hasher
        .verify(&current_password, Some(&stored))
        .await?
    {
        return Err(ApiError::InvalidPassword);
    }
    let new_hash = state.hasher.hash(&new_password).await?;

    let info = ClientInfo::of(&req, &state);
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    accounts::set_credential_hash(&tx, current.user.id, &new_hash).await?;
    // Bumping updated_at also drops JWTs cached for this user.
    let user = users::touch(&tx, current.user.id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let new_token = if revoke_others {
        sessions::delete_all_for_user(&tx, current.user.id, None).await?;
        let (token, _) = session_service::create(
            &tx,
            &state,
            current.user.id,
            current.session.remember,
            &info,
        )
        .await?;
        Some(token)
    } else {
        None
    };
    tx.commit().await?;
    tracing::info!(user_id = %user.id, revoke_others, "password changed");

    let mut res = HttpResponse::Ok();
    if let Some(token) = &new_token {
        state.cookies.set_session(
            &mut res,
            &state.signer,
            token,
            current.session.remember,
            state.settings.session_expires_in,
        );
    }
    Ok(res.json(auth_wire::TokenAndUser {
        token: new_token,
        user: user.to_wire(),
    }))
}
