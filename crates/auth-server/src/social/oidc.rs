//! An OpenID Connect provider (Google or any other) through the `openidconnect`
//! crate. The discovery document and its JWKS are fetched on first use, kept for an
//! hour, refetched once when an ID token names a key we have not seen (the provider
//! rotated), and a failed fetch is remembered for a few seconds so an outage costs
//! fast refusals, not a queue of hanging requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    Scope, SignatureVerificationError, TokenResponse,
};
use tokio::sync::Mutex;

use super::{expiry, join_scopes, Authorization, Profile, ProviderError, ProviderTokens};

/// How long a discovery document (and its keys) is used before it is fetched again.
const DISCOVERY_MAX_AGE: Duration = Duration::from_secs(3600);
/// How long a failed discovery is answered from memory.
const FAILURE_MEMORY: Duration = Duration::from_secs(2);
/// Bytes of randomness in the PKCE verifier: 96 → 128 characters, the most RFC 7636 allows.
const PKCE_VERIFIER_BYTES: u32 = 96;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What a provider is configured with.
pub struct OidcConfig {
    pub id: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Scopes besides `openid`.
    pub scopes: Vec<String>,
    pub redirect_uri: String,
    /// Added to every authorization URL (Google: `include_granted_scopes=true`).
    pub extra_params: Vec<(String, String)>,
}

enum Slot {
    Empty,
    Ready(Arc<Client>, Instant),
    Failed(Instant, String),
}

/// One OpenID Connect provider.
pub struct OidcProvider {
    config: OidcConfig,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: reqwest::Client,
    slot: Mutex<Slot>,
}

impl OidcProvider {
    /// A provider; nothing is fetched yet.
    pub fn new(config: OidcConfig, http: reqwest::Client) -> anyhow::Result<Self> {
        Ok(Self {
            issuer: IssuerUrl::new(config.issuer.clone())?,
            redirect: RedirectUrl::new(config.redirect_uri.clone())?,
            config,
            http,
            slot: Mutex::new(Slot::Empty),
        })
    }

    /// The discovered client, fetching the discovery document when there is none
    /// (or it is old). Concurrent callers wait for one fetch.
    async fn client(&self, refetch: bool) -> Result<Arc<Client>, ProviderError> {
        let mut slot = self.slot.lock().await;
        match &*slot {
            Slot::Ready(client, at) if !refetch && at.elapsed() < DISCOVERY_MAX_AGE => {
                return Ok(client.clone())
            }
            Slot::Failed(at, why) if at.elapsed() < FAILURE_MEMORY => {
                return Err(ProviderError::Unavailable(why.clone()))
            }
            _ => {}
        }
        match CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http).await {
            Ok(metadata) => {
                let client = Arc::new(self.build_client(metadata));
                *slot = Slot::Ready(client.clone(), Instant::now());
                tracing::info!(provider = %self.config.id, "provider discovery document loaded");
                Ok(client)
            }
            Err(e) => {
                let why = format!("discovery of {} failed: {e}", self.config.issuer);
                tracing::warn!(provider = %self.config.id, error = %why, "provider unavailable");
                // A stale document still serves while the provider is down.
                if let Slot::Ready(client, _) = &*slot {
                    return Ok(client.clone());
                }
                *slot = Slot::Failed(Instant::now(), why.clone());
                Err(ProviderError::Unavailable(why))
            }
        }
    }

    fn build_client(&self, metadata: CoreProviderMetadata) -> Client {
        // client_secret_basic is the default of the spec; use the body only for a
        // provider that says it takes nothing else.
        let post_only = metadata
            .token_endpoint_auth_methods_supported()
            .is_some_and(|methods| {
                let names: Vec<String> = methods
                    .iter()
                    .filter_map(|m| serde_json::to_value(m).ok())
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
                !names.iter().any(|n| n == "client_secret_basic")
                    && names.iter().any(|n| n == "client_secret_post")
            });
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect.clone());
        if post_only {
            client.set_auth_type(AuthType::RequestBody)
        } else {
            client
        }
    }

    /// The issuer (discovery refuses a document naming another one).
    pub async fn issuer(&self) -> Option<String> {
        Some(self.issuer.as_str().to_owned())
    }

    /// An authorization URL: code flow, S256 PKCE, a nonce, our scopes.
    pub async fn authorize(
        &self,
        state: &str,
        extra_scopes: &[String],
        login_hint: Option<&str>,
    ) -> Result<Authorization, ProviderError> {
        let client = self.client(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256_len(PKCE_VERIFIER_BYTES);
        let nonce = Nonce::new_random();
        let state = state.to_owned();
        let for_request = nonce.clone();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            move || for_request,
        );
        for scope in self.config.scopes.iter().chain(extra_scopes) {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        for (name, value) in &self.config.extra_params {
            request = request.add_extra_param(name.clone(), value.clone());
        }
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, _, _) = request.set_pkce_challenge(challenge).url();
        Ok(Authorization {
            url,
            code_verifier: verifier.secret().clone(),
            nonce: Some(nonce.secret().clone()),
        })
    }

    /// Exchanges the code, verifies the ID token (signature with the provider's
    /// keys and declared algorithms, `iss`, `aud`, `azp`, `exp`, `nonce`), and
    /// asks the userinfo endpoint only when the token has no e-mail.
    pub async fn exchange(
        &self,
        code: &str,
        code_verifier: &str,
        nonce: Option<&str>,
    ) -> Result<Profile, ProviderError> {
        let client = self.client(false).await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(code_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::Request(e) => ProviderError::Unavailable(e.to_string()),
                other => ProviderError::InvalidCode(other.to_string()),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| ProviderError::UserInfo("the token response has no id_token".into()))?;
        let nonce = nonce
            .map(|n| Nonce::new(n.to_owned()))
            .ok_or_else(|| ProviderError::UserInfo("no nonce was sent".into()))?;
        let claims = self.verified_claims(client, id_token, Some(&nonce)).await?;
        let tokens = ProviderTokens {
            access_token: Some(response.access_token().secret().clone()),
            refresh_token: response.refresh_token().map(|t| t.secret().clone()),
            access_token_expires_at: expiry(response.expires_in()),
            scope: response
                .scopes()
                .and_then(|s| join_scopes(s.iter().map(|s| s.as_str()))),
        };
        let mut profile = profile_of(&claims, tokens);
        if profile.email.is_none() {
            self.fill_from_userinfo(&mut profile, response.access_token().clone())
                .await?;
        }
        Ok(profile)
    }

    /// Checks an ID token the client obtained itself.
    pub async fn verify_id_token(
        &self,
        id_token: &str,
        nonce: Option<&str>,
    ) -> Result<Profile, ProviderError> {
        let client = self.client(false).await?;
        let token: CoreIdToken = id_token
            .parse()
            .map_err(|e| ProviderError::UserInfo(format!("not an ID token: {e}")))?;
        let nonce = nonce.map(|n| Nonce::new(n.to_owned()));
        let claims = self.verified_claims(client, &token, nonce.as_ref()).await?;
        Ok(profile_of(&claims, ProviderTokens::default()))
    }

    /// The token's claims; an unknown signing key refetches the provider's keys once.
    async fn verified_claims(
        &self,
        client: Arc<Client>,
        token: &CoreIdToken,
        nonce: Option<&Nonce>,
    ) -> Result<CoreIdTokenClaims, ProviderError> {
        match check(&client, token, nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let fresh = self.client(true).await?;
                check(&fresh, token, nonce)
            }
            other => other,
        }
        .map_err(|e| ProviderError::UserInfo(e.to_string()))
    }

    async fn fill_from_userinfo(
        &self,
        profile: &mut Profile,
        access_token: AccessToken,
    ) -> Result<(), ProviderError> {
        let client = self.client(false).await?;
        let Ok(request) = client.user_info(
            access_token,
            Some(openidconnect::SubjectIdentifier::new(
                profile.subject.clone(),
            )),
        ) else {
            return Ok(()); // no userinfo endpoint: the token said all there is
        };
        let info: openidconnect::core::CoreUserInfoClaims = request
            .request_async(&self.http)
            .await
            .map_err(|e| ProviderError::UserInfo(format!("userinfo: {e}")))?;
        profile.email = info.email().map(|e| e.as_str().to_lowercase());
        profile.email_verified = info.email_verified().unwrap_or(false);
        if profile.name.is_none() {
            profile.name = info
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned());
        }
        Ok(())
    }
}

fn check(
    client: &Client,
    token: &CoreIdToken,
    nonce: Option<&Nonce>,
) -> Result<CoreIdTokenClaims, ClaimsVerificationError> {
    let verifier = client.id_token_verifier();
    match nonce {
        Some(nonce) => token.claims(&verifier, nonce).cloned(),
        // A client-obtained token without a nonce of ours (Google One Tap).
        None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())).cloned(),
    }
}

fn profile_of(claims: &CoreIdTokenClaims, tokens: ProviderTokens) -> Profile {
    Profile {
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().to_lowercase()),
        email_verified: claims.email_verified().unwrap_or(false),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
        image: claims
            .picture()
            .and_then(|p| p.get(None))
            .map(|p| p.as_str().to_owned()),
        tokens,
    }
}
