//! E-mail verification and change: `POST /send-verification-email`,
//! `GET /verify-email`, `POST /change-email`.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};

use super::respond::SessionResponse;
use crate::email_verification::{self, Verified};
use crate::error::ApiError;
use crate::extract::{ClientInfo, CurrentSession, Form, OptionalSession};
use crate::forms::{
    query_callback, required_query, ChangeEmailFields, SendVerificationEmailFields,
};
use crate::state::AppState;

/// Mails a verification link to an unverified address.
#[utoipa::path(post, path = "/api/auth/send-verification-email", tag = "account",
    request_body(content = crate::forms::SendVerificationEmail, content_type = "application/json"),
    security((), ("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = auth_wire::StatusBody, description = "Always `{\"status\":true}` without a session (mail only to an unverified address; the answer takes at least AUTH_MAIL_REQUEST_FLOOR_MS)"),
        (status = 400, body = auth_wire::ErrorBody, description = "VALIDATION_ERROR, EMAIL_MISMATCH, EMAIL_ALREADY_VERIFIED, VERIFICATION_EMAIL_NOT_ENABLED"),
        (status = 403, body = auth_wire::ErrorBody, description = "INVALID_CALLBACK_URL, origin rules"),
        (status = 429, body = auth_wire::ErrorBody, description = "Over the mail limit (per IP and per address)"),
    ))]
#[tracing::instrument(name = "send_verification_email", level = "debug", skip_all)]
pub async fn send_verification_email(
    session: OptionalSession,
    Form(form): Form<SendVerificationEmailFields>,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    email_verification::send_verification_email(&state, &form, session.0.as_ref(), &client).await?;
    Ok(SessionResponse::ok(&state).json(auth_wire::StatusBody::ok()))
}

/// Opens a mailed verification or change link.
#[utoipa::path(get, path = "/api/auth/verify-email", tag = "account",
    params(
        ("token" = String, Query, description = "From the mailed link"),
        ("callbackURL" = Option<String>, Query, description = "Where to land; errors are appended as `?error=`"),
    ),
    responses(
        (status = 302, description = "To callbackURL (with `?error=INVALID_TOKEN|TOKEN_EXPIRED|INVALID_USER|USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL` on failure); with AUTH_AUTO_SIGN_IN_AFTER_VERIFICATION the first opening sets the session cookie"),
        (status = 200, body = auth_wire::StatusBody, description = "Without callbackURL: `{\"status\":true,\"user\":null}`"),
        (status = 401, body = auth_wire::ErrorBody, description = "Without callbackURL: INVALID_TOKEN, TOKEN_EXPIRED"),
        (status = 403, body = auth_wire::ErrorBody, description = "INVALID_CALLBACK_URL"),
    ))]
#[tracing::instrument(name = "verify_email", level = "debug", skip_all)]
pub async fn verify_email(
    req: HttpRequest,
    session: OptionalSession,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = required_query(&req, "token")?;
    let callback = query_callback(&req, &state)?;
    let current = session.0;
    let outcome = email_verification::verify(
        &state,
        &token,
        callback.as_ref().map(|c| c.as_str()),
        current.as_ref(),
        &client,
    )
    .await;
    let outcome = match (outcome, &callback) {
        (Ok(outcome), _) => outcome,
        (Err(e), Some(cb)) => {
            return Ok(SessionResponse::found(&state, cb.with_param("error", e.code)).finish())
        }
        (Err(e), None) => return Err(e.error),
    };
    let mut res = match &callback {
        Some(cb) => SessionResponse::found(&state, cb.location().clone()),
        None => SessionResponse::ok(&state),
    };
    let mut user_json = serde_json::Value::Null;
    match &outcome {
        Verified::Verified {
            user,
            new_session: Some((token, row)),
        } => {
            res = res.session(token, true).jwt(row, user);
        }
        Verified::Verified { user, .. } | Verified::EmailChanged { user } => {
            // The browser's own session: its cookie is issued again, as Better Auth does.
            if let Some(current) = current.as_ref().filter(|c| c.user.id == user.id) {
                res = res.session(&current.token, current.session.remember);
            }
            if let Verified::EmailChanged { user } = &outcome {
                user_json = serde_json::to_value(user.to_wire()).unwrap_or_default();
            }
        }
        Verified::AlreadyVerified | Verified::ChangeConfirmed => {}
    }
    Ok(match callback {
        Some(_) => res.finish(),
        None => res.json(serde_json::json!({ "status": true, "user": user_json })),
    })
}

/// Asks to change the signed-in user's address.
#[utoipa::path(post, path = "/api/auth/change-email", tag = "account",
    request_body(content = crate::forms::ChangeEmail, content_type = "application/json"),
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = auth_wire::StatusBody, description = "A link mailed (to the old address first when it is verified); the same answer, and no mail, for an address that is taken"),
        (status = 400, body = auth_wire::ErrorBody, description = "VALIDATION_ERROR, EMAIL_IS_THE_SAME, CHANGE_EMAIL_DISABLED, VERIFICATION_EMAIL_NOT_ENABLED"),
        (status = 401, body = auth_wire::ErrorBody),
        (status = 403, body = auth_wire::ErrorBody, description = "INVALID_CALLBACK_URL, origin rules"),
        (status = 429, body = auth_wire::ErrorBody),
    ))]
#[tracing::instrument(name = "change_email", level = "debug", skip_all)]
pub async fn change_email(
    current: CurrentSession,
    Form(form): Form<ChangeEmailFields>,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    email_verification::request_change(&state, &current, &form, &client).await?;
    Ok(SessionResponse::ok(&state).json(auth_wire::StatusBody::ok()))
}
