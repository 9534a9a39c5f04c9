//! Typed settings read from the environment (12-factor): `DATABASE_URL` plus one
//! `PROFILE_*` variable per field. `docs/configuration.md` lists them with defaults
//! (a test keeps it, and `.env.example`, in step with this file).

use std::time::Duration;

use figment::providers::{Env, Serialized};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Everything the profile-api can be told. Field `foo_bar` is read from
/// `PROFILE_FOO_BAR` (and `database_url` from `DATABASE_URL`).
#[derive(Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Postgres URL (Neon: the `-pooler` endpoint; statements are cached per
    /// connection, which is safe behind its transaction-mode pooler). The schema must
    /// already exist: the auth-server owns and applies the migrations.
    pub database_url: String,
    /// Interface to listen on.
    pub host: String,
    /// Port to listen on (0 picks a free one).
    pub port: u16,
    /// Where the auth-server publishes its JWKS: `https`, or `http` to a loopback
    /// host (or anywhere with `jwks_allow_http`).
    pub jwks_url: String,
    /// Accept a plain-http JWKS URL to a non-loopback host (a private network such
    /// as a compose project; never across the internet).
    pub jwks_allow_http: bool,
    /// The exact `iss` of accepted tokens.
    pub jwt_issuer: String,
    /// The audience accepted tokens must carry in `aud`.
    pub jwt_audience: String,
    /// Clock skew tolerated on `exp`/`nbf`, seconds (0 ..= 300).
    pub leeway: u64,
    /// Least time between two JWKS refetches caused by an unknown `kid`, seconds.
    /// Longer than the auth-server's `AUTH_KEY_REFRESH_INTERVAL` breaks its publish
    /// delay rule (docs/keys.md).
    pub jwks_refetch_cooldown: u64,
    /// Comma-separated browser origins allowed to call us (CORS), e.g.
    /// `http://localhost:3000`.
    pub trusted_origins: String,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Connections in the database pool.
    pub db_pool_size: usize,
    /// How long a request waits for a pooled connection, milliseconds.
    pub db_wait_timeout_ms: u64,
    /// How long opening a connection may take (Neon wake-up included), milliseconds.
    pub db_create_timeout_ms: u64,
    /// How long the recycle check of an idle connection may take, milliseconds.
    pub db_recycle_timeout_ms: u64,
    /// How long unacknowledged data may wait on a database socket before the
    /// connection counts as broken (`TCP_USER_TIMEOUT`), milliseconds.
    pub db_tcp_user_timeout_ms: u64,
    /// Seconds a request may take before it is answered 503 with `Retry-After`
    /// (bounds every request when the database stalls); below `shutdown_timeout`.
    pub request_timeout: u64,
    /// Worker threads for HTTP (0: one per core).
    pub workers: usize,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_timeout: u64,
    /// Log format: `json` or `pretty`.
    pub log_format: String,
    /// One log line per request (method, route, status, latency, request id, user
    /// id). Off by default: it is synchronous stdout I/O on the hot path, and a
    /// proxy or load balancer usually logs requests already.
    pub access_log: bool,
    /// The service listing leaves out profiles changed in the last this many
    /// milliseconds, so a write still committing cannot land behind a page already
    /// served (docs/service-tokens.md).
    pub service_list_settle_ms: u64,
    /// `host:port` of a separate listener serving Prometheus metrics at
    /// `/metrics` (e.g. `127.0.0.1:9465`; port 0 picks one); empty: none. Never
    /// the public port: keep it reachable by the scraper only.
    pub metrics_addr: String,
}

impl Default for Settings {
    fn default() -> Self {
        let pool = database::PoolOptions::default();
        Self {
            database_url: "postgres://postgres@127.0.0.1:5432/auth".into(),
            host: "127.0.0.1".into(),
            port: 8081,
            jwks_url: "http://127.0.0.1:8080/.well-known/jwks.json".into(),
            jwks_allow_http: false,
            jwt_issuer: "http://localhost:8080".into(),
            jwt_audience: "http://localhost:8080".into(),
            leeway: 60,
            jwks_refetch_cooldown: jwt_verifier::DEFAULT_UNKNOWN_KID_COOLDOWN.as_secs(),
            trusted_origins: String::new(),
            body_limit: 64 * 1024,
            db_pool_size: pool.max_size,
            db_wait_timeout_ms: millis(pool.wait_timeout),
            db_create_timeout_ms: millis(pool.create_timeout),
            db_recycle_timeout_ms: millis(pool.recycle_timeout),
            db_tcp_user_timeout_ms: millis(pool.tcp_user_timeout),
            request_timeout: 5,
            workers: 0,
            shutdown_timeout: 10,
            log_format: "json".into(),
            access_log: false,
            service_list_settle_ms: 1000,
            metrics_addr: String::new(),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Why the settings are not usable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable could not be parsed into its field's type.
    #[error("cannot read configuration: {0}")]
    Read(#[from] Box<figment::Error>),
    /// A value parsed but is out of range or inconsistent.
    #[error("{0}")]
    Invalid(String),
}

/// The largest body we let anyone configure: a full profile is below 30 KiB even
/// with every character JSON-escaped, so more only invites abuse.
const MAX_BODY_LIMIT: usize = 1024 * 1024;

impl Settings {
    /// Reads defaults, then `DATABASE_URL` and every `PROFILE_*` variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .merge(Env::prefixed("PROFILE_").ignore(&["DATABASE_URL"]))
            .extract()
            .map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks ranges and formats, naming the variable at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if database::parse_url(&self.database_url).is_err() {
            return bad("DATABASE_URL is not a valid Postgres URL".into());
        }
        if let Err(e) = jwt_verifier::Verifier::new(self.verifier_config()) {
            return bad(format!(
                "PROFILE_JWKS_URL / PROFILE_JWT_*: {e} (see PROFILE_JWKS_ALLOW_HTTP)"
            ));
        }
        if self.jwt_issuer.is_empty() || self.jwt_audience.is_empty() {
            return bad("PROFILE_JWT_ISSUER and PROFILE_JWT_AUDIENCE must not be empty".into());
        }
        if self.leeway > 300 {
            return bad("PROFILE_LEEWAY must be at most 300 seconds".into());
        }
        if !(1024..=MAX_BODY_LIMIT).contains(&self.body_limit) {
            return bad(format!(
                "PROFILE_BODY_LIMIT must be between 1024 and {MAX_BODY_LIMIT} bytes"
            ));
        }
        if self.db_pool_size == 0 {
            return bad("PROFILE_DB_POOL_SIZE must be at least 1".into());
        }
        if self.db_wait_timeout_ms == 0
            || self.db_create_timeout_ms == 0
            || self.db_recycle_timeout_ms == 0
            || self.db_tcp_user_timeout_ms == 0
        {
            return bad("PROFILE_DB_*_TIMEOUT_MS must be positive".into());
        }
        if self.request_timeout == 0 || self.shutdown_timeout <= self.request_timeout {
            return bad("PROFILE_REQUEST_TIMEOUT must be at least 1 and below PROFILE_SHUTDOWN_TIMEOUT, so every accepted request is answered before exit".into());
        }
        if !matches!(self.log_format.as_str(), "json" | "pretty") {
            return bad("PROFILE_LOG_FORMAT must be json or pretty".into());
        }
        if !self.metrics_addr.is_empty()
            && self.metrics_addr.parse::<std::net::SocketAddr>().is_err()
        {
            return bad(
                "PROFILE_METRICS_ADDR must be empty or an address and port, e.g. 127.0.0.1:9465"
                    .into(),
            );
        }
        for origin in self.trusted_origin_list() {
            let ok = url::Url::parse(&origin).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https") && u.origin().ascii_serialization() == origin
            });
            if !ok {
                return bad(format!(
                    "PROFILE_TRUSTED_ORIGINS entry {origin:?} is not an origin (scheme://host[:port], no path)"
                ));
            }
        }
        Ok(())
    }

    /// `PROFILE_TRUSTED_ORIGINS` split on commas.
    pub fn trusted_origin_list(&self) -> Vec<String> {
        self.trusted_origins
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Pool sizing and timeouts for [`database::build_pool`].
    pub fn pool_options(&self) -> database::PoolOptions {
        database::PoolOptions {
            max_size: self.db_pool_size,
            wait_timeout: Duration::from_millis(self.db_wait_timeout_ms),
            create_timeout: Duration::from_millis(self.db_create_timeout_ms),
            recycle_timeout: Duration::from_millis(self.db_recycle_timeout_ms),
            tcp_user_timeout: Duration::from_millis(self.db_tcp_user_timeout_ms),
            ..database::PoolOptions::default()
        }
    }

    /// The verifier configuration: our issuer, audience and tunables, the crate's
    /// defaults for everything else.
    pub fn verifier_config(&self) -> jwt_verifier::VerifierConfig {
        let mut config = jwt_verifier::VerifierConfig::new(
            self.jwks_url.clone(),
            self.jwt_issuer.clone(),
            self.jwt_audience.clone(),
        );
        config.leeway = Duration::from_secs(self.leeway);
        config.unknown_kid_cooldown = Duration::from_secs(self.jwks_refetch_cooldown);
        config.allow_http = self.jwks_allow_http;
        config
    }
}

/// The URL with its password (in the userinfo or a `password=` parameter) replaced,
/// so it can be logged.
fn redacted_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return "<unparseable>".into();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("<redacted>"));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("password") {
                    "<redacted>".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

// The database password never reaches logs, not even through `{:?}`.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redacted_url(&self.database_url))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("jwks_url", &self.jwks_url)
            .field("jwks_allow_http", &self.jwks_allow_http)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("leeway", &self.leeway)
            .field("jwks_refetch_cooldown", &self.jwks_refetch_cooldown)
            .field("trusted_origins", &self.trusted_origins)
            .field("body_limit", &self.body_limit)
            .field("db_pool_size", &self.db_pool_size)
            .field("db_wait_timeout_ms", &self.db_wait_timeout_ms)
            .field("db_create_timeout_ms", &self.db_create_timeout_ms)
            .field("db_recycle_timeout_ms", &self.db_recycle_timeout_ms)
            .field("workers", &self.workers)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("log_format", &self.log_format)
            .field("access_log", &self.access_log)
            .field("metrics_addr", &self.metrics_addr)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_dev_stack() {
        let s = Settings::default();
        s.validate().expect("defaults validate");
        assert_eq!(s.port, 8081);
        assert_eq!(s.jwks_url, "http://127.0.0.1:8080/.well-known/jwks.json");
        assert_eq!(s.jwt_issuer, "http://localhost:8080");
        assert_eq!(s.jwt_audience, "http://localhost:8080");
    }

    // figment::Jail's closure must return figment's (large) error type.
    #[allow(clippy::result_large_err)]
    #[test]
    fn environment_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://app:pw@db.example.com/neondb");
            jail.set_env("PROFILE_PORT", "9000");
            jail.set_env("PROFILE_DB_POOL_SIZE", "4");
            jail.set_env(
                "PROFILE_TRUSTED_ORIGINS",
                "http://localhost:3000, https://a.b",
            );
            jail.set_env("PROFILE_ACCESS_LOG", "true");
            let s = Settings::from_env().expect("valid");
            assert_eq!(s.database_url, "postgres://app:pw@db.example.com/neondb");
            assert_eq!(s.port, 9000);
            assert_eq!(s.pool_options().max_size, 4);
            assert!(s.access_log);
            assert_eq!(
                s.trusted_origin_list(),
                vec!["http://localhost:3000", "https://a.b"]
            );
            Ok(())
        });
    }

    #[allow(clippy::result_large_err)]
    #[test]
    fn every_setting_is_documented_with_its_default() {
        let env_example = include_str!("../../../.env.example");
        let docs = include_str!("../../../docs/configuration.md");
        let defaults = serde_json::to_value(Settings::default()).expect("serialises");
        service_kit::settings::assert_settings_documented(
            &defaults,
            |field| match field {
                "database_url" => "DATABASE_URL".to_owned(),
                _ => format!("PROFILE_{}", field.to_uppercase()),
            },
            env_example,
            docs,
            service_kit::settings::Listing::Set,
        );
        // The values listed in .env.example are the defaults.
        figment::Jail::expect_with(|jail| {
            for line in env_example.lines().filter(|l| l.starts_with("PROFILE_")) {
                let (var, value) = line.split_once('=').expect("VAR=value");
                jail.set_env(var, value);
            }
            let read = serde_json::to_value(Settings::from_env().expect("valid")).expect("json");
            let mut want = defaults.clone();
            want["database_url"] = read["database_url"].clone();
            assert_eq!(read, want);
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_their_variable() {
        type Edit = fn(&mut Settings);
        let cases: [(&str, Edit); 6] = [
            ("PROFILE_METRICS_ADDR", |s| {
                s.metrics_addr = "localhost".into()
            }),
            ("PROFILE_BODY_LIMIT", |s| s.body_limit = 10),
            ("PROFILE_DB_POOL_SIZE", |s| s.db_pool_size = 0),
            ("PROFILE_LOG_FORMAT", |s| s.log_format = "xml".into()),
            ("PROFILE_TRUSTED_ORIGINS", |s| {
                s.trusted_origins = "http://localhost:3000/app".into()
            }),
            ("PROFILE_LEEWAY", |s| s.leeway = 3600),
        ];
        for (var, edit) in cases {
            let mut s = Settings::default();
            edit(&mut s);
            let err = s.validate().expect_err(var).to_string();
            assert!(err.contains(var), "{var}: {err}");
        }
    }

    #[test]
    fn plain_http_jwks_needs_loopback_or_the_opt_in() {
        let mut s = Settings {
            jwks_url: "http://auth-server:8080/.well-known/jwks.json".into(),
            ..Settings::default()
        };
        let err = s.validate().expect_err("plain http to another host");
        assert!(err.to_string().contains("PROFILE_JWKS_URL"), "{err}");
        s.jwks_allow_http = true;
        s.validate().expect("allowed on a private network");
        s.jwks_url = "https://auth.example.com/.well-known/jwks.json".into();
        s.jwks_allow_http = false;
        s.validate().expect("https is always fine");
    }

    #[test]
    fn debug_hides_the_database_password() {
        let s = Settings {
            database_url:
                "postgres://app:hunter2@db.example.com/neondb?sslmode=require&password=hunter3"
                    .into(),
            ..Settings::default()
        };
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("hunter3"),
            "{shown}"
        );
        assert!(shown.contains("db.example.com"), "{shown}");
    }
}
