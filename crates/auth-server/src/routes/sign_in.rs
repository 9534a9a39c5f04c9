//! `POST /api/auth/sign-in/email`.

use actix_web::http::header;
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};

use crate::body::{self, Accepts};
use crate::db::{accounts, users};
use crate::error::ApiError;
use crate::password::Verification;
use crate::rate_limit::Account;
use crate::session_service::{self, ClientInfo};
use crate::state::AppState;

/// Checks e-mail and password and opens a new session. Unknown e-mail, wrong
/// password and a banned user all get the same 401; the ban is looked at only
/// after the password, so the answer never tells a ban from a typo. An imported
/// (bcrypt, older argon2) hash is replaced with argon2id after a successful check.
#[utoipa::path(post, path = "/api/auth/sign-in/email", tag = "auth",
    request_body(content = crate::openapi::SignInBody, content_type = "application/json"),
    responses(
        (status = 200, body = auth_wire::SignInResponse, description = "Signed in; sets the session cookie and `set-auth-token`"),
        (status = 400, body = auth_wire::ErrorBody, description = "VALIDATION_ERROR, BAD_REQUEST, INVALID_EMAIL, PASSWORD_TOO_LONG"),
        (status = 401, body = auth_wire::ErrorBody, description = "INVALID_EMAIL_OR_PASSWORD (unknown e-mail, wrong password and banned user alike)"),
        (status = 403, body = auth_wire::ErrorBody, description = "Origin / CSRF rules, INVALID_CALLBACK_URL"),
        (status = 415, body = auth_wire::ErrorBody),
    ))]
pub async fn sign_in(
    req: HttpRequest,
    body: Bytes,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.check_login_origin(&req)?;
    let mut f = body::parse(&req, &body, Accepts::JsonOrForm)?.object()?;
    let email = f.string("email");
    let password = f.string("password");
    let callback = f.opt_string("callbackURL");
    let remember = f.opt_bool("rememberMe").unwrap_or(true);
    f.finish()?;
    let email = email.trim().to_lowercase();
    if !body::is_valid_email(&email) {
        return Err(ApiError::InvalidEmail);
    }
    if password.encode_utf16().count() > state.settings.password_max_length {
        return Err(ApiError::PasswordTooLong);
    }
    if callback
        .as_deref()
        .is_some_and(|cb| !state.origins.is_safe_redirect(cb))
    {
        return Err(ApiError::InvalidCallbackUrl);
    }
    // Every response header is built before anything is written.
    let location = callback
        .as_deref()
        .map(header::HeaderValue::from_str)
        .transpose()
        .map_err(|_| ApiError::InvalidCallbackUrl)?;
    state.check_rate_limit(&req, Account::Email(&email)).await?;

    // The connection goes back to the pool before the (slow) hash.
    let found = users::find_for_sign_in(&state.pool.get().await?, &email).await?;
    let stored_hash = found.as_ref().and_then(|c| c.password_hash.as_deref());
    let verdict = state.hasher.check(&password, stored_hash).await?;
    let candidate = match (verdict.is_valid(), found) {
        (true, Some(c)) if !c.banned => c,
        (true, Some(c)) => {
            tracing::info!(user_id = %c.user.id, "sign-in rejected: user is banned");
            return Err(ApiError::InvalidEmailOrPassword);
        }
        _ => {
            tracing::info!("sign-in rejected");
            return Err(ApiError::InvalidEmailOrPassword);
        }
    };
    if verdict == Verification::ValidOutdated {
        if let Some(old) = candidate.password_hash.as_deref() {
            upgrade_hash(&state, candidate.user.id, &password, old).await;
        }
    }
    let user = candidate.user;

    let info = ClientInfo::of(&req, &state);
    let (token, _) =
        session_service::create(&state.pool.get().await?, &state, user.id, remember, &info).await?;
    tracing::info!(user_id = %user.id, "user signed in");

    let mut res = HttpResponse::Ok();
    state.cookies.set_session(
        &mut res,
        &state.signer,
        &token,
        remember,
        state.settings.session_expires_in,
    );
    if let Some(location) = location {
        res.insert_header((header::LOCATION, location));
    }
    Ok(res.json(auth_wire::SignInResponse {
        redirect: callback.is_some(),
        token,
        url: callback,
        user: user.to_wire(),
    }))
}

/// Re-hashes a password that verified against an imported or weaker hash with
/// argon2id and stores it. Best effort: a failure is logged, and the sign-in goes on
/// (the old hash still works, so the next sign-in tries again).
async fn upgrade_hash(state: &AppState, user_id: uuid::Uuid, password: &str, old: &str) {
    let result = async {
        let new_hash = state.hasher.hash(password).await?;
        let client = state.pool.get().await?;
        let replaced = accounts::replace_credential_hash(&client, user_id, old, &new_hash).await?;
        anyhow::Ok(replaced)
    }
    .await;
    match result {
        Ok(true) => tracing::info!(%user_id, "password hash upgraded to argon2id"),
        Ok(false) => tracing::info!(%user_id, "password hash changed meanwhile; not upgraded"),
        Err(e) => tracing::warn!(%user_id, error = ?e, "could not upgrade the password hash"),
    }
}
