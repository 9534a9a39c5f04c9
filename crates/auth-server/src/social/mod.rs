//! Social sign-in providers: Google and any OpenID Connect provider (discovery,
//! PKCE, ID-token checks through the `openidconnect` crate) and GitHub (plain
//! OAuth 2.0 and its REST API). Each provider turns a state into an authorization
//! URL and an authorization code into a [`Profile`]; the rules about users and
//! accounts live in [`crate::social_sign_in`].

pub mod github;
pub mod oidc;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Settings;

/// How long one request to a provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Who the provider says signed in.
#[derive(Clone)]
pub struct Profile {
    /// The provider's stable subject (`sub`; GitHub's numeric id).
    pub subject: String,
    /// Lower-cased e-mail address, if the provider gave one.
    pub email: Option<String>,
    /// The provider vouches for the address.
    pub email_verified: bool,
    pub name: Option<String>,
    pub image: Option<String>,
    /// What the token endpoint granted.
    pub tokens: ProviderTokens,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("subject", &self.subject)
            .field("email_verified", &self.email_verified)
            .finish_non_exhaustive()
    }
}

/// The provider's tokens (kept, sealed, only with `AUTH_SOCIAL_STORE_TOKENS`).
#[derive(Clone, Default)]
pub struct ProviderTokens {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// Granted scopes, comma-joined as Better Auth stores them.
    pub scope: Option<String>,
}

/// An authorization request to send the browser to.
pub struct Authorization {
    /// The provider's authorization URL with every parameter.
    pub url: url::Url,
    /// The PKCE verifier to present with the code.
    pub code_verifier: String,
    /// The nonce the ID token must carry (OpenID Connect only).
    pub nonce: Option<String>,
}

/// Why a provider step failed; [`ProviderError::code`] is the `?error=` value.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider (discovery, JWKS, token endpoint) cannot be reached now.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The token endpoint refused the code.
    #[error("code exchange refused: {0}")]
    InvalidCode(String),
    /// The ID token or the user info did not check out.
    #[error("user info refused: {0}")]
    UserInfo(String),
    /// The provider has no verified e-mail address for the user.
    #[error("no verified e-mail address")]
    EmailNotVerified,
    /// Direct ID-token sign-in with a provider that issues none (GitHub).
    #[error("ID tokens not supported")]
    IdTokenNotSupported,
}

impl ProviderError {
    /// The redirect's `error` code (Better Auth's where it has one).
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::Unavailable(_) => "provider_unavailable",
            ProviderError::InvalidCode(_) => "invalid_code",
            ProviderError::UserInfo(_) => "unable_to_get_user_info",
            ProviderError::EmailNotVerified => "email_not_verified",
            ProviderError::IdTokenNotSupported => "id_token_not_supported",
        }
    }
}

/// One configured provider.
pub enum Provider {
    Oidc(Box<oidc::OidcProvider>),
    Github(Box<github::GithubProvider>),
}

impl Provider {
    /// An authorization URL for `state`, with PKCE (and a nonce for OIDC).
    pub async fn authorize(
        &self,
        state: &str,
        extra_scopes: &[String],
        login_hint: Option<&str>,
    ) -> Result<Authorization, ProviderError> {
        match self {
            Provider::Oidc(p) => p.authorize(state, extra_scopes, login_hint).await,
            Provider::Github(p) => Ok(p.authorize(state, extra_scopes, login_hint)),
        }
    }

    /// Exchanges the code (with the PKCE verifier) and reads the user.
    pub async fn exchange(
        &self,
        code: &str,
        code_verifier: &str,
        nonce: Option<&str>,
    ) -> Result<Profile, ProviderError> {
        match self {
            Provider::Oidc(p) => p.exchange(code, code_verifier, nonce).await,
            Provider::Github(p) => p.exchange(code, code_verifier).await,
        }
    }

    /// Checks an ID token obtained by the client itself (Google One Tap, a native
    /// app); `nonce`, when given, must be the token's.
    pub async fn verify_id_token(
        &self,
        id_token: &str,
        nonce: Option<&str>,
    ) -> Result<Profile, ProviderError> {
        match self {
            Provider::Oidc(p) => p.verify_id_token(id_token, nonce).await,
            Provider::Github(_) => Err(ProviderError::IdTokenNotSupported),
        }
    }

    /// The issuer a callback's `iss` parameter must name (RFC 9207), when known.
    pub async fn issuer(&self) -> Option<String> {
        match self {
            Provider::Oidc(p) => p.issuer().await,
            Provider::Github(_) => None,
        }
    }
}

/// Every configured provider by id, built once at start-up. Nothing is fetched
/// here: discovery documents and keys are fetched on first use and cached, so a
/// provider that is down never stops the server.
pub struct Providers {
    by_id: BTreeMap<String, Provider>,
}

impl Providers {
    /// The providers the settings configure.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            // Following redirects from a provider would be an SSRF vector.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("auth-server/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let callback = |id: &str| {
            format!(
                "{}/api/auth/callback/{id}",
                settings.base_url.trim_end_matches('/')
            )
        };
        let mut by_id = BTreeMap::new();
        if let (Some(id), Some(secret)) =
            (&settings.google_client_id, &settings.google_client_secret)
        {
            by_id.insert(
                "google".to_owned(),
                Provider::Oidc(Box::new(oidc::OidcProvider::new(
                    oidc::OidcConfig {
                        id: "google".into(),
                        issuer: settings.google_issuer.clone(),
                        client_id: id.clone(),
                        client_secret: secret.clone(),
                        scopes: vec!["email".into(), "profile".into()],
                        redirect_uri: callback("google"),
                        extra_params: vec![("include_granted_scopes".into(), "true".into())],
                    },
                    http.clone(),
                )?)),
            );
        }
        if let (Some(id), Some(secret)) =
            (&settings.github_client_id, &settings.github_client_secret)
        {
            by_id.insert(
                "github".to_owned(),
                Provider::Github(Box::new(github::GithubProvider::new(
                    github::GithubConfig {
                        client_id: id.clone(),
                        client_secret: secret.clone(),
                        authorize_url: settings.github_authorize_url.clone(),
                        token_url: settings.github_token_url.clone(),
                        api_url: settings.github_api_url.clone(),
                        redirect_uri: callback("github"),
                    },
                    http.clone(),
                )?)),
            );
        }
        for p in &settings.oidc {
            by_id.insert(
                p.id.clone(),
                Provider::Oidc(Box::new(oidc::OidcProvider::new(
                    oidc::OidcConfig {
                        id: p.id.clone(),
                        issuer: p.issuer.clone(),
                        client_id: p.client_id.clone(),
                        client_secret: p.client_secret.clone(),
                        scopes: p.scopes.clone(),
                        redirect_uri: callback(&p.id),
                        extra_params: Vec::new(),
                    },
                    http.clone(),
                )?)),
            );
        }
        Ok(Self { by_id })
    }

    /// The provider with this id.
    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.by_id.get(id)
    }
}

/// Scopes as Better Auth stores them: comma-joined.
fn join_scopes<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let joined = scopes.into_iter().collect::<Vec<_>>().join(",");
    (!joined.is_empty()).then_some(joined)
}

/// Expiry of an access token that lives `expires_in`.
fn expiry(expires_in: Option<Duration>) -> Option<DateTime<Utc>> {
    expires_in
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| Utc::now() + d)
}
