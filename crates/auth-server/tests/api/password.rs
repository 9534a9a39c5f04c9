use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn change_password_keeps_sessions_by_default() {
    let app = spawn_app().await;
    let user = app.user("uma@example.com").await;
    let res = app
        .post_bearer(
            "/change-password",
            &user.signed,
            &json!({"currentPassword": user.password, "newPassword": "brand-new-pass-1"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookies(res.headers()).is_empty());
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["token"], Value::Null);
    assert_eq!(body["user"]["email"], "uma@example.com");
    assert!(app.session_of(&user.signed).await.is_object());
    // The old password no longer works, the new one does.
    let res = app
        .post(
            "/sign-in/email",
            &json!({"email": user.email, "password": user.password}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    app.sign_in(&user.email, "brand-new-pass-1").await;
}

#[tokio::test]
async fn change_password_with_revocation_issues_a_new_session() {
    let app = spawn_app().await;
    let user = app.user("vic@example.com").await;
    let other = app.sign_in(&user.email, &user.password).await;
    let res = app
        .post_bearer(
            "/change-password",
            &user.signed,
            &json!({"currentPassword": user.password, "newPassword": "brand-new-pass-2", "revokeOtherSessions": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let new_signed = res
        .headers()
        .get("set-auth-token")
        .expect("h")
        .to_str()
        .expect("a")
        .to_owned();
    let body: Value = res.json().await.expect("json");
    let new_token = body["token"].as_str().expect("new token");
    assert!(new_signed.starts_with(new_token));
    assert_eq!(app.session_of(&user.signed).await, Value::Null);
    assert_eq!(app.session_of(&other).await, Value::Null);
    assert!(app.session_of(&new_signed).await.is_object());
}

#[tokio::test]
async fn change_password_errors() {
    let app = spawn_app().await;
    let user = app.user("wes@example.com").await;
    assert_error(
        app.post_bearer(
            "/change-password",
            &user.signed,
            &json!({"currentPassword": "wrong-password", "newPassword": "brand-new-pass-3"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("INVALID_PASSWORD"),
    )
    .await;
    assert_error(
        app.post_bearer(
            "/change-password",
            &user.signed,
            &json!({"currentPassword": user.password, "newPassword": "short"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("PASSWORD_TOO_SHORT"),
    )
    .await;
    assert_error(
        app.post_bearer(
            "/change-password",
            &user.signed,
            &json!({"currentPassword": user.password, "newPassword": "y".repeat(129)}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("PASSWORD_TOO_LONG"),
    )
    .await;
    assert_error(
        app.post_bearer(
            "/change-password",
            &user.signed,
            &json!({"newPassword": "brand-new-pass-3"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("VALIDATION_ERROR"),
    )
    .await;
    assert_error(
        app.post(
            "/change-password",
            &json!({"currentPassword": "a", "newPassword": "brand-new-pass-3"}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        Some("UNAUTHORIZED"),
    )
    .await;
    // Still the original password.
    app.sign_in(&user.email, &user.password).await;
}
