//! `POST /api/auth/sign-in/email`.

use actix_web::http::header;
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};

use crate::body::{self, Accepts};
use crate::db::users;
use crate::error::ApiError;
use crate::session_service::{self, ClientInfo};
use crate::state::AppState;

/// Checks e-mail and password and opens a new session. Unknown e-mail and wrong
/// password cost the same hashing work and get the same 401.
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

    // The connection goes back to the pool before the (slow) hash.
    let found = users::find_with_password(&state.pool.get().await?, &email).await?;
    let stored_hash = found.as_ref().and_then(|(_, h)| h.as_deref());
    let valid = state.hasher.verify(&password, stored_hash).await?;
    let user = match (valid, found) {
        (true, Some((user, _))) => user,
        _ => {
            tracing::info!("sign-in rejected");
            return Err(ApiError::InvalidEmailOrPassword);
        }
    };

    let info = ClientInfo::of(&req, state.settings.trust_proxy);
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
    if let Some(url) = &callback {
        res.insert_header((header::LOCATION, url.as_str()));
    }
    Ok(res.json(auth_wire::SignInResponse {
        redirect: callback.is_some(),
        token,
        url: callback,
        user: user.to_wire(),
    }))
}
