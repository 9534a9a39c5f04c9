use reqwest::StatusCode;
use serde_json::json;
use service_kit::telemetry::{CapturedLogs, EnvFilter};

use crate::helpers::*;

/// Every log line of both running services (they share this process), at debug
/// level with a line per request span, names the user, the path and the request
/// ids (also sent as `x-request-id`) but no password, session token, JWT or secret.
#[tokio::test]
async fn logs_never_carry_passwords_tokens_or_keys() {
    // nextest runs each test in its own process, so this subscriber sees only us.
    let logs = CapturedLogs::default();
    profile_api::telemetry::init_with("json", true, EnvFilter::new("debug"), logs.clone());
    let app = spawn_app().await;
    let user = app.user("secrets@example.com").await;
    let res = app
        .put_profile(&user.jwt, &json!({"display_name": "Quiet"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(app.get_profile(&user.jwt).await.status(), StatusCode::OK);
    // A session token where a JWT belongs is refused, and must not be logged either.
    let res = app.get_profile(&user.session).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The error carries the request id its log lines carry.
    let request_id = res.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    // Spans close (and log) just after the response is written.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let text = logs.text();
    // Positive controls: the capture works and sees the request and its user.
    assert!(text.contains("/api/profile"), "{text}");
    assert!(
        text.contains(&format!("\"user_id\":\"{}\"", user.id)),
        "{text}"
    );
    assert!(
        text.contains(&format!("\"request_id\":\"{request_id}\"")),
        "{text}"
    );
    let auth = auth_settings(&app.db);
    let secrets = [
        ("password", "correct-horse-battery"),
        ("session token", user.session.as_str()),
        ("JWT", user.jwt.as_str()),
        (
            "JWT signature",
            user.jwt.rsplit('.').next().expect("signature"),
        ),
        ("AUTH_SECRET", auth.secret.as_deref().expect("secret")),
        (
            "AUTH_KEY_ENCRYPTION_SECRET",
            auth.key_encryption_secret.as_deref().expect("kek"),
        ),
    ];
    for (what, secret) in secrets {
        assert!(!text.contains(secret), "the {what} reached the logs");
    }
}
