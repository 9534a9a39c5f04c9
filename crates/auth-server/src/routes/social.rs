//! Social sign-in: `POST /sign-in/social`, `POST /link-social`,
//! `GET|POST /callback/{provider}`, `POST /unlink-account`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{Bytes, Data, Path};
use actix_web::{HttpRequest, HttpResponse};

use super::respond::SessionResponse;
use crate::credentials;
use crate::error::ApiError;
use crate::extract::{ClientInfo, CurrentSession, Form};
use crate::forms::{LinkSocialFields, SignInSocial, SignInSocialFields, UnlinkAccount};
use crate::social_sign_in::{self, CallbackParams, Finished, Started};
use crate::state::AppState;

/// The 200 that sends the client to the provider: `{url, redirect}`, `Location`
/// unless `disableRedirect`, and the state cookie.
fn to_provider(state: &AppState, started: Started, form: &SignInSocial) -> HttpResponse {
    let mut res = SessionResponse::ok(state).oauth_state(&started.state);
    if !form.disable_redirect {
        if let Ok(location) = HeaderValue::from_str(&started.url) {
            res = res.header(header::LOCATION, location);
        }
    }
    res.json(auth_wire::SocialRedirect {
        url: started.url,
        redirect: !form.disable_redirect,
    })
}

/// Starts a sign-in with a provider, or signs in with a provider's ID token.
#[utoipa::path(post, path = "/api/auth/sign-in/social", tag = "social",
    request_body(content = crate::forms::SignInSocial, content_type = "application/json"),
    responses(
        (status = 200, body = auth_wire::SocialRedirect, description = "The provider's authorization URL (`Location` too, unless disableRedirect) and the `better-auth.state` cookie; with `idToken`: signed in like sign-in/email"),
        (status = 400, body = auth_wire::ErrorBody, description = "VALIDATION_ERROR"),
        (status = 401, body = auth_wire::ErrorBody, description = "idToken: INVALID_TOKEN, ACCOUNT_NOT_LINKED"),
        (status = 403, body = auth_wire::ErrorBody, description = "INVALID_CALLBACK_URL, INVALID_ERROR_CALLBACK_URL, INVALID_NEW_USER_CALLBACK_URL, origin rules, BANNED_USER"),
        (status = 404, body = auth_wire::ErrorBody, description = "PROVIDER_NOT_FOUND, ID_TOKEN_NOT_SUPPORTED"),
        (status = 429, body = auth_wire::ErrorBody),
        (status = 503, body = auth_wire::ErrorBody, description = "PROVIDER_UNAVAILABLE (discovery or keys cannot be fetched now; Retry-After)"),
    ))]
#[tracing::instrument(name = "sign_in_social", level = "debug", skip_all)]
pub async fn sign_in_social(
    Form(form): Form<SignInSocialFields>,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(id_token) = &form.id_token {
        let signed = social_sign_in::sign_in_with_id_token(
            &state,
            &form.provider,
            &id_token.token,
            id_token.nonce.as_deref(),
            &client,
        )
        .await?;
        return Ok(SessionResponse::ok(&state)
            .session(&signed.token, true)
            .json(auth_wire::SignInResponse {
                redirect: false,
                token: signed.token,
                url: None,
                user: signed.user.to_wire(),
            }));
    }
    let started = social_sign_in::start(&state, &form, None, &client).await?;
    Ok(to_provider(&state, started, &form))
}

/// Starts linking a provider account to the signed-in user.
#[utoipa::path(post, path = "/api/auth/link-social", tag = "social",
    request_body(content = crate::forms::SignInSocial, content_type = "application/json"),
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = auth_wire::SocialRedirect),
        (status = 401, body = auth_wire::ErrorBody),
        (status = 403, body = auth_wire::ErrorBody, description = "INVALID_CALLBACK_URL…, origin rules"),
        (status = 404, body = auth_wire::ErrorBody, description = "PROVIDER_NOT_FOUND"),
        (status = 503, body = auth_wire::ErrorBody, description = "PROVIDER_UNAVAILABLE"),
    ))]
#[tracing::instrument(name = "link_social", level = "debug", skip_all)]
pub async fn link_social(
    current: CurrentSession,
    Form(form): Form<LinkSocialFields>,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let started = social_sign_in::start(&state, &form, Some(&current), &client).await?;
    Ok(to_provider(&state, started, &form))
}

/// The provider's redirect back: signs in (or links) and sends the browser on.
#[utoipa::path(get, path = "/api/auth/callback/{provider}", tag = "social",
    params(
        ("provider" = String, Path),
        ("code" = Option<String>, Query), ("state" = Option<String>, Query),
        ("error" = Option<String>, Query), ("error_description" = Option<String>, Query),
        ("iss" = Option<String>, Query),
    ),
    responses(
        (status = 302, description = "To callbackURL (newUserCallbackURL for a new user) with the session cookie; to errorCallbackURL (or /api/auth/error) with ?error=state_not_found|state_mismatch|access_denied|no_code|issuer_mismatch|invalid_code|unable_to_get_user_info|email_not_found|email_not_verified|account_not_linked|banned|provider_unavailable|unable_to_link_account|email_does_not_match|account_already_linked_to_different_user"),
        (status = 429, body = auth_wire::ErrorBody),
    ))]
#[tracing::instrument(name = "social_callback", level = "debug", skip_all)]
pub async fn callback(
    req: HttpRequest,
    provider: Path<String>,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params: CallbackParams = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let browser_state = credentials::signed_cookie(&req, &state.signer, &state.cookies.oauth_state);
    let finished =
        social_sign_in::callback(&state, &provider, params, browser_state, &client).await?;
    let location = |url: &str| {
        HeaderValue::from_str(url).map_err(|_| ApiError::Internal(anyhow::anyhow!("bad redirect")))
    };
    Ok(match finished {
        Finished::SignedIn {
            token,
            location: to,
        } => SessionResponse::found(&state, location(&to)?)
            .clear_oauth_state()
            .session(&token, true)
            .finish(),
        Finished::Linked { location: to } => SessionResponse::found(&state, location(&to)?)
            .clear_oauth_state()
            .finish(),
        Finished::Refused {
            location: to,
            clear_state,
        } => {
            let res = SessionResponse::found(&state, location(&to)?);
            if clear_state {
                res.clear_oauth_state().finish()
            } else {
                res.finish()
            }
        }
    })
}

/// A provider that posts its answer (`response_mode=form_post`): 302 to the GET
/// form with the same parameters.
#[utoipa::path(post, path = "/api/auth/callback/{provider}", tag = "social",
    params(("provider" = String, Path)),
    responses((status = 302, description = "To GET /api/auth/callback/{provider} with the posted parameters")))]
pub async fn callback_post(
    req: HttpRequest,
    provider: Path<String>,
    body: Bytes,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let posted: CallbackParams = serde_urlencoded::from_bytes(&body)
        .or_else(|_| serde_json::from_slice(&body))
        .unwrap_or_default();
    let query: CallbackParams = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let pairs = [
        ("code", posted.code.or(query.code)),
        ("state", posted.state.or(query.state)),
        ("error", posted.error.or(query.error)),
        (
            "error_description",
            posted.error_description.or(query.error_description),
        ),
        ("iss", posted.iss.or(query.iss)),
    ];
    let params: Vec<(&str, String)> = pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    let base = format!(
        "{}/api/auth/callback/{}",
        state.settings.base_url.trim_end_matches('/'),
        credentials::encode_uri_component(&provider)
    );
    let target = social_sign_in::with_params(&base, &params);
    let location = HeaderValue::from_str(&target)
        .map_err(|_| ApiError::Validation("bad parameters".into()))?;
    Ok(SessionResponse::found(&state, location).finish())
}

/// Removes one of the signed-in user's accounts (never the last).
#[utoipa::path(post, path = "/api/auth/unlink-account", tag = "social",
    request_body(content = crate::forms::UnlinkAccount, content_type = "application/json"),
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = auth_wire::StatusBody),
        (status = 400, body = auth_wire::ErrorBody, description = "FAILED_TO_UNLINK_LAST_ACCOUNT, ACCOUNT_NOT_FOUND"),
        (status = 401, body = auth_wire::ErrorBody),
        (status = 403, body = auth_wire::ErrorBody, description = "SESSION_NOT_FRESH, origin rules"),
    ))]
#[tracing::instrument(name = "unlink_account", level = "debug", skip_all)]
pub async fn unlink_account(
    current: CurrentSession,
    Form(form): Form<UnlinkAccount>,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    social_sign_in::unlink(&state, &current, &form.account_id, &client).await?;
    Ok(SessionResponse::ok(&state).json(auth_wire::StatusBody::ok()))
}
