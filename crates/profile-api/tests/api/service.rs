//! `/api/service/profiles`: service tokens (client credentials) with
//! `profiles:read`, kept apart from learner tokens in both directions.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app_with, TestApp};

/// Registers a client allowed `scopes` and gets a token for it.
async fn service_token(app: &TestApp, scopes: &[&str]) -> String {
    let db = app.auth.state.pool.get().await.expect("pool");
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    let client =
        auth_server::client_credentials::create(&db, &app.auth.state.hasher, "svc", &scopes)
            .await
            .expect("client");
    let res = app
        .http
        .post(format!("{}/oauth2/token", app.auth.address))
        .basic_auth(client.client.id, Some(&client.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    body["access_token"].as_str().expect("token").to_owned()
}

async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

async fn assert_code(res: reqwest::Response, status: StatusCode, code: &str) -> Option<String> {
    assert_eq!(res.status(), status);
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], code, "{body}");
    www
}

#[tokio::test]
async fn service_and_learner_tokens_each_open_only_their_own_doors() {
    let app = spawn_app_with(|_| {}).await;
    let learner = app.user("learner@example.com").await;
    let res = app
        .profile(reqwest::Method::PUT, &learner.jwt)
        .json(&serde_json::json!({"display_name": "Lea"}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::CREATED);
    let reader = service_token(&app, &["profiles:read"]).await;

    // The service reads a learner's profile by id.
    let res = get(
        &app,
        &format!("/api/service/profiles/{}", learner.id),
        &reader,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("etag").is_some());
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["display_name"], "Lea");
    let missing = format!("/api/service/profiles/{}", uuid::Uuid::new_v4());
    assert_code(
        get(&app, &missing, &reader).await,
        StatusCode::NOT_FOUND,
        "PROFILE_NOT_FOUND",
    )
    .await;

    // A learner token is refused on the service endpoints, and a service token on
    // the learner's own profile: 403, whatever the token's validity.
    let path = format!("/api/service/profiles/{}", learner.id);
    let www = assert_code(
        get(&app, &path, &learner.jwt).await,
        StatusCode::FORBIDDEN,
        "WRONG_TOKEN_KIND",
    )
    .await;
    assert!(www.is_some_and(|w| w.contains("invalid_token")));
    assert_code(
        get(&app, "/api/service/profiles", &learner.jwt).await,
        StatusCode::FORBIDDEN,
        "WRONG_TOKEN_KIND",
    )
    .await;
    assert_code(
        app.get_profile(&reader).await,
        StatusCode::FORBIDDEN,
        "WRONG_TOKEN_KIND",
    )
    .await;

    // Without the scope: 403 insufficient_scope.
    let grader = service_token(&app, &["grades:write"]).await;
    let www = assert_code(
        get(&app, &path, &grader).await,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_SCOPE",
    )
    .await;
    assert_eq!(
        www.as_deref(),
        Some(r#"Bearer error="insufficient_scope", scope="profiles:read""#)
    );
    // No token, a forged one: 401.
    let res = app
        .http
        .get(app.url("/api/service/profiles"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_code(
        get(&app, &path, "e30.e30.e30").await,
        StatusCode::UNAUTHORIZED,
        "INVALID_TOKEN",
    )
    .await;
}

#[tokio::test]
async fn the_listing_walks_every_profile_once_and_sees_later_changes() {
    let app = spawn_app_with(|s| s.service_list_settle_ms = 0).await;
    let client = app.db.client().await;
    // 25 profiles written in one transaction: one updated_at, so the walk relies on
    // the user id to break the tie.
    client
        .batch_execute(
            "INSERT INTO identity.users (name, email)
               SELECT 'u' || i, 'u' || i || '@example.com' FROM generate_series(1, 25) i;
             INSERT INTO learner.profiles (user_id, display_name)
               SELECT id, name FROM identity.users;",
        )
        .await
        .expect("seed");
    let reader = service_token(&app, &["profiles:read"]).await;

    let page = |after: Option<String>| {
        let app = &app;
        let reader = reader.clone();
        async move {
            let mut path = "/api/service/profiles?limit=10".to_owned();
            if let Some(a) = after {
                path.push_str(&format!("&after={a}"));
            }
            let res = get(app, &path, &reader).await;
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<Value>().await.expect("json")
        }
    };
    let mut seen: Vec<String> = Vec::new();
    let mut after = None;
    let mut first_page = true;
    loop {
        let body = page(after.clone()).await;
        for p in body["profiles"].as_array().expect("profiles") {
            seen.push(p["user_id"].as_str().expect("id").to_owned());
        }
        if first_page {
            // A profile already read changes during the walk: it moves to the end.
            client
                .execute(
                    "UPDATE learner.profiles SET bio = 'changed' WHERE user_id = $1::text::uuid",
                    &[&seen[0]],
                )
                .await
                .expect("update");
            first_page = false;
        }
        after = body["next"].as_str().map(str::to_owned);
        if body["has_more"] == false {
            break;
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 25, "every profile, none skipped");
    assert_eq!(seen.len(), 26, "the changed one once more");
    assert_eq!(
        seen.last(),
        seen.first(),
        "the changed profile comes again, at the end"
    );
    // Continuing from the last cursor later finds nothing new, then a new change.
    let body = page(after.clone()).await;
    assert_eq!(body["profiles"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        body["next"].as_str(),
        after.as_deref(),
        "an empty page keeps the cursor"
    );

    // updated_since filters; bad parameters are 400s.
    let future = "/api/service/profiles?updated_since=2999-01-01T00:00:00Z";
    let body: Value = get(&app, future, &reader).await.json().await.expect("json");
    assert_eq!(body["profiles"].as_array().map(Vec::len), Some(0));
    for bad in [
        "?limit=0",
        "?limit=1001",
        "?limit=x",
        "?after=garbage",
        "?updated_since=yesterday",
        "?limit=1&limit=2",
    ] {
        let res = get(&app, &format!("/api/service/profiles{bad}"), &reader).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn recent_changes_wait_for_the_settle_window() {
    let app = spawn_app_with(|s| s.service_list_settle_ms = 60_000).await;
    let learner = app.user("fresh@example.com").await;
    let res = app
        .profile(reqwest::Method::PUT, &learner.jwt)
        .json(&serde_json::json!({"display_name": "Fresh"}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::CREATED);
    let reader = service_token(&app, &["profiles:read"]).await;
    let body: Value = get(&app, "/api/service/profiles", &reader)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["profiles"].as_array().map(Vec::len), Some(0), "{body}");
    assert_eq!(body["next"], Value::Null);
}
