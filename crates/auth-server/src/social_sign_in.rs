//! Social sign-in: starting an authorization (`sign-in/social`, `link-social`),
//! finishing it at the provider's callback, signing in with a client-obtained ID
//! token, and unlinking. The account rules (Better Auth's, wire §7.5):
//!
//! 1. an account with the provider's (provider, subject) signs its user in: an
//!    imported Supabase identity comes back under its Supabase UUID;
//! 2. else a user with the same e-mail is linked only when the provider vouches for
//!    the address (`email_verified`, or the provider is in
//!    `AUTH_TRUSTED_LINK_PROVIDERS`) **and** our user's address is verified, so a
//!    pre-registered, unverified account never captures its real owner's sign-in;
//!    otherwise `account_not_linked` and nothing is written;
//! 3. else a new user, verified as the provider says.
//!
//! Every decision and its writes share one transaction with the session it opens
//! and the audit row it leaves.

use chrono::{Duration, Utc};
use serde_json::json;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::accounts::SignedIn;
use crate::audit::{self, Event};
use crate::credentials;
use crate::db::accounts::{self, SealedTokens};
use crate::db::oauth_states::{self, OAuthState};
use crate::db::{sessions, users, GenericClient};
use crate::error::ApiError;
use crate::extract::{ClientInfo, CurrentSession};
use crate::forms::SignInSocial;
use crate::session_service;
use crate::social::{Profile, Provider, ProviderError, ProviderTokens};
use crate::state::AppState;
use identity_core::limits::{IMAGE_MAX_CHARS, NAME_MAX_CHARS};

/// Lifetime of an authorization in flight: its row and its cookie (seconds).
pub const STATE_TTL_SECS: i64 = 600;

/// An authorization to send the browser to.
pub struct Started {
    /// The provider's authorization URL.
    pub url: String,
    /// The `state` it carries, for the browser's cookie.
    pub state: String,
}

/// Why a social sign-in did not finish; [`Refusal::code`] is the redirect's
/// `?error=` value (Better Auth's codes, plus `provider_unavailable`).
#[derive(Debug)]
pub enum Refusal {
    StateNotFound,
    StateMismatch,
    /// The provider redirected with `error` (`access_denied`…).
    ProviderSaid(String, Option<String>),
    NoCode,
    IssuerMismatch,
    Provider(ProviderError),
    EmailNotFound,
    AccountNotLinked,
    Banned,
    UnableToLink,
    EmailDoesNotMatch,
    LinkedToAnotherUser,
}

impl Refusal {
    /// The `error` parameter.
    pub fn code(&self) -> &str {
        match self {
            Refusal::StateNotFound => "state_not_found",
            Refusal::StateMismatch => "state_mismatch",
            Refusal::ProviderSaid(code, _) => code,
            Refusal::NoCode => "no_code",
            Refusal::IssuerMismatch => "issuer_mismatch",
            Refusal::Provider(e) => e.code(),
            Refusal::EmailNotFound => "email_not_found",
            Refusal::AccountNotLinked => "account_not_linked",
            Refusal::Banned => "banned",
            Refusal::UnableToLink => "unable_to_link_account",
            Refusal::EmailDoesNotMatch => "email_does_not_match",
            Refusal::LinkedToAnotherUser => "account_already_linked_to_different_user",
        }
    }

    /// The JSON error of the direct ID-token sign-in.
    fn into_api_error(self) -> ApiError {
        match self {
            Refusal::Provider(ProviderError::Unavailable(_)) => ApiError::ProviderUnavailable,
            Refusal::Provider(ProviderError::IdTokenNotSupported) => ApiError::IdTokenNotSupported,
            Refusal::AccountNotLinked => ApiError::AccountNotLinked,
            Refusal::Banned => ApiError::BannedUser,
            _ => ApiError::InvalidToken(actix_web::http::StatusCode::UNAUTHORIZED),
        }
    }
}

/// Where the callback sends the browser.
pub enum Finished {
    /// Signed in: a new session, and where to land.
    SignedIn { token: String, location: String },
    /// Linked to the signed-in user (no new session).
    Linked { location: String },
    /// Refused: where to land (with `?error=`), and whether the state cookie is
    /// done with (it is kept when the state belongs to another browser).
    Refused { location: String, clear_state: bool },
}

fn provider<'a>(state: &'a AppState, id: &str) -> Result<&'a Provider, ApiError> {
    state.providers.get(id).ok_or(ApiError::ProviderNotFound)
}

/// Starts an authorization: stores the state (hashed, ten minutes, single use)
/// with the PKCE verifier and nonce, and returns the provider's URL. `link` is the
/// signed-in user's session for `link-social`.
#[tracing::instrument(level = "debug", skip_all, fields(provider = %form.provider))]
pub async fn start(
    state: &AppState,
    form: &SignInSocial,
    link: Option<&CurrentSession>,
    client: &ClientInfo,
) -> Result<Started, ApiError> {
    let provider = provider(state, &form.provider)?;
    state.check_social_limit(client.ip).await?;
    let oauth_state = credentials::new_token();
    let authorization = provider
        .authorize(&oauth_state, &form.scopes, form.login_hint.as_deref())
        .await
        .map_err(|e| {
            tracing::warn!(provider = %form.provider, error = %e, "social sign-in not started");
            ApiError::ProviderUnavailable
        })?;
    let row = OAuthState {
        provider_id: form.provider.clone(),
        code_verifier: authorization.code_verifier,
        nonce: authorization.nonce,
        callback_url: form
            .callback_url
            .as_ref()
            .map_or_else(|| base_origin(state), |c| c.as_str().to_owned()),
        error_url: form
            .error_callback_url
            .as_ref()
            .map(|c| c.as_str().to_owned()),
        new_user_url: form
            .new_user_callback_url
            .as_ref()
            .map(|c| c.as_str().to_owned()),
        link: link.map(|c| (c.user.id, c.session.id)),
        expires_at: Utc::now() + Duration::seconds(STATE_TTL_SECS),
    };
    let db = state.pool.get().await?;
    oauth_states::insert(&db, &credentials::token_hash(&oauth_state), &row).await?;
    Ok(Started {
        url: authorization.url.to_string(),
        state: oauth_state,
    })
}

/// The callback's parameters (query, or a `form_post` body).
#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub iss: Option<String>,
}

/// Finishes an authorization at `/callback/<provider>`. `browser_state` is the
/// state the request's signed cookie holds.
#[tracing::instrument(level = "debug", skip_all, fields(provider = %provider_id))]
pub async fn callback(
    state: &AppState,
    provider_id: &str,
    params: CallbackParams,
    browser_state: Option<String>,
    client: &ClientInfo,
) -> Result<Finished, ApiError> {
    state.check_social_limit(client.ip).await?;
    let default_error = error_page(state);
    let Some(oauth_state) = params.state.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(refused(&default_error, Refusal::StateNotFound, false));
    };
    let hash = credentials::token_hash(oauth_state);
    let db = state.pool.get().await?;
    let Some(found) = oauth_states::find(&db, &hash).await? else {
        return Ok(refused(&default_error, Refusal::StateMismatch, false));
    };
    let error_url = found.error_url.clone().unwrap_or(default_error);
    // The state must come back to the browser that started it; from any other it
    // is refused and left in place for the rightful one.
    let same_browser =
        browser_state.is_some_and(|b| bool::from(b.as_bytes().ct_eq(oauth_state.as_bytes())));
    if found.provider_id != provider_id || !same_browser {
        return Ok(refused(&error_url, Refusal::StateMismatch, false));
    }
    let Some(flow) = oauth_states::take(&db, &hash).await? else {
        // Another request consumed it a moment ago.
        return Ok(refused(&error_url, Refusal::StateMismatch, true));
    };
    drop(db);
    if flow.expires_at < Utc::now() {
        return Ok(refused(&error_url, Refusal::StateMismatch, true));
    }
    match finish(state, provider_id, params, &flow, client).await? {
        Ok(done) => Ok(done),
        Err(refusal) => Ok(refused(&error_url, refusal, true)),
    }
}

async fn finish(
    state: &AppState,
    provider_id: &str,
    params: CallbackParams,
    flow: &OAuthState,
    client: &ClientInfo,
) -> Result<Result<Finished, Refusal>, ApiError> {
    let provider = provider(state, provider_id)?;
    if let Some(error) = params.error {
        return Ok(Err(Refusal::ProviderSaid(
            provider_error_code(&error),
            params.error_description,
        )));
    }
    let Some(code) = params.code.filter(|c| !c.is_empty()) else {
        return Ok(Err(Refusal::NoCode));
    };
    if let Some(iss) = &params.iss {
        if provider.issuer().await.is_some_and(|ours| &ours != iss) {
            return Ok(Err(Refusal::IssuerMismatch));
        }
    }
    let profile = match provider
        .exchange(&code, &flow.code_verifier, flow.nonce.as_deref())
        .await
    {
        Ok(p) => p,
        Err(e) => return Ok(Err(Refusal::Provider(e))),
    };
    if let Some((user_id, session_id)) = flow.link {
        return Ok(
            link(state, provider_id, &profile, user_id, session_id, client)
                .await?
                .map(|()| Finished::Linked {
                    location: flow.callback_url.clone(),
                }),
        );
    }
    Ok(sign_in(state, provider_id, &profile, client)
        .await?
        .map(|(signed, is_new)| Finished::SignedIn {
            token: signed.token,
            location: match (&flow.new_user_url, is_new) {
                (Some(url), true) => url.clone(),
                _ => flow.callback_url.clone(),
            },
        }))
}

/// `POST /sign-in/social` with `idToken`: checks the token with the provider's keys
/// and signs in directly.
#[tracing::instrument(level = "debug", skip_all, fields(provider = %provider_id))]
pub async fn sign_in_with_id_token(
    state: &AppState,
    provider_id: &str,
    id_token: &str,
    nonce: Option<&str>,
    client: &ClientInfo,
) -> Result<SignedIn, ApiError> {
    let provider = provider(state, provider_id)?;
    state.check_social_limit(client.ip).await?;
    let profile = match provider.verify_id_token(id_token, nonce).await {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(provider = %provider_id, reason = %e, "ID token sign-in refused");
            return Err(Refusal::Provider(e).into_api_error());
        }
    };
    match sign_in(state, provider_id, &profile, client).await? {
        Ok((signed, _)) => Ok(signed),
        Err(refusal) => Err(refusal.into_api_error()),
    }
}

/// Signs the provider's user in (rules 1–3 of the module). `true` with a user
/// created by this sign-in.
async fn sign_in(
    state: &AppState,
    provider_id: &str,
    profile: &Profile,
    client: &ClientInfo,
) -> Result<Result<(SignedIn, bool), Refusal>, ApiError> {
    let scope = profile.tokens.scope.as_deref();
    let mut db = state.pool.get().await?;
    let tx = db.transaction().await?;
    let (user, is_new) = match accounts::find_by_provider(&tx, provider_id, &profile.subject)
        .await?
    {
        Some(found) if found.banned => return Ok(Err(Refusal::Banned)),
        Some(found) => {
            let sealed = seal_tokens(state, found.id, &profile.tokens)?;
            accounts::update_provider_account(&tx, found.id, scope, &sealed).await?;
            (found.user, false)
        }
        // A returning user needs no e-mail from the provider; anyone else does.
        None if profile.email.is_none() => return Ok(Err(Refusal::EmailNotFound)),
        None => match users::find_for_sign_in(&tx, email_of(profile)).await? {
            Some(existing) => {
                if existing.banned {
                    return Ok(Err(Refusal::Banned));
                }
                if !(vouched(state, provider_id, profile) && existing.user.email_verified) {
                    return Ok(Err(Refusal::AccountNotLinked));
                }
                if !add_account(&tx, state, existing.user.id, provider_id, profile).await? {
                    return Ok(Err(Refusal::AccountNotLinked));
                }
                audit::user_event(
                    &tx,
                    Event::AccountLinked,
                    Some(existing.user.id),
                    client,
                    json!({"provider": provider_id, "by": "verified_email"}),
                )
                .await?;
                (existing.user, false)
            }
            None => {
                let email = email_of(profile);
                let Some(user) = new_user(&tx, state, provider_id, profile, email, client).await?
                else {
                    // Someone registered the address a moment ago.
                    return Ok(Err(Refusal::AccountNotLinked));
                };
                (user, true)
            }
        },
    };
    let (token, session) = session_service::create(&tx, state, user.id, true, client).await?;
    audit::user_event(
        &tx,
        Event::SignIn,
        Some(user.id),
        client,
        json!({"session_id": session.id, "provider": provider_id}),
    )
    .await?;
    tx.commit().await?;
    if is_new && !user.email_verified && state.settings.send_verification_on_sign_up {
        state.mailer.wake();
    }
    tracing::info!(user_id = %user.id, provider = %provider_id, new_user = is_new, "social sign-in");
    Ok(Ok((
        SignedIn {
            token,
            session,
            user,
        },
        is_new,
    )))
}

/// A user created from the provider's profile, with its account; `None` if the
/// address was taken meanwhile.
async fn new_user(
    tx: &impl GenericClient,
    state: &AppState,
    provider_id: &str,
    profile: &Profile,
    email: &str,
    client: &ClientInfo,
) -> Result<Option<users::UserRow>, ApiError> {
    let name = profile
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or(email));
    let name: String = name.chars().take(NAME_MAX_CHARS).collect();
    let image = profile
        .image
        .as_deref()
        .filter(|i| i.chars().count() <= IMAGE_MAX_CHARS);
    let Some(mut user) = users::insert(tx, &name, email, image).await? else {
        return Ok(None);
    };
    if profile.email_verified {
        if let Some(verified) = users::set_email_verified(tx, user.id).await? {
            user = verified;
        }
    }
    if !add_account(tx, state, user.id, provider_id, profile).await? {
        return Ok(None);
    }
    audit::user_event(
        tx,
        Event::SignUp,
        Some(user.id),
        client,
        json!({"provider": provider_id, "email_verified": user.email_verified}),
    )
    .await?;
    if !user.email_verified
        && state.settings.send_verification_on_sign_up
        && state.settings.mail_enabled()
    {
        crate::email_verification::queue_verification(tx, state, &user, None).await?;
    }
    Ok(Some(user))
}

/// Finishes `link-social`: the provider's account joins the signed-in user.
async fn link(
    state: &AppState,
    provider_id: &str,
    profile: &Profile,
    user_id: Uuid,
    session_id: Uuid,
    client: &ClientInfo,
) -> Result<Result<(), Refusal>, ApiError> {
    let mut db = state.pool.get().await?;
    let tx = db.transaction().await?;
    if !sessions::is_live(&tx, session_id, user_id).await? {
        return Ok(Err(Refusal::UnableToLink));
    }
    if !vouched(state, provider_id, profile) {
        return Ok(Err(Refusal::UnableToLink));
    }
    let Some(user) = users::find_by_id(&tx, user_id).await? else {
        return Ok(Err(Refusal::UnableToLink));
    };
    if profile.email.as_deref() != Some(user.email.as_str()) {
        return Ok(Err(Refusal::EmailDoesNotMatch));
    }
    match accounts::find_by_provider(&tx, provider_id, &profile.subject).await? {
        Some(found) if found.user.id != user_id => return Ok(Err(Refusal::LinkedToAnotherUser)),
        Some(found) => {
            let sealed = seal_tokens(state, found.id, &profile.tokens)?;
            let scope = profile.tokens.scope.as_deref();
            accounts::update_provider_account(&tx, found.id, scope, &sealed).await?;
        }
        None => {
            if !add_account(&tx, state, user_id, provider_id, profile).await? {
                return Ok(Err(Refusal::LinkedToAnotherUser));
            }
            audit::user_event(
                &tx,
                Event::AccountLinked,
                Some(user_id),
                client,
                json!({"provider": provider_id, "by": "link_social"}),
            )
            .await?;
        }
    }
    tx.commit().await?;
    tracing::info!(%user_id, provider = %provider_id, "account linked");
    Ok(Ok(()))
}

/// `POST /unlink-account`: removes one of the user's accounts by row id, never the
/// last one (checked first, under a lock on the user, as Better Auth orders it).
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %current.user.id))]
pub async fn unlink(
    state: &AppState,
    current: &CurrentSession,
    account_id: &str,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let fresh_age = state.settings.session_fresh_age;
    if fresh_age > 0 && Utc::now() - current.session.created_at > Duration::seconds(fresh_age) {
        return Err(ApiError::SessionNotFresh);
    }
    let mut db = state.pool.get().await?;
    let tx = db.transaction().await?;
    if accounts::count_for_user_locked(&tx, current.user.id).await? <= 1 {
        return Err(ApiError::FailedToUnlinkLastAccount);
    }
    let id = Uuid::parse_str(account_id).map_err(|_| ApiError::AccountNotFound)?;
    let provider = accounts::delete_for_user(&tx, id, current.user.id)
        .await?
        .ok_or(ApiError::AccountNotFound)?;
    audit::user_event(
        &tx,
        Event::AccountUnlinked,
        Some(current.user.id),
        client,
        json!({"provider": provider, "account": id}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = %current.user.id, %provider, "account unlinked");
    Ok(())
}

fn email_of(profile: &Profile) -> &str {
    profile.email.as_deref().unwrap_or_default()
}

/// The provider vouches for the address: `email_verified`, or a trusted provider.
fn vouched(state: &AppState, provider_id: &str, profile: &Profile) -> bool {
    profile.email_verified
        || state
            .settings
            .trusted_link_provider_list()
            .iter()
            .any(|p| p == provider_id)
}

/// Adds the provider account to `user_id`; `false` if the subject is already an
/// account (a concurrent sign-in made it).
async fn add_account(
    tx: &impl GenericClient,
    state: &AppState,
    user_id: Uuid,
    provider_id: &str,
    profile: &Profile,
) -> Result<bool, ApiError> {
    let id = Uuid::new_v4();
    let sealed = seal_tokens(state, id, &profile.tokens)?;
    Ok(accounts::insert_provider_account(
        tx,
        id,
        user_id,
        provider_id,
        &profile.subject,
        profile.tokens.scope.as_deref(),
        &sealed,
    )
    .await?)
}

/// The provider's tokens sealed for the account `id`, or nothing unless
/// `AUTH_SOCIAL_STORE_TOKENS` asks for them.
fn seal_tokens(
    state: &AppState,
    id: Uuid,
    tokens: &ProviderTokens,
) -> Result<SealedTokens, ApiError> {
    if !state.settings.social_store_tokens || tokens.access_token.is_none() {
        return Ok(SealedTokens::default());
    }
    let sealer = state.keys.sealer();
    let seal = |kind: &str, value: &Option<String>| {
        value
            .as_ref()
            .map(|v| sealer.seal(&format!("account:{id}:{kind}"), v.as_bytes()))
            .transpose()
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("sealing provider tokens: {e}")))
    };
    Ok(SealedTokens {
        access_token: seal("access", &tokens.access_token)?,
        refresh_token: seal("refresh", &tokens.refresh_token)?,
        kek_id: Some(sealer.current_id().to_owned()),
        access_token_expires_at: tokens.access_token_expires_at,
    })
}

/// The error page of this server.
fn error_page(state: &AppState) -> String {
    format!(
        "{}/api/auth/error",
        state.settings.base_url.trim_end_matches('/')
    )
}

/// The default landing place: the base URL's origin (as Better Auth does).
fn base_origin(state: &AppState) -> String {
    url::Url::parse(&state.settings.base_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "/".to_owned())
}

/// A provider's `error` as we pass it on: its OAuth code when it looks like one.
fn provider_error_code(error: &str) -> String {
    let ok = !error.is_empty()
        && error.len() <= 64
        && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if ok {
        error.to_owned()
    } else {
        "provider_error".to_owned()
    }
}

/// Logs the refusal (its reason, never a token) and builds the redirect.
fn refused(base: &str, refusal: Refusal, clear_state: bool) -> Finished {
    tracing::info!(code = refusal.code(), reason = ?refusal, "social sign-in refused");
    let mut params = vec![("error", refusal.code().to_owned())];
    if let Refusal::ProviderSaid(_, Some(description)) = &refusal {
        params.push(("error_description", description.chars().take(256).collect()));
    }
    Finished::Refused {
        location: with_params(base, &params),
        clear_state,
    }
}

/// `base` with query parameters appended.
pub fn with_params(base: &str, params: &[(&str, String)]) -> String {
    let mut out = base.to_owned();
    for (i, (name, value)) in params.iter().enumerate() {
        let sep = if i == 0 && !base.contains('?') {
            '?'
        } else {
            '&'
        };
        out.push(sep);
        out.push_str(name);
        out.push('=');
        out.push_str(&credentials::encode_uri_component(value));
    }
    out
}
