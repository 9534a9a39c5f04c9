//! [`VerifierConfig`]: what a service must know about its issuer, plus tunables.

use std::time::Duration;

use reqwest::Url;

use crate::error::ConfigError;

/// Shortest time a fetched JWKS is cached, whatever its `Cache-Control: max-age`
/// says (the default of [`VerifierConfig::min_ttl`]). An issuer that publishes a
/// new key less than this long before it signs with it makes validators meet an
/// unknown `kid`; the auth-server refuses such a max-age.
pub const DEFAULT_MIN_JWKS_TTL: Duration = Duration::from_secs(30);

/// Least time between two JWKS refetches triggered by an unknown `kid` (the
/// default of [`VerifierConfig::unknown_kid_cooldown`]): a validator that meets an
/// unknown `kid` may wait this long before it can see the key.
pub const DEFAULT_UNKNOWN_KID_COOLDOWN: Duration = Duration::from_secs(30);

/// Settings of a [`Verifier`](crate::Verifier).
///
/// Build it with [`VerifierConfig::new`] and adjust fields; the defaults follow the
/// JWKS behaviour of panva `jose` (5 s fetch timeout, 10 min cache, 30 s cooldown)
/// that our spec (§6) adopts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifierConfig {
    /// Where the issuer serves its JWKS. Must be `https`, except to a loopback host
    /// (tests, sidecars) or with [`allow_http`](Self::allow_http), because the keys
    /// decide who can mint tokens for us.
    pub jwks_url: String,
    /// Accept a plain `http` JWKS URL to any host. Only for a private network the
    /// service trusts (e.g. between containers of one compose project), where the
    /// issuer has no TLS. Default false.
    pub allow_http: bool,
    /// The exact `iss` the tokens carry (compared byte for byte, never as a prefix).
    pub issuer: String,
    /// The audience this service accepts; `aud` must equal it or contain it.
    pub audience: String,
    /// Tolerated clock skew for `exp` and `nbf`. Default 60 s.
    pub leeway: Duration,
    /// Longest token accepted, in bytes, checked before any decoding. Default 8 KiB.
    pub max_token_bytes: usize,
    /// Minimum time between two JWKS fetches triggered by an unknown `kid`, so random
    /// `kid`s cannot turn into a refetch storm against the issuer. Default 30 s.
    pub unknown_kid_cooldown: Duration,
    /// How long after the keys' TTL has run out the last good set keeps serving while
    /// refetches fail, so an issuer outage does not become an outage of every
    /// service. Default 1 h.
    pub stale_if_error: Duration,
    /// Connect timeout and total timeout of one JWKS request. Default 5 s.
    pub http_timeout: Duration,
    /// Largest JWKS body accepted. Default 64 KiB.
    pub max_jwks_bytes: usize,
    /// Lower bound of the cache TTL taken from `Cache-Control: max-age`. Default 30 s.
    pub min_ttl: Duration,
    /// Upper bound of that TTL. Default 1 h.
    pub max_ttl: Duration,
    /// TTL when the JWKS response has no usable `max-age` (still bounded by
    /// `min_ttl`/`max_ttl`). Default 10 min.
    pub default_ttl: Duration,
    /// How long a token whose signature verified is remembered, so the next request
    /// with the same token skips the RSA work (its `exp`/`nbf` are still checked
    /// every time). Bounds how long a key removed from the JWKS keeps validating
    /// tokens already seen. Zero turns the cache off. Default 30 s.
    pub verified_cache_ttl: Duration,
    /// Most tokens remembered at once. Default 10,000.
    pub verified_cache_capacity: u64,
}

impl VerifierConfig {
    /// A config with the defaults documented on each field.
    pub fn new(
        jwks_url: impl Into<String>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            jwks_url: jwks_url.into(),
            allow_http: false,
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Duration::from_secs(60),
            max_token_bytes: 8 * 1024,
            unknown_kid_cooldown: DEFAULT_UNKNOWN_KID_COOLDOWN,
            stale_if_error: Duration::from_secs(60 * 60),
            http_timeout: Duration::from_secs(5),
            max_jwks_bytes: 64 * 1024,
            min_ttl: DEFAULT_MIN_JWKS_TTL,
            max_ttl: Duration::from_secs(60 * 60),
            default_ttl: Duration::from_secs(10 * 60),
            verified_cache_ttl: Duration::from_secs(30),
            verified_cache_capacity: 10_000,
        }
    }

    /// Checks the settings and returns the parsed JWKS URL.
    pub(crate) fn validate(&self) -> Result<Url, ConfigError> {
        if self.issuer.is_empty() {
            return Err(ConfigError::Setting("issuer is empty"));
        }
        if self.audience.is_empty() {
            return Err(ConfigError::Setting("audience is empty"));
        }
        if self.max_token_bytes == 0 || self.max_jwks_bytes == 0 {
            return Err(ConfigError::Setting("size limits must be positive"));
        }
        if self.http_timeout.is_zero() {
            return Err(ConfigError::Setting("http_timeout must be positive"));
        }
        if self.min_ttl > self.max_ttl {
            return Err(ConfigError::Setting("min_ttl exceeds max_ttl"));
        }
        let url = Url::parse(&self.jwks_url).map_err(|e| ConfigError::JwksUrl(e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http || is_loopback(&url) => {}
            _ => {
                return Err(ConfigError::JwksUrl(
                    "must be https (plain http only to a loopback host, or with allow_http)".into(),
                ))
            }
        }
        Ok(url)
    }
}

/// Whether `url` names a loopback host (`localhost`, 127.0.0.0/8, `[::1]`): the
/// only hosts plain http is allowed to.
pub fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        // IPv6 hosts come bracketed (`[::1]`).
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}
