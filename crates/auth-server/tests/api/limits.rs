//! The credential limits as an attacker meets them: per IP (IPv6 per /64) and per
//! account, shared by every instance (Postgres or Redis), counted by route whatever
//! the path's spelling, and the argon2 queue bounded.

use crate::helpers::{assert_error, header_text, spawn_app_with, start, TestApp};
use auth_server::Settings;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn creds(email: &str) -> Value {
    json!({"email": email, "password": "not-the-password"})
}

/// POSTs JSON to an absolute URL, optionally with an `X-Forwarded-For`.
async fn post_to(app: &TestApp, url: &str, body: &Value, xff: Option<&str>) -> Response {
    let mut req = app.http.post(url).json(body);
    if let Some(xff) = xff {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.expect("request")
}

/// The seconds of a 429's `Retry-After`, after checking `x-retry-after` agrees.
async fn assert_limited(res: Response) -> u64 {
    let header = |name: &str| -> u64 { header_text(&res, name).parse().expect("seconds") };
    let retry = header("retry-after");
    assert_eq!(retry, header("x-retry-after"));
    assert_error(
        res,
        StatusCode::TOO_MANY_REQUESTS,
        Some("TOO_MANY_REQUESTS"),
    )
    .await;
    retry
}

fn limited(max: u32) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.rate_limit_enabled = true;
        s.rate_limit_max = max;
        s.rate_limit_window = 60;
        s.rate_limit_account_max = 1000;
    }
}

#[tokio::test]
async fn the_default_quota_is_exactly_the_documented_ten_per_minute() {
    let defaults = Settings::default();
    let app = spawn_app_with(|s| {
        s.rate_limit_enabled = true;
        s.rate_limit_max = defaults.rate_limit_max;
        s.rate_limit_window = defaults.rate_limit_window;
    })
    .await;
    assert_eq!(
        (app.settings.rate_limit_max, app.settings.rate_limit_window),
        (10, 60)
    );
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .expect("docs/configuration.md");
    assert!(
        doc.lines()
            .any(|l| l.contains("AUTH_RATE_LIMIT_MAX") && l.contains("10")),
        "docs/configuration.md states the default"
    );
    // Ten accounts so only the per-IP limit is in play.
    for i in 0..10 {
        let res = app
            .post("/sign-in/email", &creds(&format!("u{i}@example.com")))
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let res = app.post("/sign-in/email", &creds("u10@example.com")).await;
    let retry = assert_limited(res).await;
    assert!((1..=60).contains(&retry), "retry-after {retry}");
}

#[tokio::test]
async fn encoded_spellings_of_the_limited_paths_are_counted() {
    let app = spawn_app_with(limited(4)).await;
    let user = app.user("victim@example.com").await; // 1
    for path in ["/sign-in/%65mail", "/sign-%69n/email"] {
        // 2, 3: the router decodes these and they reach the sign-in handler.
        let res = post_to(&app, &app.url(path), &creds(&user.email), None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let res = app
        .http
        .post(app.url("/change-p%61ssword"))
        .bearer_auth(&user.signed)
        .json(&json!({"currentPassword": "wrong-password-1", "newPassword": "another-long-one"}))
        .send()
        .await
        .expect("request"); // 4
    assert_error(res, StatusCode::BAD_REQUEST, Some("INVALID_PASSWORD")).await;
    for path in ["/sign-up/%65mail", "/sign-in/email", "/sign-in/%65mail"] {
        let body = json!({"name": "n", "email": "new@example.com", "password": "long-enough-1"});
        let res = post_to(&app, &app.url(path), &body, None).await;
        assert_limited(res).await;
    }
    let rows = app
        .sql("select count(*) from identity.users where email = 'new@example.com'")
        .await;
    assert_eq!(
        rows[0].get::<_, i64>(0),
        0,
        "a limited sign-up stores nothing"
    );
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    // No trusted proxies: the socket address is the client, whatever the header says.
    let app = spawn_app_with(limited(3)).await;
    let url = app.url("/sign-in/email");
    for i in 0..3 {
        let xff = format!("198.51.100.{i}");
        let res = post_to(&app, &url, &creds(&format!("a{i}@example.com")), Some(&xff)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = post_to(&app, &url, &creds("a9@example.com"), Some("198.51.100.9")).await;
    assert_limited(res).await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() {
    let app = spawn_app_with(|s| {
        limited(3)(s);
        s.trusted_proxies = "127.0.0.1/32, 10.0.0.0/8".into();
    })
    .await;
    let url = app.url("/sign-in/email");
    // The client forges the leftmost entries; the proxies append what they saw.
    for i in 0..3 {
        let xff = format!("203.0.113.{i}, 192.0.2.7, 10.1.2.3");
        let res = post_to(&app, &url, &creds(&format!("b{i}@example.com")), Some(&xff)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = post_to(
        &app,
        &url,
        &creds("b9@example.com"),
        Some("1.1.1.1, 192.0.2.7"),
    )
    .await;
    assert_limited(res).await;
    // Another real client behind the same proxy has its own budget.
    let res = post_to(&app, &url, &creds("c@example.com"), Some("192.0.2.8")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // The session row records the real client, not the forged entry.
    let body = json!({"name": "n", "email": "ip@example.com", "password": "long-enough-1"});
    let res = post_to(
        &app,
        &app.url("/sign-up/email"),
        &body,
        Some("6.6.6.6, 192.0.2.50"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let rows = app.sql("select ip_address from identity.sessions").await;
    let ips: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(ips, vec!["192.0.2.50".to_owned()]);
}

#[tokio::test]
async fn ipv6_addresses_share_a_bucket_per_64() {
    let app = spawn_app_with(|s| {
        limited(3)(s);
        s.trusted_proxies = "127.0.0.1/32".into();
    })
    .await;
    let url = app.url("/sign-in/email");
    for i in 1..=3 {
        let xff = format!("2001:db8:1:2::{i:x}");
        let res = post_to(&app, &url, &creds(&format!("d{i}@example.com")), Some(&xff)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let xff = "2001:db8:1:2:ffff:ffff:ffff:ffff";
    let res = post_to(&app, &url, &creds("d9@example.com"), Some(xff)).await;
    assert_limited(res).await;
    let res = post_to(&app, &url, &creds("e@example.com"), Some("2001:db8:1:3::1")).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the next /64 is another client"
    );
}

#[tokio::test]
async fn the_account_limit_holds_across_many_addresses_and_decays() {
    let app = spawn_app_with(|s| {
        s.rate_limit_enabled = true;
        s.rate_limit_max = 1000;
        // The sign-up below plus three guesses.
        s.rate_limit_account_max = 4;
        s.rate_limit_account_window = 2;
        s.trusted_proxies = "127.0.0.1/32".into();
    })
    .await;
    let victim = app.user("victim@example.com").await;
    let url = app.url("/sign-in/email");
    // A botnet: every guess from a new address, same account, differently spelt.
    let spellings = [
        "victim@example.com",
        "VICTIM@example.com",
        " Victim@Example.com ",
    ];
    for (i, email) in spellings.iter().enumerate() {
        let xff = format!("198.51.100.{}", 10 + i);
        let res = post_to(&app, &url, &creds(email), Some(&xff)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let res = post_to(&app, &url, &creds(&victim.email), Some("198.51.100.99")).await;
    let retry = assert_limited(res).await;
    assert!(retry <= 2, "retry-after {retry} within the 2 s window");
    // Another account from the same addresses is untouched.
    let res = post_to(
        &app,
        &url,
        &creds("other@example.com"),
        Some("198.51.100.10"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // One window later the victim signs in again.
    // (`Retry-After` rounds up, so waiting that long always suffices.)
    tokio::time::sleep(Duration::from_secs(retry) + Duration::from_millis(100)).await;
    let res = post_to(
        &app,
        &url,
        &json!({"email": victim.email, "password": victim.password}),
        Some("192.0.2.1"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "the account limit decayed");
}

/// Alternates between two instances on one database (and, with Redis, one store).
async fn two_instances_share_one_budget(tweak: impl FnOnce(&mut Settings)) {
    let app = spawn_app_with(|s| {
        limited(4)(s);
        tweak(s);
    })
    .await;
    let (second, _state) = start(app.settings.clone()).await;
    let urls = [
        app.url("/sign-in/email"),
        format!("{second}/api/auth/sign-in/email"),
    ];
    for i in 0..4 {
        let res = post_to(
            &app,
            &urls[i % 2],
            &creds(&format!("s{i}@example.com")),
            None,
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    for url in &urls {
        let res = post_to(&app, url, &creds("s9@example.com"), None).await;
        assert_limited(res).await;
    }
}

#[tokio::test]
async fn two_instances_share_the_limit_through_postgres() {
    two_instances_share_one_budget(|_| {}).await;
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[tokio::test]
async fn two_instances_share_the_limit_through_redis() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4());
    two_instances_share_one_budget(|s| {
        s.rate_limit_redis_url = Some(redis_url());
        s.rate_limit_redis_prefix = prefix;
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_redis_is_a_fast_503_not_a_hang() {
    let app = spawn_app_with(|s| {
        limited(4)(s);
        s.rate_limit_redis_url = Some("redis://127.0.0.1:1".into());
    })
    .await;
    let started = Instant::now();
    let res = app.post("/sign-in/email", &creds("r@example.com")).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(res.headers().contains_key("retry-after"));
    assert_error(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        Some("SERVICE_UNAVAILABLE"),
    )
    .await;
    // Endpoints that check no password do not depend on the limiter.
    let res = app
        .http
        .get(app.url("/get-session"))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_hash_flood_past_the_queue_is_shed_with_503_and_the_server_recovers() {
    let app = spawn_app_with(|s| {
        s.max_concurrent_hashes = 1;
        s.max_queued_hashes = 1;
    })
    .await;
    let user = app.user("flood@example.com").await;
    let good = json!({"email": user.email, "password": user.password});
    let flood = (0..16).map(|_| app.post("/sign-in/email", &good));
    let statuses: Vec<(StatusCode, bool)> = futures_util::future::join_all(flood)
        .await
        .into_iter()
        .map(|r| (r.status(), r.headers().contains_key("retry-after")))
        .collect();
    assert!(
        statuses
            .iter()
            .all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|(s, _)| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let shed: Vec<_> = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!shed.is_empty(), "{statuses:?}");
    assert!(
        shed.iter().all(|(_, retry)| *retry),
        "503s carry Retry-After"
    );
    // Once the flood is over, sign-in works as before.
    app.sign_in(&user.email, &user.password).await;
}

/// The mail limits: 3 mails per minute per client IP and per recipient (from any
/// IP), per endpoint, so nobody mail-bombs an address through us.
#[tokio::test]
async fn mail_endpoints_are_limited_per_ip_and_per_recipient() {
    let sink = smtp_sink::SmtpSink::start().expect("smtp");
    let url = sink.url();
    let app = spawn_app_with(|s| {
        s.rate_limit_enabled = true;
        s.trusted_proxies = "127.0.0.1/32".into();
        s.smtp_url = Some(url);
        s.mail_request_floor_ms = 0;
        s.mail_poll_interval = 0.1;
    })
    .await;
    assert_eq!(
        app.settings.mail_rate_limit_max, 3,
        "the documented default"
    );
    let reset = app.url("/request-password-reset");
    let victim = json!({"email": "victim@example.com"});
    app.user("victim@example.com").await;

    // One address from ever-new IPs: the fourth is refused, whatever the IP.
    for i in 1..=3 {
        let res = post_to(&app, &reset, &victim, Some(&format!("203.0.113.{i}"))).await;
        assert_eq!(res.status(), StatusCode::OK, "request {i}");
    }
    let retry = assert_limited(post_to(&app, &reset, &victim, Some("198.51.100.7")).await).await;
    assert!((1..=60).contains(&retry), "{retry}");
    sink.wait_for_nth("victim@example.com", 3, Duration::from_secs(15))
        .await;

    // One IP over many addresses: the fourth is refused.
    for i in 1..=3 {
        let body = json!({"email": format!("someone{i}@example.com")});
        let res = post_to(&app, &reset, &body, Some("192.0.2.50")).await;
        assert_eq!(res.status(), StatusCode::OK, "address {i}");
    }
    let body = json!({"email": "someone4@example.com"});
    assert_limited(post_to(&app, &reset, &body, Some("192.0.2.50")).await).await;

    // Each endpoint has its own budget: verification mail still goes out.
    let res = post_to(
        &app,
        &app.url("/send-verification-email"),
        &victim,
        Some("203.0.113.99"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.received_for("victim@example.com").len(), 4);
}
