use reqwest::StatusCode;
use serde_json::{json, Value};
use service_kit::telemetry::{CapturedLogs, EnvFilter};

use crate::helpers::*;

/// Every log line of a running server, at debug level and with a line per request
/// span, names the user, the paths and the request ids (also sent as
/// `x-request-id`) but no password, token, cookie, hash or secret.
#[tokio::test]
async fn logs_never_carry_passwords_tokens_cookies_or_keys() {
    // nextest runs each test in its own process, so this subscriber sees only us.
    let logs = CapturedLogs::default();
    auth_server::telemetry::init_with("json", true, EnvFilter::new("debug"), logs.clone());
    let app = spawn_app().await;
    let user = app.user("logs@example.com").await;

    // Sign in with the password: the credential comes back as header and cookie.
    let res = app
        .http
        .post(app.url("/sign-in/email"))
        .header("origin", TRUSTED)
        .json(&json!({"email": user.email, "password": user.password}))
        .send()
        .await
        .expect("sign-in");
    assert_eq!(res.status(), StatusCode::OK);
    let bearer = res.headers()["set-auth-token"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let cookie = set_cookies(res.headers())
        .into_iter()
        .find(|c| c.starts_with("better-auth.session_token="))
        .expect("session cookie");
    let cookie_pair = cookie.split(';').next().expect("name=value").to_owned();
    let cookie_value = cookie_pair.split_once('=').expect("=").1.to_owned();
    let raw_token: String = res.json::<Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();

    // Use them: the session by cookie and by bearer, a JWT, a wrong password.
    let res = app
        .http
        .get(app.url("/get-session"))
        .header("cookie", &cookie_pair)
        .header("origin", TRUSTED)
        .send()
        .await
        .expect("get-session");
    assert_eq!(res.status(), StatusCode::OK);
    let session_jwt = res.headers()["set-auth-jwt"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let res = app.get_bearer("/token", &bearer).await;
    assert_eq!(res.status(), StatusCode::OK);
    let jwt = res.json::<Value>().await.expect("json")["token"]
        .as_str()
        .expect("jwt")
        .to_owned();
    let wrong_password = "not-the-password-9f3k2";
    let res = app
        .post(
            "/sign-in/email",
            &json!({"email": user.email, "password": wrong_password}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The error carries the request id its log lines carry.
    let request_id = res.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let hash: String = app
        .sql("SELECT password_hash FROM identity.accounts WHERE provider_id = 'credential'")
        .await[0]
        .get(0);
    // Spans close (and log) just after the response is written.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let text = logs.text();
    // Positive controls: the capture works and sees requests and the user.
    assert!(text.contains("/api/auth/sign-in/email"), "{text}");
    assert!(text.contains(&user.id), "{text}");
    assert!(
        text.contains(&format!("\"request_id\":\"{request_id}\"")),
        "{text}"
    );
    let secrets = [
        ("password", user.password.as_str()),
        ("wrong password", wrong_password),
        ("session token", user.token.as_str()),
        ("signed session token", user.signed.as_str()),
        ("signed-in token", raw_token.as_str()),
        ("bearer", bearer.as_str()),
        ("cookie", cookie_value.as_str()),
        ("session JWT", session_jwt.as_str()),
        ("JWT", jwt.as_str()),
        ("JWT signature", jwt.rsplit('.').next().expect("signature")),
        ("password hash", hash.as_str()),
        ("AUTH_SECRET", SPEC_SECRET),
        ("AUTH_KEY_ENCRYPTION_SECRET", TEST_KEK),
    ];
    for (what, secret) in secrets {
        assert!(!secret.is_empty(), "{what}");
        assert!(
            !text.contains(secret),
            "the {what} reached the logs: {}",
            text.lines()
                .filter(|l| l.contains(secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
