//! Deleting an account: at once on a fresh session, by password, by mailed link;
//! the profile goes with the user.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{action_link, app_with_mail, location, MAIL_WAIT};
use crate::helpers::{assert_error, set_cookies, spawn_app_with};

#[tokio::test]
async fn delete_user_removes_everything_and_sign_in_is_refused() {
    let app = spawn_app_with(|_| {}).await;
    let user = app.user("leaving@example.com").await;
    app.sql(&format!(
        "INSERT INTO learner.profiles (user_id, display_name) VALUES ('{}', 'Leaving')",
        user.id
    ))
    .await;

    let wrong = app
        .post_as(
            "/delete-user",
            &user.signed,
            &json!({"password": "not-my-password"}),
        )
        .await;
    assert_error(wrong, StatusCode::BAD_REQUEST, Some("INVALID_PASSWORD")).await;
    let res = app.post_as("/delete-user", &user.signed, &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookies(res.headers())
        .iter()
        .any(|c| c.contains("session_token=;") && c.contains("Max-Age=0")));
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({"success": true, "message": "User deleted"})
    );

    assert_eq!(app.session_of(&user.signed).await, Value::Null);
    let res = app
        .post(
            "/sign-in/email",
            &json!({"email": user.email, "password": user.password}),
        )
        .await;
    assert_error(
        res,
        StatusCode::UNAUTHORIZED,
        Some("INVALID_EMAIL_OR_PASSWORD"),
    )
    .await;
    for table in [
        "identity.users",
        "identity.accounts",
        "identity.sessions",
        "learner.profiles",
    ] {
        assert!(
            app.sql(&format!("SELECT 1 FROM {table}")).await.is_empty(),
            "{table}"
        );
    }
}

#[tokio::test]
async fn an_old_session_needs_the_password() {
    let app = spawn_app_with(|_| {}).await;
    let user = app.user("stale@example.com").await;
    app.sql("UPDATE identity.sessions SET created_at = now() - interval '2 days'")
        .await;
    let res = app.post_as("/delete-user", &user.signed, &json!({})).await;
    assert_error(res, StatusCode::BAD_REQUEST, Some("SESSION_EXPIRED")).await;
    let res = app
        .post_as(
            "/delete-user",
            &user.signed,
            &json!({"password": user.password}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(app.sql("SELECT 1 FROM identity.users").await.is_empty());
}

#[tokio::test]
async fn confirmation_by_mail_deletes_only_in_the_owners_browser() {
    let (app, sink) = app_with_mail(|s| s.delete_user_confirm_by_email = true).await;
    let user = app.user("careful@example.com").await;
    let other = app.user("other@example.com").await;
    let res = app
        .post_as(
            "/delete-user",
            &user.signed,
            &json!({"callbackURL": "/goodbye"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.expect("json")["message"],
        "Verification email sent"
    );
    let link = action_link(&sink.wait_for("careful@example.com", MAIL_WAIT).await, &app);
    assert!(link.contains("/delete-user/callback?token="), "{link}");

    // Not signed in: refused, token kept. Another user's browser: refused, token kept.
    assert_error(
        app.open(&link, None).await,
        StatusCode::NOT_FOUND,
        Some("FAILED_TO_GET_USER_INFO"),
    )
    .await;
    assert_error(
        app.open(&link, Some(&other.signed)).await,
        StatusCode::NOT_FOUND,
        Some("INVALID_TOKEN"),
    )
    .await;
    assert_eq!(app.sql("SELECT 1 FROM identity.users").await.len(), 2);

    // The owner's browser: deleted, cookies cleared, landed on the callback.
    let res = app.open(&link, Some(&user.signed)).await;
    assert_eq!(location(&res), "/goodbye");
    assert!(set_cookies(res.headers())
        .iter()
        .any(|c| c.contains("Max-Age=0")));
    assert_eq!(app.sql("SELECT email FROM identity.users").await.len(), 1);
    assert_eq!(
        app.session_of(&other.signed).await["user"]["email"],
        "other@example.com"
    );
}

#[tokio::test]
async fn delete_can_be_turned_off() {
    let app = spawn_app_with(|s| s.delete_user_enabled = false).await;
    let user = app.user("kept@example.com").await;
    let res = app.post_as("/delete-user", &user.signed, &json!({})).await;
    assert_error(res, StatusCode::NOT_FOUND, Some("NOT_FOUND")).await;
}
