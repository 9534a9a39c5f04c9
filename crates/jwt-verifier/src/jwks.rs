//! Fetching, vetting and caching the issuer's JWKS.
//!
//! Three paths fetch, all serialised by `fetch_lock` so that concurrent callers
//! share one request:
//! - cache miss or expiry: moka `try_get_with` (itself single-flight per key);
//! - unknown `kid`: at most once per `unknown_kid_cooldown` since the last attempt;
//! - [`KeyStore::refresh`]: explicit warm-up.
//!
//! A failed fetch never drops keys: the last good set stays usable until its TTL
//! plus `stale_if_error` has passed (the PyJWKClient cache wipe, spec §6.2, is
//! exactly what turns an issuer blip into an outage).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use josekit::jwk::Jwk;
use josekit::jws::alg::rsassa::RsassaJwsVerifier;
use josekit::jws::RS256;
use moka::future::Cache;
use moka::Expiry;
use reqwest::header::{HeaderMap, ACCEPT, CACHE_CONTROL};
use reqwest::Url;
use serde_json::Value;

use crate::config::VerifierConfig;
use crate::error::VerifyError;

/// Smallest RSA modulus we accept (RFC 7518 §3.3).
const MIN_RSA_BITS: usize = 2048;

/// One successfully fetched and vetted JWKS.
#[derive(Debug)]
pub(crate) struct KeySet {
    keys: HashMap<String, RsassaJwsVerifier>,
    fetched_at: Instant,
    ttl: Duration,
    /// Increases with every successful fetch; lets a waiter see that someone else
    /// fetched while it queued on `fetch_lock`.
    generation: u64,
}

impl KeySet {
    pub(crate) fn get(&self, kid: &str) -> Option<&RsassaJwsVerifier> {
        self.keys.get(kid)
    }

    fn fresh_until(&self) -> Instant {
        self.fetched_at + self.ttl
    }

    fn stale_until(&self, stale_if_error: Duration) -> Instant {
        self.fresh_until() + stale_if_error
    }
}

/// What the moka cache holds: a key set and how long this entry may be served
/// before we try the issuer again (shorter than the set's TTL when it is a stale
/// set served after a failed fetch).
#[derive(Debug, Clone)]
struct Cached {
    set: Arc<KeySet>,
    expires_in: Duration,
}

/// Per-entry expiry, because each JWKS response says its own `max-age`.
struct CachedExpiry;

impl Expiry<(), Cached> for CachedExpiry {
    fn expire_after_create(&self, _: &(), value: &Cached, _: Instant) -> Option<Duration> {
        Some(value.expires_in)
    }

    // The default keeps the old deadline; a replaced entry must get its own.
    fn expire_after_update(
        &self,
        _: &(),
        value: &Cached,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.expires_in)
    }
}

/// The JWKS client and cache behind a [`Verifier`](crate::Verifier).
pub(crate) struct KeyStore {
    url: Url,
    http: reqwest::Client,
    max_jwks_bytes: usize,
    unknown_kid_cooldown: Duration,
    stale_if_error: Duration,
    min_ttl: Duration,
    max_ttl: Duration,
    default_ttl: Duration,
    /// One entry under `()`: the key set currently served.
    cache: Cache<(), Cached>,
    /// The last successful fetch, kept outside moka so that expiry cannot evict it.
    last_good: RwLock<Option<Arc<KeySet>>>,
    /// When the last fetch ended, successful or not (for the cooldown; counted from
    /// the end so that a slow fetch does not eat into it).
    last_attempt: Mutex<Option<Instant>>,
    /// Held for the whole of every fetch (single-flight across all three paths).
    fetch_lock: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
    fetch_failures: AtomicU64,
    generations: AtomicU64,
}

impl KeyStore {
    pub(crate) fn new(config: &VerifierConfig, url: Url, http: reqwest::Client) -> Self {
        Self {
            url,
            http,
            max_jwks_bytes: config.max_jwks_bytes,
            unknown_kid_cooldown: config.unknown_kid_cooldown,
            stale_if_error: config.stale_if_error,
            min_ttl: config.min_ttl,
            max_ttl: config.max_ttl,
            default_ttl: config.default_ttl,
            // Only ever the one key `()`, so no capacity bound is needed.
            cache: Cache::builder().expire_after(CachedExpiry).build(),
            last_good: RwLock::new(None),
            last_attempt: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
            fetch_failures: AtomicU64::new(0),
            generations: AtomicU64::new(0),
        }
    }

    pub(crate) fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    pub(crate) fn fetch_failure_count(&self) -> u64 {
        self.fetch_failures.load(Ordering::Relaxed)
    }

    /// Whether a key set is usable now: fresh, or stale but within `stale_if_error`.
    pub(crate) fn has_keys(&self) -> bool {
        self.last_good()
            .is_some_and(|set| Instant::now() < set.stale_until(self.stale_if_error))
    }

    /// Fetches now, whatever the cache holds. On failure the keys held stay usable.
    pub(crate) async fn refresh(&self) -> Result<(), VerifyError> {
        let _guard = self.fetch_lock.lock().await;
        let set = self.fetch().await?;
        self.cache.insert((), fresh_entry(set)).await;
        Ok(())
    }

    /// The key named `kid`, refetching once (cooldown permitting) when it is unknown,
    /// so a rotation on the issuer is picked up without a restart.
    pub(crate) async fn key(&self, kid: &str) -> Result<RsassaJwsVerifier, VerifyError> {
        let set = self.current().await?;
        if let Some(key) = set.get(kid) {
            return Ok(key.clone());
        }
        match self.refetch_for_unknown_kid(set.generation).await {
            Some(newer) => newer.get(kid).cloned().ok_or(VerifyError::UnknownKid),
            None => Err(VerifyError::UnknownKid),
        }
    }

    /// The key set to use now, fetching through moka on a miss.
    async fn current(&self) -> Result<Arc<KeySet>, VerifyError> {
        self.cache
            .try_get_with((), self.load())
            .await
            .map(|cached| cached.set)
            .map_err(|e| (*e).clone())
    }

    /// moka's init future: fetch, or fall back to the last good set if allowed.
    async fn load(&self) -> Result<Cached, VerifyError> {
        let seen = self.last_good().map(|s| s.generation);
        let _guard = self.fetch_lock.lock().await;
        let now = Instant::now();
        // A refresh or unknown-kid refetch may have completed while we queued.
        if let Some(set) = self.last_good() {
            if Some(set.generation) != seen && now < set.fresh_until() {
                let expires_in = set.fresh_until() - now;
                return Ok(Cached { set, expires_in });
            }
        }
        match self.fetch().await {
            Ok(set) => Ok(fresh_entry(set)),
            Err(err) => {
                // The fetch may have taken up to `http_timeout`.
                let now = Instant::now();
                let stale = self
                    .last_good()
                    .filter(|set| now < set.stale_until(self.stale_if_error));
                match stale {
                    Some(set) => {
                        // Retry no more often than an unknown kid could, and never
                        // past the end of the stale window.
                        let retry = self.unknown_kid_cooldown.max(Duration::from_secs(1));
                        let expires_in = retry.min(set.stale_until(self.stale_if_error) - now);
                        tracing::warn!(error = %err, "JWKS refresh failed; serving the last good keys");
                        Ok(Cached { set, expires_in })
                    }
                    None => Err(err),
                }
            }
        }
    }

    /// Refetch for an unknown `kid`, unless someone fetched since the caller looked
    /// (their result is returned) or the cooldown forbids it (`None`).
    async fn refetch_for_unknown_kid(&self, seen_generation: u64) -> Option<Arc<KeySet>> {
        let _guard = self.fetch_lock.lock().await;
        if let Some(set) = self.last_good() {
            if set.generation != seen_generation {
                return Some(set);
            }
        }
        let last_attempt = *self
            .last_attempt
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if last_attempt.is_some_and(|at| at.elapsed() < self.unknown_kid_cooldown) {
            tracing::debug!("unknown kid; JWKS refetch skipped (cooldown)");
            return None;
        }
        match self.fetch().await {
            Ok(set) => {
                self.cache.insert((), fresh_entry(set.clone())).await;
                Some(set)
            }
            Err(err) => {
                tracing::warn!(error = %err, "JWKS refetch for an unknown kid failed");
                None
            }
        }
    }

    fn last_good(&self) -> Option<Arc<KeySet>> {
        self.last_good
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// One HTTP fetch; on success the result becomes `last_good`. Callers hold
    /// `fetch_lock`.
    async fn fetch(&self) -> Result<Arc<KeySet>, VerifyError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        // The TTL runs from the request, not the response: conservative.
        let started = Instant::now();
        let result = self.download().await.and_then(|(headers, body)| {
            let keys = parse_jwks(&body)?;
            Ok((
                keys,
                ttl_from_headers(&headers, self.default_ttl, self.min_ttl, self.max_ttl),
            ))
        });
        *self
            .last_attempt
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
        let (keys, ttl) = result.map_err(|e| {
            self.fetch_failures.fetch_add(1, Ordering::Relaxed);
            VerifyError::JwksUnavailable(e)
        })?;
        let set = Arc::new(KeySet {
            keys,
            fetched_at: started,
            ttl,
            generation: self.generations.fetch_add(1, Ordering::Relaxed) + 1,
        });
        tracing::debug!(
            keys = set.keys.len(),
            ttl_secs = ttl.as_secs(),
            "JWKS fetched"
        );
        *self
            .last_good
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(set.clone());
        Ok(set)
    }

    /// GET the JWKS with the size cap applied while streaming, so a hostile or
    /// broken endpoint cannot make us buffer an unbounded body.
    async fn download(&self) -> Result<(HeaderMap, Vec<u8>), String> {
        let mut response = self
            .http
            .get(self.url.clone())
            .header(ACCEPT, "application/json, application/jwk-set+json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("status {status}"));
        }
        let too_large = || format!("body larger than {} bytes", self.max_jwks_bytes);
        if response
            .content_length()
            .is_some_and(|len| len > self.max_jwks_bytes as u64)
        {
            return Err(too_large());
        }
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading body failed: {e}"))?
        {
            if body.len() + chunk.len() > self.max_jwks_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((headers, body))
    }
}

fn fresh_entry(set: Arc<KeySet>) -> Cached {
    let expires_in = set.ttl;
    Cached { set, expires_in }
}

/// The cache TTL: `max-age` from `Cache-Control`, `min_ttl` for `no-cache`/`no-store`
/// (we still need keys, but should come back soon), `default` otherwise; always
/// clamped to `[min, max]` so a misconfigured issuer can neither make us fetch per
/// request nor pin keys for days.
pub(crate) fn ttl_from_headers(
    headers: &HeaderMap,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Duration {
    let mut max_age = None;
    let mut no_cache = false;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((name, arg)) => (name.trim(), Some(arg.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("max-age") {
                max_age = arg
                    .and_then(|a| a.parse::<u64>().ok())
                    .map(Duration::from_secs);
            } else if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store")
            {
                no_cache = true;
            }
        }
    }
    let ttl = if no_cache {
        min
    } else {
        max_age.unwrap_or(default)
    };
    ttl.clamp(min, max)
}

/// Keeps the keys we can use for RS256 and drops the rest (a JWKS may legitimately
/// hold EC or encryption keys for others). A `kid` listed twice is dropped: we
/// choose keys by `kid` alone and will not guess between two.
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, RsassaJwsVerifier>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|_| "body is not JSON".to_owned())?;
    let Some(Value::Array(entries)) = doc.get("keys") else {
        return Err("no `keys` array".to_owned());
    };
    let mut keys = HashMap::new();
    let mut duplicates = HashSet::new();
    for entry in entries {
        let Value::Object(map) = entry else { continue };
        let Some(kid) = map.get("kid").and_then(Value::as_str) else {
            tracing::debug!("JWKS key without kid skipped");
            continue;
        };
        match usable_key(map) {
            Ok(verifier) => {
                if keys.insert(kid.to_owned(), verifier).is_some() {
                    duplicates.insert(kid.to_owned());
                }
            }
            Err(reason) => tracing::debug!(kid, reason, "JWKS key skipped"),
        }
    }
    for kid in duplicates {
        tracing::warn!(kid = %kid, "JWKS lists this kid more than once; ignoring it");
        keys.remove(&kid);
    }
    if keys.is_empty() {
        return Err("no usable RS256 key".to_owned());
    }
    Ok(keys)
}

/// An RS256 verifier for one JWK, if it is an RSA signing key for RS256 of at least
/// 2048 bits. josekit repeats some of these checks; doing them here keeps the rule
/// independent of the library version.
fn usable_key(map: &serde_json::Map<String, Value>) -> Result<RsassaJwsVerifier, &'static str> {
    if map.get("kty").and_then(Value::as_str) != Some("RSA") {
        return Err("kty is not RSA");
    }
    match map.get("alg") {
        None => {}
        Some(Value::String(alg)) if alg == "RS256" => {}
        Some(_) => return Err("alg is not RS256"),
    }
    match map.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(_) => return Err("use is not sig"),
    }
    let n = map
        .get("n")
        .and_then(Value::as_str)
        .and_then(|n| URL_SAFE_NO_PAD.decode(n).ok())
        .ok_or("n missing or not base64url")?;
    if modulus_bits(&n) < MIN_RSA_BITS {
        return Err("modulus shorter than 2048 bits");
    }
    let jwk = Jwk::from_map(map.clone()).map_err(|_| "not a valid JWK")?;
    RS256
        .verifier_from_jwk(&jwk)
        .map_err(|_| "josekit refused the key")
}

/// Significant bits of a big-endian unsigned integer (leading zero bytes ignored).
fn modulus_bits(n: &[u8]) -> usize {
    let significant = n.iter().position(|&b| b != 0).map_or(&[][..], |i| &n[i..]);
    match significant.first() {
        Some(first) => significant.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const MIN: Duration = Duration::from_secs(30);
    const MAX: Duration = Duration::from_secs(3600);
    const DEFAULT: Duration = Duration::from_secs(600);

    fn ttl(cache_control: Option<&'static str>) -> Duration {
        let mut headers = HeaderMap::new();
        if let Some(v) = cache_control {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static(v));
        }
        ttl_from_headers(&headers, DEFAULT, MIN, MAX)
    }

    #[test]
    fn ttl_follows_max_age_within_bounds() {
        assert_eq!(ttl(None), DEFAULT);
        assert_eq!(ttl(Some("public, max-age=300")), Duration::from_secs(300));
        assert_eq!(
            ttl(Some("Max-Age=\"120\", public")),
            Duration::from_secs(120)
        );
        assert_eq!(ttl(Some("public, max-age=5")), MIN);
        assert_eq!(ttl(Some("public, max-age=86400")), MAX);
        assert_eq!(ttl(Some("public, max-age=soon")), DEFAULT);
        assert_eq!(ttl(Some("no-store")), MIN);
    }

    #[test]
    fn modulus_bits_ignores_leading_zeros() {
        assert_eq!(modulus_bits(&[]), 0);
        assert_eq!(modulus_bits(&[0, 0]), 0);
        assert_eq!(modulus_bits(&[0, 0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0x01, 0xff]), 9);
    }

    #[test]
    fn jwks_filters_unusable_keys() {
        let mut pair = RS256.generate_key_pair(2048).expect("key");
        pair.set_key_id(Some("good"));
        let good = pair.to_jwk_public_key();
        let mut rs384 = good.clone();
        rs384.set_key_id("rs384");
        rs384.set_algorithm("RS384");
        let mut enc = good.clone();
        enc.set_key_id("enc");
        enc.set_key_use("enc");
        let [good, rs384, enc] = [good, rs384, enc].map(|jwk| Value::Object(jwk.into()));
        let doc = serde_json::json!({ "keys": [good, rs384, enc, {"kty": "EC", "kid": "ec"}, 42] });
        let keys = parse_jwks(doc.to_string().as_bytes()).expect("one usable key");
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["good"]);

        let dup = serde_json::json!({ "keys": [good, good] });
        assert!(parse_jwks(dup.to_string().as_bytes()).is_err());
        assert!(parse_jwks(b"{\"keys\": {}}").is_err());
    }
}
