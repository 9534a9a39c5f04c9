//! `POST /api/auth/sign-in/email`.

use actix_web::http::header;
use actix_web::web::Data;
use actix_web::HttpResponse;

use super::respond::SessionResponse;
use crate::accounts;
use crate::error::ApiError;
use crate::extract::{ClientInfo, Form};
use crate::forms::SignInFields;
use crate::state::AppState;

/// Checks e-mail and password and opens a new session (see [`accounts::sign_in`]).
#[utoipa::path(post, path = "/api/auth/sign-in/email", tag = "auth",
    request_body(content = crate::forms::SignIn, content_type = "application/json"),
    responses(
        (status = 200, body = auth_wire::SignInResponse, description = "Signed in; sets the session cookie and `set-auth-token`"),
        (status = 400, body = auth_wire::ErrorBody, description = "VALIDATION_ERROR, BAD_REQUEST, INVALID_EMAIL, PASSWORD_TOO_LONG"),
        (status = 401, body = auth_wire::ErrorBody, description = "INVALID_EMAIL_OR_PASSWORD (unknown e-mail, wrong password and banned user alike)"),
        (status = 403, body = auth_wire::ErrorBody, description = "Origin / CSRF rules, INVALID_CALLBACK_URL"),
        (status = 415, body = auth_wire::ErrorBody),
    ))]
#[tracing::instrument(name = "sign_in", level = "debug", skip_all)]
pub async fn sign_in(
    Form(form): Form<SignInFields>,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let signed = accounts::sign_in(&state, &form, &client).await?;
    let mut res =
        SessionResponse::ok(&state).session(&signed.token, form.remember_me.unwrap_or(true));
    if let Some(callback) = &form.callback_url {
        res = res.header(header::LOCATION, callback.location().clone());
    }
    Ok(res.json(auth_wire::SignInResponse {
        redirect: form.callback_url.is_some(),
        token: signed.token,
        url: form.callback_url.map(|c| c.as_str().to_owned()),
        user: signed.user.to_wire(),
    }))
}
