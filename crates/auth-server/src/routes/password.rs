//! `POST /api/auth/change-password`.

use actix_web::web::Data;
use actix_web::HttpResponse;

use super::respond::SessionResponse;
use crate::accounts;
use crate::error::ApiError;
use crate::extract::{ClientInfo, CurrentSession, Form};
use crate::forms::ChangePassword;
use crate::state::AppState;

/// Replaces the password after checking the current one. With
/// `revokeOtherSessions: true` every session ends and a fresh one is returned.
#[utoipa::path(post, path = "/api/auth/change-password", tag = "auth",
    request_body(content = ChangePassword, content_type = "application/json"),
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, body = auth_wire::TokenAndUser), (status = 400, body = auth_wire::ErrorBody, description = "INVALID_PASSWORD, PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG"), (status = 401, body = auth_wire::ErrorBody)))]
#[tracing::instrument(name = "change_password", level = "debug", skip_all)]
pub async fn change_password(
    Form(form): Form<ChangePassword>,
    current: CurrentSession,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let changed = accounts::change_password(&state, &current, form, &client).await?;
    let mut res = SessionResponse::ok(&state);
    if let Some(token) = &changed.new_token {
        res = res.session(token, current.session.remember);
    }
    Ok(res.json(auth_wire::TokenAndUser {
        token: changed.new_token,
        user: changed.user.to_wire(),
    }))
}
