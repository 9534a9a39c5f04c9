use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn probes_and_ok() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .http
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.http.get(app.url("/ok")).send().await.expect("r");
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({"ok": true})
    );
}

#[tokio::test]
async fn readyz_fails_when_the_database_is_unreachable() {
    let app = spawn_app().await;
    let (admin, conn) = tokio_postgres::connect(&test_support::admin_url(), tokio_postgres::NoTls)
        .await
        .expect("admin");
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("DROP DATABASE \"{}\" WITH (FORCE)", app.db.name()))
        .await
        .expect("drop");
    let res = app
        .http
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("r");
    assert_error(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        Some("SERVICE_UNAVAILABLE"),
    )
    .await;
    // Liveness does not depend on the database.
    let res = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_are_empty_404s() {
    let app = spawn_app().await;
    for (method, path) in [
        ("GET", "/api/auth/nope"),
        ("GET", "/api/auth/sign-in/email"),
        ("DELETE", "/api/auth/get-session"),
        ("GET", "/api/auth/get-session/"),
        ("GET", "/elsewhere"),
    ] {
        let res = app
            .http
            .request(
                method.parse().expect("method"),
                format!("{}{}", app.address, path),
            )
            .send()
            .await
            .expect("r");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert!(res.bytes().await.expect("b").is_empty(), "{method} {path}");
    }
}

#[tokio::test]
async fn migrations_apply_once_when_instances_start_together() {
    // An empty database, so that the race is real.
    let db = test_support::TestDatabase::unmigrated().await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = db.url().to_owned();
        tasks.push(tokio::spawn(async move {
            let mut client = database::connect(&url).await.expect("connect");
            database::migrate(&mut client).await.expect("migrate")
        }));
    }
    let mut applied = Vec::new();
    for t in tasks {
        applied.push(t.await.expect("task"));
    }
    applied.sort();
    let total: usize = applied.iter().sum();
    assert_eq!(
        applied[..3],
        [0, 0, 0],
        "only one instance applies: {applied:?}"
    );
    let rows = db
        .client()
        .await
        .query("SELECT count(*) FROM identity.schema_history", &[])
        .await
        .expect("history");
    assert_eq!(rows[0].get::<_, i64>(0) as usize, total);
}

/// Stops the database taking connections and ends the ones the app holds: what a
/// server restart or a suspended Neon compute looks like to the pool.
async fn cut_database(app: &TestApp, allow: bool) {
    let (admin, conn) = tokio_postgres::connect(&test_support::admin_url(), tokio_postgres::NoTls)
        .await
        .expect("admin");
    tokio::spawn(conn);
    let name = app.db.name();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS {allow}"
        ))
        .await
        .expect("alter");
    if !allow {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&name],
            )
            .await
            .expect("terminate");
    }
}

#[tokio::test]
async fn a_lost_database_gives_fast_json_503s_with_retry_after_then_recovers() {
    let app = spawn_app().await;
    let user = app.user("outage@example.com").await;
    cut_database(&app, false).await;

    let sign_in = json!({"email": user.email, "password": user.password});
    let sign_up = json!({"email": "new@example.com", "password": "password1234", "name": "N"});
    for attempt in 0..2 {
        for what in ["sign-in", "sign-up", "get-session", "token"] {
            let started = std::time::Instant::now();
            let res = match what {
                "sign-in" => app.post("/sign-in/email", &sign_in).await,
                "sign-up" => app.post("/sign-up/email", &sign_up).await,
                "get-session" => app.get_bearer("/get-session", &user.signed).await,
                _ => app.get_bearer("/token", &user.signed).await,
            };
            assert!(
                started.elapsed() < std::time::Duration::from_secs(1),
                "{what} took {:?}",
                started.elapsed()
            );
            assert_eq!(
                res.headers().get("retry-after").map(|v| v.as_bytes()),
                Some(&b"1"[..]),
                "{what} #{attempt}"
            );
            assert_error(
                res,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("SERVICE_UNAVAILABLE"),
            )
            .await;
        }
    }
    let started = std::time::Instant::now();
    let res = app
        .http
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));

    // Back: the same process serves again, no restart.
    cut_database(&app, true).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let res = app.get_bearer("/get-session", &user.signed).await;
        if res.status() == StatusCode::OK {
            let body: Value = res.json().await.expect("json");
            assert_eq!(body["user"]["email"], user.email.as_str());
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not recovered in 2 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let res = app.post("/sign-in/email", &sign_in).await;
    assert_eq!(res.status(), StatusCode::OK);
}
