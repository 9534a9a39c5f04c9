//! Validates the RS256 access tokens our auth-server mints, against the issuer's
//! JWKS, for any Rust service (framework-independent; an actix-web extractor is
//! behind the `actix` feature).
//!
//! ```no_run
//! # async fn demo(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use jwt_verifier::{Verifier, VerifierConfig};
//!
//! let verifier = Verifier::new(VerifierConfig::new(
//!     "https://auth.example.com/api/auth/jwks",
//!     "https://auth.example.com",
//!     "profile-api",
//! ))?;
//! verifier.refresh().await?; // warm-up before reporting ready
//! let claims = verifier.verify(token).await?;
//! println!("user {}", claims.sub);
//! # Ok(()) }
//! ```
//!
//! What is enforced (spec `supabase-and-neon.md` §6, RFC 8725): `alg` must be
//! `RS256`; `jku`/`x5u`/`jwk`/`x5c`/`crit` headers are refused; `typ`, if present,
//! is `JWT` or `at+jwt`; the key is chosen by the required `kid` among JWKS keys with
//! `kty` RSA, `alg` RS256 (or none), `use` sig (or none), ≥ 2048 bits; the
//! signature is verified before any claim is read; then `iss` (exact), `aud`
//! (member), `exp`, `nbf` and `iat` (with leeway; `iat` not in the future), `sub` (UUID) and the shape of
//! [`AccessClaims`].

mod config;
mod error;
mod jwks;
mod token;

#[cfg(feature = "actix")]
pub mod actix;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use auth_wire::{AccessClaims, Audience, ServiceClaims};
pub use config::{is_loopback, VerifierConfig, DEFAULT_MIN_JWKS_TTL, DEFAULT_UNKNOWN_KID_COOLDOWN};
pub use error::{ConfigError, VerifyError};
pub use token::TokenKind;

use josekit::jws::JwsVerifier as _;
use jwks::KeyStore;

/// Verifies access tokens. Cheap to clone (one `Arc`); clones share the JWKS cache,
/// so build one per process and hand out clones.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    config: VerifierConfig,
    keys: KeyStore,
    /// Tokens whose signature and fixed claims verified, by their exact text.
    verified: Option<moka::sync::Cache<Arc<str>, Arc<Verified>>>,
    /// Lookups in `verified` that found the token, and that did not.
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

/// What a [`Verifier`] has done since it was built, for metrics: plain counters
/// that a metrics collector reads at scrape time (this crate has no metrics
/// dependency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifierStats {
    /// JWKS requests started, successful or not.
    pub jwks_fetches: u64,
    /// JWKS requests that failed (network, status, body, no usable key).
    pub jwks_fetch_failures: u64,
    /// Tokens found in the verified-token cache (no signature check needed).
    pub verified_cache_hits: u64,
    /// Tokens not in the cache (verified in full; 0 when the cache is off).
    pub verified_cache_misses: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.inner.config)
            .field("fetch_count", &self.fetch_count())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Checks the config and builds the HTTP client. Fetches nothing: the first
    /// [`verify`](Self::verify) or [`refresh`](Self::refresh) does.
    pub fn new(config: VerifierConfig) -> Result<Self, ConfigError> {
        let url = config.validate()?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.http_timeout)
            .timeout(config.http_timeout)
            // A redirect could move us off https or to a host the URL did not name.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("jwt-verifier/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let keys = KeyStore::new(&config, url, http);
        let verified = (!config.verified_cache_ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(config.verified_cache_capacity)
                .time_to_live(config.verified_cache_ttl)
                .build()
        });
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                keys,
                verified,
                cache_hits: AtomicU64::new(0),
                cache_misses: AtomicU64::new(0),
            }),
        })
    }

    /// The config this verifier was built with.
    pub fn config(&self) -> &VerifierConfig {
        &self.inner.config
    }

    /// Validates a **learner** token (the compact JWS, without `Bearer `) and returns
    /// its claims. A valid service token is refused with
    /// [`VerifyError::WrongKind`] (answer 403); every other error means "reject with
    /// 401"; the variant is for logs and metrics and must not be shown to the client.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        match self.verify_any(token).await? {
            Verified::Learner(claims) => Ok(claims),
            Verified::Service(_) => Err(VerifyError::WrongKind {
                expected: "learner",
            }),
        }
    }

    /// Validates a **service** token (`typ: at+jwt`, from `/oauth2/token`); a
    /// learner token is refused with [`VerifyError::WrongKind`].
    pub async fn verify_service(&self, token: &str) -> Result<ServiceClaims, VerifyError> {
        match self.verify_any(token).await? {
            Verified::Service(claims) => Ok(claims),
            Verified::Learner(_) => Err(VerifyError::WrongKind {
                expected: "service",
            }),
        }
    }

    /// Validates a token of either kind.
    pub async fn verify_any(&self, token: &str) -> Result<Verified, VerifyError> {
        let config = &self.inner.config;
        let leeway = i64::try_from(config.leeway.as_secs()).unwrap_or(i64::MAX);
        if let Some(cache) = &self.inner.verified {
            let cached = cache.get(token);
            let counter = if cached.is_some() {
                &self.inner.cache_hits
            } else {
                &self.inner.cache_misses
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if let Some(claims) = cached {
                // The signature, issuer and audience were checked when it was cached;
                // time moves on, so the time claims are checked again.
                let now = unix_now();
                let (exp, nbf) = claims.times();
                if now >= exp.saturating_add(leeway) {
                    return Err(VerifyError::Expired);
                }
                if now.saturating_add(leeway) < nbf {
                    return Err(VerifyError::NotYetValid);
                }
                return Ok((*claims).clone());
            }
        }
        let claims = self.verify_uncached(token, leeway).await?;
        if let Some(cache) = &self.inner.verified {
            cache.insert(Arc::from(token), Arc::new(claims.clone()));
        }
        Ok(claims)
    }

    async fn verify_uncached(&self, token: &str, leeway: i64) -> Result<Verified, VerifyError> {
        let config = &self.inner.config;
        let unverified = token::parse(token, config.max_token_bytes)?;
        let key = self.inner.keys.key(&unverified.kid).await?;
        key.verify(unverified.signing_input.as_bytes(), &unverified.signature)
            .map_err(|_| VerifyError::BadSignature)?;
        let want = token::Expectations {
            issuer: &config.issuer,
            audience: &config.audience,
            leeway_secs: leeway,
            now: unix_now(),
        };
        Ok(match unverified.kind {
            TokenKind::Learner => {
                Verified::Learner(token::learner_claims(unverified.payload_b64, &want)?)
            }
            TokenKind::Service => {
                Verified::Service(token::service_claims(unverified.payload_b64, &want)?)
            }
        })
    }

    /// Fetches the JWKS now, whatever the cache holds. Call it at startup (warm-up)
    /// and from readiness when [`has_keys`](Self::has_keys) is false. On failure the
    /// keys already held keep serving (within `stale_if_error`).
    pub async fn refresh(&self) -> Result<(), VerifyError> {
        self.inner.keys.refresh().await
    }

    /// Whether keys are usable now (fresh, or stale within `stale_if_error`); the
    /// natural readiness check, as it costs no request.
    pub fn has_keys(&self) -> bool {
        self.inner.keys.has_keys()
    }

    /// How many JWKS requests were started, successful or not (tests, metrics).
    pub fn fetch_count(&self) -> u64 {
        self.inner.keys.fetch_count()
    }

    /// The counters behind the verifier's metrics (a few atomic loads).
    pub fn stats(&self) -> VerifierStats {
        VerifierStats {
            jwks_fetches: self.inner.keys.fetch_count(),
            jwks_fetch_failures: self.inner.keys.fetch_failure_count(),
            verified_cache_hits: self.inner.cache_hits.load(Ordering::Relaxed),
            verified_cache_misses: self.inner.cache_misses.load(Ordering::Relaxed),
        }
    }
}

/// A verified token of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Verified {
    /// A learner's token (`typ: JWT`).
    Learner(AccessClaims),
    /// A service's token (`typ: at+jwt`).
    Service(ServiceClaims),
}

impl Verified {
    /// `(exp, nbf)`.
    fn times(&self) -> (i64, i64) {
        match self {
            Verified::Learner(c) => (c.exp, c.nbf),
            Verified::Service(c) => (c.exp, c.nbf),
        }
    }
}

/// Seconds since the epoch; a clock before 1970 counts as 0, which only makes
/// tokens look expired.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
