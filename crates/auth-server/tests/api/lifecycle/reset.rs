//! Password reset over real SMTP: the link, the new password, single use, expiry,
//! sessions ended, unknown addresses, OAuth-only imports.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{action_link, app_with_mail, location, MAIL_WAIT};
use crate::helpers::{assert_error, TRUSTED};

/// Follows a reset mail's link like the browser and returns the token the app page gets.
async fn token_from_mail(app: &crate::helpers::TestApp, mail: &smtp_sink::ReceivedMail) -> String {
    let link = action_link(mail, app);
    assert!(link.contains("/reset-password/"), "{link}");
    let landing = location(&app.open(&link, None).await);
    let prefix = format!("{TRUSTED}/reset?token=");
    assert!(landing.starts_with(&prefix), "{landing}");
    landing[prefix.len()..].to_owned()
}

#[tokio::test]
async fn reset_replaces_the_password_ends_sessions_and_works_once() {
    let (app, sink) = app_with_mail(|s| s.product_name = "Course".into()).await;
    let user = app.user("forgetful@example.com").await;
    let other_session = app.sign_in(&user.email, &user.password).await;

    let res = app.request_reset("Forgetful@Example.com").await;
    assert_eq!(res.status(), StatusCode::OK);
    let known: Value = res.json().await.expect("json");
    let mail = sink.wait_for("forgetful@example.com", MAIL_WAIT).await;
    assert_eq!(mail.subject, "Reset your Course password");
    let token = token_from_mail(&app, &mail).await;

    // Length errors do not spend the token.
    let short = app
        .post(
            "/reset-password",
            &json!({"newPassword": "short", "token": token}),
        )
        .await;
    assert_error(short, StatusCode::BAD_REQUEST, Some("PASSWORD_TOO_SHORT")).await;

    let res = app
        .post(
            "/reset-password",
            &json!({"newPassword": "brand-new-password-9", "token": token}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("set-cookie").is_none());
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({"status": true})
    );

    // Old password refused, new one works; every earlier session is gone.
    let old = app
        .post(
            "/sign-in/email",
            &json!({"email": user.email, "password": user.password}),
        )
        .await;
    assert_error(
        old,
        StatusCode::UNAUTHORIZED,
        Some("INVALID_EMAIL_OR_PASSWORD"),
    )
    .await;
    app.sign_in(&user.email, "brand-new-password-9").await;
    assert_eq!(app.session_of(&user.signed).await, Value::Null);
    assert_eq!(app.session_of(&other_session).await, Value::Null);
    // The mailbox was proven.
    let rows = app.sql("SELECT email_verified FROM identity.users").await;
    assert!(rows[0].get::<_, bool>(0));

    // Reuse: refused, and the link now lands with the error.
    let again = app
        .post(
            "/reset-password",
            &json!({"newPassword": "another-password-9", "token": token}),
        )
        .await;
    assert_error(again, StatusCode::BAD_REQUEST, Some("INVALID_TOKEN")).await;
    let landing = location(&app.open(&action_link(&mail, &app), None).await);
    assert_eq!(landing, format!("{TRUSTED}/reset?error=INVALID_TOKEN"));

    // An unknown address: the same answer, and no mail.
    let res = app.request_reset("nobody@example.com").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.expect("json"), known);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn expired_and_untrusted_and_sessions_kept_when_configured() {
    let (app, sink) = app_with_mail(|s| s.reset_revokes_sessions = false).await;
    let user = app.user("slow@example.com").await;
    let res = app
        .post(
            "/request-password-reset",
            &json!({"email": user.email, "redirectTo": "https://evil.example/r"}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, Some("INVALID_REDIRECT_URL")).await;

    app.request_reset(&user.email).await;
    let mail = sink.wait_for(&user.email, MAIL_WAIT).await;
    let token = token_from_mail(&app, &mail).await;
    // Token also accepted from the query string.
    app.request_reset(&user.email).await;
    let second = sink.wait_for_nth(&user.email, 2, MAIL_WAIT).await;
    let second_token = token_from_mail(&app, &second).await;
    let res = app
        .http
        .post(app.url(&format!("/reset-password?token={second_token}")))
        .json(&json!({"newPassword": "query-token-password"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    // Sessions kept when AUTH_RESET_REVOKES_SESSIONS=false.
    assert_ne!(app.session_of(&user.signed).await, Value::Null);
    // A reset ends the other pending resets.
    let first = app
        .post(
            "/reset-password",
            &json!({"newPassword": "first-token-password", "token": token}),
        )
        .await;
    assert_error(first, StatusCode::BAD_REQUEST, Some("INVALID_TOKEN")).await;

    // Expired tokens are refused.
    app.request_reset(&user.email).await;
    let third = sink.wait_for_nth(&user.email, 3, MAIL_WAIT).await;
    let link = action_link(&third, &app);
    app.sql("UPDATE identity.verifications SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour'").await;
    assert_eq!(
        location(&app.open(&link, None).await),
        format!("{TRUSTED}/reset?error=INVALID_TOKEN")
    );
    let token = link
        .split("/reset-password/")
        .nth(1)
        .and_then(|t| t.split('?').next())
        .expect("token");
    let res = app
        .post(
            "/reset-password",
            &json!({"newPassword": "too-late-password", "token": token}),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, Some("INVALID_TOKEN")).await;
    // The landing needs a callbackURL.
    let res = app
        .open(&app.url(&format!("/reset-password/{token}")), None)
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")).await;
}

#[tokio::test]
async fn an_oauth_only_user_gets_in_through_forgot_password_under_their_id() {
    let (app, sink) = app_with_mail(|_| {}).await;
    // What supabase-import writes for a Google-only Supabase user: a user and an
    // identity, no password.
    let id = "6c1f7a52-93a4-4b7e-9a7e-1d2c3b4a5f60";
    app.sql(&format!(
        "INSERT INTO identity.users (id, name, email, email_verified) VALUES ('{id}', 'Gia', 'gia@example.com', true)"
    ))
    .await;
    app.sql(&format!(
        "INSERT INTO identity.accounts (user_id, provider_id, account_id) VALUES ('{id}', 'google', '1234567890')"
    ))
    .await;
    let res = app
        .post(
            "/sign-in/email",
            &json!({"email": "gia@example.com", "password": "anything-at-all"}),
        )
        .await;
    assert_error(
        res,
        StatusCode::UNAUTHORIZED,
        Some("INVALID_EMAIL_OR_PASSWORD"),
    )
    .await;

    app.request_reset("gia@example.com").await;
    let token = token_from_mail(&app, &sink.wait_for("gia@example.com", MAIL_WAIT).await).await;
    let res = app
        .post(
            "/reset-password",
            &json!({"newPassword": "now-i-have-one", "token": token}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let bearer = app.sign_in("gia@example.com", "now-i-have-one").await;
    assert_eq!(app.session_of(&bearer).await["user"]["id"], id);
    let res = app.get_bearer("/list-accounts", &bearer).await;
    let providers: Vec<String> = res
        .json::<Vec<Value>>()
        .await
        .expect("json")
        .iter()
        .map(|a| a["providerId"].as_str().expect("provider").to_owned())
        .collect();
    assert_eq!(providers.len(), 2);
    assert!(
        providers.contains(&"credential".to_owned()) && providers.contains(&"google".to_owned())
    );
}

/// The time does not tell a known address: both answers wait for the request floor
/// and their medians stay within a few milliseconds of each other.
#[tokio::test]
async fn known_and_unknown_addresses_take_the_same_time() {
    let (app, _sink) = app_with_mail(|s| s.mail_request_floor_ms = 300).await;
    app.user("known@example.com").await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..5 {
        for (email, times) in [
            ("known@example.com", &mut known),
            ("unknown@example.com", &mut unknown),
        ] {
            let start = std::time::Instant::now();
            let res = app.request_reset(email).await;
            assert_eq!(res.status(), StatusCode::OK);
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (k, u) = (median(&mut known), median(&mut unknown));
    assert!(
        k >= 300.0 && u >= 300.0,
        "the floor holds: known {k:.1} ms, unknown {u:.1} ms"
    );
    assert!((k - u).abs() < 25.0, "known {k:.1} ms vs unknown {u:.1} ms");
}
