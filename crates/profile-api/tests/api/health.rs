use reqwest::StatusCode;
use serde_json::{json, Value};
use test_support::TestDatabase;

use crate::helpers::*;

#[tokio::test]
async fn probes_report_ok_and_ready() {
    let app = spawn_app().await;
    let res = send(app.http.get(app.url("/healthz"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({"status": "ok"})
    );
    let res = send(app.http.get(app.url("/readyz"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({"status": "ready"})
    );
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test]
async fn not_ready_while_the_jwks_is_unreachable_then_ready_once_it_is_back() {
    let db = TestDatabase::new().await;
    let port = free_port();
    let (address, _state) =
        start_profile(profile_settings(&db, &format!("http://127.0.0.1:{port}"))).await;
    let http = reqwest::Client::new();

    // Started while the auth-server was down: alive, not ready, and saying why.
    assert_eq!(
        send(http.get(format!("{address}/healthz"))).await.status(),
        StatusCode::OK
    );
    let res = send(http.get(format!("{address}/readyz"))).await;
    assert_eq!(res.headers().get("retry-after").expect("retry-after"), "1");
    let body = assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
    let message = body["message"].as_str().expect("message");
    assert!(message.contains("JWKS not loaded"), "{message}");
    assert!(
        !message.contains("database"),
        "the database is fine: {message}"
    );

    // A valid token (minted by an instance the profile-api cannot reach) cannot be
    // checked yet: 503 to retry, never 401, which would send the user to sign-in.
    let elsewhere = start_auth(auth_settings(&db)).await;
    let user = elsewhere.user("early@example.com").await;
    let res = send(
        http.get(format!("{address}/api/profile"))
            .bearer_auth(&user.jwt),
    )
    .await;
    assert_eq!(res.headers().get("retry-after").expect("retry-after"), "1");
    assert!(res.headers().get("www-authenticate").is_none());
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;

    // The auth-server comes up on the configured address: ready, and tokens work.
    let auth = start_auth(auth_server::Settings {
        port,
        ..auth_settings(&db)
    })
    .await;
    let res = send(http.get(format!("{address}/readyz"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = send(
        http.get(format!("{address}/api/profile"))
            .bearer_auth(&user.jwt),
    )
    .await;
    assert_error(res, StatusCode::NOT_FOUND, "PROFILE_NOT_FOUND").await;
    let user = auth.user("late@example.com").await;
    let res = send(
        http.get(format!("{address}/api/profile"))
            .bearer_auth(&user.jwt),
    )
    .await;
    assert_error(res, StatusCode::NOT_FOUND, "PROFILE_NOT_FOUND").await;
}

#[tokio::test]
async fn not_ready_and_503_when_the_database_is_gone() {
    let app = spawn_app_with(|s| {
        s.db_wait_timeout_ms = 1000;
        s.db_create_timeout_ms = 1000;
    })
    .await;
    let user = app.user("nodb@example.com").await;
    let (admin, conn) = tokio_postgres::connect(&test_support::admin_url(), tokio_postgres::NoTls)
        .await
        .expect("admin");
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("DROP DATABASE \"{}\" WITH (FORCE)", app.db.name()))
        .await
        .expect("drop");
    let res = send(app.http.get(app.url("/readyz"))).await;
    let body = assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("database")),
        "{body}"
    );
    // Requests get a retryable 503, not a 500.
    for _ in 0..2 {
        assert_error(
            app.get_profile(&user.jwt).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
        )
        .await;
    }
    assert_eq!(
        send(app.http.get(app.url("/healthz"))).await.status(),
        StatusCode::OK
    );
}
