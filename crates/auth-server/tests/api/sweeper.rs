//! Housekeeping: expired sessions and tokens, ended rate-limit windows and old mail
//! records go, in batches, one instance at a time; live rows stay.

use auth_server::sweeper::{self, Swept};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app_with;

async fn count(app: &crate::helpers::TestApp, table: &str) -> i64 {
    app.sql(&format!("SELECT count(*) FROM {table}")).await[0].get(0)
}

#[tokio::test]
async fn the_sweeper_deletes_only_what_has_ended() {
    let app = spawn_app_with(|s| {
        s.sweep_interval = 0; // only the explicit sweeps below
        s.sweep_batch = 2; // several batches per table
    })
    .await;
    let live = app.user("live@example.com").await;
    for i in 0..5 {
        app.user(&format!("gone{i}@example.com")).await;
    }
    // Five sessions ended a day ago; the live user's session stays.
    app.sql(&format!(
        "UPDATE identity.sessions SET created_at = now() - interval '9 days', expires_at = now() - interval '1 day'
         WHERE user_id <> '{}'",
        live.id
    ))
    .await;
    // Tokens: one expired (used), one expired (unused), one live.
    for (purpose, expires) in [
        ("email-verification", "- interval '1 minute'"),
        ("password-reset", "- interval '1 hour'"),
        ("password-reset", "+ interval '1 hour'"),
    ] {
        app.sql(&format!(
            "INSERT INTO identity.verifications (purpose, token_hash, user_id, email, expires_at, created_at)
             SELECT '{purpose}', sha256(gen_random_uuid()::text::bytea), id, email, now() {expires}, now() - interval '2 hours'
             FROM identity.users WHERE id = '{}'",
            live.id
        ))
        .await;
    }
    // Rate-limit windows: two ended, one running.
    app.sql("INSERT INTO identity.rate_limits (key, hits, window_end) VALUES ('a', 1, now() - interval '1 minute'), ('b', 1, now() - interval '1 hour'), ('c', 1, now() + interval '1 minute')").await;
    // Mail records: sent 8 days ago, given up 8 days ago, sent yesterday, pending.
    let mails = [
        "sent_at = now() - interval '8 days'",
        "failed_at = now() - interval '8 days'",
        "sent_at = now() - interval '1 day'",
    ];
    for finished in mails {
        app.sql(&format!(
            "INSERT INTO identity.mail_outbox (kind, recipient, kek_id, give_up_at, sealed, {col})
             VALUES ('verify-email', 'x@example.com', 'k', now(), NULL, {val})",
            col = finished.split(" = ").next().expect("column"),
            val = finished.split(" = ").nth(1).expect("value"),
        ))
        .await;
    }
    app.sql("INSERT INTO identity.mail_outbox (kind, recipient, kek_id, give_up_at, sealed) VALUES ('verify-email', 'y@example.com', 'k', now() + interval '1 day', '\\x00')").await;

    // Social sign-ins in flight: one abandoned past its ten minutes, one live.
    for (hash, expires) in [
        ("01", "now() - interval '1 minute'"),
        ("02", "now() + interval '9 minutes'"),
    ] {
        app.sql(&format!(
            "INSERT INTO identity.oauth_states (state_hash, provider_id, code_verifier, callback_url, expires_at)
             VALUES (decode(repeat('{hash}', 32), 'hex'), 'google', repeat('v', 43), '/', {expires})"
        ))
        .await;
    }
    // Audit events: one past the retention, the rest (the sign-ups above) recent.
    app.sql("INSERT INTO identity.audit_log (event, at) VALUES ('sign_in', now() - interval '400 days')").await;
    let recent = count(&app, "identity.audit_log").await - 1;
    let swept = sweeper::sweep_once(&app.state)
        .await
        .expect("sweep")
        .expect("not locked");
    assert_eq!(
        swept,
        Swept {
            sessions: 5,
            verifications: 2,
            oauth_states: 1,
            rate_limits: 2,
            mails: 2,
            audit_events: 1,
        }
    );
    assert_eq!(count(&app, "identity.sessions").await, 1);
    assert_eq!(count(&app, "identity.verifications").await, 1);
    assert_eq!(count(&app, "identity.oauth_states").await, 1);
    assert_eq!(count(&app, "identity.rate_limits").await, 1);
    assert_eq!(count(&app, "identity.mail_outbox").await, 2);
    assert_eq!(count(&app, "identity.audit_log").await, recent);
    // The live session still works; a second sweep finds nothing.
    let session: Value = app.session_of(&live.signed).await;
    assert_eq!(session["user"]["email"], "live@example.com");
    assert_eq!(
        sweeper::sweep_once(&app.state).await.expect("sweep"),
        Some(Swept::default())
    );
    let res = app.get_bearer("/get-session", &live.signed).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn one_instance_sweeps_at_a_time() {
    let app = spawn_app_with(|s| s.sweep_interval = 0).await;
    // Another instance mid-batch holds the lock.
    let mut other = app.db.client().await;
    let tx = other.transaction().await.expect("tx");
    let held: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock(495924372848)", &[])
        .await
        .expect("lock")
        .get(0);
    assert!(held);
    assert_eq!(
        sweeper::sweep_once(&app.state).await.expect("sweep"),
        None,
        "skipped while locked"
    );
    tx.commit().await.expect("release");
    assert!(sweeper::sweep_once(&app.state)
        .await
        .expect("sweep")
        .is_some());
}
