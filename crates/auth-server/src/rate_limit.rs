//! Rate limits on every endpoint that checks a password: per client IP (IPv6 per
//! /64) and per account, so neither rotating addresses nor spreading guesses over
//! many accounts buys an attacker more tries — and argon2 never becomes their
//! denial-of-service lever. The handlers of those routes call [`RateLimiter::check`]
//! once they know the account, so the limit follows the matched route, never a
//! path string.
//!
//! Counters live where every instance sees them: Postgres by default
//! (`identity.rate_limits`, one upsert per check), Redis when configured. Each key
//! allows `max` hits in a window that starts at its first hit; the next hit after
//! the window starts a fresh one. So the documented number is exactly what is
//! enforced, and an account an attacker hammered is free again one window after
//! they stop.

use std::net::IpAddr;
use std::time::Duration;

use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};

use crate::client_ip;
use crate::db::rate_limits;
use crate::error::ApiError;

/// At most `max` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub max: u32,
    pub window: Duration,
}

/// Where the counters are kept.
pub enum Store {
    /// `identity.rate_limits`.
    Postgres(Pool),
    /// `<prefix><key>` strings with a TTL.
    Redis {
        /// The shared connection (reconnects by itself).
        conn: redis::aio::ConnectionManager,
        /// `AUTH_RATE_LIMIT_REDIS_PREFIX`.
        prefix: String,
    },
}

/// The limiter of the credential endpoints.
pub struct RateLimiter {
    store: Store,
    per_ip: Rule,
    per_account: Rule,
    /// Mails per IP and per recipient, for each mail-sending endpoint.
    mail: Rule,
    /// Social sign-in starts and callbacks per IP.
    social: Rule,
}

/// The account a request is about, as the limiter keys it.
#[derive(Debug, Clone, Copy)]
pub enum Account<'a> {
    /// A (normalised) e-mail address: sign-in, sign-up.
    Email(&'a str),
    /// A signed-in user: change-password.
    User(uuid::Uuid),
    /// An OAuth client authenticating at `/oauth2/token`.
    Client(uuid::Uuid),
}

impl Account<'_> {
    /// E-mails are hashed: the counter table holds no personal data.
    fn key(&self) -> String {
        match self {
            Account::Email(e) => {
                let digest = Sha256::digest(e.as_bytes());
                let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
                format!("account:{hex}")
            }
            Account::User(id) => format!("account:user:{id}"),
            Account::Client(id) => format!("account:client:{id}"),
        }
    }
}

impl RateLimiter {
    /// A limiter over `store`.
    pub fn new(store: Store, per_ip: Rule, per_account: Rule, mail: Rule, social: Rule) -> Self {
        Self {
            store,
            per_ip,
            per_account,
            mail,
            social,
        }
    }

    /// A Redis store for `url`; connects lazily and reconnects by itself, so a Redis
    /// that is down at start-up only costs 503s until it is back.
    pub fn redis_store(url: &str, prefix: &str) -> anyhow::Result<Store> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1);
        Ok(Store::Redis {
            conn: redis::aio::ConnectionManager::new_lazy_with_config(client, config)?,
            prefix: prefix.to_owned(),
        })
    }

    /// Counts this request against its IP and account; 429 with the seconds to wait
    /// once either is over its rule.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn check(
        &self,
        ip: Option<IpAddr>,
        account: Option<Account<'_>>,
    ) -> Result<(), ApiError> {
        let mut keys: Vec<(String, Rule)> = Vec::with_capacity(2);
        if let Some(ip) = ip {
            keys.push((client_ip::bucket(ip), self.per_ip));
        }
        if let Some(account) = account {
            keys.push((account.key(), self.per_account));
        }
        self.check_keys(ip, keys).await
    }

    /// Counts a mail an endpoint (`endpoint`, a short fixed name) is about to send
    /// against the client IP's and the recipient's mail budget of that endpoint.
    #[tracing::instrument(level = "debug", skip_all, fields(endpoint))]
    pub async fn check_mail(
        &self,
        endpoint: &str,
        ip: Option<IpAddr>,
        recipient: &str,
    ) -> Result<(), ApiError> {
        let mut keys: Vec<(String, Rule)> = Vec::with_capacity(2);
        if let Some(ip) = ip {
            keys.push((
                format!("mail:{endpoint}:{}", client_ip::bucket(ip)),
                self.mail,
            ));
        }
        let to = Account::Email(recipient).key();
        keys.push((format!("mail:{endpoint}:{to}"), self.mail));
        self.check_keys(ip, keys).await
    }

    /// Counts a social sign-in step (start, link, provider callback) against the
    /// client IP's social budget.
    pub async fn check_social(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(ip) = ip else { return Ok(()) };
        let keys = vec![(format!("social:{}", client_ip::bucket(ip)), self.social)];
        self.check_keys(Some(ip), keys).await
    }

    async fn check_keys(
        &self,
        ip: Option<IpAddr>,
        keys: Vec<(String, Rule)>,
    ) -> Result<(), ApiError> {
        if keys.is_empty() {
            return Ok(());
        }
        let counts = self.hit(&keys).await?;
        let retry_after = counts
            .iter()
            .filter_map(|(hits, remaining, rule)| {
                (*hits > i64::from(rule.max)).then_some(*remaining)
            })
            .fold(None, |acc: Option<f64>, r| {
                Some(acc.map_or(r, |a| a.max(r)))
            });
        match retry_after {
            None => Ok(()),
            Some(secs) => {
                tracing::info!(ip = ?ip.map(client_ip::bucket), "rate limited");
                Err(ApiError::TooManyRequests {
                    retry_after: (secs.ceil() as u64).max(1),
                })
            }
        }
    }

    /// `(hits, seconds left in the window, rule)` per key after counting one hit.
    async fn hit(&self, keys: &[(String, Rule)]) -> Result<Vec<(i64, f64, Rule)>, ApiError> {
        match &self.store {
            Store::Postgres(pool) => {
                let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
                let windows: Vec<f64> = keys.iter().map(|(_, r)| r.window.as_secs_f64()).collect();
                let client = pool.get().await?;
                let counts = rate_limits::hit(&client, &names, &windows).await?;
                Ok(keys
                    .iter()
                    .filter_map(|(k, rule)| {
                        counts
                            .iter()
                            .find(|c| &c.key == k)
                            .map(|c| (i64::from(c.hits), c.remaining_secs, *rule))
                    })
                    .collect())
            }
            Store::Redis { conn, prefix } => {
                let mut pipe = redis::pipe();
                pipe.atomic();
                for (key, rule) in keys {
                    let key = format!("{prefix}{key}");
                    let ms = u64::try_from(rule.window.as_millis()).unwrap_or(u64::MAX);
                    // The window starts with the first hit: create with a TTL only if absent.
                    pipe.cmd("SET")
                        .arg(&key)
                        .arg(0)
                        .arg("PX")
                        .arg(ms)
                        .arg("NX")
                        .ignore();
                    pipe.cmd("INCR").arg(&key);
                    pipe.cmd("PTTL").arg(&key);
                }
                let mut conn = conn.clone();
                let values: Vec<i64> = pipe.query_async(&mut conn).await.map_err(|e| {
                    tracing::warn!(error = %e, "rate-limit store (Redis) unavailable");
                    ApiError::Unavailable
                })?;
                Ok(keys
                    .iter()
                    .zip(values.chunks(2))
                    .map(|((_, rule), v)| {
                        let hits = v.first().copied().unwrap_or(i64::MAX);
                        let ttl_ms = v.get(1).copied().unwrap_or(0).max(0);
                        (hits, ttl_ms as f64 / 1000.0, *rule)
                    })
                    .collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_hold_no_address() {
        let key = Account::Email("ada@example.com").key();
        assert!(key.starts_with("account:"));
        assert!(!key.contains("ada"));
        assert_eq!(key, Account::Email("ada@example.com").key());
        assert_ne!(key, Account::Email("bob@example.com").key());
    }
}
