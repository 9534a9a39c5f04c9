//! The outbox: a dead or slow relay never slows a request or loses a mail, two
//! instances never send one mail twice, sent mail leaves no link behind.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use smtp_sink::SmtpSink;

use super::{action_link, fast_mail, MAIL_WAIT};
use crate::helpers::{spawn_app_with, start};

#[tokio::test]
async fn smtp_down_then_back_delivers_once() {
    let port = SmtpSink::reserve_port().expect("port");
    let app = spawn_app_with(|s| {
        fast_mail(s);
        s.smtp_url = Some(format!("smtp://127.0.0.1:{port}?tls=none"));
    })
    .await;
    app.user("patient@example.com").await;
    let res = app.request_reset("patient@example.com").await;
    assert_eq!(res.status(), StatusCode::OK);

    // Nothing listens: the mail waits, with its attempts counted and the link sealed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rows = app.sql("SELECT attempts, last_error IS NOT NULL, sent_at IS NULL, sealed IS NOT NULL FROM identity.mail_outbox").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].get::<_, i32>(0) >= 2, "retried");
    assert!(rows[0].get::<_, bool>(1) && rows[0].get::<_, bool>(2) && rows[0].get::<_, bool>(3));

    // The relay comes back: the mail arrives, once, and its body is erased.
    let sink = SmtpSink::start_on(port).expect("smtp back");
    let mail = sink.wait_for("patient@example.com", MAIL_WAIT).await;
    assert!(action_link(&mail, &app).contains("/reset-password/"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.received().len(), 1);
    assert_eq!(
        app.outbox().await,
        vec![(
            "patient@example.com".into(),
            "reset-password".into(),
            true,
            false,
            false
        )]
    );
}

#[tokio::test]
async fn a_slow_relay_never_slows_the_request() {
    let sink = SmtpSink::start().expect("smtp");
    sink.set_delay(Duration::from_secs(3));
    let url = sink.url();
    let app = spawn_app_with(|s| {
        fast_mail(s);
        s.smtp_url = Some(url);
        s.send_verification_on_sign_up = true;
    })
    .await;
    let start = Instant::now();
    let res = app
        .sign_up_response("quick@example.com", "correct-horse-battery")
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "sign-up waited for SMTP: {:?}",
        start.elapsed()
    );
    sink.wait_for("quick@example.com", MAIL_WAIT).await;
}

#[tokio::test]
async fn a_relay_refusing_mail_is_retried_and_a_hopeless_mail_given_up() {
    let (app, sink) = super::app_with_mail(|s| {
        s.mail_give_up_after = 3;
        s.smtp_timeout = 2;
    })
    .await;
    sink.set_refusing(true);
    app.user("bounce@example.com").await;
    app.request_reset("bounce@example.com").await;
    // Past the deadline: given up, body erased, nothing delivered.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let outbox = app.outbox().await;
        if outbox.first().is_some_and(|m| m.3) {
            assert_eq!(
                outbox[0],
                (
                    "bounce@example.com".into(),
                    "reset-password".into(),
                    false,
                    true,
                    false
                )
            );
            break;
        }
        if Instant::now() > deadline {
            let rows = app.sql("SELECT attempts, last_error, next_attempt_at - now(), give_up_at - now() FROM identity.mail_outbox").await;
            let detail: Vec<String> = rows
                .iter()
                .map(|r| {
                    format!(
                        "{:?} {:?}",
                        r.get::<_, i32>(0),
                        r.get::<_, Option<String>>(1)
                    )
                })
                .collect();
            panic!(
                "never given up: {outbox:?} {detail:?} sessions {}",
                sink.sessions()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(sink.received().is_empty());
    assert!(sink.sessions() >= 2, "it was tried more than once");
}

#[tokio::test]
async fn two_instances_send_each_mail_once() {
    let sink = SmtpSink::start().expect("smtp");
    let url = sink.url();
    let app = spawn_app_with(|s| {
        fast_mail(s);
        s.smtp_url = Some(url.clone());
    })
    .await;
    // A second instance on the same database and relay.
    let (second, _) = start(app.settings.clone()).await;
    for i in 0..20 {
        app.user(&format!("many{i}@example.com")).await;
    }
    for i in 0..20 {
        let target = if i % 2 == 0 {
            app.url("/request-password-reset")
        } else {
            format!("{second}/api/auth/request-password-reset")
        };
        let res = app
            .http
            .post(target)
            .json(&json!({"email": format!("many{i}@example.com"), "redirectTo": "/r"}))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::OK);
    }
    for i in 0..20 {
        sink.wait_for(&format!("many{i}@example.com"), MAIL_WAIT)
            .await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.received().len(), 20, "each mail exactly once");
}

/// `smtp://` means STARTTLS required: a relay that does not offer it gets no mail
/// in plain text, ever; the mail waits with the reason recorded.
#[tokio::test]
async fn starttls_required_never_falls_back_to_plain_text() {
    let sink = SmtpSink::start().expect("smtp");
    let port = sink.addr().port();
    let app = spawn_app_with(|s| {
        fast_mail(s);
        s.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
    })
    .await;
    app.user("private@example.com").await;
    let res = app.request_reset("private@example.com").await;
    assert_eq!(res.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = app
            .sql("SELECT attempts, coalesce(last_error, ''), sent_at IS NULL FROM identity.mail_outbox")
            .await;
        if rows[0].get::<_, i32>(0) >= 2 {
            let error: String = rows[0].get(1);
            assert!(rows[0].get::<_, bool>(2), "never sent");
            assert!(error.to_lowercase().contains("tls"), "{error}");
            break;
        }
        assert!(Instant::now() < deadline, "not retried");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sink.sessions() >= 1, "the relay was reached");
    assert!(sink.received().is_empty(), "nothing went out in plain text");
}

/// `smtp://` with STARTTLS to a relay whose certificate is trusted through
/// `AUTH_SMTP_CA_FILE`: the mail goes out encrypted and arrives.
#[tokio::test]
async fn starttls_to_a_relay_trusted_by_its_ca_file_delivers() {
    let (sink, ca) = SmtpSink::start_starttls().expect("smtp with STARTTLS");
    let port = sink.addr().port();
    let app = spawn_app_with(|s| {
        fast_mail(s);
        s.smtp_url = Some(format!("smtp://localhost:{port}"));
        s.smtp_ca_file = Some(ca.display().to_string());
    })
    .await;
    app.user("tls@example.com").await;
    let res = app.request_reset("tls@example.com").await;
    assert_eq!(res.status(), StatusCode::OK);
    let mail = sink.wait_for("tls@example.com", MAIL_WAIT).await;
    assert!(action_link(&mail, &app).contains("/reset-password/"));

    // The same relay without its CA trusted: nothing is sent (no plain-text fallback).
    let untrusted = spawn_app_with(|s| {
        fast_mail(s);
        s.smtp_url = Some(format!("smtp://localhost:{port}"));
    })
    .await;
    untrusted.user("tls2@example.com").await;
    untrusted.request_reset("tls2@example.com").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(sink.received_for("tls2@example.com").is_empty());
    let rows = untrusted
        .sql("SELECT attempts, coalesce(last_error, ''), sent_at IS NULL FROM identity.mail_outbox")
        .await;
    assert!(rows[0].get::<_, i32>(0) >= 1 && rows[0].get::<_, bool>(2));
}
