//! `/oauth2/token` (client credentials) and the clients CLI: tokens a backend
//! validates offline, told apart from learner tokens by `typ`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jwt_verifier::{Verifier, VerifierConfig, VerifyError};
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use auth_server::client_credentials::{self, NewCredentials};

async fn register(app: &TestApp, name: &str, scopes: &[&str]) -> NewCredentials {
    let db = app.state.pool.get().await.expect("pool");
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    client_credentials::create(&db, &app.state.hasher, name, &scopes)
        .await
        .expect("client created")
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

async fn token_request(app: &TestApp, body: &str, authorization: Option<&str>) -> Response {
    let mut req = app
        .http
        .post(format!("{}/oauth2/token", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    req.send().await.expect("request")
}

fn decode(segment: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("json")
}

fn verifier(app: &TestApp) -> Verifier {
    let mut config = VerifierConfig::new(
        format!("{}/.well-known/jwks.json", app.address),
        app.settings.issuer(),
        app.settings.audiences()[0].clone(),
    );
    config.verified_cache_ttl = std::time::Duration::ZERO;
    Verifier::new(config).expect("verifier")
}

#[tokio::test]
async fn a_client_gets_an_at_jwt_that_backends_tell_from_a_learner_token() {
    let app = spawn_app().await;
    let grader = register(&app, "grader", &["profiles:read", "grades:write"]).await;
    let id = grader.client.id.to_string();

    // client_secret_basic, one scope asked for.
    let res = token_request(
        &app,
        "grant_type=client_credentials&scope=profiles%3Aread",
        Some(&basic(&id, &grader.secret)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "profiles:read");
    let token = body["access_token"].as_str().expect("token").to_owned();
    let parts: Vec<&str> = token.split('.').collect();
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["scope"], "profiles:read");
    assert_eq!(claims["iss"], app.settings.issuer().as_str());
    assert_eq!(claims["aud"], app.settings.audiences()[0].as_str());
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        300
    );
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert!(claims.get("email").is_none() && claims.get("sid").is_none());

    // A backend verifies it offline and sees a service, never a learner.
    let verifier = verifier(&app);
    let service = verifier
        .verify_service(&token)
        .await
        .expect("service token verifies");
    assert!(service.has_scope("profiles:read") && !service.has_scope("grades:write"));
    assert_eq!(
        verifier.verify(&token).await,
        Err(VerifyError::WrongKind {
            expected: "learner"
        })
    );
    let learner = app.user("learner@example.com").await;
    let jwt = test_stack::jwt_for(&app.http, &app.address, &learner.signed).await;
    assert_eq!(
        verifier.verify_service(&jwt).await.err(),
        Some(VerifyError::WrongKind {
            expected: "service"
        })
    );
    assert!(verifier.verify(&jwt).await.is_ok());

    // client_secret_post, no scope asked: every allowed scope.
    let res = token_request(
        &app,
        &format!(
            "grant_type=client_credentials&client_id={id}&client_secret={}",
            grader.secret
        ),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["scope"], "profiles:read grades:write");
    // The issuance is recorded.
    let rows = app
        .sql("SELECT last_issued_at IS NOT NULL FROM identity.oauth_clients")
        .await;
    assert!(rows[0].get::<_, bool>(0));

    // Discovery names the endpoint, the grant and the methods.
    let doc: Value = app
        .http
        .get(format!("{}/.well-known/openid-configuration", app.address))
        .send()
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    assert_eq!(
        doc["token_endpoint"],
        format!("{}/oauth2/token", app.settings.issuer())
    );
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
}

#[tokio::test]
async fn refusals_follow_rfc_6749() {
    let app = spawn_app().await;
    let c = register(&app, "job", &["profiles:read"]).await;
    let id = c.client.id.to_string();
    let good = basic(&id, &c.secret);
    let cases: Vec<(String, Option<String>, StatusCode, &str)> = vec![
        (
            "grant_type=client_credentials".into(),
            Some(basic(&id, "wrong-secret")),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "grant_type=client_credentials".into(),
            Some(basic(&uuid::Uuid::new_v4().to_string(), &c.secret)),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "grant_type=client_credentials".into(),
            Some(basic("not-a-uuid", "x")),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "grant_type=client_credentials".into(),
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "grant_type=password&username=a&password=b".into(),
            Some(good.clone()),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            "scope=profiles%3Aread".into(),
            Some(good.clone()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "grant_type=client_credentials&scope=profiles%3Awrite".into(),
            Some(good.clone()),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            "grant_type=client_credentials&resource=https%3A%2F%2Fevil.example".into(),
            Some(good.clone()),
            StatusCode::BAD_REQUEST,
            "invalid_target",
        ),
        (
            format!(
                "grant_type=client_credentials&client_id={id}&client_secret={}",
                c.secret
            ),
            Some(good.clone()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, auth, status, error) in cases {
        let res = token_request(&app, &body, auth.as_deref()).await;
        assert_eq!(res.status(), status, "{body}");
        check_error(res, status, error).await;
    }
    // Not form-encoded.
    let res = app
        .http
        .post(format!("{}/oauth2/token", app.address))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .expect("request");
    check_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    // A configured audience can be asked for.
    let res = token_request(
        &app,
        &format!(
            "grant_type=client_credentials&audience={}",
            app.settings.audiences()[0]
        ),
        Some(&good),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);

    // Disabled: no new tokens. Rotated: the old secret stops working at once.
    let db = app.state.pool.get().await.expect("pool");
    let rotated = client_credentials::rotate_secret(&db, &app.state.hasher, c.client.id)
        .await
        .expect("rotate");
    let old = token_request(&app, "grant_type=client_credentials", Some(&good)).await;
    check_error(old, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let new = token_request(
        &app,
        "grant_type=client_credentials",
        Some(&basic(&id, &rotated.secret)),
    )
    .await;
    assert_eq!(new.status(), StatusCode::OK);
    auth_server::db::oauth_clients::disable(&db, c.client.id)
        .await
        .expect("disable");
    let res = token_request(
        &app,
        "grant_type=client_credentials",
        Some(&basic(&id, &rotated.secret)),
    )
    .await;
    check_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

async fn check_error(res: Response, status: StatusCode, error: &str) {
    assert_eq!(res.status(), status);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["error_description"].is_string()
            && body["message"].is_string()
            && body["code"].is_string(),
        "{body}"
    );
    if status == StatusCode::UNAUTHORIZED {
        assert!(
            www.is_some_and(|w| w.starts_with("Basic")),
            "WWW-Authenticate on 401"
        );
    }
}

#[tokio::test]
async fn guessing_a_client_secret_is_rate_limited_per_client() {
    let app = spawn_app_with(|s| {
        s.rate_limit_enabled = true;
        s.rate_limit_max = 1000;
        s.rate_limit_account_max = 3;
        s.trusted_proxies = "127.0.0.1/32".into();
    })
    .await;
    let c = register(&app, "target", &["profiles:read"]).await;
    let id = c.client.id.to_string();
    let mut statuses = Vec::new();
    for i in 0..4 {
        let res = app
            .http
            .post(format!("{}/oauth2/token", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", basic(&id, &format!("guess-{i}")))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .body("grant_type=client_credentials")
            .send()
            .await
            .expect("request");
        statuses.push(res.status());
    }
    assert_eq!(statuses[..3], [StatusCode::UNAUTHORIZED; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

#[tokio::test]
async fn the_cli_creates_lists_rotates_disables_and_deletes_clients() {
    let app = spawn_app().await;
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth-server"))
            .args(args)
            .env("DATABASE_URL", &app.settings.database_url)
            .env(
                "AUTH_SECRET",
                app.settings.secret.as_deref().unwrap_or_default(),
            )
            .env(
                "AUTH_KEY_ENCRYPTION_SECRET",
                app.settings
                    .key_encryption_secret
                    .as_deref()
                    .unwrap_or_default(),
            )
            .env("AUTH_DEV_MODE", "true")
            .env("AUTH_LOG_FORMAT", "pretty")
            .output()
            .expect("run auth-server");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let field = |out: &str, name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("{name} not in {out}"))
    };
    let created = cli(&[
        "clients",
        "create",
        "analytics",
        "--scopes",
        "profiles:read",
    ]);
    let (id, secret) = (
        field(&created, "client_id:"),
        field(&created, "client_secret:"),
    );
    let stored: String = app
        .sql("SELECT secret_hash FROM identity.oauth_clients")
        .await[0]
        .get(0);
    assert!(stored.starts_with("$argon2id$") && !stored.contains(&secret));
    let res = token_request(
        &app,
        "grant_type=client_credentials",
        Some(&basic(&id, &secret)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);

    let listed = cli(&["clients", "list"]);
    assert!(
        listed.contains(&id)
            && listed.contains("analytics")
            && listed.contains("active")
            && !listed.contains(&secret),
        "{listed}"
    );
    let rotated = cli(&["clients", "rotate-secret", &id]);
    let new_secret = field(&rotated, "client_secret:");
    assert_ne!(new_secret, secret);
    cli(&["clients", "disable", &id]);
    assert!(cli(&["clients", "list"]).contains("disabled"));
    let res = token_request(
        &app,
        "grant_type=client_credentials",
        Some(&basic(&id, &new_secret)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    cli(&["clients", "delete", &id]);
    assert!(app
        .sql("SELECT 1 FROM identity.oauth_clients")
        .await
        .is_empty());
}
