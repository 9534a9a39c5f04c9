//! Password reset: `POST /request-password-reset`, the mailed link
//! `GET /reset-password/{token}`, and `POST /reset-password`.

use actix_web::http::header::HeaderValue;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};

use super::respond::SessionResponse;
use crate::error::ApiError;
use crate::extract::{ClientInfo, Form};
use crate::forms::{
    query_param, required_query, CallbackUrl, RequestPasswordResetFields, ResetPassword,
};
use crate::one_time_tokens::auth_link;
use crate::password_reset;
use crate::state::AppState;

const RESET_MAILED: &str =
    "If this email exists in our system, check your email for the reset link";

/// Mails a reset link to a known address; the same answer for every address.
#[utoipa::path(post, path = "/api/auth/request-password-reset", tag = "account",
    request_body(content = crate::forms::RequestPasswordReset, content_type = "application/json"),
    responses(
        (status = 200, body = auth_wire::StatusBody, description = "Always the same body, no sooner than AUTH_MAIL_REQUEST_FLOOR_MS"),
        (status = 400, body = auth_wire::ErrorBody, description = "VALIDATION_ERROR, RESET_PASSWORD_DISABLED"),
        (status = 403, body = auth_wire::ErrorBody, description = "INVALID_REDIRECT_URL"),
        (status = 429, body = auth_wire::ErrorBody, description = "Over the mail limit (per IP and per address)"),
    ))]
#[tracing::instrument(name = "request_password_reset", level = "debug", skip_all)]
pub async fn request_password_reset(
    Form(form): Form<RequestPasswordResetFields>,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    password_reset::request(&state, &form, &client).await?;
    Ok(SessionResponse::ok(&state).json(auth_wire::StatusBody {
        status: true,
        message: Some(RESET_MAILED.into()),
    }))
}

/// The mailed link: redirects to the app's reset page with the token, or with
/// `?error=INVALID_TOKEN`.
#[utoipa::path(get, path = "/api/auth/reset-password/{token}", tag = "account",
    params(
        ("token" = String, Path),
        ("callbackURL" = String, Query, description = "The app's reset page (trusted origin or relative path)"),
    ),
    responses(
        (status = 302, description = "`<callbackURL>?token=<token>`, or `?error=INVALID_TOKEN` for an unknown, used or expired token"),
        (status = 400, body = auth_wire::ErrorBody, description = "callbackURL missing"),
        (status = 403, body = auth_wire::ErrorBody, description = "INVALID_CALLBACK_URL"),
    ))]
#[tracing::instrument(name = "reset_password_link", level = "debug", skip_all)]
pub async fn reset_password_link(
    req: HttpRequest,
    token: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let raw = required_query(&req, "callbackURL")?;
    if raw.is_empty() {
        // Mailed without redirectTo and without AUTH_PASSWORD_RESET_PAGE: nowhere to land.
        let page = auth_link(&state, "error", &[("error", "RESET_PAGE_NOT_CONFIGURED")]);
        let location = HeaderValue::from_str(&page).map_err(|e| ApiError::Internal(e.into()))?;
        return Ok(SessionResponse::found(&state, location).finish());
    }
    let callback = CallbackUrl::parse(raw, &state)?;
    let location = if password_reset::token_is_usable(&state, &token).await? {
        callback.with_param("token", &token)
    } else {
        callback.with_param("error", "INVALID_TOKEN")
    };
    Ok(SessionResponse::found(&state, location).finish())
}

/// Sets a new password with a mailed token.
#[utoipa::path(post, path = "/api/auth/reset-password", tag = "account",
    request_body(content = crate::forms::ResetPassword, content_type = "application/json"),
    params(("token" = Option<String>, Query, description = "Instead of the body's token")),
    responses(
        (status = 200, body = auth_wire::StatusBody, description = "Password set (a credential created if the user had none), the address marked verified, and by default every session ended"),
        (status = 400, body = auth_wire::ErrorBody, description = "INVALID_TOKEN, PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG, VALIDATION_ERROR"),
    ))]
#[tracing::instrument(name = "reset_password", level = "debug", skip_all)]
pub async fn reset_password(
    req: HttpRequest,
    Form(form): Form<ResetPassword>,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    password_reset::reset(&state, form, query_param(&req, "token"), &client).await?;
    Ok(SessionResponse::ok(&state).json(auth_wire::StatusBody::ok()))
}
