//! RS256 access tokens for backends. Signing costs ~0.25 ms of CPU, so a token
//! minted for a session is reused while more than half its lifetime remains. The
//! cache key includes the user's `updated_at` and the signing `kid`: an update-user
//! or password change (both bump `updated_at`) or a key rotation mints a fresh
//! token, and a revoked session never reaches this code.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use auth_wire::{AccessClaims, Audience};
use chrono::{SecondsFormat, Utc};
use josekit::jws::JwsHeader;
use josekit::jwt::JwtPayload;
use moka::sync::Cache;
use uuid::Uuid;

use crate::db::sessions::SessionRow;
use crate::db::users::UserRow;
use crate::error::ApiError;
use crate::keys::KeyStore;

type CacheKey = (Uuid, i64, Arc<str>);

/// Mints (and reuses) JWTs for sessions.
pub struct TokenIssuer {
    issuer: String,
    audience: Audience,
    lifetime: Duration,
    cache: Cache<CacheKey, Arc<str>>,
    counts: Counts,
}

#[derive(Debug, Default)]
struct Counts {
    session_minted: AtomicU64,
    session_reused: AtomicU64,
    service_minted: AtomicU64,
}

/// What the issuer has done since start, for metrics (read at scrape time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuerStats {
    /// Learner JWTs signed (cache misses).
    pub session_minted: u64,
    /// Learner JWTs served from the per-session cache (cache hits).
    pub session_reused: u64,
    /// Service access tokens signed (`/oauth2/token`; never cached).
    pub service_minted: u64,
}

impl TokenIssuer {
    /// `audience` with one entry is emitted as a string (as Better Auth does).
    pub fn new(issuer: String, audience: Vec<String>, lifetime: Duration) -> Self {
        let audience = match <[String; 1]>::try_from(audience) {
            Ok([one]) => Audience::One(one),
            Err(many) => Audience::Many(many),
        };
        Self {
            issuer,
            audience,
            lifetime,
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(lifetime / 2)
                .build(),
            counts: Counts::default(),
        }
    }

    /// Tokens minted and reused so far.
    pub fn stats(&self) -> IssuerStats {
        IssuerStats {
            session_minted: self.counts.session_minted.load(Ordering::Relaxed),
            session_reused: self.counts.session_reused.load(Ordering::Relaxed),
            service_minted: self.counts.service_minted.load(Ordering::Relaxed),
        }
    }

    /// The `iss` of our tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A valid JWT for this session and user.
    pub fn token_for(
        &self,
        keys: &KeyStore,
        session: &SessionRow,
        user: &UserRow,
    ) -> Result<Arc<str>, ApiError> {
        let set = keys.snapshot();
        let key = set
            .current
            .as_ref()
            // Transient: the key refresh loop loads one (the table was empty, or
            // every key was removed under a running instance).
            .ok_or_else(|| {
                tracing::warn!("no signing key loaded; answering 503");
                ApiError::Unavailable
            })?;
        let cache_key = (
            session.id,
            user.updated_at.timestamp_micros(),
            Arc::from(key.kid.as_str()),
        );
        if let Some(hit) = self.cache.get(&cache_key) {
            self.counts.session_reused.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        let now = Utc::now().timestamp();
        let lifetime = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.id,
            iat: now,
            nbf: now,
            exp: now + lifetime,
            jti: Uuid::new_v4().simple().to_string(),
            sid: session.id,
            role: user.role.clone(),
            id: user.id,
            name: user.name.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            image: user.image.clone(),
            created_at: user.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            updated_at: user.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        };
        let map = match serde_json::to_value(&claims).map_err(anyhow::Error::from)? {
            serde_json::Value::Object(m) => m,
            _ => return Err(anyhow::anyhow!("claims are not an object").into()),
        };
        let payload = JwtPayload::from_map(map).map_err(anyhow::Error::from)?;
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        header.set_key_id(key.kid.as_str());
        let token: Arc<str> = josekit::jwt::encode_with_signer(&payload, &header, &key.signer)
            .map_err(anyhow::Error::from)?
            .into();
        self.cache.insert(cache_key, Arc::clone(&token));
        self.counts.session_minted.fetch_add(1, Ordering::Relaxed);
        Ok(token)
    }
}

/// A signed service access token and when it expires.
pub struct ServiceToken {
    /// The compact JWS.
    pub token: String,
    /// Its lifetime, seconds (`expires_in`).
    pub expires_in: i64,
    /// Its `jti` (logged as the issuance record).
    pub jti: String,
}

impl TokenIssuer {
    /// Signs an RFC 9068 access token (`typ: at+jwt`) for an OAuth client with the
    /// current key: `sub` = `client_id`, the granted `scope`, `aud` = `audience`.
    pub fn service_token(
        &self,
        keys: &KeyStore,
        client_id: &str,
        scope: &str,
        audience: &str,
        lifetime: Duration,
    ) -> Result<ServiceToken, ApiError> {
        let set = keys.snapshot();
        let key = set.current.as_ref().ok_or_else(|| {
            tracing::warn!("no signing key loaded; answering 503");
            ApiError::Unavailable
        })?;
        let now = Utc::now().timestamp();
        let expires_in = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        let jti = Uuid::new_v4().simple().to_string();
        let claims = auth_wire::ServiceClaims {
            iss: self.issuer.clone(),
            aud: Audience::One(audience.to_owned()),
            sub: client_id.to_owned(),
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            iat: now,
            nbf: now,
            exp: now + expires_in,
            jti: jti.clone(),
        };
        let map = match serde_json::to_value(&claims).map_err(anyhow::Error::from)? {
            serde_json::Value::Object(m) => m,
            _ => return Err(anyhow::anyhow!("claims are not an object").into()),
        };
        let payload = JwtPayload::from_map(map).map_err(anyhow::Error::from)?;
        let mut header = JwsHeader::new();
        header.set_token_type("at+jwt");
        header.set_key_id(key.kid.as_str());
        let token = josekit::jwt::encode_with_signer(&payload, &header, &key.signer)
            .map_err(anyhow::Error::from)?;
        self.counts.service_minted.fetch_add(1, Ordering::Relaxed);
        Ok(ServiceToken {
            token,
            expires_in,
            jti,
        })
    }
}
