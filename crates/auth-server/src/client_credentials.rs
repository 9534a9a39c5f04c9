//! OAuth 2.0 client credentials (RFC 6749 §4.4): a registered service exchanges
//! its id and secret for a short-lived RS256 access token (RFC 9068, `typ:
//! at+jwt`) carrying the scopes it may use. Clients are managed with
//! `auth-server clients …` ([`create`], [`rotate_secret`], …); the secret is shown
//! once and stored as an argon2id hash, verified on the bounded hash pool and
//! rate-limited per client and IP like a password.

use std::time::Duration;

use actix_web::http::StatusCode;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::RngCore;
use uuid::Uuid;

use crate::db::oauth_clients::{self, ClientRow};
use crate::error::ApiError;
use crate::extract::ClientInfo;
use crate::jwt::ServiceToken;
use crate::rate_limit::Account;
use crate::state::AppState;

/// Longest client secret looked at (ours are 43 characters).
const MAX_SECRET_LEN: usize = 256;

/// An RFC 6749 §5.2 error.
#[derive(Debug)]
pub enum OAuthError {
    /// Malformed request (a missing or repeated parameter, two auth methods…).
    InvalidRequest(&'static str),
    /// Unknown client, wrong secret, disabled client: 401.
    InvalidClient,
    /// A grant other than `client_credentials`.
    UnsupportedGrantType,
    /// A scope the client may not have.
    InvalidScope,
    /// An audience (`resource`/`audience`) not offered.
    InvalidTarget,
    /// Our own failures (limits, database, keys), answered as our usual errors.
    Api(ApiError),
}

impl From<ApiError> for OAuthError {
    fn from(e: ApiError) -> Self {
        OAuthError::Api(e)
    }
}

impl OAuthError {
    /// The `error` code and description.
    pub fn parts(&self) -> (&'static str, &'static str) {
        match self {
            OAuthError::InvalidRequest(why) => ("invalid_request", why),
            OAuthError::InvalidClient => ("invalid_client", "Client authentication failed"),
            OAuthError::UnsupportedGrantType => (
                "unsupported_grant_type",
                "Only grant_type=client_credentials is supported",
            ),
            OAuthError::InvalidScope => (
                "invalid_scope",
                "The requested scope is not allowed for this client",
            ),
            OAuthError::InvalidTarget => (
                "invalid_target",
                "The requested resource/audience is not offered",
            ),
            OAuthError::Api(_) => ("server_error", "The request could not be handled"),
        }
    }

    /// 401 for client authentication, else 400.
    pub fn status(&self) -> StatusCode {
        match self {
            OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A parsed token request (the client's credentials, by whichever method).
pub struct TokenRequest {
    pub client_id: String,
    pub client_secret: String,
    pub scope: Option<String>,
    pub audience: Option<String>,
}

/// Reads a form-encoded token request and the client's credentials from
/// `Authorization: Basic` (`client_secret_basic`) or the body
/// (`client_secret_post`), never both.
pub fn parse(body: &[u8], authorization: Option<&str>) -> Result<TokenRequest, OAuthError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::InvalidRequest("The body is not form-encoded"))?;
    let get = |name: &str| -> Result<Option<String>, OAuthError> {
        let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        let first = values.next().cloned();
        if values.next().is_some() {
            return Err(OAuthError::InvalidRequest("A parameter is repeated"));
        }
        Ok(first.filter(|v| !v.is_empty()))
    };
    match get("grant_type")?.as_deref() {
        None => return Err(OAuthError::InvalidRequest("grant_type is missing")),
        Some("client_credentials") => {}
        Some(_) => return Err(OAuthError::UnsupportedGrantType),
    }
    let scope = get("scope")?;
    let audience = match (get("resource")?, get("audience")?) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "Send resource or audience, not both",
            ))
        }
        (r, a) => r.or(a),
    };
    let posted = (get("client_id")?, get("client_secret")?);
    let basic = authorization.and_then(basic_credentials);
    let (client_id, client_secret) = match (basic, posted) {
        (Some(_), (Some(_), _) | (_, Some(_))) => {
            return Err(OAuthError::InvalidRequest(
                "Use one client authentication method",
            ))
        }
        (Some((id, secret)), _) => (id, secret),
        (None, (Some(id), Some(secret))) => (id, secret),
        _ => return Err(OAuthError::InvalidClient),
    };
    Ok(TokenRequest {
        client_id,
        client_secret,
        scope,
        audience,
    })
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(value.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// What was issued.
pub struct Issued {
    pub token: ServiceToken,
    /// The granted scopes, space-separated.
    pub scope: String,
}

/// Authenticates the client and issues a token.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn issue(
    state: &AppState,
    req: TokenRequest,
    info: &ClientInfo,
) -> Result<Issued, OAuthError> {
    let id = Uuid::parse_str(&req.client_id).ok();
    if let Some(id) = id {
        state.check_rate_limit(info.ip, Account::Client(id)).await?;
    } else if let Some(limiter) = &state.rate_limiter {
        limiter.check(info.ip, None).await?;
    }
    let found = match id {
        Some(id) => oauth_clients::find(&state.pool.get().await.map_err(ApiError::from)?, id)
            .await
            .map_err(ApiError::from)?,
        None => None,
    };
    // Unknown clients cost a hash too, so timing does not tell them apart.
    let secret_ok = req.client_secret.len() <= MAX_SECRET_LEN
        && state
            .hasher
            .verify(
                &req.client_secret,
                found.as_ref().map(|c| c.secret_hash.as_str()),
            )
            .await
            .map_err(ApiError::from)?;
    let client = match found {
        Some(c) if secret_ok && c.disabled_at.is_none() => c,
        Some(c) if secret_ok => {
            tracing::info!(client_id = %c.id, "token refused: client disabled");
            return Err(OAuthError::InvalidClient);
        }
        _ => {
            tracing::info!("token refused: client authentication failed");
            return Err(OAuthError::InvalidClient);
        }
    };
    let scope = granted_scope(&client, req.scope.as_deref())?;
    let audiences = state.settings.service_audiences();
    let audience = match req.audience {
        Some(a) if audiences.contains(&a) => a,
        Some(_) => return Err(OAuthError::InvalidTarget),
        None => audiences
            .first()
            .cloned()
            .ok_or(OAuthError::InvalidTarget)?,
    };
    let lifetime = Duration::from_secs(state.settings.service_token_lifetime.unsigned_abs());
    let client_id = client.id.to_string();
    let token = state
        .tokens
        .service_token(&state.keys, &client_id, &scope, &audience, lifetime)?;
    // The issuance is recorded before the token is handed out: no record, no token.
    let mut db = state.pool.get().await.map_err(ApiError::from)?;
    let tx = db.transaction().await.map_err(ApiError::from)?;
    oauth_clients::mark_issued(&tx, client.id)
        .await
        .map_err(ApiError::from)?;
    let detail = serde_json::json!({"scope": scope, "audience": audience, "jti": token.jti});
    crate::audit::client_event(
        &tx,
        crate::audit::Event::ServiceTokenIssued,
        client.id,
        info,
        detail,
    )
    .await
    .map_err(ApiError::from)?;
    tx.commit().await.map_err(ApiError::from)?;
    tracing::info!(client_id = %client.id, scope = %scope, audience = %audience, jti = %token.jti, "service token issued");
    Ok(Issued { token, scope })
}

/// The requested scopes if the client may have them all; every allowed scope when
/// none is asked for (RFC 6749 §3.3 lets the server choose the default).
fn granted_scope(client: &ClientRow, requested: Option<&str>) -> Result<String, OAuthError> {
    match requested {
        None => Ok(client.scopes.join(" ")),
        Some(req) => {
            let mut granted: Vec<&str> = Vec::new();
            for s in req.split_ascii_whitespace() {
                if !client.scopes.iter().any(|a| a == s) {
                    return Err(OAuthError::InvalidScope);
                }
                if !granted.contains(&s) {
                    granted.push(s);
                }
            }
            Ok(granted.join(" "))
        }
    }
}

/// Whether a scope name is acceptable (`[a-z0-9:._-]+`), as the table checks.
pub fn valid_scope(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b":._-".contains(&b))
}

/// A new secret: 32 random bytes, base64url.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What `auth-server clients create` and `rotate-secret` print: the id and the
/// secret, shown once.
pub struct NewCredentials {
    pub client: ClientRow,
    pub secret: String,
}

/// Registers a client with `scopes` (each `[a-z0-9:._-]+`).
pub async fn create(
    db: &impl crate::db::GenericClient,
    hasher: &crate::password::PasswordHasher,
    name: &str,
    scopes: &[String],
) -> anyhow::Result<NewCredentials> {
    anyhow::ensure!(
        !name.trim().is_empty() && name.chars().count() <= 128,
        "the name must be 1 to 128 characters"
    );
    if let Some(bad) = scopes.iter().find(|s| !valid_scope(s)) {
        anyhow::bail!("scope {bad:?}: use lower-case letters, digits and : . _ -");
    }
    let secret = new_secret();
    let hash = hasher.hash(&secret).await?;
    let client = oauth_clients::insert(db, name.trim(), &hash, scopes).await?;
    Ok(NewCredentials { client, secret })
}

/// Replaces a client's secret (the old one stops working at once).
pub async fn rotate_secret(
    db: &impl crate::db::GenericClient,
    hasher: &crate::password::PasswordHasher,
    id: Uuid,
) -> anyhow::Result<NewCredentials> {
    let secret = new_secret();
    let hash = hasher.hash(&secret).await?;
    anyhow::ensure!(
        oauth_clients::set_secret(db, id, &hash).await?,
        "no client {id}"
    );
    let client = oauth_clients::find(db, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no client {id}"))?;
    Ok(NewCredentials { client, secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn credentials_by_basic_or_post_but_not_both() {
        let r = parse(
            b"grant_type=client_credentials",
            Some(&basic("abc", "s%3Acret")),
        )
        .map_err(|e| e.parts())
        .expect("basic");
        assert_eq!(
            (r.client_id.as_str(), r.client_secret.as_str()),
            ("abc", "s:cret")
        );
        let r = parse(
            b"grant_type=client_credentials&client_id=abc&client_secret=xyz&scope=a+b",
            None,
        )
        .map_err(|e| e.parts())
        .expect("post");
        assert_eq!(
            (
                r.client_id.as_str(),
                r.client_secret.as_str(),
                r.scope.as_deref()
            ),
            ("abc", "xyz", Some("a b"))
        );
        let both = parse(
            b"grant_type=client_credentials&client_secret=xyz",
            Some(&basic("abc", "s")),
        );
        assert_eq!(both.err().map(|e| e.parts().0), Some("invalid_request"));
        let none = parse(b"grant_type=client_credentials", None);
        assert_eq!(none.err().map(|e| e.parts().0), Some("invalid_client"));
        let grant = parse(b"grant_type=password&client_id=a&client_secret=b", None);
        assert_eq!(
            grant.err().map(|e| e.parts().0),
            Some("unsupported_grant_type")
        );
        let twice = parse(
            b"grant_type=client_credentials&scope=a&scope=b&client_id=a&client_secret=b",
            None,
        );
        assert_eq!(twice.err().map(|e| e.parts().0), Some("invalid_request"));
        let missing = parse(b"client_id=a&client_secret=b", None);
        assert_eq!(missing.err().map(|e| e.parts().0), Some("invalid_request"));
    }

    #[test]
    fn scopes_are_a_subset_and_default_to_all() {
        let client = ClientRow {
            id: Uuid::new_v4(),
            name: "grader".into(),
            secret_hash: String::new(),
            scopes: vec!["profiles:read".into(), "profiles:list".into()],
            disabled_at: None,
            last_issued_at: None,
            created_at: chrono::Utc::now(),
        };
        assert_eq!(
            granted_scope(&client, None).ok().as_deref(),
            Some("profiles:read profiles:list")
        );
        assert_eq!(
            granted_scope(&client, Some("profiles:read profiles:read"))
                .ok()
                .as_deref(),
            Some("profiles:read")
        );
        assert!(matches!(
            granted_scope(&client, Some("profiles:write")),
            Err(OAuthError::InvalidScope)
        ));
        assert!(
            valid_scope("profiles:read")
                && !valid_scope("Profiles")
                && !valid_scope("a b")
                && !valid_scope("")
        );
        assert_eq!(new_secret().len(), 43);
    }
}
