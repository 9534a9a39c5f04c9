use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn cors_preflight_for_trusted_origins_only() {
    let app = spawn_app().await;
    let res = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/sign-in/email"))
        .header("origin", TRUSTED)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("r");
    assert!(res.status().is_success());
    let h = res.headers();
    assert_eq!(h.get("access-control-allow-origin").expect("acao"), TRUSTED);
    assert_eq!(
        h.get("access-control-allow-credentials").expect("acac"),
        "true"
    );

    let res = app
        .http
        .get(app.url("/get-session"))
        .header("origin", TRUSTED)
        .send()
        .await
        .expect("r");
    let expose = res
        .headers()
        .get("access-control-expose-headers")
        .expect("expose")
        .to_str()
        .expect("a")
        .to_ascii_lowercase();
    assert!(
        expose.contains("set-auth-token") && expose.contains("set-auth-jwt"),
        "{expose}"
    );
    // A log-in page must be able to say how long to wait after a 429.
    let names: Vec<&str> = expose.split(',').map(str::trim).collect();
    assert!(
        names.contains(&"retry-after") && names.contains(&"x-retry-after"),
        "{expose}"
    );

    // An untrusted origin gets no CORS grant; a GET still answers.
    let res = app
        .http
        .get(app.url("/get-session"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn secure_cookies_over_https_base_url() {
    let app = spawn_app_with(|s| s.base_url = "https://auth.example.com".into()).await;
    let res = app
        .post(
            "/sign-up/email",
            &serde_json::json!({"name": "S", "email": "secure@example.com", "password": "secure-pass-1"}),
        )
        .await;
    let cookie = &set_cookies(res.headers())[0];
    assert!(
        cookie.starts_with("__Secure-better-auth.session_token="),
        "{cookie}"
    );
    assert!(cookie.contains("Secure"));
    let pair = cookie.split(';').next().expect("pair").to_owned();
    let res = app
        .http
        .get(app.url("/get-session"))
        .header("cookie", pair)
        .send()
        .await
        .expect("r");
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["user"]["email"], "secure@example.com");
}
