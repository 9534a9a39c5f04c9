use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn sign_in_opens_a_new_session() {
    let app = spawn_app().await;
    let user = app.user("carol@example.com").await;
    let res = app
        .post(
            "/sign-in/email",
            &json!({"email": "CAROL@example.com", "password": user.password}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookies(res.headers())[0].contains("Max-Age=604800"));
    let signed = res
        .headers()
        .get("set-auth-token")
        .expect("header")
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["redirect"], false);
    assert!(body.get("url").is_none());
    assert_eq!(body["user"]["id"], user.id.as_str());
    assert_ne!(
        body["token"],
        user.token.as_str(),
        "each sign-in is a new session"
    );
    let rows = app.sql("SELECT count(*) FROM identity.sessions").await;
    assert_eq!(rows[0].get::<_, i64>(0), 2);
    assert_eq!(
        app.session_of(&signed).await["user"]["id"],
        user.id.as_str()
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let app = spawn_app().await;
    let user = app.user("dave@example.com").await;
    let wrong = app
        .post(
            "/sign-in/email",
            &json!({"email": user.email, "password": "not-the-password"}),
        )
        .await;
    let wrong = assert_error(
        wrong,
        StatusCode::UNAUTHORIZED,
        Some("INVALID_EMAIL_OR_PASSWORD"),
    )
    .await;
    let unknown = app
        .post(
            "/sign-in/email",
            &json!({"email": "nobody@example.com", "password": "not-the-password"}),
        )
        .await;
    let unknown = assert_error(
        unknown,
        StatusCode::UNAUTHORIZED,
        Some("INVALID_EMAIL_OR_PASSWORD"),
    )
    .await;
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["message"], "Invalid email or password");
}

#[tokio::test]
async fn sign_in_input_errors() {
    let app = spawn_app().await;
    assert_error(
        app.post("/sign-in/email", &json!({"email": "nope", "password": "x"}))
            .await,
        StatusCode::BAD_REQUEST,
        Some("INVALID_EMAIL"),
    )
    .await;
    assert_error(
        app.post(
            "/sign-in/email",
            &json!({"email": "a@example.com", "password": "x".repeat(129)}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("PASSWORD_TOO_LONG"),
    )
    .await;
    assert_error(
        app.post("/sign-in/email", &json!({"email": "a@example.com"}))
            .await,
        StatusCode::BAD_REQUEST,
        Some("VALIDATION_ERROR"),
    )
    .await;
    assert_error(
        app.post(
            "/sign-in/email",
            &json!({"email": "a@example.com", "password": "whatever-1", "callbackURL": "https://evil.example/x"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        Some("INVALID_CALLBACK_URL"),
    )
    .await;
}

#[tokio::test]
async fn trusted_callback_url_answers_200_with_redirect() {
    let app = spawn_app().await;
    let user = app.user("erin@example.com").await;
    let res = app
        .post(
            "/sign-in/email",
            &json!({"email": user.email, "password": user.password, "callbackURL": "http://localhost:3000/dashboard"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get("location").expect("location"),
        "http://localhost:3000/dashboard"
    );
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["redirect"], true);
    assert_eq!(body["url"], "http://localhost:3000/dashboard");
}

#[tokio::test]
async fn remember_me_false_gives_a_one_day_session_that_never_slides() {
    let app = spawn_app().await;
    let user = app.user("frank@example.com").await;
    let res = app
        .post(
            "/sign-in/email",
            &json!({"email": user.email, "password": user.password, "rememberMe": false}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookies = set_cookies(res.headers());
    assert_eq!(cookies.len(), 2);
    assert!(!cookies[0].contains("Max-Age"), "{}", cookies[0]);
    assert!(cookies[1].starts_with("better-auth.dont_remember=true."));
    let signed = res
        .headers()
        .get("set-auth-token")
        .expect("h")
        .to_str()
        .expect("a")
        .to_owned();
    let rows = app
        .sql("SELECT extract(epoch FROM expires_at - created_at)::int8 FROM identity.sessions WHERE NOT remember")
        .await;
    assert_eq!(rows[0].get::<_, i64>(0), 86_400);
    // Twenty hours later a remembered session would slide; this one must not, even
    // for a bearer client that never sends the dont_remember cookie.
    app.sql("UPDATE identity.sessions SET created_at = created_at - interval '20 hours', expires_at = expires_at - interval '20 hours' WHERE NOT remember").await;
    let res = app.get_bearer("/get-session", &signed).await;
    assert!(set_cookies(res.headers()).is_empty());
    let body: Value = res.json().await.expect("json");
    assert!(body["session"].is_object());
    let rows = app
        .sql("SELECT expires_at < now() + interval '5 hours' FROM identity.sessions WHERE NOT remember")
        .await;
    assert!(rows[0].get::<_, bool>(0), "expiry was not pushed");
}

#[tokio::test]
async fn login_csrf_rules() {
    let app = spawn_app().await;
    let user = app.user("gina@example.com").await;
    let creds = json!({"email": user.email, "password": user.password});
    // Node's fetch sends sec-fetch-mode: cors and no Origin.
    let res = app
        .http
        .post(app.url("/sign-in/email"))
        .header("sec-fetch-mode", "cors")
        .json(&creds)
        .send()
        .await
        .expect("request");
    assert_error(res, StatusCode::FORBIDDEN, Some("MISSING_OR_NULL_ORIGIN")).await;
    let res = app
        .http
        .post(app.url("/sign-in/email"))
        .header("sec-fetch-mode", "cors")
        .header("origin", TRUSTED)
        .json(&creds)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .http
        .post(app.url("/sign-in/email"))
        .header("origin", "http://evil.example")
        .json(&creds)
        .send()
        .await
        .expect("request");
    assert_error(res, StatusCode::FORBIDDEN, Some("INVALID_ORIGIN")).await;
    let res = app
        .http
        .post(app.url("/sign-in/email"))
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "navigate")
        .header("origin", TRUSTED)
        .json(&creds)
        .send()
        .await
        .expect("request");
    assert_error(
        res,
        StatusCode::FORBIDDEN,
        Some("CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"),
    )
    .await;
    let res = app
        .http
        .post(app.url("/sign-in/email"))
        .header("cookie", "unrelated=1")
        .json(&creds)
        .send()
        .await
        .expect("request");
    assert_error(res, StatusCode::FORBIDDEN, Some("MISSING_OR_NULL_ORIGIN")).await;
}

#[tokio::test]
async fn credential_endpoints_are_rate_limited_per_ip() {
    let app = spawn_app_with(|s| {
        s.rate_limit_enabled = true;
        s.rate_limit_max = 3;
        s.rate_limit_window = 60;
    })
    .await;
    let creds = json!({"email": "nobody@example.com", "password": "whatever-123"});
    for _ in 0..3 {
        let res = app.post("/sign-in/email", &creds).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = app.post("/sign-in/email", &creds).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header_text(&res, "x-retry-after").parse().expect("seconds");
    assert!((1..=60).contains(&retry));
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        body["message"],
        "Too many requests. Please try again later."
    );
    // Sign-up shares the budget; other endpoints are not limited.
    let res = app
        .post(
            "/sign-up/email",
            &json!({"name": "n", "email": "x@example.com", "password": "long-enough-1"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let res = app
        .http
        .get(app.url("/get-session"))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
}
