//! E-mail verification: sign-up mail, send-verification-email, the link, auto
//! sign-in, require-verification mode, imported unconfirmed users.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{action_link, app_with_mail, location, MAIL_WAIT};
use crate::helpers::{assert_error, header_text, TRUSTED};

#[tokio::test]
async fn sign_up_mails_a_link_that_verifies_once_and_signs_in() {
    let (app, sink) = app_with_mail(|s| {
        s.send_verification_on_sign_up = true;
        s.auto_sign_in_after_verification = true;
        s.product_name = "Course Site".into();
    })
    .await;
    let res = app
        .post(
            "/sign-up/email",
            &json!({"name": "Ada", "email": "Ada@Example.com", "password": "correct-horse-battery",
                    "callbackURL": format!("{TRUSTED}/welcome")}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mail = sink.wait_for("ada@example.com", MAIL_WAIT).await;
    assert_eq!(mail.subject, "Confirm your e-mail address for Course Site");
    assert!(
        mail.from_header.starts_with("no-reply@"),
        "{}",
        mail.from_header
    );
    let link = action_link(&mail, &app);
    assert!(link.starts_with(&app.url("/verify-email?token=")), "{link}");
    assert!(
        link.ends_with("&callbackURL=http%3A%2F%2Flocalhost%3A3000%2Fwelcome"),
        "{link}"
    );
    // Only a hash of the token is stored.
    let token = link
        .split("token=")
        .nth(1)
        .and_then(|t| t.split('&').next())
        .expect("token");
    assert!(token.len() >= 32);
    let stored = app
        .sql("SELECT token_hash FROM identity.verifications")
        .await;
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].get::<_, Vec<u8>>(0), token.as_bytes());

    // First opening: verified, redirected, signed in.
    let res = app.open(&link, None).await;
    assert_eq!(location(&res), format!("{TRUSTED}/welcome"));
    let bearer = header_text(&res, "set-auth-token");
    let session = app.session_of(&bearer).await;
    assert_eq!(session["user"]["emailVerified"], true);

    // Second opening (a mail scanner, then the user): success, but no session.
    let again = app.open(&link, None).await;
    assert_eq!(location(&again), format!("{TRUSTED}/welcome"));
    assert!(again.headers().get("set-auth-token").is_none());
    assert!(again.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn bad_and_expired_links_are_refused_with_the_contracts_codes() {
    let (app, sink) = app_with_mail(|s| s.send_verification_on_sign_up = true).await;
    app.user("late@example.com").await;
    let link = action_link(&sink.wait_for("late@example.com", MAIL_WAIT).await, &app);

    // Forged token: JSON 401 without a callback, ?error= with one.
    let forged = app.url("/verify-email?token=forged");
    assert_error(
        app.open(&forged, None).await,
        StatusCode::UNAUTHORIZED,
        Some("INVALID_TOKEN"),
    )
    .await;
    let with_cb = format!("{forged}&callbackURL={}", "%2Fdone%3Fx%3D1");
    assert_eq!(
        location(&app.open(&with_cb, None).await),
        "/done?x=1&error=INVALID_TOKEN"
    );
    // An untrusted callback is refused before anything happens.
    let evil = format!("{link}&callbackURL=https%3A%2F%2Fevil.example");
    let evil = evil.replacen("&callbackURL=%2F", "", 1);
    assert_error(
        app.open(&evil, None).await,
        StatusCode::FORBIDDEN,
        Some("INVALID_CALLBACK_URL"),
    )
    .await;
    // No token at all.
    assert_error(
        app.open(&app.url("/verify-email"), None).await,
        StatusCode::BAD_REQUEST,
        Some("VALIDATION_ERROR"),
    )
    .await;

    // Expired: TOKEN_EXPIRED, and the user stays unverified.
    app.sql("UPDATE identity.verifications SET expires_at = now() - interval '1 second', created_at = now() - interval '1 hour'").await;
    assert_eq!(
        location(&app.open(&link, None).await),
        "/?error=TOKEN_EXPIRED"
    );
    let rows = app.sql("SELECT email_verified FROM identity.users").await;
    assert!(!rows[0].get::<_, bool>(0));
}

#[tokio::test]
async fn send_verification_email_answers_alike_and_mails_only_the_unverified() {
    let (app, sink) = app_with_mail(|_| {}).await;
    let user = app.user("pending@example.com").await;
    let verified = app.user("done@example.com").await;
    app.sql("UPDATE identity.users SET email_verified = true WHERE email = 'done@example.com'")
        .await;

    for email in [
        "pending@example.com",
        "done@example.com",
        "nobody@example.com",
    ] {
        let res = app
            .post(
                "/send-verification-email",
                &json!({"email": email, "callbackURL": "/verified"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.json::<Value>().await.expect("json"),
            json!({"status": true})
        );
    }
    let mail = sink.wait_for("pending@example.com", MAIL_WAIT).await;
    assert!(action_link(&mail, &app).ends_with("&callbackURL=%2Fverified"));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        sink.received().len(),
        1,
        "only the unverified address got mail"
    );

    // With a session: the contract's errors.
    let res = app
        .post_as(
            "/send-verification-email",
            &user.signed,
            &json!({"email": "other@example.com"}),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, Some("EMAIL_MISMATCH")).await;
    let res = app
        .post_as(
            "/send-verification-email",
            &verified.signed,
            &json!({"email": "done@example.com"}),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, Some("EMAIL_ALREADY_VERIFIED")).await;
    let res = app
        .post_as(
            "/send-verification-email",
            &user.signed,
            &json!({"email": "pending@example.com"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    sink.wait_for_nth("pending@example.com", 2, MAIL_WAIT).await;
}

#[tokio::test]
async fn without_mail_the_mail_endpoints_say_so() {
    let app = crate::helpers::spawn_app().await;
    let res = app
        .post(
            "/send-verification-email",
            &json!({"email": "a@example.com"}),
        )
        .await;
    assert_error(
        res,
        StatusCode::BAD_REQUEST,
        Some("VERIFICATION_EMAIL_NOT_ENABLED"),
    )
    .await;
    let res = app
        .post(
            "/request-password-reset",
            &json!({"email": "a@example.com"}),
        )
        .await;
    assert_error(
        res,
        StatusCode::BAD_REQUEST,
        Some("RESET_PASSWORD_DISABLED"),
    )
    .await;
}

#[tokio::test]
async fn required_verification_holds_sign_in_until_the_link_is_opened() {
    let (app, sink) = app_with_mail(|s| s.require_email_verification = true).await;
    let res = app
        .sign_up_response("strict@example.com", "correct-horse-battery")
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("set-cookie").is_none());
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["token"], Value::Null);
    assert_eq!(body["user"]["emailVerified"], false);
    let first = sink.wait_for("strict@example.com", MAIL_WAIT).await;

    // A duplicate sign-up looks the same, writes nothing and mails nothing.
    let dup = app
        .sign_up_response("strict@example.com", "another-password-1")
        .await;
    assert_eq!(dup.status(), StatusCode::OK);
    let dup: Value = dup.json().await.expect("json");
    assert_eq!(dup["token"], Value::Null);
    assert_ne!(dup["user"]["id"], body["user"]["id"]);
    assert_eq!(app.sql("SELECT 1 FROM identity.users").await.len(), 1);

    // Wrong password: the generic 401, no mail. Right password: 403 and a new mail.
    let wrong = app
        .post(
            "/sign-in/email",
            &json!({"email": "strict@example.com", "password": "wrong-password-1"}),
        )
        .await;
    assert_error(
        wrong,
        StatusCode::UNAUTHORIZED,
        Some("INVALID_EMAIL_OR_PASSWORD"),
    )
    .await;
    let right = app
        .post(
            "/sign-in/email",
            &json!({"email": "strict@example.com", "password": "correct-horse-battery"}),
        )
        .await;
    assert_error(right, StatusCode::FORBIDDEN, Some("EMAIL_NOT_VERIFIED")).await;
    let resent = sink.wait_for_nth("strict@example.com", 2, MAIL_WAIT).await;
    assert_eq!(sink.received_for("strict@example.com").len(), 2);

    // Either link verifies; then sign-in works.
    assert_ne!(action_link(&first, &app), action_link(&resent, &app));
    // Without callbackURL (as the client's verifyEmail calls it): JSON.
    let bare = action_link(&first, &app).replace("&callbackURL=%2F", "");
    let res = app.open(&bare, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({"status": true, "user": null})
    );
    app.sign_in("strict@example.com", "correct-horse-battery")
        .await;
}

#[tokio::test]
async fn an_imported_unconfirmed_password_waits_for_the_owner_to_confirm() {
    let (app, sink) = app_with_mail(|_| {}).await;
    // What supabase-import writes for an unconfirmed Supabase user with a password.
    let user = app.user("squatter@example.com").await;
    app.sql(&format!(
        "UPDATE identity.accounts SET awaits_confirmed_email = true WHERE user_id = '{}'",
        user.id
    ))
    .await;
    // The squatter knows the password, but the address was never confirmed.
    let res = app
        .post(
            "/sign-in/email",
            &json!({"email": user.email, "password": user.password}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, Some("EMAIL_NOT_VERIFIED")).await;
    // The mailbox's real owner gets the link; opening it proves the address.
    let mail = sink.wait_for("squatter@example.com", MAIL_WAIT).await;
    let res = app.open(&action_link(&mail, &app), None).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    app.sign_in(&user.email, &user.password).await;
}

#[tokio::test]
async fn a_bad_bearer_does_not_hide_a_good_cookie() {
    let app = crate::helpers::spawn_app().await;
    let user = app.user("both@example.com").await;
    let cookie = format!(
        "better-auth.session_token={}",
        user.signed
            .replace('=', "%3D")
            .replace('/', "%2F")
            .replace('+', "%2B")
    );
    for bearer in ["garbage", "x.y", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"] {
        let res = app
            .http
            .get(app.url("/get-session"))
            .header("authorization", format!("Bearer {bearer}"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("request");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["user"]["email"], "both@example.com", "bearer {bearer}");
    }
}

#[tokio::test]
async fn list_accounts_and_verify_password() {
    let app = crate::helpers::spawn_app().await;
    let user = app.user("acct@example.com").await;
    let res = app.get_bearer("/list-accounts", &user.signed).await;
    assert_eq!(res.status(), StatusCode::OK);
    let list: Value = res.json().await.expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["providerId"], "credential");
    assert_eq!(list[0]["accountId"], user.id.as_str());
    assert_eq!(list[0]["userId"], user.id.as_str());
    assert_eq!(list[0]["scopes"], json!([]));
    assert!(list[0]["id"].is_string() && list[0].get("password").is_none());
    assert_error(
        app.open(&app.url("/list-accounts"), None).await,
        StatusCode::UNAUTHORIZED,
        Some("UNAUTHORIZED"),
    )
    .await;

    let ok = app
        .post_as(
            "/verify-password",
            &user.signed,
            &json!({"password": user.password}),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        ok.json::<Value>().await.expect("json"),
        json!({"status": true})
    );
    let bad = app
        .post_as(
            "/verify-password",
            &user.signed,
            &json!({"password": "nope-nope-nope"}),
        )
        .await;
    assert_error(bad, StatusCode::BAD_REQUEST, Some("INVALID_PASSWORD")).await;
    let anon = app
        .post("/verify-password", &json!({"password": "x"}))
        .await;
    assert_error(anon, StatusCode::UNAUTHORIZED, None).await;
}
