use auth_server::keys::{self, KeyEvent};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().expect("header");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64")).expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}

async fn assert_unauthorized(res: reqwest::Response, code: &str, challenge: &str) {
    assert_eq!(
        res.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().expect("ascii")),
        Some(challenge)
    );
    let body = assert_error(res, StatusCode::UNAUTHORIZED, code).await;
    // The reason is logged, never told.
    assert!(body.get("field").is_none());
}

#[tokio::test]
async fn every_endpoint_needs_a_bearer_token() {
    let app = spawn_app().await;
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        // Even with a body that would fail validation: authentication comes first.
        let res = send(
            app.http
                .request(method.clone(), app.url("/api/profile"))
                .json(&json!({"display_name": ""})),
        )
        .await;
        assert_unauthorized(res, "UNAUTHORIZED", "Bearer").await;
        // Another scheme counts as no credentials.
        let res = send(
            app.http
                .request(method.clone(), app.url("/api/profile"))
                .header("authorization", "Basic dXNlcjpwYXNz"),
        )
        .await;
        assert_unauthorized(res, "UNAUTHORIZED", "Bearer").await;
    }
}

#[tokio::test]
async fn bad_tokens_are_401_invalid_token() {
    let app = spawn_app().await;
    let user = app.user("badtoken@example.com").await;
    let (header, rest) = user.jwt.split_once('.').expect("jwt");
    let (payload, signature) = rest.split_once('.').expect("jwt");
    // The same claims with a different `sub`, under the original signature.
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
    claims["sub"] = json!(uuid::Uuid::new_v4().to_string());
    let forged = format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let bad = [
        "garbage".to_owned(),
        // The auth-server session token is not a JWT.
        user.session.clone(),
        forged,
        format!("{header}.{payload}."),
        user.jwt[..user.jwt.len() - 4].to_owned(),
        "x".repeat(20_000),
    ];
    for token in bad {
        let res = app.get_profile(&token).await;
        assert_unauthorized(res, "INVALID_TOKEN", r#"Bearer error="invalid_token""#).await;
    }
    // The genuine token works.
    assert_error(
        app.get_profile(&user.jwt).await,
        StatusCode::NOT_FOUND,
        "PROFILE_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn tokens_for_another_issuer_or_audience_are_refused() {
    let app = spawn_app().await;
    // Same database and signing keys, so the signatures are fine; only the claims differ.
    let mut other_iss = auth_settings(&app.db);
    other_iss.base_url = "http://localhost:4200".into();
    let mut other_aud = auth_settings(&app.db);
    other_aud.jwt_audience = "some-other-api".into();
    for settings in [other_iss, other_aud] {
        let issuer = start_auth(settings).await;
        let user = issuer
            .user(&format!(
                "other-{}@example.com",
                uuid::Uuid::new_v4().simple()
            ))
            .await;
        let res = app.get_profile(&user.jwt).await;
        assert_unauthorized(res, "INVALID_TOKEN", r#"Bearer error="invalid_token""#).await;
    }
}

#[tokio::test]
async fn a_key_rotation_on_the_auth_server_is_picked_up_without_restart() {
    // A forced rotation skips the publish delay that normally lets every validator
    // see the next key before it signs, so here the profile-api meets the new `kid`
    // cold: the zero cooldown lets that unknown kid trigger one refetch at once.
    let app = spawn_app_with(|s| s.jwks_refetch_cooldown = 0).await;
    let user = app.user("rotate@example.com").await;
    assert_eq!(
        app.put_profile(&user.jwt, &json!({"display_name": "Before"}))
            .await
            .status(),
        StatusCode::CREATED
    );
    let old_kid = kid_of(&user.jwt);
    let fetches = app.state.verifier.fetch_count();

    let auth = &app.auth.state;
    let created = keys::rotate(&auth.pool, &auth.keys, true)
        .await
        .expect("next");
    assert!(matches!(created, KeyEvent::Created { .. }), "{created:?}");
    let promoted = keys::rotate(&auth.pool, &auth.keys, true)
        .await
        .expect("promote");
    let KeyEvent::Promoted { kid: new_kid } = promoted else {
        panic!("expected a promotion, got {promoted:?}");
    };
    auth.keys.reload(&auth.pool).await.expect("reload");

    let new_jwt = app.jwt_for(&user.session).await;
    assert_eq!(kid_of(&new_jwt), new_kid);
    assert_ne!(new_kid, old_kid);
    let (_, body) = profile_of(app.get_profile(&new_jwt).await, StatusCode::OK).await;
    assert_eq!(body["display_name"], "Before");
    assert_eq!(
        app.state.verifier.fetch_count(),
        fetches + 1,
        "one refetch for the new kid"
    );
    // Tokens signed by the retired key stay valid until they expire.
    assert_eq!(app.get_profile(&user.jwt).await.status(), StatusCode::OK);
    assert_eq!(app.state.verifier.fetch_count(), fetches + 1);
}
