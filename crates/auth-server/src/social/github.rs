//! GitHub: plain OAuth 2.0 (no ID token), then the user and its e-mail addresses
//! from the REST API. The address used is the verified primary one, else another
//! verified one; an account with no verified address is refused, so nobody signs
//! in (or claims a user) with an address GitHub never checked.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};
use serde::Deserialize;

use super::{expiry, join_scopes, Authorization, Profile, ProviderError, ProviderTokens};

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// What the GitHub provider is configured with.
pub struct GithubConfig {
    pub client_id: String,
    pub client_secret: String,
    pub authorize_url: String,
    pub token_url: String,
    /// The REST API's base (`https://api.github.com`).
    pub api_url: String,
    pub redirect_uri: String,
}

/// The GitHub provider.
pub struct GithubProvider {
    client: Client,
    api: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct GithubUser {
    id: serde_json::Value,
    login: String,
    name: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

impl GithubProvider {
    /// The provider; nothing is fetched.
    pub fn new(config: GithubConfig, http: reqwest::Client) -> anyhow::Result<Self> {
        let client = BasicClient::new(ClientId::new(config.client_id))
            .set_client_secret(ClientSecret::new(config.client_secret))
            .set_auth_uri(AuthUrl::new(config.authorize_url)?)
            .set_token_uri(TokenUrl::new(config.token_url)?)
            .set_redirect_uri(RedirectUrl::new(config.redirect_uri)?)
            // GitHub documents the credentials as form parameters.
            .set_auth_type(AuthType::RequestBody);
        Ok(Self {
            client,
            api: config.api_url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// An authorization URL with `read:user user:email` and S256 PKCE.
    pub fn authorize(
        &self,
        state: &str,
        extra_scopes: &[String],
        login_hint: Option<&str>,
    ) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256_len(96);
        let state = state.to_owned();
        let mut request = self
            .client
            .authorize_url(move || CsrfToken::new(state))
            .add_scope(Scope::new("read:user".into()))
            .add_scope(Scope::new("user:email".into()));
        for scope in extra_scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login", hint.to_owned());
        }
        let (url, _) = request.set_pkce_challenge(challenge).url();
        Authorization {
            url,
            code_verifier: verifier.secret().clone(),
            nonce: None,
        }
    }

    /// Exchanges the code, then reads `/user` and `/user/emails`.
    pub async fn exchange(
        &self,
        code: &str,
        code_verifier: &str,
    ) -> Result<Profile, ProviderError> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(code_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::Request(e) => ProviderError::Unavailable(e.to_string()),
                // GitHub answers a bad code with 200 and an error object, which
                // does not parse as a token.
                other => ProviderError::InvalidCode(other.to_string()),
            })?;
        let token = response.access_token().secret();
        let user: GithubUser = self.get(token, "/user").await?;
        let emails: Vec<GithubEmail> = self.get(token, "/user/emails").await?;
        let chosen = emails
            .iter()
            .find(|e| e.primary && e.verified)
            .or_else(|| emails.iter().find(|e| e.verified))
            .ok_or(ProviderError::EmailNotVerified)?;
        let subject = match &user.id {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) if !s.is_empty() => s.clone(),
            _ => return Err(ProviderError::UserInfo("GitHub user without an id".into())),
        };
        Ok(Profile {
            subject,
            email: Some(chosen.email.to_lowercase()),
            email_verified: true,
            name: user.name.filter(|n| !n.is_empty()).or(Some(user.login)),
            image: user.avatar_url,
            tokens: ProviderTokens {
                access_token: Some(token.clone()),
                refresh_token: response.refresh_token().map(|t| t.secret().clone()),
                access_token_expires_at: expiry(response.expires_in()),
                scope: response
                    .scopes()
                    .and_then(|s| join_scopes(s.iter().map(|s| s.as_str()))),
            },
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        path: &str,
    ) -> Result<T, ProviderError> {
        let response = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(format!("GitHub API {path}: {e}")))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(ProviderError::Unavailable(format!(
                "GitHub API {path}: {status}"
            )));
        }
        if !status.is_success() {
            return Err(ProviderError::UserInfo(format!(
                "GitHub API {path}: {status}"
            )));
        }
        response
            .json()
            .await
            .map_err(|e| ProviderError::UserInfo(format!("GitHub API {path}: {e}")))
    }
}
