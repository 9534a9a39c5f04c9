use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn get_session_without_credentials_is_null_and_uncached() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(app.url("/get-session"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("cache-control").expect("cc"), "no-store");
    assert_eq!(res.headers().get("pragma").expect("pragma"), "no-cache");
    assert!(set_cookies(res.headers()).is_empty());
    assert_eq!(res.text().await.expect("text"), "null");
}

#[tokio::test]
async fn every_credential_form_resolves_the_session() {
    let app = spawn_app().await;
    let user = app.user("hank@example.com").await;
    let encoded = user
        .signed
        .replace('/', "%2F")
        .replace('+', "%2B")
        .replace('=', "%3D");
    for bearer in [user.signed.as_str(), encoded.as_str(), user.token.as_str()] {
        let body = app.session_of(bearer).await;
        assert_eq!(body["user"]["email"], "hank@example.com", "bearer {bearer}");
        assert_eq!(body["session"]["token"], user.token.as_str());
        assert_eq!(body["session"]["userId"], user.id.as_str());
    }
    // Lower-case scheme works too.
    let res = app
        .http
        .get(app.url("/get-session"))
        .header("authorization", format!("bearer {}", user.signed))
        .send()
        .await
        .expect("request");
    let body: Value = res.json().await.expect("json");
    assert!(body["session"].is_object());
    // The cookie form, URL-encoded as the browser stores it.
    let res = app
        .http
        .get(app.url("/get-session"))
        .header(
            "cookie",
            format!("other=1; better-auth.session_token={encoded}"),
        )
        .send()
        .await
        .expect("request");
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["user"]["id"], user.id.as_str());
    let expires = body["session"]["expiresAt"].as_str().expect("date");
    assert!(expires.ends_with('Z'));
}

#[tokio::test]
async fn bad_signatures_and_unknown_tokens_are_no_session() {
    let app = spawn_app().await;
    let user = app.user("ivy@example.com").await;
    let (token, sig) = user.signed.rsplit_once('.').expect("dot");
    let mut forged = sig.to_owned().into_bytes();
    forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
    let forged = format!("{token}.{}", String::from_utf8(forged).expect("utf8"));
    assert_eq!(app.session_of(&forged).await, Value::Null);
    // Signed with another secret.
    let other =
        auth_server::credentials::CookieSigner::new(b"some-other-secret-some-other-secret", &[]);
    assert_eq!(app.session_of(&other.sign(token)).await, Value::Null);
    // Well-signed, but no such session: null and the cookies are cleared.
    let signer = auth_server::credentials::CookieSigner::new(SPEC_SECRET.as_bytes(), &[]);
    let res = app
        .get_bearer(
            "/get-session",
            &signer.sign("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        )
        .await;
    let cleared = set_cookies(res.headers());
    assert_eq!(cleared.len(), 3);
    assert!(cleared.iter().all(|c| c.contains("Max-Age=0")));
    assert_eq!(res.text().await.expect("t"), "null");
}

#[tokio::test]
async fn expired_sessions_are_deleted_and_cleared() {
    let app = spawn_app().await;
    let user = app.user("jack@example.com").await;
    app.sql("UPDATE identity.sessions SET created_at = created_at - interval '8 days', expires_at = expires_at - interval '8 days'").await;
    let res = app.get_bearer("/get-session", &user.signed).await;
    let cleared = set_cookies(res.headers());
    assert_eq!(cleared.len(), 3);
    assert!(cleared[0].starts_with("better-auth.session_token=;"));
    assert!(cleared[1].starts_with("better-auth.session_data=;"));
    assert!(cleared[2].starts_with("better-auth.dont_remember=;"));
    assert_eq!(res.text().await.expect("t"), "null");
    let rows = app.sql("SELECT count(*) FROM identity.sessions").await;
    assert_eq!(rows[0].get::<_, i64>(0), 0);
}

#[tokio::test]
async fn sessions_slide_once_older_than_update_age() {
    let app = spawn_app().await;
    let user = app.user("kim@example.com").await;
    // Fresh: no refresh, no cookie.
    let res = app.get_bearer("/get-session", &user.signed).await;
    assert!(set_cookies(res.headers()).is_empty());
    // Two days later the expiry is pushed to now + 7 days and the cookie re-issued
    // with the same token.
    app.sql("UPDATE identity.sessions SET created_at = created_at - interval '2 days', expires_at = expires_at - interval '2 days', updated_at = updated_at - interval '2 days'").await;
    let res = app.get_bearer("/get-session", &user.signed).await;
    assert_eq!(
        res.headers().get("set-auth-token").expect("h"),
        user.signed.as_str()
    );
    let expose = res
        .headers()
        .get("access-control-expose-headers")
        .expect("expose");
    assert!(expose.to_str().expect("ascii").contains("set-auth-token"));
    let cookies = set_cookies(res.headers());
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].contains("Max-Age=604800"));
    let rows = app
        .sql("SELECT expires_at > now() + interval '6 days 23 hours' FROM identity.sessions")
        .await;
    assert!(rows[0].get::<_, bool>(0));
    // disableRefresh=true leaves it alone.
    app.sql("UPDATE identity.sessions SET created_at = created_at - interval '2 days', expires_at = expires_at - interval '2 days'").await;
    let res = app
        .http
        .get(app.url("/get-session?disableRefresh=true"))
        .bearer_auth(&user.signed)
        .send()
        .await
        .expect("request");
    assert!(set_cookies(res.headers()).is_empty());
}

#[tokio::test]
async fn post_get_session_is_405() {
    let app = spawn_app().await;
    let res = app.post("/get-session", &json!({})).await;
    assert_error(
        res,
        StatusCode::METHOD_NOT_ALLOWED,
        Some("METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED"),
    )
    .await;
}

#[tokio::test]
async fn sign_out_deletes_the_session_and_clears_cookies() {
    let app = spawn_app().await;
    let user = app.user("lee@example.com").await;
    // A cookie without Origin is refused (CSRF).
    let res = app
        .http
        .post(app.url("/sign-out"))
        .header(
            "cookie",
            format!("better-auth.session_token={}", user.signed),
        )
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_error(res, StatusCode::FORBIDDEN, Some("MISSING_OR_NULL_ORIGIN")).await;
    assert!(app.session_of(&user.signed).await.is_object());
    // With a trusted Origin it works.
    let res = app
        .http
        .post(app.url("/sign-out"))
        .header(
            "cookie",
            format!("better-auth.session_token={}", user.signed),
        )
        .header("origin", TRUSTED)
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(set_cookies(res.headers()).len(), 3);
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({"success": true})
    );
    assert_eq!(app.session_of(&user.signed).await, Value::Null);
    // Signing out with no session still answers 200.
    let res = app.post("/sign-out", &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Bearer clients need no Origin.
    let other = app.sign_in(&user.email, &user.password).await;
    let res = app.post_bearer("/sign-out", &other, &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.session_of(&other).await, Value::Null);
}

#[tokio::test]
async fn list_sessions_hands_out_handles_not_credentials() {
    let app = spawn_app().await;
    let user = app.user("mia@example.com").await;
    let second = app.sign_in(&user.email, &user.password).await;
    let res = app.get_bearer("/list-sessions", &user.signed).await;
    assert_eq!(res.status(), StatusCode::OK);
    let list: Vec<Value> = res.json().await.expect("json");
    assert_eq!(list.len(), 2);
    let second_token = second.rsplit_once('.').expect("dot").0;
    for s in &list {
        let handle = s["token"].as_str().expect("token");
        assert_ne!(handle, user.token);
        assert_ne!(handle, second_token);
        assert_eq!(handle, s["id"].as_str().expect("id"));
        // A handle authenticates nothing.
        assert_eq!(app.session_of(handle).await, Value::Null);
    }
    assert_error(
        app.http
            .get(app.url("/list-sessions"))
            .send()
            .await
            .expect("r"),
        StatusCode::UNAUTHORIZED,
        Some("UNAUTHORIZED"),
    )
    .await;
    // A session older than freshAge may not list.
    app.sql("UPDATE identity.sessions SET created_at = created_at - interval '2 days'")
        .await;
    assert_error(
        app.get_bearer("/list-sessions", &user.signed).await,
        StatusCode::FORBIDDEN,
        Some("SESSION_NOT_FRESH"),
    )
    .await;
}

#[tokio::test]
async fn revoke_session_by_handle_or_token_only_for_own_sessions() {
    let app = spawn_app().await;
    let user = app.user("ned@example.com").await;
    let second = app.sign_in(&user.email, &user.password).await;
    let intruder = app.user("olga@example.com").await;

    let list: Vec<Value> = app
        .get_bearer("/list-sessions", &user.signed)
        .await
        .json()
        .await
        .expect("json");
    let second_token = second.rsplit_once('.').expect("dot").0;

    // Another user's handle: 200 but nothing happens.
    for s in &list {
        let res = app
            .post_bearer(
                "/revoke-session",
                &intruder.signed,
                &json!({"token": s["token"]}),
            )
            .await;
        assert_eq!(
            res.json::<Value>().await.expect("json"),
            json!({"status": true})
        );
    }
    assert!(app.session_of(&second).await.is_object());
    assert!(app.session_of(&user.signed).await.is_object());

    // The owner revokes the second session by its raw token …
    let res = app
        .post_bearer(
            "/revoke-session",
            &user.signed,
            &json!({"token": second_token}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        set_cookies(res.headers()).is_empty(),
        "not the caller's own session"
    );
    assert_eq!(app.session_of(&second).await, Value::Null);
    // … and its own by handle, which clears its cookies.
    let own = app.session_of(&user.signed).await;
    let own_handle = own["session"]["id"].as_str().expect("id").to_owned();
    let res = app
        .post_bearer(
            "/revoke-session",
            &user.signed,
            &json!({"token": own_handle}),
        )
        .await;
    assert_eq!(set_cookies(res.headers()).len(), 3);
    assert_eq!(app.session_of(&user.signed).await, Value::Null);

    assert_error(
        app.post_bearer("/revoke-session", &intruder.signed, &json!({}))
            .await,
        StatusCode::BAD_REQUEST,
        Some("VALIDATION_ERROR"),
    )
    .await;
    assert_error(
        app.post("/revoke-session", &json!({"token": "x"})).await,
        StatusCode::UNAUTHORIZED,
        Some("UNAUTHORIZED"),
    )
    .await;
}

#[tokio::test]
async fn revoke_other_sessions_keeps_the_current_one() {
    let app = spawn_app().await;
    let user = app.user("pat@example.com").await;
    let a = app.sign_in(&user.email, &user.password).await;
    let b = app.sign_in(&user.email, &user.password).await;
    let res = app
        .post_bearer("/revoke-other-sessions", &a, &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookies(res.headers()).is_empty());
    assert!(app.session_of(&a).await.is_object());
    assert_eq!(app.session_of(&b).await, Value::Null);
    assert_eq!(app.session_of(&user.signed).await, Value::Null);
    assert_error(
        app.post("/revoke-other-sessions", &json!({})).await,
        StatusCode::UNAUTHORIZED,
        Some("UNAUTHORIZED"),
    )
    .await;
}

#[tokio::test]
async fn revoke_sessions_ends_all_including_current() {
    let app = spawn_app().await;
    let user = app.user("quinn@example.com").await;
    let a = app.sign_in(&user.email, &user.password).await;
    let other_user = app.user("rita@example.com").await;
    let res = app.post_bearer("/revoke-sessions", &a, &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(set_cookies(res.headers()).len(), 3);
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({"status": true})
    );
    assert_eq!(app.session_of(&a).await, Value::Null);
    assert_eq!(app.session_of(&user.signed).await, Value::Null);
    assert!(app.session_of(&other_user.signed).await.is_object());
    assert_error(
        app.post("/revoke-sessions", &json!({})).await,
        StatusCode::UNAUTHORIZED,
        Some("UNAUTHORIZED"),
    )
    .await;
}

#[tokio::test]
async fn a_ban_ends_existing_sessions_and_their_tokens() {
    let app = spawn_app().await;
    let user = app.user("banned-later@example.com").await;
    assert!(app.session_of(&user.signed).await.is_object());
    app.sql("UPDATE identity.users SET banned_until = now() + interval '1 day'")
        .await;
    assert_eq!(app.session_of(&user.signed).await, Value::Null);
    assert_eq!(
        app.get_bearer("/token", &user.signed).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // An expired ban no longer matters (the session row was cleaned up, so sign in again).
    app.sql("UPDATE identity.users SET banned_until = now() - interval '1 second'")
        .await;
    let again = app.sign_in(&user.email, &user.password).await;
    assert!(app.session_of(&again).await.is_object());
}
