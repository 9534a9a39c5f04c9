//! The signed-in user's account: `POST /delete-user`, `GET /delete-user/callback`,
//! `POST /verify-password`, `GET /list-accounts`.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};

use super::respond::SessionResponse;
use crate::account_deletion::{self, Deletion};
use crate::accounts;
use crate::error::ApiError;
use crate::extract::{ClientInfo, CurrentSession, Form, OptionalSession};
use crate::forms::{query_callback, required_query, DeleteUserFields, VerifyPassword};
use crate::state::AppState;

fn deleted() -> auth_wire::SuccessBody {
    auth_wire::SuccessBody {
        success: true,
        message: "User deleted".into(),
    }
}

/// Deletes the signed-in user, or mails a confirmation link.
#[utoipa::path(post, path = "/api/auth/delete-user", tag = "account",
    request_body(content = crate::forms::DeleteUser, content_type = "application/json"),
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = auth_wire::SuccessBody, description = "`User deleted` (cookies cleared) or `Verification email sent`"),
        (status = 400, body = auth_wire::ErrorBody, description = "INVALID_PASSWORD, CREDENTIAL_ACCOUNT_NOT_FOUND, SESSION_EXPIRED (no password and a session older than AUTH_SESSION_FRESH_AGE)"),
        (status = 401, body = auth_wire::ErrorBody),
        (status = 404, body = auth_wire::ErrorBody, description = "INVALID_TOKEN; NOT_FOUND when AUTH_DELETE_USER_ENABLED=false"),
    ))]
#[tracing::instrument(name = "delete_user", level = "debug", skip_all)]
pub async fn delete_user(
    current: CurrentSession,
    Form(form): Form<DeleteUserFields>,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(
        match account_deletion::delete_user(&state, &current, &form, &client).await? {
            Deletion::Deleted => SessionResponse::ok(&state).clear().json(deleted()),
            Deletion::VerificationSent => {
                SessionResponse::ok(&state).json(auth_wire::SuccessBody {
                    success: true,
                    message: "Verification email sent".into(),
                })
            }
        },
    )
}

/// The mailed deletion link; works only in the browser signed in as that user.
#[utoipa::path(get, path = "/api/auth/delete-user/callback", tag = "account",
    params(("token" = String, Query), ("callbackURL" = Option<String>, Query)),
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 302, description = "Deleted; to callbackURL with the cookies cleared"),
        (status = 200, body = auth_wire::SuccessBody, description = "Deleted (no callbackURL)"),
        (status = 403, body = auth_wire::ErrorBody, description = "INVALID_CALLBACK_URL"),
        (status = 404, body = auth_wire::ErrorBody, description = "FAILED_TO_GET_USER_INFO (not signed in), INVALID_TOKEN (unknown, used, expired or another user's; never spent by another user)"),
    ))]
#[tracing::instrument(name = "delete_user_callback", level = "debug", skip_all)]
pub async fn delete_user_callback(
    req: HttpRequest,
    session: OptionalSession,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = required_query(&req, "token")?;
    let callback = query_callback(&req, &state)?;
    let current = session.0.ok_or(ApiError::FailedToGetUserInfo)?;
    account_deletion::delete_with_token(&state, &current, &token, &client).await?;
    Ok(match callback {
        Some(cb) => SessionResponse::found(&state, cb.location().clone())
            .clear()
            .finish(),
        None => SessionResponse::ok(&state).clear().json(deleted()),
    })
}

/// Checks the signed-in user's password.
#[utoipa::path(post, path = "/api/auth/verify-password", tag = "account",
    request_body(content = crate::forms::VerifyPassword, content_type = "application/json"),
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = auth_wire::StatusBody),
        (status = 400, body = auth_wire::ErrorBody, description = "INVALID_PASSWORD"),
        (status = 401, body = auth_wire::ErrorBody),
        (status = 429, body = auth_wire::ErrorBody),
    ))]
#[tracing::instrument(name = "verify_password", level = "debug", skip_all)]
pub async fn verify_password(
    current: CurrentSession,
    Form(form): Form<VerifyPassword>,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    accounts::verify_password(&state, &current, &form.password, &client).await?;
    Ok(SessionResponse::ok(&state).json(auth_wire::StatusBody::ok()))
}

/// The signed-in user's ways to sign in.
#[utoipa::path(get, path = "/api/auth/list-accounts", tag = "account",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = Vec<auth_wire::LinkedAccount>),
        (status = 401, body = auth_wire::ErrorBody),
    ))]
#[tracing::instrument(name = "list_accounts", level = "debug", skip_all)]
pub async fn list_accounts(
    current: CurrentSession,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let list = accounts::list_accounts(&state, &current).await?;
    Ok(SessionResponse::ok(&state).json(list))
}
