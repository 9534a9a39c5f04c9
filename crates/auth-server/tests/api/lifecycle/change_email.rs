//! Changing the address: confirmation from the old mailbox, verification by the
//! new one, taken addresses, stale links.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{action_link, app_with_mail, location, MAIL_WAIT};
use crate::helpers::assert_error;

#[tokio::test]
async fn a_verified_user_confirms_from_the_old_address_then_proves_the_new_one() {
    let (app, sink) = app_with_mail(|_| {}).await;
    let user = app.user("old@example.com").await;
    app.sql("UPDATE identity.users SET email_verified = true")
        .await;

    let res = app
        .post_as(
            "/change-email",
            &user.signed,
            &json!({"newEmail": "New@Example.com", "callbackURL": "/settings"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({"status": true})
    );
    let confirm = sink.wait_for("old@example.com", MAIL_WAIT).await;
    assert!(confirm.text.contains("new@example.com"), "{}", confirm.text);
    assert!(sink.received_for("new@example.com").is_empty());

    // The old mailbox confirms: nothing changes yet, the new mailbox is asked.
    assert_eq!(
        location(
            &app.open(&action_link(&confirm, &app), Some(&user.signed))
                .await
        ),
        "/settings"
    );
    let verify = sink.wait_for("new@example.com", MAIL_WAIT).await;
    assert_eq!(
        app.session_of(&user.signed).await["user"]["email"],
        "old@example.com"
    );

    // The new mailbox proves itself: the address changes, the session lives on.
    assert_eq!(
        location(&app.open(&action_link(&verify, &app), None).await),
        "/settings"
    );
    let session = app.session_of(&user.signed).await;
    assert_eq!(session["user"]["email"], "new@example.com");
    assert_eq!(session["user"]["emailVerified"], true);
    app.sign_in("new@example.com", &user.password).await;
    let old = app
        .post(
            "/sign-in/email",
            &json!({"email": "old@example.com", "password": user.password}),
        )
        .await;
    assert_error(old, StatusCode::UNAUTHORIZED, None).await;
    // The same link again: the token is spent.
    assert_eq!(
        location(&app.open(&action_link(&verify, &app), None).await),
        "/settings?error=INVALID_TOKEN"
    );
}

#[tokio::test]
async fn unverified_users_go_straight_to_the_new_address_and_taken_ones_get_nothing() {
    let (app, sink) = app_with_mail(|_| {}).await;
    let user = app.user("fresh@example.com").await;
    app.user("taken@example.com").await;

    let same = app
        .post_as(
            "/change-email",
            &user.signed,
            &json!({"newEmail": "fresh@example.com"}),
        )
        .await;
    assert_error(same, StatusCode::BAD_REQUEST, Some("EMAIL_IS_THE_SAME")).await;
    let bad = app
        .post_as(
            "/change-email",
            &user.signed,
            &json!({"newEmail": "not-an-address"}),
        )
        .await;
    let body = assert_error(bad, StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")).await;
    assert_eq!(body["message"], "[body.newEmail] Invalid email address");
    let anon = app
        .post("/change-email", &json!({"newEmail": "x@example.com"}))
        .await;
    assert_error(anon, StatusCode::UNAUTHORIZED, None).await;

    // Taken: the same 200, no mail, nothing changes.
    let taken = app
        .post_as(
            "/change-email",
            &user.signed,
            &json!({"newEmail": "taken@example.com"}),
        )
        .await;
    assert_eq!(taken.status(), StatusCode::OK);
    let res = app
        .post_as(
            "/change-email",
            &user.signed,
            &json!({"newEmail": "moved@example.com"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let verify = sink.wait_for("moved@example.com", MAIL_WAIT).await;
    assert!(sink.received_for("taken@example.com").is_empty());
    assert!(sink.received_for("fresh@example.com").is_empty());

    // Opened in another user's browser: refused, and the owner can still use it.
    let intruder = app.user("intruder@example.com").await;
    let res = app
        .open(&action_link(&verify, &app), Some(&intruder.signed))
        .await;
    assert_eq!(location(&res), "/?error=INVALID_USER");
    let res = app.open(&action_link(&verify, &app), None).await;
    assert_eq!(location(&res), "/");
    assert_eq!(
        app.session_of(&user.signed).await["user"]["email"],
        "moved@example.com"
    );
}
