//! The audit trail: each auth event, with who, from where and the request id,
//! written with the change it records; never a password or token; `auth-server
//! audit` prints it.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, header_text, spawn_app, spawn_app_with, TestApp};

#[tokio::test]
async fn auth_events_are_recorded_with_who_where_and_the_request_id() {
    let app = spawn_app_with(|_| {}).await;
    let user = app.user("audited@example.com").await;
    let wrong = app
        .http
        .post(app.url("/sign-in/email"))
        .header("user-agent", "audit-test/1.0")
        .json(&json!({"email": user.email, "password": "not-the-password"}))
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let failed_request_id = header_text(&wrong, "x-request-id");
    let unknown = app
        .post(
            "/sign-in/email",
            &json!({"email": "nobody@example.com", "password": "whatever-123"}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let bearer = app.sign_in(&user.email, &user.password).await;
    let res = app
        .post_bearer(
            "/change-password",
            &bearer,
            &json!({"currentPassword": user.password, "newPassword": "a-new-password-1"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .post_bearer("/revoke-other-sessions", &bearer, &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.post_bearer("/sign-out", &bearer, &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);

    let rows = app
        .sql(&format!(
            "SELECT event, user_id::text, ip, user_agent, request_id, detail FROM identity.audit_log
             WHERE (user_id = '{}' OR user_id IS NULL) AND event NOT LIKE 'key_%' ORDER BY id",
            user.id
        ))
        .await;
    let events: Vec<(String, Option<String>, String, String, String, Value)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    let names: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "sign_up",
            "sign_in_failed",
            "sign_in_failed",
            "sign_in",
            "password_changed",
            "session_revoked",
            "sign_out"
        ],
        "{events:?}"
    );
    // The wrong password: who, why, from where, which request; the unknown address: no user.
    let failed = &events[1];
    assert_eq!(failed.1.as_deref(), Some(user.id.as_str()));
    assert_eq!(failed.5, json!({"reason": "wrong_password"}));
    assert_eq!(failed.2, "127.0.0.1");
    assert_eq!(failed.3, "audit-test/1.0");
    assert_eq!(failed.4, failed_request_id);
    assert_eq!(events[2].1, None);
    assert_eq!(events[2].5, json!({"reason": "unknown_email"}));
    for e in &events {
        assert!(!e.4.is_empty(), "every event has its request id: {e:?}");
        let text = e.5.to_string();
        for secret in [
            user.password.as_str(),
            "not-the-password",
            "a-new-password-1",
            user.token.as_str(),
        ] {
            assert!(!text.contains(secret), "{text}");
        }
    }

    // The CLI prints the user's trail.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(["audit", "--user", &user.id])
        .env("DATABASE_URL", &app.settings.database_url)
        .env("AUTH_DEV_MODE", "true")
        .output()
        .expect("run auth-server audit");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.lines().count(), 6, "{printed}");
    assert!(
        printed.contains("sign_in_failed") && printed.contains(&failed_request_id),
        "{printed}"
    );
    assert!(!printed.contains("nobody@example.com"));
}

#[tokio::test]
async fn key_lifecycle_steps_are_in_the_trail() {
    let app = spawn_app_with(|_| {}).await;
    let (pool, store) = (&app.state.pool, &app.state.keys);
    let auth_server::keys::KeyEvent::Created { kid, .. } =
        auth_server::keys::rotate(pool, store, false)
            .await
            .expect("publish")
    else {
        panic!("not created")
    };
    auth_server::keys::rotate(pool, store, true)
        .await
        .expect("promote");
    let rows = app
        .sql("SELECT event, detail->>'kid', user_id IS NULL AND client_id IS NULL FROM identity.audit_log WHERE event LIKE 'key_%' ORDER BY id")
        .await;
    let trail: Vec<(String, Option<String>, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let tail = &trail[trail.len() - 2..];
    assert_eq!(
        tail,
        [
            ("key_created".to_owned(), Some(kid.clone()), true),
            ("key_promoted".to_owned(), Some(kid), true)
        ]
    );
}

/// Runs `auth-server users …` against the app's database.
fn users_cli(app: &TestApp, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .arg("users")
        .args(args)
        .env("DATABASE_URL", &app.settings.database_url)
        .env("AUTH_DEV_MODE", "true")
        .output()
        .expect("run auth-server users");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ban_ends_every_session_refuses_sign_in_and_is_in_the_trail() {
    let app = spawn_app().await;
    let user = app.user("banned@example.com").await;
    let other = app.sign_in(&user.email, &user.password).await;

    let printed = users_cli(
        &app,
        &["ban", "Banned@Example.com", "--reason", "abuse report #12"],
    );
    assert!(
        printed.contains("for good") && printed.contains("2 session(s) ended"),
        "{printed}"
    );
    for bearer in [&user.signed, &other] {
        assert!(
            app.session_of(bearer).await.is_null(),
            "a banned user's session lives on"
        );
    }
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

    let printed = users_cli(&app, &["unban", &user.id]);
    assert!(printed.contains("unbanned"), "{printed}");
    app.sign_in(&user.email, &user.password).await;
    assert!(users_cli(&app, &["unban", &user.id]).contains("was not banned"));

    // A ban until a time: over once that time has passed (the database's clock).
    let printed = users_cli(&app, &["ban", &user.id, "--until", "2000-01-01T00:00:00Z"]);
    assert!(printed.contains("until 2000-01-01"), "{printed}");
    app.sign_in(&user.email, &user.password).await;

    let trail = app
        .sql(&format!(
            "SELECT event, detail::text, user_agent FROM identity.audit_log
             WHERE user_id = '{}' AND event LIKE 'user_%' ORDER BY id",
            user.id
        ))
        .await;
    let events: Vec<(String, String, String)> = trail
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0].0, "user_banned");
    assert!(
        events[0].1.contains("abuse report #12") && events[0].1.contains("\"sessions_ended\": 2"),
        "{events:?}"
    );
    assert!(events[0].2.contains("CLI"));
    assert_eq!(events[1].0, "user_unbanned");
    assert_eq!(events[2].0, "user_banned");
    // An unknown user is an error, and nothing is written.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(["users", "ban", "nobody@example.com"])
        .env("DATABASE_URL", &app.settings.database_url)
        .env("AUTH_DEV_MODE", "true")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user"));
}
