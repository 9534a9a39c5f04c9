//! Prometheus metrics on their own listener (`PROFILE_METRICS_ADDR`), scraped over
//! HTTP after real requests.

use reqwest::StatusCode;
use serde_json::json;
use test_support::TestDatabase;

use crate::helpers::{auth_settings, profile_settings, send, start_auth};

/// Starts a profile-api with a metrics listener; returns its address and the
/// metrics URL.
async fn start_metered(mut settings: profile_api::Settings) -> (String, String) {
    settings.metrics_addr = "127.0.0.1:0".into();
    let app = profile_api::Application::build(settings)
        .await
        .expect("profile-api builds");
    let port = app.metrics_port().expect("a metrics listener");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    (address, format!("http://127.0.0.1:{port}/metrics"))
}

async fn scrape(http: &reqwest::Client, url: &str) -> String {
    let res = http.get(url).send().await.expect("scrape");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    res.text().await.expect("text")
}

/// The value of one series (`name{labels}` exactly as exposed).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[tokio::test]
async fn requests_tokens_jwks_and_pool_are_counted_by_route_template() {
    let db = TestDatabase::new().await;
    let auth = start_auth(auth_settings(&db)).await;
    let (address, metrics_url) = start_metered(profile_settings(&db, &auth.address)).await;
    let http = reqwest::Client::new();
    let user = auth.user("metered@example.com").await;
    let profile = format!("{address}/api/profile");

    let put = send(
        http.put(&profile)
            .bearer_auth(&user.jwt)
            .json(&json!({"display_name": "Ada"})),
    )
    .await;
    assert_eq!(put.status(), StatusCode::CREATED);
    for _ in 0..2 {
        let res = send(http.get(&profile).bearer_auth(&user.jwt)).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let forged = format!("{}x", user.jwt);
    let res = send(http.get(&profile).bearer_auth(&forged)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // A path with an id in it (a learner token is the wrong kind here).
    let res = send(
        http.get(format!("{address}/api/service/profiles/{}", user.id))
            .bearer_auth(&user.jwt),
    )
    .await;
    let by_id_status = res.status().as_u16();
    // The public port never serves metrics.
    let res = send(http.get(format!("{address}/metrics"))).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let text = scrape(&http, &metrics_url).await;
    let requests = |method: &str, route: &str, status: u16| {
        value(
            &text,
            &format!(
                r#"http_requests_total{{method="{method}",route="{route}",status="{status}"}}"#
            ),
        )
    };
    assert_eq!(requests("PUT", "/api/profile", 201), 1.0);
    assert_eq!(requests("GET", "/api/profile", 200), 2.0);
    assert_eq!(requests("GET", "/api/profile", 401), 1.0);
    assert_eq!(
        requests("GET", "/api/service/profiles/{user_id}", by_id_status),
        1.0
    );
    assert_eq!(requests("GET", "unmatched", 404), 1.0);
    assert!(!text.contains(&user.id), "a raw id became a label");
    assert_eq!(
        value(
            &text,
            r#"http_request_duration_seconds_count{route="/api/profile"}"#
        ),
        4.0
    );
    assert!(value(&text, "profile_jwks_fetches_total") >= 1.0);
    assert_eq!(value(&text, "profile_jwks_fetch_failures_total"), 0.0);
    assert_eq!(value(&text, "profile_jwks_keys_usable"), 1.0);
    // PUT saw the token first; both GETs and the id request found it cached.
    assert_eq!(value(&text, "profile_verified_token_cache_hits_total"), 3.0);
    assert_eq!(
        value(&text, "profile_verified_token_cache_misses_total"),
        2.0
    );
    assert_eq!(value(&text, "db_pool_max_size"), 4.0);
    assert!(value(&text, "db_pool_size") >= 1.0);
    assert_eq!(value(&text, "db_pool_in_use"), 0.0);
}

#[tokio::test]
async fn an_unreachable_jwks_is_counted_as_failed_fetches() {
    let db = TestDatabase::new().await;
    // A port nobody listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let (_, metrics_url) =
        start_metered(profile_settings(&db, &format!("http://127.0.0.1:{closed}"))).await;
    let text = scrape(&reqwest::Client::new(), &metrics_url).await;
    assert!(value(&text, "profile_jwks_fetches_total") >= 1.0);
    assert_eq!(
        value(&text, "profile_jwks_fetch_failures_total"),
        value(&text, "profile_jwks_fetches_total")
    );
    assert_eq!(value(&text, "profile_jwks_keys_usable"), 0.0);
}

#[tokio::test]
async fn without_the_setting_there_is_no_metrics_listener() {
    let db = TestDatabase::new().await;
    let settings = profile_settings(&db, "http://127.0.0.1:9");
    let app = profile_api::Application::build(settings)
        .await
        .expect("profile-api builds");
    assert_eq!(app.metrics_port(), None);
}
