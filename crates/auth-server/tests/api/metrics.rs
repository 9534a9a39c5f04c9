//! Prometheus metrics on their own listener (`AUTH_METRICS_ADDR`), scraped over
//! HTTP after real requests.

use std::time::{Duration, Instant};

use auth_server::{sweeper, Application, Settings};
use reqwest::StatusCode;
use serde_json::json;
use smtp_sink::SmtpSink;
use test_support::TestDatabase;

use crate::helpers::{test_settings, TestApp};
use crate::lifecycle::{fast_mail, MAIL_WAIT};

/// A running app with its metrics listener on a free port.
struct MeteredApp {
    app: TestApp,
    metrics_url: String,
}

async fn spawn_metered(tweak: impl FnOnce(&mut Settings)) -> MeteredApp {
    let db = TestDatabase::new().await;
    let mut settings = test_settings(&db);
    settings.metrics_addr = "127.0.0.1:0".into();
    tweak(&mut settings);
    let app = Application::build(settings.clone())
        .await
        .expect("app builds");
    let port = app.metrics_port().expect("a metrics listener");
    assert_ne!(port, app.port());
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    MeteredApp {
        app: TestApp {
            address,
            state,
            settings,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            db,
        },
        metrics_url: format!("http://127.0.0.1:{port}/metrics"),
    }
}

impl MeteredApp {
    async fn scrape(&self) -> String {
        let res = self
            .app
            .http
            .get(&self.metrics_url)
            .send()
            .await
            .expect("scrape");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        res.text().await.expect("text")
    }
}

/// The value of one series (`name{labels}` exactly as exposed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[tokio::test]
async fn requests_hashes_tokens_pool_and_sweeps_are_counted_by_route_template() {
    let m = spawn_metered(|s| s.sweep_interval = 0).await;
    let app = &m.app;
    let user = app.user("ada@example.com").await;
    app.sign_in("ada@example.com", &user.password).await;
    let bad = app
        .post("/sign-in/email", &json!({"email": "not-an-address"}))
        .await;
    let bad_status = bad.status();
    assert!(bad_status.is_client_error(), "{bad_status}");
    // Sign-up minted the session's JWT (set-auth-jwt); both calls reuse it.
    for _ in 0..2 {
        let res = app.get_bearer("/token", &user.signed).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // A path carrying a token, and an unknown path with a secret in it.
    let link = app
        .http
        .get(app.url("/reset-password/SOMETOKEN-4f9a"))
        .send()
        .await
        .expect("link");
    let link_status = link.status().as_u16();
    let unknown = app
        .http
        .get(app.url("/no-such-route/SECRET-77"))
        .send()
        .await
        .expect("unknown");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // The public port never serves metrics.
    let public = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("public");
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    // An ended session for the sweeper.
    app.sql(&format!(
        "UPDATE identity.sessions SET created_at = now() - interval '2 days', expires_at = now() - interval '1 day'
         WHERE id = (SELECT id FROM identity.sessions WHERE user_id = '{}' LIMIT 1)",
        user.id
    ))
    .await;
    assert!(sweeper::sweep_once(&app.state)
        .await
        .expect("sweep")
        .is_some());

    let text = m.scrape().await;
    for (route, status) in [
        ("/api/auth/sign-up/email", 200),
        ("/api/auth/sign-in/email", 200),
        ("/api/auth/sign-in/email", bad_status.as_u16()),
    ] {
        let series =
            format!(r#"http_requests_total{{method="POST",route="{route}",status="{status}"}}"#);
        assert!(value(&text, &series) >= 1.0, "{series}");
    }
    assert_eq!(
        value(
            &text,
            r#"http_requests_total{method="GET",route="/api/auth/token",status="200"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            &format!(
                r#"http_requests_total{{method="GET",route="/api/auth/reset-password/{{token}}",status="{link_status}"}}"#
            )
        ),
        1.0
    );
    // The unknown path and the public /metrics share one series.
    assert_eq!(
        value(
            &text,
            r#"http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        2.0
    );
    assert!(!text.contains("SOMETOKEN") && !text.contains("SECRET-77"));
    assert!(
        value(
            &text,
            r#"http_request_duration_seconds_count{route="/api/auth/sign-in/email"}"#
        ) >= 2.0
    );
    // Sign-up hashed, sign-in verified (the bad request never reached the hasher).
    assert_eq!(value(&text, "auth_argon2_hashes_total"), 2.0);
    assert_eq!(value(&text, "auth_argon2_queue_wait_seconds_count"), 2.0);
    assert_eq!(value(&text, "auth_argon2_queue_depth"), 0.0);
    assert_eq!(value(&text, "auth_argon2_in_flight"), 0.0);
    assert_eq!(value(&text, "auth_argon2_max_in_flight"), 2.0);
    assert_eq!(value(&text, "auth_argon2_refused_total"), 0.0);
    assert_eq!(
        value(&text, r#"auth_jwt_minted_total{kind="session"}"#),
        1.0
    );
    assert_eq!(
        value(&text, r#"auth_jwt_minted_total{kind="service"}"#),
        0.0
    );
    assert_eq!(value(&text, "auth_jwt_cache_hits_total"), 2.0);
    assert_eq!(value(&text, "db_pool_max_size"), 4.0);
    assert!(value(&text, "db_pool_size") >= 1.0);
    assert_eq!(value(&text, "db_pool_waiting"), 0.0);
    assert_eq!(value(&text, "auth_mail_outbox_pending"), 0.0);
    assert_eq!(
        value(
            &text,
            r#"auth_sweeper_deleted_rows_total{table="sessions"}"#
        ),
        1.0
    );
    assert_eq!(
        value(&text, r#"auth_sweeper_runs_total{outcome="completed"}"#),
        1.0
    );
    assert!(value(&text, "auth_sweeper_last_completed_timestamp_seconds") > 1.7e9);
    // Anything but /metrics is a 404 on the metrics listener too.
    let other = app
        .http
        .get(m.metrics_url.replace("/metrics", "/api/auth/ok"))
        .send()
        .await
        .expect("other path");
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn two_apps_in_one_process_report_their_own_numbers() {
    let a = spawn_metered(|_| {}).await;
    let b = spawn_metered(|_| {}).await;
    a.app.user("only-on-a@example.com").await;
    let sign_ups =
        r#"http_requests_total{method="POST",route="/api/auth/sign-up/email",status="200"}"#;
    let on_a = a.scrape().await;
    let on_b = b.scrape().await;
    assert_eq!(value(&on_a, sign_ups), 1.0);
    assert_eq!(sample(&on_b, sign_ups), None, "{on_b}");
    assert_eq!(value(&on_a, "auth_argon2_hashes_total"), 1.0);
    assert_eq!(value(&on_b, "auth_argon2_hashes_total"), 0.0);
}

#[tokio::test]
async fn without_the_setting_there_is_no_metrics_listener() {
    let db = TestDatabase::new().await;
    let app = Application::build(test_settings(&db))
        .await
        .expect("app builds");
    assert_eq!(app.metrics_port(), None);
}

#[tokio::test]
async fn outbox_depth_failures_and_sends_are_counted() {
    let port = SmtpSink::reserve_port().expect("port");
    let m = spawn_metered(|s| {
        fast_mail(s);
        s.smtp_url = Some(format!("smtp://127.0.0.1:{port}?tls=none"));
    })
    .await;
    let app = &m.app;
    app.user("mail@example.com").await;
    assert_eq!(
        app.request_reset("mail@example.com").await.status(),
        StatusCode::OK
    );
    // Nothing listens: the mail waits and every attempt fails.
    let deadline = Instant::now() + MAIL_WAIT;
    let text = loop {
        let text = m.scrape().await;
        if value(&text, r#"auth_mail_send_failures_total{outcome="retry"}"#) >= 1.0 {
            break text;
        }
        assert!(Instant::now() < deadline, "no failed send counted:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(value(&text, "auth_mail_outbox_pending"), 1.0);
    assert!(value(&text, "auth_mail_outbox_oldest_pending_age_seconds") > 0.0);
    assert_eq!(value(&text, "auth_mail_sent_total"), 0.0);

    // The relay comes back: the mail is sent and the outbox empties.
    let sink = SmtpSink::start_on(port).expect("smtp back");
    sink.wait_for("mail@example.com", MAIL_WAIT).await;
    let deadline = Instant::now() + MAIL_WAIT;
    let text = loop {
        let text = m.scrape().await;
        // The send is counted just before its outcome is written to the outbox.
        if value(&text, "auth_mail_sent_total") >= 1.0
            && value(&text, "auth_mail_outbox_pending") == 0.0
        {
            break text;
        }
        assert!(Instant::now() < deadline, "no sent mail counted:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(value(&text, "auth_mail_sent_total"), 1.0);
    assert_eq!(
        value(
            &text,
            r#"auth_mail_send_failures_total{outcome="given_up"}"#
        ),
        0.0
    );
}
