//! `POST /api/auth/sign-up/email`.

use actix_web::web::Data;
use actix_web::HttpResponse;

use super::respond::SessionResponse;
use crate::accounts;
use crate::error::ApiError;
use crate::extract::{ClientInfo, Form};
use crate::forms::SignUpFields;
use crate::state::AppState;

/// Creates a user with a password and signs them in (Better Auth's auto sign-in).
#[utoipa::path(post, path = "/api/auth/sign-up/email", tag = "auth",
    request_body(content = crate::forms::SignUp, content_type = "application/json"),
    responses(
        (status = 200, body = auth_wire::TokenAndUser, description = "Signed up and signed in; sets the session cookie, `set-auth-token` and `set-auth-jwt`. With AUTH_REQUIRE_EMAIL_VERIFICATION: `token: null`, no session, the verification mail sent"),
        (status = 400, body = auth_wire::ErrorBody, description = "VALIDATION_ERROR, BAD_REQUEST, INVALID_EMAIL, PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG"),
        (status = 403, body = auth_wire::ErrorBody, description = "Origin / CSRF rules, INVALID_CALLBACK_URL"),
        (status = 415, body = auth_wire::ErrorBody),
        (status = 422, body = auth_wire::ErrorBody, description = "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"),
    ))]
#[tracing::instrument(name = "sign_up", level = "debug", skip_all)]
pub async fn sign_up(
    Form(form): Form<SignUpFields>,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let signed = match accounts::sign_up(&state, &form, &client).await? {
        accounts::SignedUp::SignedIn(signed) => signed,
        // Verification required: no session until the mailed link is opened.
        accounts::SignedUp::AwaitingVerification(user) => {
            return Ok(SessionResponse::ok(&state).json(auth_wire::TokenAndUser {
                token: None,
                user: user.to_wire(),
            }))
        }
    };
    let remember = form.remember_me.unwrap_or(true);
    Ok(SessionResponse::ok(&state)
        .jwt(&signed.session, &signed.user)
        .session(&signed.token, remember)
        .json(auth_wire::TokenAndUser {
            token: Some(signed.token),
            user: signed.user.to_wire(),
        }))
}
