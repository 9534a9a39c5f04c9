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

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

/// The `aud` claim as a list (a lone string counts as one).
fn audiences_of(claims: &Value) -> Vec<String> {
    match &claims["aud"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(list) => list
            .iter()
            .map(|v| v.as_str().expect("aud string").to_owned())
            .collect(),
        other => panic!("aud is {other}"),
    }
}

/// Two more auth-servers on the app's database (so the same signing keys and
/// sessions), configured alike except for `wrong` vs `right`; returns one JWT from
/// each for the same session.
async fn jwts_differing_only_by(
    app: &TestApp,
    wrong: impl FnOnce(&mut auth_server::Settings),
    right: impl FnOnce(&mut auth_server::Settings),
) -> (TestUser, String) {
    let mut wrong_settings = auth_settings(&app.db);
    wrong(&mut wrong_settings);
    let mut right_settings = auth_settings(&app.db);
    right(&mut right_settings);
    let wrong_issuer = start_auth(wrong_settings).await;
    let right_issuer = start_auth(right_settings).await;
    let user = right_issuer
        .user(&format!(
            "claims-{}@example.com",
            uuid::Uuid::new_v4().simple()
        ))
        .await;
    let wrong_jwt = wrong_issuer.jwt_for(&user.session).await;
    (user, wrong_jwt)
}

#[tokio::test]
async fn tokens_for_another_issuer_are_refused() {
    let app = spawn_app().await;
    let (control, wrong) = jwts_differing_only_by(
        &app,
        // The audience defaults to the issuer: pin it, so only `iss` changes.
        |s| {
            s.jwt_issuer = Some("http://localhost:4200".into());
            s.jwt_audience = AUTH_BASE_URL.into();
        },
        |s| {
            s.jwt_issuer = Some(AUTH_BASE_URL.into());
            s.jwt_audience = AUTH_BASE_URL.into();
        },
    )
    .await;
    // Only the issuer differs: same audience, subject and key.
    let (bad, good) = (claims_of(&wrong), claims_of(&control.jwt));
    assert_eq!(bad["iss"], "http://localhost:4200");
    assert_eq!(good["iss"], AUTH_BASE_URL);
    assert_eq!(audiences_of(&bad), vec![AUTH_BASE_URL.to_owned()]);
    assert_eq!(audiences_of(&good), audiences_of(&bad));
    assert_eq!(bad["sub"], good["sub"]);
    assert_eq!(kid_of(&wrong), kid_of(&control.jwt));

    refused_while_the_control_works(&app, &wrong, &control.jwt).await;
}

#[tokio::test]
async fn tokens_for_another_audience_are_refused() {
    let app = spawn_app().await;
    let (control, wrong) = jwts_differing_only_by(
        &app,
        |s| s.jwt_audience = "some-other-api".into(),
        |s| s.jwt_audience = AUTH_BASE_URL.into(),
    )
    .await;
    // Only the audience differs: same issuer, subject and key.
    let (bad, good) = (claims_of(&wrong), claims_of(&control.jwt));
    assert_eq!(audiences_of(&bad), vec!["some-other-api".to_owned()]);
    assert_eq!(audiences_of(&good), vec![AUTH_BASE_URL.to_owned()]);
    assert_eq!(bad["iss"], AUTH_BASE_URL);
    assert_eq!(good["iss"], bad["iss"]);
    assert_eq!(bad["sub"], good["sub"]);
    assert_eq!(kid_of(&wrong), kid_of(&control.jwt));

    refused_while_the_control_works(&app, &wrong, &control.jwt).await;
}

/// `wrong` is refused, while `control` (same setup, right value) creates and reads
/// a profile; `wrong` stays refused once the profile exists.
async fn refused_while_the_control_works(app: &TestApp, wrong: &str, control: &str) {
    let res = app.get_profile(wrong).await;
    assert_unauthorized(res, "INVALID_TOKEN", r#"Bearer error="invalid_token""#).await;
    assert_eq!(
        app.put_profile(control, &json!({"display_name": "Control"}))
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(app.get_profile(control).await.status(), StatusCode::OK);
    let res = app.get_profile(wrong).await;
    assert_unauthorized(res, "INVALID_TOKEN", r#"Bearer error="invalid_token""#).await;
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
    // A token under the old key that the profile-api has never seen, so no
    // verified-token cache can answer for it after the rotation. (The auth-server
    // hands one session the same JWT again, so it is another user's.)
    let unseen_old = app.user("rotate-unseen@example.com").await.jwt;
    assert_ne!(unseen_old, user.jwt);
    assert_eq!(kid_of(&unseen_old), old_kid);
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
    // Tokens signed by the retired key stay valid until they expire: the JWKS still
    // publishes it after the promotion, and a routine `keys retire` keeps it too.
    let removed = keys::retire(&auth.pool, &auth.keys, None)
        .await
        .expect("retire");
    assert!(removed.is_empty(), "retired too early: {removed:?}");
    auth.keys.reload(&auth.pool).await.expect("reload");
    // Drop whatever the verifier held: only the JWKS served now counts.
    app.state.verifier.refresh().await.expect("refetch");
    assert_eq!(app.state.verifier.fetch_count(), fetches + 2);
    // Authenticated (a 401 otherwise); that user has no profile yet.
    assert_error(
        app.get_profile(&unseen_old).await,
        StatusCode::NOT_FOUND,
        "PROFILE_NOT_FOUND",
    )
    .await;
    assert_eq!(app.state.verifier.fetch_count(), fetches + 2);
}
