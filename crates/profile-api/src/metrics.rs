//! The profile-api's own metrics (docs/operations.md): the token verifier's
//! counters, read at scrape time (jwt-verifier has no metrics dependency).

use jwt_verifier::Verifier;
use service_metrics::collect::{counter, gauge};
use service_metrics::prometheus_client::collector::Collector;
use service_metrics::prometheus_client::encoding::DescriptorEncoder;
use service_metrics::Metrics;

/// Registers the verifier's counters and the pool's gauges.
pub fn register(metrics: &mut Metrics, verifier: &Verifier, pool: &deadpool_postgres::Pool) {
    metrics.pool(pool);
    metrics
        .registry()
        .register_collector(Box::new(VerifierCollector(verifier.clone())));
}

#[derive(Debug)]
struct VerifierCollector(Verifier);

impl Collector for VerifierCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let e = &mut encoder;
        let stats = self.0.stats();
        counter(
            e,
            "profile_jwks_fetches",
            "JWKS requests to the auth-server, successful or not",
            stats.jwks_fetches,
        )?;
        counter(
            e,
            "profile_jwks_fetch_failures",
            "JWKS requests that failed (the last good keys keep serving for a while)",
            stats.jwks_fetch_failures,
        )?;
        gauge(
            e,
            "profile_jwks_keys_usable",
            "1 while a JWKS is held that may still be used (fresh, or stale within its grace); 0: every token is refused",
            i64::from(self.0.has_keys()),
        )?;
        counter(
            e,
            "profile_verified_token_cache_hits",
            "Bearer tokens found in the verified-token cache (no signature check)",
            stats.verified_cache_hits,
        )?;
        counter(
            e,
            "profile_verified_token_cache_misses",
            "Bearer tokens verified in full (first sight, or not a valid token)",
            stats.verified_cache_misses,
        )
    }
}
