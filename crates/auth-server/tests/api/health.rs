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
