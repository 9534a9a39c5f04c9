//! The one place tests get auth-server and profile-api settings, sign-ups and JWTs
//! from, so the copies in each crate's tests cannot drift apart.
//!
//! A crate of its own rather than part of `test-support`: `test-support` is the
//! database-only harness (the `database` crate's own tests use it), and it would
//! otherwise have to build both services for every user. This crate depends on
//! `auth-server` and `profile-api`; they take it as a dev-dependency, which Cargo
//! allows (their integration tests link the same library instance).
//!
//! The rate limiter is **off** in [`auth_settings`]: tests sign in far more often
//! than people do, all from 127.0.0.1. Tests of the limiter turn it on themselves
//! (`settings.rate_limit_enabled = true`).

use reqwest::StatusCode;
use serde_json::{json, Value};
use test_support::TestDatabase;

/// The auth-server's public URL in tests: its origin is the JWTs' `iss` and `aud`.
pub const AUTH_BASE_URL: &str = "http://localhost:4100";
/// The browser origin both services trust in tests.
pub const TRUSTED_ORIGIN: &str = "http://localhost:3000";
/// The cookie-signing secret: the one of the wire spec's captures, so its test
/// vectors apply.
pub const TEST_SECRET: &str = "wire-test-secret-0123456789abcdefghijklmnopqrstuvwxyz";
/// The key-encryption secret that seals the signing keys in tests.
pub const TEST_KEK: &str = "test-key-encryption-secret-0123456789abcdef";
/// The password [`sign_up`] uses.
pub const TEST_PASSWORD: &str = "correct-horse-battery";

/// Auth-server settings for tests, on `db`, listening on 127.0.0.1 port 0, with the
/// rate limiter off (see the crate docs).
pub fn auth_settings(db: &TestDatabase) -> auth_server::Settings {
    auth_server::Settings {
        database_url: db.url().to_owned(),
        migrate_on_start: false,
        host: "127.0.0.1".into(),
        port: 0,
        base_url: AUTH_BASE_URL.into(),
        secret: Some(TEST_SECRET.into()),
        key_encryption_secret: Some(TEST_KEK.into()),
        trusted_origins: TRUSTED_ORIGIN.into(),
        max_concurrent_hashes: 2,
        db_pool_size: 4,
        workers: 1,
        log_format: "pretty".into(),
        rate_limit_enabled: false,
        ..auth_server::Settings::default()
    }
}

/// Profile-api settings for tests, on `db`, trusting the auth-server listening at
/// `auth_address` (`http://127.0.0.1:<port>`) for JWTs issued as [`AUTH_BASE_URL`].
pub fn profile_settings(db: &TestDatabase, auth_address: &str) -> profile_api::Settings {
    profile_api::Settings {
        database_url: db.url().to_owned(),
        host: "127.0.0.1".into(),
        port: 0,
        jwks_url: format!("{auth_address}/.well-known/jwks.json"),
        jwt_issuer: AUTH_BASE_URL.into(),
        jwt_audience: AUTH_BASE_URL.into(),
        trusted_origins: TRUSTED_ORIGIN.into(),
        db_pool_size: 4,
        workers: 1,
        request_timeout: 2,
        shutdown_timeout: 3,
        log_format: "pretty".into(),
        ..profile_api::Settings::default()
    }
}

/// A user signed up through the auth-server's HTTP API.
pub struct SignedUp {
    /// User id (the JWT's `sub`).
    pub id: String,
    /// The signed session credential from `set-auth-token` (`token.sig`).
    pub session: String,
    /// The response body.
    pub body: Value,
}

/// Signs `email` up with `password` (bearer mode) at the auth-server listening at
/// `auth_address`; panics unless it succeeds.
pub async fn sign_up(
    http: &reqwest::Client,
    auth_address: &str,
    email: &str,
    password: &str,
) -> SignedUp {
    let res = http
        .post(format!("{auth_address}/api/auth/sign-up/email"))
        .json(&json!({"name": "Learner", "email": email, "password": password}))
        .send()
        .await
        .expect("sign-up request");
    assert_eq!(res.status(), StatusCode::OK, "sign-up of {email} failed");
    let session = res
        .headers()
        .get("set-auth-token")
        .expect("set-auth-token")
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: Value = res.json().await.expect("sign-up json");
    let id = body["user"]["id"].as_str().expect("user id").to_owned();
    SignedUp { id, session, body }
}

/// A JWT for a session credential, from `GET /api/auth/token` at the auth-server
/// listening at `auth_address`; panics unless it is issued.
pub async fn jwt_for(http: &reqwest::Client, auth_address: &str, session: &str) -> String {
    let res = http
        .get(format!("{auth_address}/api/auth/token"))
        .bearer_auth(session)
        .send()
        .await
        .expect("token request");
    assert_eq!(res.status(), StatusCode::OK, "GET /api/auth/token");
    res.json::<Value>().await.expect("token json")["token"]
        .as_str()
        .expect("token")
        .to_owned()
}
