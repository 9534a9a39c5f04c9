//! `POST /api/auth/sign-up/email`.

use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};

use crate::body::{self, Accepts};
use crate::db::{accounts, users};
use crate::error::ApiError;
use crate::rate_limit::Account;
use crate::session_service::{self, ClientInfo};
use crate::state::AppState;

/// Creates a user with a password and signs them in (Better Auth's auto sign-in).
#[utoipa::path(post, path = "/api/auth/sign-up/email", tag = "auth",
    request_body(content = crate::openapi::SignUpBody, content_type = "application/json"),
    responses(
        (status = 200, body = auth_wire::TokenAndUser, description = "Signed up and signed in; sets the session cookie and `set-auth-token`"),
        (status = 400, body = auth_wire::ErrorBody, description = "VALIDATION_ERROR, BAD_REQUEST, INVALID_EMAIL, PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG"),
        (status = 403, body = auth_wire::ErrorBody, description = "Origin / CSRF rules, INVALID_CALLBACK_URL"),
        (status = 415, body = auth_wire::ErrorBody),
        (status = 422, body = auth_wire::ErrorBody, description = "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"),
    ))]
pub async fn sign_up(
    req: HttpRequest,
    body: Bytes,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.check_login_origin(&req)?;
    let mut f = body::parse(&req, &body, Accepts::JsonOrForm)?.object()?;
    let name = f.string("name");
    let email = f.string("email");
    let password = f.string("password");
    let image = f.opt_string("image");
    let callback = f.opt_string("callbackURL");
    let remember = f.opt_bool("rememberMe").unwrap_or(true);
    f.finish()?;
    if name.chars().count() > 256 {
        return Err(ApiError::Validation(
            "[body.name] Too big: expected string to have <=256 characters".into(),
        ));
    }
    if image.as_ref().is_some_and(|i| i.len() > 2048) {
        return Err(ApiError::Validation(
            "[body.image] Too big: expected string to have <=2048 characters".into(),
        ));
    }
    if callback
        .as_deref()
        .is_some_and(|cb| !state.origins.is_safe_redirect(cb))
    {
        return Err(ApiError::InvalidCallbackUrl);
    }
    let email = email.trim().to_lowercase();
    if !body::is_valid_email(&email) {
        return Err(ApiError::InvalidEmail);
    }
    if password.is_empty() {
        return Err(ApiError::PasswordTooShort);
    }
    state.check_password_length(&password)?;
    state.check_rate_limit(&req, Account::Email(&email)).await?;

    // Cheap pre-check so a taken e-mail costs no hashing; the insert below still
    // decides races through the unique constraint.
    if users::email_exists(&state.pool.get().await?, &email).await? {
        return Err(ApiError::UserAlreadyExists);
    }
    let hash = state.hasher.hash(&password).await?;

    let info = ClientInfo::of(&req, &state);
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let user = users::insert(&tx, &name, &email, image.as_deref())
        .await?
        .ok_or(ApiError::UserAlreadyExists)?;
    accounts::insert_credential(&tx, user.id, &hash).await?;
    let (token, session) = session_service::create(&tx, &state, user.id, remember, &info).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "user signed up");

    let mut res = HttpResponse::Ok();
    // A JWT right away, so a backend can be called without another round trip.
    let jwt = state.tokens.token_for(&state.keys, &session, &user)?;
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&jwt) {
        res.insert_header((crate::cookies::SET_AUTH_JWT, v));
    }
    state.cookies.set_session(
        &mut res,
        &state.signer,
        &token,
        remember,
        state.settings.session_expires_in,
    );
    Ok(res.json(auth_wire::TokenAndUser {
        token: Some(token),
        user: user.to_wire(),
    }))
}
