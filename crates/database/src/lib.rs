//! Postgres access shared by our services: a deadpool-postgres pool built from a
//! `DATABASE_URL` (TLS when the URL asks for it, as Neon's do) and the migration
//! runner that applies `migrations/` exactly once, even when several instances
//! start at the same time.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Hook, HookError};
use deadpool_postgres::{ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;
use sha2::{Digest, Sha256};
use tokio_postgres::config::SslMode;

pub use deadpool_postgres;
pub use tokio_postgres;

pub mod failure;
pub use failure::{
    classify, classify_chain, classify_pool, retry_while_unavailable, warn_unavailable, Failure,
};

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// Name of refinery's bookkeeping table; lives in our own schema, never in `public`.
const MIGRATION_TABLE: &str = "identity.schema_history";
/// Key of the session advisory lock held while migrating ("auth" in ASCII, then 1).
const MIGRATION_LOCK_KEY: i64 = 0x6175_7468_0000_0001;

/// Errors raised while connecting or migrating.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("TLS setup failed: {0}")]
    Tls(#[from] openssl::error::ErrorStack),
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("could not build the connection pool: {0}")]
    Pool(String),
    #[error("migration failed: {0}")]
    Migration(String),
}

/// How the pool is sized and how long it waits. Defaults suit Neon's pooled endpoint:
/// connections recycle with a check and are dropped well before Neon's 5-minute
/// scale-to-zero would kill them under us.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Largest number of connections this process opens.
    pub max_size: usize,
    /// How long a request waits for a free connection.
    pub wait_timeout: Duration,
    /// How long opening a new connection may take (Neon wake-up included).
    pub create_timeout: Duration,
    /// How long the recycle check of an idle connection may take.
    pub recycle_timeout: Duration,
    /// A connection unused for longer is checked with an empty query before reuse;
    /// busier ones are handed out as they are (one round trip less per request).
    pub verify_after_idle: Duration,
    /// A connection unused for longer is dropped instead: Neon suspends an idle
    /// compute after 5 minutes and its sockets die with it.
    pub max_idle: Duration,
    /// TCP keepalive idle time: a silent peer is probed after this long, so a
    /// dead network path is noticed on idle connections too.
    pub keepalive_idle: Duration,
    /// Linux `TCP_USER_TIMEOUT`: sent data unacknowledged for this long breaks the
    /// connection instead of letting a query wait for a vanished server.
    pub tcp_user_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 16,
            wait_timeout: Duration::from_secs(5),
            create_timeout: Duration::from_secs(15),
            recycle_timeout: Duration::from_secs(5),
            verify_after_idle: Duration::from_secs(30),
            max_idle: Duration::from_secs(240),
            keepalive_idle: Duration::from_secs(30),
            tcp_user_timeout: Duration::from_secs(10),
        }
    }
}

/// A parsed connection target: the driver config plus the TLS connector it needs.
pub struct ConnectTarget {
    /// tokio-postgres configuration (host, user, database, sslmode, channel binding …).
    pub config: tokio_postgres::Config,
    /// OpenSSL connector; it supplies channel-binding data, which Neon's SCRAM-PLUS needs.
    pub tls: MakeTlsConnector,
}

/// Parses a libpq-style URL. `sslmode=verify-full|verify-ca` (which tokio-postgres
/// does not parse) become `require` with certificate (and host name) verification;
/// plain `require` encrypts without verifying, as libpq does. `sslrootcert=FILE`
/// (PEM), as in libpq, makes the certificates in FILE the only trusted roots (e.g.
/// Supabase's CA); without it (or with `system`) the system's roots are trusted.
pub fn parse_url(url: &str) -> Result<ConnectTarget, DbError> {
    let (without_root, root_cert) = take_param(url, "sslrootcert");
    let (normalised, verify) = normalise_sslmode(&without_root);
    let config = tokio_postgres::Config::from_str(&normalised)
        .map_err(|e| DbError::InvalidUrl(e.to_string()))?;
    let mut builder = SslConnector::builder(SslMethod::tls_client())?;
    if let Some(path) = root_cert.filter(|p| p != "system") {
        let pem = std::fs::read(&path)
            .map_err(|e| DbError::InvalidUrl(format!("sslrootcert {path}: {e}")))?;
        let mut store = openssl::x509::store::X509StoreBuilder::new()?;
        for cert in openssl::x509::X509::stack_from_pem(&pem)? {
            store.add_cert(cert)?;
        }
        // Replaces the store holding the system's roots.
        builder.set_cert_store(store.build());
    }
    match verify {
        Verify::None => builder.set_verify(SslVerifyMode::NONE),
        Verify::Ca | Verify::Full => builder.set_verify(SslVerifyMode::PEER),
    }
    let mut tls = MakeTlsConnector::new(builder.build());
    if verify != Verify::Full {
        tls.set_callback(|cfg, _| {
            cfg.set_verify_hostname(false);
            Ok(())
        });
    }
    Ok(ConnectTarget { config, tls })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    None,
    Ca,
    Full,
}

fn normalise_sslmode(url: &str) -> (String, Verify) {
    for (from, verify) in [
        ("sslmode=verify-full", Verify::Full),
        ("sslmode=verify-ca", Verify::Ca),
    ] {
        if url.contains(from) {
            return (url.replace(from, "sslmode=require"), verify);
        }
    }
    (url.to_owned(), Verify::None)
}

/// Removes `key=value` from a URL's query string (or a key/value connection
/// string) and returns the rest and the (percent-decoded) value.
pub fn take_param(url: &str, key: &str) -> (String, Option<String>) {
    let prefix = format!("{key}=");
    if url.contains("://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_owned(), None);
        };
        let mut value = None;
        let rest: Vec<&str> = query
            .split('&')
            .filter(|pair| match pair.strip_prefix(&prefix) {
                Some(v) => {
                    value = Some(percent_decode(v));
                    false
                }
                None => true,
            })
            .collect();
        let url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        (url, value)
    } else {
        let mut value = None;
        let rest: Vec<&str> = url
            .split_whitespace()
            .filter(|pair| match pair.strip_prefix(&prefix) {
                Some(v) => {
                    value = Some(v.trim_matches('\'').to_owned());
                    false
                }
                None => true,
            })
            .collect();
        (rest.join(" "), value)
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|c| hex(*c)),
            b.get(i + 2).and_then(|c| hex(*c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the URL demands TLS (sslmode=require or stricter).
pub fn requires_tls(target: &ConnectTarget) -> bool {
    target.config.get_ssl_mode() == SslMode::Require
}

/// Builds the connection pool. No connection is opened until the first checkout, so
/// start-up never blocks on (or races) the database.
pub fn build_pool(url: &str, options: &PoolOptions) -> Result<Pool, DbError> {
    let mut target = parse_url(url)?;
    // Keepalive (every 10 s after the idle time, 3 probes) and the user timeout make a
    // broken path fail a query within seconds, not after the kernel's ~15 minutes.
    target
        .config
        .connect_timeout(options.create_timeout)
        .keepalives(true)
        .keepalives_idle(options.keepalive_idle)
        .keepalives_interval(Duration::from_secs(10))
        .keepalives_retries(3)
        .tcp_user_timeout(options.tcp_user_timeout);
    let manager = deadpool_postgres::Manager::from_config(
        target.config,
        target.tls,
        ManagerConfig {
            // `Fast` only checks that the socket is open; the hook below adds the
            // test query where it is worth its round trip: after idleness.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let (verify_after, max_idle, check_timeout) = (
        options.verify_after_idle,
        options.max_idle,
        options.recycle_timeout,
    );
    Pool::builder(manager)
        .pre_recycle(Hook::async_fn(move |client, metrics| {
            let idle = metrics.last_used();
            Box::pin(async move {
                if idle > max_idle {
                    return Err(HookError::message("idle too long; reconnecting"));
                }
                if idle > verify_after {
                    match tokio::time::timeout(check_timeout, client.simple_query("")).await {
                        Ok(Ok(_)) => {}
                        _ => return Err(HookError::message("stale connection")),
                    }
                }
                Ok(())
            })
        }))
        .max_size(options.max_size)
        .timeouts(Timeouts {
            wait: Some(options.wait_timeout),
            create: Some(options.create_timeout),
            recycle: Some(options.recycle_timeout),
        })
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| DbError::Pool(e.to_string()))
}

/// Opens one standalone connection (for migrations and admin commands) and drives it
/// on a background task.
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, DbError> {
    let target = parse_url(url)?;
    let (client, connection) = target.config.connect(target.tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "database connection closed with an error");
        }
    });
    Ok(client)
}

/// Applies every pending migration under a session advisory lock, so concurrent
/// instances apply each file exactly once. Run it against a direct (not pooled)
/// endpoint: transaction poolers cannot hold session locks.
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<usize, DbError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let result = run_migrations(client).await;
    // Unlock even when migrating failed; closing the session would release it too.
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    let applied = result?;
    unlock?;
    Ok(applied)
}

async fn run_migrations(client: &mut tokio_postgres::Client) -> Result<usize, DbError> {
    client
        .batch_execute("CREATE SCHEMA IF NOT EXISTS identity")
        .await?;
    let report = embedded::migrations::runner()
        .set_migration_table_name(MIGRATION_TABLE)
        .run_async(client)
        .await
        .map_err(|e| DbError::Migration(e.to_string()))?;
    let applied = report.applied_migrations().len();
    for m in report.applied_migrations() {
        tracing::info!(migration = %m, "applied migration");
    }
    Ok(applied)
}

/// A digest of every embedded migration (names and checksums): changes whenever a
/// migration is added or edited. Test harnesses key their template databases on it.
pub fn migrations_fingerprint() -> String {
    let mut hasher = Sha256::new();
    for m in embedded::migrations::runner().get_migrations() {
        hasher.update(m.to_string().as_bytes());
        hasher.update(m.checksum().to_le_bytes());
    }
    let digest = hasher.finalize();
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_full_becomes_require_with_verification() {
        let (url, verify) =
            normalise_sslmode("postgres://u:p@ep-x.aws.neon.tech/db?sslmode=verify-full");
        assert_eq!(url, "postgres://u:p@ep-x.aws.neon.tech/db?sslmode=require");
        assert_eq!(verify, Verify::Full);
    }

    #[test]
    fn neon_style_url_parses_with_channel_binding() {
        let target = parse_url(
            "postgresql://u:p@ep-x-pooler.eu-central-1.aws.neon.tech/neondb?sslmode=require&channel_binding=require",
        )
        .expect("parses");
        assert!(requires_tls(&target));
        assert_eq!(
            target.config.get_channel_binding(),
            tokio_postgres::config::ChannelBinding::Require
        );
    }

    #[test]
    fn sslrootcert_is_taken_out_of_the_url() {
        assert_eq!(
            take_param(
                "postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&x=1",
                "sslrootcert"
            ),
            (
                "postgres://u@h/db?sslmode=verify-full&x=1".to_owned(),
                Some("/tmp/ca.pem".to_owned())
            )
        );
        assert_eq!(
            take_param("postgres://u@h/db?sslrootcert=/ca.pem", "sslrootcert"),
            ("postgres://u@h/db".to_owned(), Some("/ca.pem".to_owned()))
        );
        assert_eq!(
            take_param("host=h sslrootcert=/ca.pem dbname=d", "sslrootcert"),
            ("host=h dbname=d".to_owned(), Some("/ca.pem".to_owned()))
        );
        assert_eq!(
            take_param("postgres://u@h/db", "sslrootcert"),
            ("postgres://u@h/db".to_owned(), None)
        );
        assert!(matches!(
            parse_url("postgres://u@h/db?sslmode=verify-full&sslrootcert=/no/such/file.pem"),
            Err(DbError::InvalidUrl(_))
        ));
    }

    #[test]
    fn garbage_url_is_an_error() {
        assert!(matches!(
            parse_url("postgres://u@h/db?sslmode=sometimes"),
            Err(DbError::InvalidUrl(_))
        ));
    }
}
