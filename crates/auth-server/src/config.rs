//! Typed settings read from the environment (12-factor). `.env.example` lists every
//! variable with its default.

use std::time::Duration;

use figment::providers::{Env, Serialized};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Shortest secret accepted outside dev mode (bytes).
pub const MIN_SECRET_LEN: usize = 32;
/// Secrets published with this repository (the docker-compose.yml defaults): anyone
/// can forge cookies or open sealed keys with them, so they are refused outside
/// dev mode. A test keeps this list in step with the compose file.
pub const EXAMPLE_SECRETS: &[&str] = &[
    "compose-local-secret-change-me-0123456789abcdef",
    "compose-local-kek-change-me-0123456789abcdef",
];

/// JWTs never live longer than this, whatever the configuration says.
pub const MAX_JWT_LIFETIME_SECS: i64 = 3600;

/// Everything the auth-server can be told. Field `foo_bar` is read from `AUTH_FOO_BAR`
/// (and `database_url` from `DATABASE_URL`).
#[derive(Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Postgres URL for application traffic (Neon: the `-pooler` endpoint).
    pub database_url: String,
    /// Postgres URL of the schema owner, for migrations and the `keys` commands
    /// (Neon: the direct endpoint); defaults to `database_url`. With it set,
    /// `database_url` can be a role without DDL (docs/auth-server-database-role.md).
    pub migrate_database_url: Option<String>,
    /// Apply pending migrations at start-up.
    pub migrate_on_start: bool,
    /// Interface to listen on.
    pub host: String,
    /// Port to listen on (0 picks a free one).
    pub port: u16,
    /// Public URL of this server; its origin is the JWT issuer and a trusted origin,
    /// and https here turns on `Secure` / `__Secure-` cookies.
    pub base_url: String,
    /// Secret that signs session cookies (≥ 32 bytes outside dev mode).
    pub secret: Option<String>,
    /// Comma-separated earlier secrets that still verify cookies during a rotation.
    pub previous_secrets: String,
    /// Allow a missing/short secret (an ephemeral one is generated) and verbose errors.
    pub dev_mode: bool,
    /// Comma-separated browser origins allowed to call us with credentials.
    pub trusted_origins: String,
    /// Enforce the Origin / Fetch-Metadata CSRF rules on cookie-carrying POSTs.
    pub csrf_check: bool,
    /// Comma-separated CIDRs of the proxies in front of us. Only when the socket peer
    /// is one of them is the client IP taken from the forwarding header.
    pub trusted_proxies: String,
    /// The forwarding header read behind a trusted proxy: `x-forwarded-for` or
    /// `forwarded` (RFC 7239).
    pub client_ip_header: String,
    /// Session lifetime in seconds.
    pub session_expires_in: i64,
    /// A session's expiry is pushed forward once it is older than this (seconds).
    pub session_update_age: i64,
    /// `list-sessions` needs a session created less than this many seconds ago (0: off).
    pub session_fresh_age: i64,
    /// Lifetime of a `rememberMe: false` session in seconds.
    pub session_short_expires_in: i64,
    /// Shortest password, in UTF-16 code units (as the JS client counts).
    pub password_min_length: usize,
    /// Longest password, in UTF-16 code units.
    pub password_max_length: usize,
    /// Password hashes computed at once; each takes ~19 MiB and one core.
    pub max_concurrent_hashes: usize,
    /// Hashes that may wait for a slot; past it sign-in/sign-up answer 503 at once.
    pub max_queued_hashes: usize,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Connections in the database pool.
    pub db_pool_size: usize,
    /// Worker threads for HTTP (0: one per core).
    pub workers: usize,
    /// Seconds a request may take before it is answered 503 with `Retry-After`
    /// (bounds every request when the database stalls).
    pub request_timeout: u64,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT; must exceed
    /// `request_timeout`, so every accepted request is answered.
    pub shutdown_timeout: u64,
    /// Seconds start-up waits for a database that is not reachable yet (starting,
    /// or a Neon compute waking up), retrying with backoff, before it gives up.
    pub db_startup_timeout: u64,
    /// Seconds unacknowledged data may wait on a database socket before the
    /// connection counts as broken (`TCP_USER_TIMEOUT`).
    pub db_tcp_user_timeout: u64,
    /// Log format: `json` or `pretty`.
    pub log_format: String,
    /// Secret from which the key sealing private JWT keys at rest is derived
    /// (≥ 32 bytes outside dev mode; dev mode falls back to the cookie secret).
    pub key_encryption_secret: Option<String>,
    /// Comma-separated earlier key-encryption secrets that still open sealed keys.
    pub previous_key_encryption_secrets: String,
    /// JWT lifetime in seconds (60 ..= 3600).
    pub jwt_lifetime: i64,
    /// JWT `iss`; defaults to the origin of `base_url`.
    pub jwt_issuer: Option<String>,
    /// Comma-separated JWT audiences; defaults to the issuer (as Better Auth does).
    pub jwt_audience: String,
    /// `Cache-Control: max-age` of the JWKS, seconds; a new key is published at least
    /// this long (plus the refresh interval) before it signs.
    pub jwks_max_age: i64,
    /// Start a key rotation automatically this many seconds after a key began
    /// signing (0: only by `auth-server keys rotate`).
    pub key_rotation_interval: i64,
    /// How often each instance reloads keys and runs lifecycle steps, seconds.
    pub key_refresh_interval: i64,
    /// Rate-limit every endpoint that checks a password, per client IP and per account.
    pub rate_limit_enabled: bool,
    /// Requests each client IP (IPv6: each /64) may make to those endpoints per window.
    pub rate_limit_max: u32,
    /// The per-IP window, seconds.
    pub rate_limit_window: i64,
    /// Attempts on one account (e-mail or user) per account window, from any IP.
    pub rate_limit_account_max: u32,
    /// The per-account window, seconds; the count starts afresh after it, so an
    /// attacker can keep an owner out of password sign-in for at most this long
    /// after they stop.
    pub rate_limit_account_window: i64,
    /// Keep the counters in Redis instead of Postgres (`redis://host:6379/0`).
    pub rate_limit_redis_url: Option<String>,
    /// Prefix of the Redis keys, so deployments can share one Redis.
    pub rate_limit_redis_prefix: String,
    /// Mails sent per window by each mail-sending endpoint, per client IP and per
    /// recipient address.
    pub mail_rate_limit_max: u32,
    /// The mail window, seconds.
    pub mail_rate_limit_window: i64,
    /// The product's name in mails.
    pub product_name: String,
    /// SMTP relay: `smtp://user:pass@host:587` (STARTTLS required),
    /// `smtps://user:pass@host:465` (TLS), `smtp://127.0.0.1:2525?tls=none` (plain,
    /// loopback only). Unset: mails go to `mail_outbox_dir`, if set.
    pub smtp_url: Option<String>,
    /// A PEM root certificate to trust for the relay (a private CA).
    pub smtp_ca_file: Option<String>,
    /// Seconds one SMTP conversation may take.
    pub smtp_timeout: u64,
    /// The `From:` of every mail; default `<product name> <no-reply@<base URL host>>`.
    pub mail_from: Option<String>,
    /// Without `smtp_url`: write mails as `.eml` files here and log their links
    /// (development).
    pub mail_outbox_dir: Option<String>,
    /// Templates that replace the built-in ones (`<kind>.subject|txt|html`).
    pub mail_templates_dir: Option<String>,
    /// Seconds before the first retry of a mail; each next one doubles.
    pub mail_retry_initial: f64,
    /// Longest delay between retries, seconds.
    pub mail_retry_max: f64,
    /// A mail not delivered this many seconds after it was queued is given up (logged).
    pub mail_give_up_after: u64,
    /// How often an idle outbox worker looks for due mail, seconds.
    pub mail_poll_interval: f64,
    /// Anonymous mail requests (password reset, verification) answer no sooner than
    /// this many milliseconds, so the time never tells a known address.
    pub mail_request_floor_ms: u64,
    /// Refuse password sign-in (403 `EMAIL_NOT_VERIFIED`) until the address is verified.
    pub require_email_verification: bool,
    /// Send the verification mail at sign-up.
    pub send_verification_on_sign_up: bool,
    /// Opening the verification link signs the user in.
    pub auto_sign_in_after_verification: bool,
    /// Lifetime of verification and change-email links, seconds.
    pub verification_token_ttl: i64,
    /// Lifetime of password-reset links, seconds.
    pub reset_token_ttl: i64,
    /// Lifetime of account-deletion links, seconds.
    pub delete_token_ttl: i64,
    /// A password reset ends every session of the user.
    pub reset_revokes_sessions: bool,
    /// Where a reset link lands when the client gave no `redirectTo` (an app page
    /// that reads `?token=`); unset: the link reports the missing page.
    pub password_reset_page: Option<String>,
    /// `POST /change-email` is served.
    pub change_email_enabled: bool,
    /// A verified user's change is first confirmed from the old address.
    pub change_email_confirm_old_address: bool,
    /// `POST /delete-user` is served.
    pub delete_user_enabled: bool,
    /// Deleting asks for confirmation by a mailed link (opened in the signed-in browser).
    pub delete_user_confirm_by_email: bool,
    /// Lifetime of service access tokens from `/oauth2/token`, seconds (60 ..= 3600).
    pub service_token_lifetime: i64,
    /// Comma-separated audiences a client may ask for (`resource`/`audience`); the
    /// first is the default. Empty: the JWT audiences (`AUTH_JWT_AUDIENCE`).
    pub service_token_audiences: String,
    /// Seconds between housekeeping sweeps (expired sessions and tokens, ended
    /// rate-limit windows, old mail records); 0 turns the sweeper off.
    pub sweep_interval: u64,
    /// Rows deleted per sweep transaction.
    pub sweep_batch: u64,
    /// The share of time (0 < share ≤ 1) the sweeper may spend working through a
    /// backlog: after each full batch it rests for the rest.
    pub sweep_max_share: f64,
    /// Seconds a sent or given-up mail's record is kept.
    pub mail_retention: u64,
    /// Seconds an audit event is kept.
    pub audit_retention: u64,
    /// Google sign-in: the OAuth client id (unset: no Google provider).
    pub google_client_id: Option<String>,
    /// Google sign-in: the client secret.
    pub google_client_secret: Option<String>,
    /// Google's OpenID Connect issuer (its discovery document is read from there).
    pub google_issuer: String,
    /// GitHub sign-in: the OAuth app's client id (unset: no GitHub provider).
    pub github_client_id: Option<String>,
    /// GitHub sign-in: the client secret.
    pub github_client_secret: Option<String>,
    /// GitHub's authorization page.
    pub github_authorize_url: String,
    /// GitHub's token endpoint.
    pub github_token_url: String,
    /// GitHub's REST API (`/user`, `/user/emails`).
    pub github_api_url: String,
    /// Comma-separated ids of generic OpenID Connect providers; each one reads
    /// `AUTH_OIDC_<ID>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET` and `_SCOPES`.
    pub oidc_providers: String,
    /// The generic providers named by `oidc_providers`, read from their variables.
    #[serde(skip)]
    pub oidc: Vec<OidcProviderSettings>,
    /// Comma-separated provider ids whose e-mail addresses count as verified when
    /// linking a sign-in to an existing user, even without `email_verified`.
    pub trusted_link_providers: String,
    /// Keep the providers' access and refresh tokens (sealed) on the account.
    pub social_store_tokens: bool,
    /// Social sign-in starts and callbacks per client IP per window.
    pub social_rate_limit_max: u32,
    /// The social sign-in window, seconds.
    pub social_rate_limit_window: i64,
    /// `host:port` of a separate listener serving Prometheus metrics at
    /// `/metrics` (e.g. `127.0.0.1:9464`; port 0 picks one); empty: none. Never
    /// the public port: keep it reachable by the scraper only.
    pub metrics_addr: String,
}

/// A generic OpenID Connect provider (`AUTH_OIDC_<ID>_*`).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OidcProviderSettings {
    /// The id in `/sign-in/social {provider}` and `/callback/<id>`.
    pub id: String,
    /// The issuer; discovery reads `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// Our client id at the provider.
    pub client_id: String,
    /// Our client secret at the provider.
    pub client_secret: String,
    /// Scopes asked for (`openid` is always added).
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for OidcProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProviderSettings")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "postgres://postgres@127.0.0.1:5432/auth".into(),
            migrate_database_url: None,
            migrate_on_start: true,
            host: "127.0.0.1".into(),
            port: 8080,
            base_url: "http://localhost:8080".into(),
            secret: None,
            previous_secrets: String::new(),
            dev_mode: false,
            trusted_origins: String::new(),
            csrf_check: true,
            trusted_proxies: String::new(),
            client_ip_header: "x-forwarded-for".into(),
            session_expires_in: 7 * 24 * 3600,
            session_update_age: 24 * 3600,
            session_fresh_age: 24 * 3600,
            session_short_expires_in: 24 * 3600,
            password_min_length: 8,
            password_max_length: 128,
            max_concurrent_hashes: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            max_queued_hashes: 64,
            body_limit: 64 * 1024,
            db_pool_size: 16,
            workers: 0,
            request_timeout: 10,
            shutdown_timeout: 30,
            db_startup_timeout: 60,
            db_tcp_user_timeout: 10,
            log_format: "json".into(),
            key_encryption_secret: None,
            previous_key_encryption_secrets: String::new(),
            jwt_lifetime: 900,
            jwt_issuer: None,
            jwt_audience: String::new(),
            jwks_max_age: 600,
            key_rotation_interval: 0,
            key_refresh_interval: 30,
            rate_limit_enabled: true,
            rate_limit_max: 10,
            rate_limit_window: 60,
            rate_limit_account_max: 10,
            rate_limit_account_window: 300,
            rate_limit_redis_url: None,
            rate_limit_redis_prefix: "auth:rl:".into(),
            mail_rate_limit_max: 3,
            mail_rate_limit_window: 60,
            product_name: "Learning platform".into(),
            smtp_url: None,
            smtp_ca_file: None,
            smtp_timeout: 10,
            mail_from: None,
            mail_outbox_dir: None,
            mail_templates_dir: None,
            mail_retry_initial: 10.0,
            mail_retry_max: 600.0,
            mail_give_up_after: 24 * 3600,
            mail_poll_interval: 2.0,
            mail_request_floor_ms: 300,
            require_email_verification: false,
            send_verification_on_sign_up: false,
            auto_sign_in_after_verification: false,
            verification_token_ttl: 3600,
            reset_token_ttl: 3600,
            delete_token_ttl: 24 * 3600,
            reset_revokes_sessions: true,
            password_reset_page: None,
            change_email_enabled: true,
            change_email_confirm_old_address: true,
            delete_user_enabled: true,
            delete_user_confirm_by_email: false,
            service_token_lifetime: 300,
            service_token_audiences: String::new(),
            sweep_interval: 300,
            sweep_batch: 1000,
            sweep_max_share: 0.1,
            mail_retention: 7 * 24 * 3600,
            audit_retention: 365 * 24 * 3600,
            google_client_id: None,
            google_client_secret: None,
            google_issuer: "https://accounts.google.com".into(),
            github_client_id: None,
            github_client_secret: None,
            github_authorize_url: "https://github.com/login/oauth/authorize".into(),
            github_token_url: "https://github.com/login/oauth/access_token".into(),
            github_api_url: "https://api.github.com".into(),
            oidc_providers: String::new(),
            oidc: Vec::new(),
            trusted_link_providers: String::new(),
            social_store_tokens: false,
            social_rate_limit_max: 30,
            social_rate_limit_window: 60,
            metrics_addr: String::new(),
        }
    }
}

/// Why the settings are not usable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Read(#[from] Box<figment::Error>),
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    /// Reads defaults, then `DATABASE_URL` and every `AUTH_*` variable, and checks them.
    pub fn from_env() -> Result<Self, ConfigError> {
        let settings = Self::read_env()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Reads the environment without the checks (for `migrate`, which needs no secrets).
    pub fn read_env() -> Result<Self, ConfigError> {
        let mut settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .merge(Env::prefixed("AUTH_").ignore(&["DATABASE_URL"]))
            .extract()
            .map_err(Box::new)?;
        settings.oidc = split_list(&settings.oidc_providers)
            .into_iter()
            .map(|id| oidc_provider_from_env(&id, |var| std::env::var(var).ok()))
            .collect::<Result<_, _>>()?;
        Ok(settings)
    }

    /// Checks invariants; refuses a missing or short secret outside dev mode.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if !self.dev_mode {
            self.refuse_example_secrets()?;
            match &self.secret {
                None => {
                    return bad(
                        "AUTH_SECRET is not set (set AUTH_DEV_MODE=true for a throwaway one)",
                    )
                }
                Some(s) if s.len() < MIN_SECRET_LEN => {
                    return bad("AUTH_SECRET must be at least 32 bytes (openssl rand -base64 48)")
                }
                _ => {}
            }
            if self
                .previous_secret_list()
                .iter()
                .any(|s| s.len() < MIN_SECRET_LEN)
            {
                return bad("every AUTH_PREVIOUS_SECRETS entry must be at least 32 bytes");
            }
            match &self.key_encryption_secret {
                None => {
                    return bad(
                        "AUTH_KEY_ENCRYPTION_SECRET is not set (it seals the JWT signing keys)",
                    )
                }
                Some(s) if s.len() < MIN_SECRET_LEN => {
                    return bad("AUTH_KEY_ENCRYPTION_SECRET must be at least 32 bytes")
                }
                _ => {}
            }
            if self
                .previous_kek_list()
                .iter()
                .any(|s| s.len() < MIN_SECRET_LEN)
            {
                return bad(
                    "every AUTH_PREVIOUS_KEY_ENCRYPTION_SECRETS entry must be at least 32 bytes",
                );
            }
        }
        if self.rate_limit_max == 0
            || self.rate_limit_window <= 0
            || self.rate_limit_account_max == 0
            || self.rate_limit_account_window <= 0
        {
            return bad("AUTH_RATE_LIMIT_MAX, AUTH_RATE_LIMIT_WINDOW, AUTH_RATE_LIMIT_ACCOUNT_MAX and AUTH_RATE_LIMIT_ACCOUNT_WINDOW must be positive");
        }
        if let Err(e) = self.trusted_proxy_list() {
            return Err(ConfigError::Invalid(e));
        }
        if !matches!(
            self.client_ip_header.as_str(),
            "x-forwarded-for" | "forwarded"
        ) {
            return bad("AUTH_CLIENT_IP_HEADER must be x-forwarded-for or forwarded");
        }
        if !(60..=MAX_JWT_LIFETIME_SECS).contains(&self.jwt_lifetime) {
            return bad("AUTH_JWT_LIFETIME must be between 60 and 3600 seconds");
        }
        if self.jwks_max_age < 0 || self.key_rotation_interval < 0 || self.key_refresh_interval <= 0
        {
            return bad("AUTH_JWKS_MAX_AGE and AUTH_KEY_ROTATION_INTERVAL must be >= 0, AUTH_KEY_REFRESH_INTERVAL > 0");
        }
        if !self.dev_mode {
            self.validate_key_timing()?;
        }
        if url::Url::parse(&self.base_url).is_err() {
            return bad("AUTH_BASE_URL is not a URL");
        }
        if self.session_expires_in <= 0 || self.session_short_expires_in <= 0 {
            return bad("session lifetimes must be positive");
        }
        if self.session_update_age < 0 || self.session_update_age > self.session_expires_in {
            return bad("AUTH_SESSION_UPDATE_AGE must be between 0 and AUTH_SESSION_EXPIRES_IN");
        }
        if self.password_min_length == 0 || self.password_min_length > self.password_max_length {
            return bad("password length bounds are inconsistent");
        }
        if self.request_timeout == 0 || self.db_tcp_user_timeout == 0 {
            return bad(
                "AUTH_REQUEST_TIMEOUT and AUTH_DB_TCP_USER_TIMEOUT must be at least 1 second",
            );
        }
        if self.shutdown_timeout <= self.request_timeout {
            return bad("AUTH_SHUTDOWN_TIMEOUT must exceed AUTH_REQUEST_TIMEOUT, so every accepted request is answered before exit");
        }
        if self.max_concurrent_hashes == 0 || self.db_pool_size == 0 {
            return bad("AUTH_MAX_CONCURRENT_HASHES and AUTH_DB_POOL_SIZE must be at least 1");
        }
        self.validate_mail()?;
        self.validate_social()?;
        if self.sweep_batch == 0 || !(self.sweep_max_share > 0.0 && self.sweep_max_share <= 1.0) {
            return bad("AUTH_SWEEP_BATCH must be at least 1 and AUTH_SWEEP_MAX_SHARE in (0, 1]");
        }
        if !self.metrics_addr.is_empty()
            && self.metrics_addr.parse::<std::net::SocketAddr>().is_err()
        {
            return bad(
                "AUTH_METRICS_ADDR must be empty or an address and port, e.g. 127.0.0.1:9464",
            );
        }
        if !(60..=MAX_JWT_LIFETIME_SECS).contains(&self.service_token_lifetime) {
            return bad("AUTH_SERVICE_TOKEN_LIFETIME must be between 60 and 3600 seconds");
        }
        for origin in self.trusted_origin_list() {
            if url::Url::parse(&origin).is_err() {
                return Err(ConfigError::Invalid(format!(
                    "AUTH_TRUSTED_ORIGINS entry {origin:?} is not an origin"
                )));
            }
        }
        Ok(())
    }

    /// Mail settings: what needs mail has a way to send it; sane timings.
    fn validate_social(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        for (name, id, secret) in [
            ("GOOGLE", &self.google_client_id, &self.google_client_secret),
            ("GITHUB", &self.github_client_id, &self.github_client_secret),
        ] {
            if id.is_some() != secret.is_some() {
                return bad(format!(
                    "AUTH_{name}_CLIENT_ID and AUTH_{name}_CLIENT_SECRET are set together"
                ));
            }
        }
        let mut urls = vec![
            ("AUTH_GOOGLE_ISSUER".to_owned(), self.google_issuer.as_str()),
            (
                "AUTH_GITHUB_AUTHORIZE_URL".to_owned(),
                &self.github_authorize_url,
            ),
            ("AUTH_GITHUB_TOKEN_URL".to_owned(), &self.github_token_url),
            ("AUTH_GITHUB_API_URL".to_owned(), &self.github_api_url),
        ];
        let mut ids = vec!["credential", "google", "github"];
        for p in &self.oidc {
            let valid_id = (1..=32).contains(&p.id.len())
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid_id || ids.contains(&p.id.as_str()) {
                return bad(format!(
                    "AUTH_OIDC_PROVIDERS: {:?} must be unique, 1-32 of a-z 0-9 -, and not credential, google or github",
                    p.id
                ));
            }
            ids.push(&p.id);
            urls.push((oidc_var(&p.id, "ISSUER"), &p.issuer));
        }
        for (var, raw) in urls {
            if let Err(why) = check_provider_url(raw) {
                return bad(format!("{var}: {why}"));
            }
        }
        if self.social_rate_limit_max == 0 || self.social_rate_limit_window <= 0 {
            return bad(
                "AUTH_SOCIAL_RATE_LIMIT_MAX and AUTH_SOCIAL_RATE_LIMIT_WINDOW must be positive"
                    .into(),
            );
        }
        Ok(())
    }

    /// `AUTH_TRUSTED_LINK_PROVIDERS` split on commas.
    pub fn trusted_link_provider_list(&self) -> Vec<String> {
        split_list(&self.trusted_link_providers)
    }

    fn validate_mail(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        let needs_mail = [
            (
                "AUTH_REQUIRE_EMAIL_VERIFICATION",
                self.require_email_verification,
            ),
            (
                "AUTH_SEND_VERIFICATION_ON_SIGN_UP",
                self.send_verification_on_sign_up,
            ),
            (
                "AUTH_DELETE_USER_CONFIRM_BY_EMAIL",
                self.delete_user_confirm_by_email,
            ),
        ];
        if !self.mail_enabled() {
            if let Some((var, _)) = needs_mail.iter().find(|(_, on)| *on) {
                return Err(ConfigError::Invalid(format!(
                    "{var} needs mail: set AUTH_SMTP_URL (or AUTH_MAIL_OUTBOX_DIR in development)"
                )));
            }
        }
        if let Some(url) = &self.smtp_url {
            crate::mail::transport::SmtpTarget::parse(url)
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        if self.mail_rate_limit_max == 0 || self.mail_rate_limit_window <= 0 {
            return bad(
                "AUTH_MAIL_RATE_LIMIT_MAX and AUTH_MAIL_RATE_LIMIT_WINDOW must be positive",
            );
        }
        if self.verification_token_ttl <= 0
            || self.reset_token_ttl <= 0
            || self.delete_token_ttl <= 0
        {
            return bad("AUTH_VERIFICATION_TOKEN_TTL, AUTH_RESET_TOKEN_TTL and AUTH_DELETE_TOKEN_TTL must be positive");
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.mail_retry_initial)
            || !positive(self.mail_retry_max)
            || !positive(self.mail_poll_interval)
            || self.mail_retry_initial > self.mail_retry_max
            || self.smtp_timeout == 0
            || self.mail_give_up_after == 0
        {
            return bad("mail timings: AUTH_MAIL_RETRY_INITIAL <= AUTH_MAIL_RETRY_MAX, and every mail interval and AUTH_SMTP_TIMEOUT positive");
        }
        if let Some(page) = &self.password_reset_page {
            if url::Url::parse(page).is_err() {
                return bad("AUTH_PASSWORD_RESET_PAGE must be an absolute URL");
            }
        }
        Ok(())
    }

    /// Mail can be sent (SMTP, or the development folder).
    pub fn mail_enabled(&self) -> bool {
        self.smtp_url.is_some() || self.mail_outbox_dir.is_some()
    }

    /// The `From:` address of mails.
    pub fn mail_from(&self) -> String {
        self.mail_from.clone().unwrap_or_else(|| {
            let host = url::Url::parse(&self.base_url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| "localhost".into());
            let name: String = self
                .product_name
                .chars()
                .filter(|c| !matches!(c, '"' | '\\' | '<' | '>'))
                .collect();
            format!("\"{name}\" <no-reply@{host}>")
        })
    }

    /// Refuses any secret setting that holds one of [`EXAMPLE_SECRETS`].
    fn refuse_example_secrets(&self) -> Result<(), ConfigError> {
        let settings = [
            ("AUTH_SECRET", self.secret.clone().into_iter().collect()),
            ("AUTH_PREVIOUS_SECRETS", self.previous_secret_list()),
            (
                "AUTH_KEY_ENCRYPTION_SECRET",
                self.key_encryption_secret.clone().into_iter().collect(),
            ),
            (
                "AUTH_PREVIOUS_KEY_ENCRYPTION_SECRETS",
                self.previous_kek_list(),
            ),
        ];
        for (var, values) in settings {
            if values.iter().any(|v| EXAMPLE_SECRETS.contains(&v.trim())) {
                return Err(ConfigError::Invalid(format!(
                    "{var} is the example value from docker-compose.yml, which anyone can read; set your own (openssl rand -base64 48), or AUTH_DEV_MODE=true on a laptop"
                )));
            }
        }
        Ok(())
    }

    /// The rules that keep a validator using `jwt-verifier`'s defaults from meeting
    /// an unknown `kid` (docs/keys.md): it caches a JWKS for at least
    /// [`jwt_verifier::DEFAULT_MIN_JWKS_TTL`] whatever `max-age` says, so a shorter
    /// max-age would let a key sign before such a validator can have seen it; and a
    /// key is published at least max-age plus
    /// [`jwt_verifier::DEFAULT_UNKNOWN_KID_COOLDOWN`] before it signs, so a validator
    /// that did meet the `kid` early (clock skew, an instance that reloaded late)
    /// can still refetch before the key signs. Dev mode skips them (tests rotate in
    /// seconds).
    pub fn validate_key_timing(&self) -> Result<(), ConfigError> {
        let floor = jwt_verifier::DEFAULT_MIN_JWKS_TTL.as_secs();
        if self.jwks_max_age.unsigned_abs() < floor {
            return Err(ConfigError::Invalid(format!(
                "AUTH_JWKS_MAX_AGE must be at least {floor} seconds: validators using jwt-verifier cache the JWKS that long anyway, so a new key would sign before they can have seen it"
            )));
        }
        let cooldown = jwt_verifier::DEFAULT_UNKNOWN_KID_COOLDOWN.as_secs();
        if self.key_refresh_interval.unsigned_abs() < cooldown {
            return Err(ConfigError::Invalid(format!(
                "AUTH_KEY_REFRESH_INTERVAL must be at least {cooldown} seconds: a new key is published AUTH_JWKS_MAX_AGE + AUTH_KEY_REFRESH_INTERVAL before it signs, and that must cover jwt-verifier's {cooldown} s unknown-kid refetch cooldown on top of the max-age"
            )));
        }
        Ok(())
    }

    /// `AUTH_TRUSTED_PROXIES` parsed (a bare address counts as its /32 or /128).
    pub fn trusted_proxy_list(&self) -> Result<Vec<ipnet::IpNet>, String> {
        split_list(&self.trusted_proxies)
            .iter()
            .map(|s| crate::client_ip::parse_cidr(s))
            .collect()
    }

    /// `AUTH_TRUSTED_ORIGINS` split on commas.
    pub fn trusted_origin_list(&self) -> Vec<String> {
        split_list(&self.trusted_origins)
    }

    /// `AUTH_PREVIOUS_SECRETS` split on commas.
    pub fn previous_secret_list(&self) -> Vec<String> {
        split_list(&self.previous_secrets)
    }

    /// JWT issuer: `AUTH_JWT_ISSUER`, else the origin of the base URL.
    pub fn issuer(&self) -> String {
        self.jwt_issuer.clone().unwrap_or_else(|| {
            crate::csrf::origin_of(&self.base_url).unwrap_or_else(|| self.base_url.clone())
        })
    }

    /// JWT audiences: `AUTH_JWT_AUDIENCE`, else the issuer.
    pub fn audiences(&self) -> Vec<String> {
        let list = split_list(&self.jwt_audience);
        if list.is_empty() {
            vec![self.issuer()]
        } else {
            list
        }
    }

    /// Audiences of service tokens: `AUTH_SERVICE_TOKEN_AUDIENCES`, else the JWT
    /// audiences; the first is the default.
    pub fn service_audiences(&self) -> Vec<String> {
        let list = split_list(&self.service_token_audiences);
        if list.is_empty() {
            self.audiences()
        } else {
            list
        }
    }

    /// `AUTH_PREVIOUS_KEY_ENCRYPTION_SECRETS` split on commas.
    pub fn previous_kek_list(&self) -> Vec<String> {
        split_list(&self.previous_key_encryption_secrets)
    }

    /// Whether cookies must be `Secure` with the `__Secure-` prefix.
    pub fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// URL used for migrations and the `keys` commands (the schema owner).
    pub fn migration_url(&self) -> &str {
        self.migrate_database_url
            .as_deref()
            .unwrap_or(&self.database_url)
    }

    /// Session lifetime.
    pub fn session_ttl(&self, remember: bool) -> Duration {
        let secs = if remember {
            self.session_expires_in
        } else {
            self.session_short_expires_in
        };
        Duration::from_secs(secs.unsigned_abs())
    }
}

/// `AUTH_OIDC_<ID>_<FIELD>`: the id upper-cased, `-` as `_`.
pub fn oidc_var(id: &str, field: &str) -> String {
    format!("AUTH_OIDC_{}_{field}", id.to_uppercase().replace('-', "_"))
}

/// Reads one generic provider's variables through `get`.
fn oidc_provider_from_env(
    id: &str,
    get: impl Fn(&str) -> Option<String>,
) -> Result<OidcProviderSettings, ConfigError> {
    let required = |field: &str| {
        let var = oidc_var(id, field);
        get(&var).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "{var} is not set (AUTH_OIDC_PROVIDERS names {id:?})"
            ))
        })
    };
    let scopes = get(&oidc_var(id, "SCOPES"))
        .map(|s| {
            s.split([',', ' '])
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_else(|| vec!["email".to_owned(), "profile".to_owned()]);
    Ok(OidcProviderSettings {
        id: id.to_owned(),
        issuer: required("ISSUER")?,
        client_id: required("CLIENT_ID")?,
        client_secret: required("CLIENT_SECRET")?,
        scopes,
    })
}

/// Provider endpoints are https; plain http only on loopback (tests, a local
/// provider), as the JWT verifier allows for JWKS.
pub fn check_provider_url(raw: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL ({e})"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if jwt_verifier::is_loopback(&url) => Ok(url),
        _ => Err(format!("{raw:?} must be https (http only on loopback)")),
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

// Secrets never reach logs, not even through `{:?}`.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("base_url", &self.base_url)
            .field("dev_mode", &self.dev_mode)
            .field("trusted_origins", &self.trusted_origins)
            .field("metrics_addr", &self.metrics_addr)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<redacted>"))
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field(
                "key_encryption_secret",
                &self.key_encryption_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_secret_refused_outside_dev_mode() {
        let s = Settings::default();
        assert!(matches!(s.validate(), Err(ConfigError::Invalid(_))));
        let dev = Settings {
            dev_mode: true,
            ..Settings::default()
        };
        assert!(dev.validate().is_ok());
        let no_kek = Settings {
            secret: Some("x".repeat(32)),
            ..Settings::default()
        };
        assert!(no_kek.validate().is_err());
        let good = Settings {
            secret: Some("x".repeat(32)),
            key_encryption_secret: Some("k".repeat(32)),
            ..Settings::default()
        };
        assert!(good.validate().is_ok());
    }

    fn production() -> Settings {
        Settings {
            secret: Some("x".repeat(32)),
            key_encryption_secret: Some("k".repeat(32)),
            ..Settings::default()
        }
    }

    #[test]
    fn a_secret_one_byte_short_is_refused_for_its_length_alone() {
        // Everything else is production-valid, so only the length rule can refuse.
        for (var, set) in [
            (
                "AUTH_SECRET",
                (|s: &mut Settings, v: String| s.secret = Some(v)) as fn(&mut Settings, String),
            ),
            ("AUTH_KEY_ENCRYPTION_SECRET", |s, v| {
                s.key_encryption_secret = Some(v)
            }),
            ("AUTH_PREVIOUS_SECRETS", |s, v| s.previous_secrets = v),
            ("AUTH_PREVIOUS_KEY_ENCRYPTION_SECRETS", |s, v| {
                s.previous_key_encryption_secrets = v
            }),
        ] {
            let mut short = production();
            set(&mut short, "s".repeat(MIN_SECRET_LEN - 1));
            let err = short.validate().expect_err(var).to_string();
            assert!(err.contains(var), "{var}: {err}");
            assert!(
                err.contains(&format!("at least {MIN_SECRET_LEN} bytes")),
                "{var}: {err}"
            );
            let mut enough = production();
            set(&mut enough, "s".repeat(MIN_SECRET_LEN));
            assert!(enough.validate().is_ok(), "{var}: {:?}", enough.validate());
        }
        // Length in bytes: 16 two-byte characters are enough.
        let mut multibyte = production();
        multibyte.secret = Some("é".repeat(MIN_SECRET_LEN / 2));
        assert!(multibyte.validate().is_ok());
    }

    #[test]
    fn jwks_max_age_below_the_verifier_cache_floor_is_refused() {
        let floor = jwt_verifier::DEFAULT_MIN_JWKS_TTL.as_secs() as i64;
        let at_floor = Settings {
            jwks_max_age: floor,
            ..production()
        };
        assert!(at_floor.validate().is_ok());
        for max_age in [0, 10, floor - 1] {
            let s = Settings {
                jwks_max_age: max_age,
                ..production()
            };
            let err = s.validate().expect_err("refused").to_string();
            assert!(err.contains("AUTH_JWKS_MAX_AGE"), "{err}");
        }
        // Dev mode keeps the fast timings tests rotate with.
        let dev = Settings {
            dev_mode: true,
            jwks_max_age: 0,
            key_refresh_interval: 1,
            ..production()
        };
        assert!(dev.validate().is_ok());
    }

    #[test]
    fn publish_delay_must_cover_the_unknown_kid_cooldown() {
        let cooldown = jwt_verifier::DEFAULT_UNKNOWN_KID_COOLDOWN.as_secs() as i64;
        let short = Settings {
            key_refresh_interval: cooldown - 1,
            ..production()
        };
        let err = short.validate().expect_err("refused").to_string();
        assert!(err.contains("AUTH_KEY_REFRESH_INTERVAL"), "{err}");
        let enough = Settings {
            key_refresh_interval: cooldown,
            ..production()
        };
        assert!(enough.validate().is_ok());
        // The default settings meet both rules.
        assert!(production().validate().is_ok());
    }

    #[test]
    fn example_secrets_are_refused_outside_dev_mode() {
        for example in EXAMPLE_SECRETS {
            let cases = [
                Settings {
                    secret: Some((*example).into()),
                    ..production()
                },
                Settings {
                    key_encryption_secret: Some((*example).into()),
                    ..production()
                },
                Settings {
                    previous_secrets: format!("{},{example}", "p".repeat(32)),
                    ..production()
                },
                Settings {
                    previous_key_encryption_secrets: (*example).into(),
                    ..production()
                },
            ];
            for s in cases {
                let err = s
                    .validate()
                    .expect_err("example secret refused")
                    .to_string();
                assert!(err.contains("example value"), "{err}");
                // On a laptop, with dev mode, the compose defaults still work.
                let dev = Settings {
                    dev_mode: true,
                    ..s
                };
                assert!(dev.validate().is_ok());
            }
        }
    }

    #[test]
    fn every_secret_default_in_the_repository_is_a_known_example() {
        // Any `${AUTH_…SECRET…:-default}` in the compose file must be refused.
        let compose = include_str!("../../../docker-compose.yml");
        let mut found = 0;
        for line in compose.lines() {
            let Some((_, rest)) = line.split_once("${") else {
                continue;
            };
            let Some((var, default)) = rest.split_once(":-") else {
                continue;
            };
            if !var.contains("SECRET") {
                continue;
            }
            let default = default.split('}').next().expect("closing brace");
            assert!(
                EXAMPLE_SECRETS.contains(&default),
                "{var}'s default {default:?} is not in EXAMPLE_SECRETS"
            );
            found += 1;
        }
        assert_eq!(found, EXAMPLE_SECRETS.len());
        // .env.example ships no secret value at all (they are commented out).
        let env_example = include_str!("../../../.env.example");
        for line in env_example.lines() {
            if let Some((var, value)) = line.split_once('=') {
                if var.contains("SECRET") && !var.starts_with('#') {
                    assert!(value.is_empty(), "{var} has a value in .env.example");
                }
            }
        }
    }

    #[test]
    fn metrics_addr_is_empty_or_an_address_with_a_port() {
        for ok in ["", "127.0.0.1:9464", "0.0.0.0:0", "[::1]:9464"] {
            let s = Settings {
                metrics_addr: ok.into(),
                ..production()
            };
            assert!(s.validate().is_ok(), "{ok}: {:?}", s.validate());
        }
        for bad in ["9464", "localhost", "127.0.0.1", "http://127.0.0.1:9464"] {
            let s = Settings {
                metrics_addr: bad.into(),
                ..production()
            };
            let err = s.validate().expect_err(bad).to_string();
            assert!(err.contains("AUTH_METRICS_ADDR"), "{bad}: {err}");
        }
    }

    #[test]
    fn jwt_lifetime_is_capped_at_one_hour() {
        let s = Settings {
            dev_mode: true,
            jwt_lifetime: 7200,
            ..Settings::default()
        };
        assert!(s.validate().is_err());
    }

    #[test]
    fn issuer_and_audience_default_to_the_base_origin() {
        let s = Settings {
            base_url: "https://auth.example.com/some/path".into(),
            ..Settings::default()
        };
        assert_eq!(s.issuer(), "https://auth.example.com");
        assert_eq!(s.audiences(), vec!["https://auth.example.com"]);
    }

    #[test]
    fn every_setting_is_documented() {
        // Settings with no default, or a computed one, are commented out there.
        service_kit::settings::assert_settings_documented(
            &Settings::default(),
            |field| match field {
                "database_url" => "DATABASE_URL".to_owned(),
                _ => format!("AUTH_{}", field.to_uppercase()),
            },
            include_str!("../../../.env.example"),
            include_str!("../../../docs/configuration.md"),
            service_kit::settings::Listing::SetOrCommentedOut,
        );
    }

    #[test]
    fn generic_providers_are_read_from_their_variables() {
        let env = |var: &str| match var {
            "AUTH_OIDC_MY_SSO_ISSUER" => Some("https://sso.example.com/realms/x".to_owned()),
            "AUTH_OIDC_MY_SSO_CLIENT_ID" => Some("app".to_owned()),
            "AUTH_OIDC_MY_SSO_CLIENT_SECRET" => Some("s3cret".to_owned()),
            "AUTH_OIDC_MY_SSO_SCOPES" => Some("email groups".to_owned()),
            _ => None,
        };
        let p = oidc_provider_from_env("my-sso", env).expect("complete");
        assert_eq!(p.issuer, "https://sso.example.com/realms/x");
        assert_eq!(p.scopes, vec!["email", "groups"]);
        assert!(!format!("{p:?}").contains("s3cret"));
        let err = oidc_provider_from_env("other", env).expect_err("missing");
        assert!(err.to_string().contains("AUTH_OIDC_OTHER_ISSUER"), "{err}");
    }

    #[test]
    fn provider_endpoints_are_https_except_on_loopback() {
        assert!(check_provider_url("https://accounts.google.com").is_ok());
        assert!(check_provider_url("http://127.0.0.1:4455").is_ok());
        assert!(check_provider_url("http://localhost:4455").is_ok());
        assert!(check_provider_url("http://sso.example.com").is_err());
        assert!(check_provider_url("ftp://127.0.0.1").is_err());
        let dev = |tweak: fn(&mut Settings)| {
            let mut s = Settings {
                dev_mode: true,
                ..Settings::default()
            };
            tweak(&mut s);
            s.validate().map_err(|e| e.to_string())
        };
        assert!(
            dev(|s| s.github_api_url = "http://api.github.example".into())
                .expect_err("plain http")
                .contains("AUTH_GITHUB_API_URL")
        );
        assert!(dev(|s| s.google_client_id = Some("id".into()))
            .expect_err("no secret")
            .contains("AUTH_GOOGLE_CLIENT_SECRET"));
        let duplicate = dev(|s| {
            s.oidc = vec![OidcProviderSettings {
                id: "github".into(),
                issuer: "https://x.example".into(),
                client_id: "c".into(),
                client_secret: "s".into(),
                scopes: vec![],
            }]
        });
        assert!(duplicate
            .expect_err("taken id")
            .contains("AUTH_OIDC_PROVIDERS"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = Settings {
            secret: Some("super-secret-value-that-must-not-leak".into()),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("super-secret"));
    }

    #[test]
    fn lists_split_on_commas() {
        let s = Settings {
            trusted_origins: " http://localhost:3000 , https://app.example.com,".into(),
            ..Settings::default()
        };
        assert_eq!(
            s.trusted_origin_list(),
            vec!["http://localhost:3000", "https://app.example.com"]
        );
    }
}
