use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn sign_up_creates_user_credential_and_session() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/sign-up/email",
            &json!({"name": "Alice Example", "email": "Alice@Example.com", "password": "pass-word-123"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let expose = res
        .headers()
        .get("access-control-expose-headers")
        .expect("expose");
    assert!(expose.to_str().expect("ascii").contains("set-auth-token"));
    let signed = res
        .headers()
        .get("set-auth-token")
        .expect("header")
        .to_str()
        .expect("ascii")
        .to_owned();
    let cookies = set_cookies(res.headers());
    let jwt = res
        .headers()
        .get("set-auth-jwt")
        .expect("a JWT right after sign-up")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(jwt.split('.').count(), 3);
    let body: Value = res.json().await.expect("json");
    let token = body["token"].as_str().expect("token");
    assert_eq!(token.len(), 32);
    assert!(signed.starts_with(&format!("{token}.")));
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].contains("Max-Age=604800"));
    assert!(cookies[0].contains("HttpOnly"));
    assert_eq!(body["user"]["email"], "alice@example.com");
    assert_eq!(body["user"]["name"], "Alice Example");
    assert_eq!(body["user"]["emailVerified"], false);
    assert_eq!(body["user"]["image"], Value::Null);
    let created = body["user"]["createdAt"].as_str().expect("date");
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");

    let rows = app
        .sql("SELECT a.password_hash, s.token_hash FROM identity.accounts a JOIN identity.sessions s USING (user_id)")
        .await;
    assert_eq!(rows.len(), 1);
    let hash: String = rows[0].get(0);
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    let token_hash: Vec<u8> = rows[0].get(1);
    assert_eq!(token_hash.len(), 32);
    assert_ne!(token_hash, token.as_bytes());
    // The new session works right away.
    let session = app.session_of(&signed).await;
    assert_eq!(session["user"]["email"], "alice@example.com");
    // The JWT handed out at sign-up is the one the session keeps using.
    let res = app.get_bearer("/get-session", &signed).await;
    assert_eq!(
        res.headers().get("set-auth-jwt").expect("jwt"),
        jwt.as_str()
    );
}

#[tokio::test]
async fn duplicate_email_is_422_case_insensitively() {
    let app = spawn_app().await;
    app.user("bob@example.com").await;
    let res = app
        .post(
            "/sign-up/email",
            &json!({"name": "B", "email": "BOB@example.com", "password": "another-pass-1"}),
        )
        .await;
    assert_error(
        res,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"),
    )
    .await;
}

#[tokio::test]
async fn concurrent_sign_ups_of_one_email_have_one_winner() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let http = app.http.clone();
        let url = app.url("/sign-up/email");
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .json(&json!({"name": format!("racer {i}"), "email": "race@example.com", "password": "race-pass-123"}))
                .send()
                .await
                .expect("request")
                .status()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            StatusCode::OK => ok += 1,
            StatusCode::UNPROCESSABLE_ENTITY => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 1);
    let rows = app.sql("SELECT count(*) FROM identity.users").await;
    assert_eq!(rows[0].get::<_, i64>(0), 1);
    let rows = app.sql("SELECT count(*) FROM identity.accounts").await;
    assert_eq!(rows[0].get::<_, i64>(0), 1);
}

#[tokio::test]
async fn sign_up_validation_errors() {
    let app = spawn_app().await;
    let body = assert_error(
        app.post("/sign-up/email", &json!({"email": "x@example.com"}))
            .await,
        StatusCode::BAD_REQUEST,
        Some("VALIDATION_ERROR"),
    )
    .await;
    assert_eq!(
        body["message"],
        "[body.name] Invalid input: expected string, received undefined; [body.password] Invalid input: expected string, received undefined"
    );
    assert_error(
        app.post(
            "/sign-up/email",
            &json!({"name": "n", "email": "not-an-email", "password": "long-enough-1"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("INVALID_EMAIL"),
    )
    .await;
    assert_error(
        app.post(
            "/sign-up/email",
            &json!({"name": "n", "email": "s@example.com", "password": "short"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("PASSWORD_TOO_SHORT"),
    )
    .await;
    assert_error(
        app.post(
            "/sign-up/email",
            &json!({"name": "n", "email": "s@example.com", "password": "x".repeat(129)}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("PASSWORD_TOO_LONG"),
    )
    .await;
    assert_error(
        app.post(
            "/sign-up/email",
            &json!({"name": 42, "email": "s@example.com", "password": "long-enough-1"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("VALIDATION_ERROR"),
    )
    .await;
    // A NUL byte is refused before any write (Better Auth answers 422 after trying).
    assert_error(
        app.post(
            "/sign-up/email",
            &json!({"name": "a\u{0}b", "email": "nul@example.com", "password": "long-enough-1"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("VALIDATION_ERROR"),
    )
    .await;
    let arr = assert_error(
        app.post("/sign-up/email", &json!([1, 2])).await,
        StatusCode::BAD_REQUEST,
        Some("VALIDATION_ERROR"),
    )
    .await;
    assert_eq!(
        arr["message"],
        "[body] Invalid input: expected object, received array"
    );
    let rows = app.sql("SELECT count(*) FROM identity.users").await;
    assert_eq!(rows[0].get::<_, i64>(0), 0, "no half-written rows");
}

#[tokio::test]
async fn malformed_bodies_are_4xx_json() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(app.url("/sign-up/email"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    let body = assert_error(res, StatusCode::BAD_REQUEST, Some("BAD_REQUEST")).await;
    assert_eq!(body["message"], "Invalid JSON in request body");

    let res = app
        .http
        .post(app.url("/sign-up/email"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("request");
    let body = assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Some("UNSUPPORTED_MEDIA_TYPE"),
    )
    .await;
    assert_eq!(
        body["message"],
        "Content-Type \"text/plain\" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json"
    );

    let res = app
        .http
        .post(app.url("/sign-up/email"))
        .header("content-length", "0")
        .send()
        .await
        .expect("request");
    let body = assert_error(res, StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")).await;
    assert_eq!(
        body["message"],
        "[body] Invalid input: expected object, received undefined"
    );

    let res = app
        .http
        .post(app.url("/sign-up/email"))
        .header("content-type", "application/json")
        .body(format!("{{\"name\":\"{}\"}}", "x".repeat(100_000)))
        .send()
        .await
        .expect("request");
    assert_error(
        res,
        StatusCode::PAYLOAD_TOO_LARGE,
        Some("PAYLOAD_TOO_LARGE"),
    )
    .await;
}

#[tokio::test]
async fn form_encoded_sign_up_works() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(app.url("/sign-up/email"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Form+User&email=form%40example.com&password=form-pass-123&rememberMe=false")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let cookies = set_cookies(res.headers());
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("better-auth.dont_remember=")));
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["user"]["name"], "Form User");
}
