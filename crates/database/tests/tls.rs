//! Neon accepts nothing but TLS: prove the pool and the standalone connection
//! negotiate it against the local Postgres (Debian's cluster has ssl on).

use test_support::{admin_url, with_database, TestDatabase};

fn require_tls(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}sslmode=require")
}

#[tokio::test]
async fn pool_connects_over_tls_with_sslmode_require() {
    let db = TestDatabase::new().await;
    let url = require_tls(db.url());
    let target = database::parse_url(&url).expect("parses");
    assert!(database::requires_tls(&target));
    let pool = database::build_pool(&url, &database::PoolOptions::default()).expect("pool");
    let client = pool.get().await.expect("TLS connection");
    let row = client
        .query_one(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl");
    assert!(row.get::<_, bool>(0), "connection is encrypted");
    let version: String = row.get(1);
    assert!(version.starts_with("TLS"), "{version}");
}

#[tokio::test]
async fn standalone_connection_uses_tls_too() {
    let url = require_tls(&with_database(&admin_url(), "postgres"));
    let client = database::connect(&url).await.expect("connects");
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl");
    assert!(row.get::<_, bool>(0));
}

#[tokio::test]
async fn verify_full_refuses_an_unverifiable_certificate() {
    // The local cluster's certificate is self-signed: a verifying mode must refuse
    // it rather than silently downgrade (what Neon's verify-full relies on).
    let url = with_database(&admin_url(), "postgres");
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}sslmode=verify-full");
    assert!(database::connect(&url).await.is_err());
}

/// The local cluster's certificate file (Debian's snakeoil: self-signed, for
/// `localhost`), read from the server so the test follows its configuration.
async fn server_certificate() -> String {
    let admin = database::connect(&with_database(&admin_url(), "postgres"))
        .await
        .expect("admin");
    admin
        .query_one("SHOW ssl_cert_file", &[])
        .await
        .expect("ssl_cert_file")
        .get(0)
}

#[tokio::test]
async fn sslrootcert_trusts_exactly_that_certificate_and_verify_full_checks_the_name() {
    let cert = server_certificate().await;
    let url = with_database(&admin_url(), "postgres");
    let sep = if url.contains('?') { '&' } else { '?' };
    // The certificate names localhost: verify-full to localhost with it as the root
    // connects, encrypted.
    let by_name = url.replace("127.0.0.1", "localhost");
    assert!(by_name.contains("localhost"), "{by_name}");
    let client = database::connect(&format!(
        "{by_name}{sep}sslmode=verify-full&sslrootcert={cert}"
    ))
    .await
    .expect("verified connection");
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0);
    assert!(ssl);
    // The same root, but an address the certificate does not name: refused.
    assert!(
        database::connect(&format!("{url}{sep}sslmode=verify-full&sslrootcert={cert}"))
            .await
            .is_err()
    );
    // verify-ca checks the chain only, so the address is fine.
    database::connect(&format!("{url}{sep}sslmode=verify-ca&sslrootcert={cert}"))
        .await
        .expect("verify-ca");
}
