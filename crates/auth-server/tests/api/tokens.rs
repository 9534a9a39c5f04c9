use std::collections::HashSet;

use auth_server::keys::{self, KeyEvent};
use josekit::jwk::JwkSet;
use josekit::jws::RS256;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// Verifies a JWT against the app's published JWKS; returns (header kid, claims).
async fn verify(app_address: &str, token: &str) -> Result<(String, Value), String> {
    let jwks = reqwest::get(format!("{app_address}/.well-known/jwks.json"))
        .await
        .expect("jwks")
        .bytes()
        .await
        .expect("body");
    let set = JwkSet::from_bytes(&jwks).expect("jwk set");
    let kid = header_of(token)["kid"].as_str().ok_or("no kid")?.to_owned();
    let jwk = *set.get(&kid).first().ok_or("unknown kid")?;
    let verifier = RS256.verifier_from_jwk(jwk).map_err(|e| e.to_string())?;
    let (payload, header) =
        josekit::jwt::decode_with_verifier(token, &verifier).map_err(|e| e.to_string())?;
    let claims: Value = serde_json::from_str(&payload.to_string()).expect("claims");
    Ok((header.key_id().expect("kid").to_owned(), claims))
}

/// `GET /api/auth/token` on the instance at `address`, asserting 200.
async fn token_at(address: &str, bearer: &str) -> String {
    test_stack::jwt_for(&reqwest::Client::new(), address, bearer).await
}

async fn token_of(app: &TestApp, bearer: &str) -> String {
    token_at(&app.address, bearer).await
}

fn header_of(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("b64");
    serde_json::from_slice(&bytes).expect("json")
}

#[tokio::test]
async fn token_endpoint_mints_rs256_jwts_with_our_claims() {
    let app = spawn_app_with(|s| s.jwt_lifetime = 600).await;
    let user = app.user("jwt@example.com").await;
    let token = token_of(&app, &user.signed).await;
    let header = header_of(&token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let (kid, claims) = verify(&app.address, &token).await.expect("verifies");
    assert_eq!(header["kid"], kid.as_str());
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["id"], user.id.as_str());
    assert_eq!(claims["iss"], "http://localhost:4100");
    assert_eq!(claims["aud"], "http://localhost:4100");
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["email"], "jwt@example.com");
    assert_eq!(claims["emailVerified"], false);
    let iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(claims["exp"].as_i64().expect("exp") - iat, 600);
    assert_eq!(claims["nbf"].as_i64().expect("nbf"), iat);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    let session = app.session_of(&user.signed).await;
    assert_eq!(claims["sid"], session["session"]["id"]);
    assert_error(
        app.http.get(app.url("/token")).send().await.expect("r"),
        StatusCode::UNAUTHORIZED,
        Some("UNAUTHORIZED"),
    )
    .await;
}

#[tokio::test]
async fn configured_audiences_become_an_array() {
    let app = spawn_app_with(|s| {
        s.jwt_audience = "profile-api,other-api".into();
        s.jwt_issuer = Some("https://auth.example.com".into());
    })
    .await;
    let user = app.user("aud@example.com").await;
    let (_, claims) = verify(&app.address, &token_of(&app, &user.signed).await)
        .await
        .expect("verifies");
    assert_eq!(claims["aud"], json!(["profile-api", "other-api"]));
    assert_eq!(claims["iss"], "https://auth.example.com");
}

#[tokio::test]
async fn get_session_carries_a_reused_jwt_that_changes_with_the_user() {
    let app = spawn_app().await;
    let user = app.user("reuse@example.com").await;
    let jwt = |res: &reqwest::Response| {
        res.headers()
            .get("set-auth-jwt")
            .expect("set-auth-jwt")
            .to_str()
            .expect("ascii")
            .to_owned()
    };
    let first = jwt(&app.get_bearer("/get-session", &user.signed).await);
    let second = jwt(&app.get_bearer("/get-session", &user.signed).await);
    assert_eq!(first, second, "reused while fresh");
    assert_eq!(token_of(&app, &user.signed).await, first);
    // Another session of the same user gets its own token.
    let other = app.sign_in(&user.email, &user.password).await;
    assert_ne!(jwt(&app.get_bearer("/get-session", &other).await), first);
    // update-user drops it: the new token carries the new name.
    app.post_bearer("/update-user", &user.signed, &json!({"name": "Renamed"}))
        .await;
    let third = jwt(&app.get_bearer("/get-session", &user.signed).await);
    assert_ne!(third, first);
    let (_, claims) = verify(&app.address, &third).await.expect("verifies");
    assert_eq!(claims["name"], "Renamed");
    // No session: no JWT header.
    let res = app
        .http
        .get(app.url("/get-session"))
        .send()
        .await
        .expect("r");
    assert!(res.headers().get("set-auth-jwt").is_none());
}

#[tokio::test]
async fn revoked_or_signed_out_sessions_get_no_tokens() {
    let app = spawn_app().await;
    let user = app.user("revoked@example.com").await;
    let other = app.sign_in(&user.email, &user.password).await;
    token_of(&app, &other).await;
    app.post_bearer("/revoke-other-sessions", &user.signed, &json!({}))
        .await;
    assert_eq!(
        app.get_bearer("/token", &other).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.post_bearer("/sign-out", &user.signed, &json!({})).await;
    assert_eq!(
        app.get_bearer("/token", &user.signed).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn jwks_and_discovery_are_standard() {
    let app = spawn_app().await;
    for path in ["/api/auth/jwks", "/.well-known/jwks.json"] {
        let res = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("r");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers().get("cache-control").expect("cc"),
            "public, max-age=600"
        );
        let body: Value = res.json().await.expect("json");
        let keys = body["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 1);
        for field in ["kty", "alg", "use", "kid", "n", "e"] {
            assert!(keys[0][field].is_string(), "{field} missing in {}", keys[0]);
        }
        assert_eq!(keys[0]["kty"], "RSA");
        assert_eq!(keys[0]["alg"], "RS256");
        assert_eq!(keys[0]["use"], "sig");
        assert!(keys[0].get("d").is_none(), "no private parts");
    }
    let res = app
        .http
        .get(format!("{}/.well-known/openid-configuration", app.address))
        .send()
        .await
        .expect("r");
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["issuer"], "http://localhost:4100");
    assert_eq!(
        body["jwks_uri"],
        "http://localhost:4100/.well-known/jwks.json"
    );
    assert_eq!(
        body["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
}

#[tokio::test]
async fn private_keys_are_sealed_and_survive_a_secret_rotation() {
    let app = spawn_app().await;
    let rows = app
        .sql("SELECT kid, sealed_private, kek_id FROM identity.signing_keys")
        .await;
    assert_eq!(rows.len(), 1);
    let kid: String = rows[0].get(0);
    let sealed: Vec<u8> = rows[0].get(1);
    // Not a parseable key without the secret.
    assert!(RS256.signer_from_der(&sealed).is_err());
    assert!(RS256.signer_from_pem(&sealed).is_err());
    assert!(openssl::pkey::PKey::private_key_from_der(&sealed).is_err());
    assert!(!String::from_utf8_lossy(&sealed).contains("PRIVATE KEY"));

    // A new key-encryption secret with the old one listed as previous still signs.
    let mut rotated = app.settings.clone();
    rotated.key_encryption_secret = Some("a-brand-new-key-encryption-secret-xyz-123".into());
    rotated.previous_key_encryption_secrets = TEST_KEK.into();
    let (address, _) = start(rotated.clone()).await;
    let user = app.user("kek@example.com").await;
    let token = token_at(&address, &user.signed).await;
    let (used, _) = verify(&address, &token).await.expect("verifies");
    assert_eq!(used, kid);

    // Without the previous secret the key cannot be opened: the instance refuses to start.
    let mut forgotten = rotated.clone();
    forgotten.previous_key_encryption_secrets = String::new();
    assert!(auth_server::Application::build(forgotten.clone())
        .await
        .is_err());

    // After `keys reseal` the old secret is no longer needed.
    let state = auth_server::Application::build(rotated)
        .await
        .expect("builds")
        .state();
    assert_eq!(
        keys::reseal(&state.pool, state.keys.sealer())
            .await
            .expect("reseal"),
        1
    );
    assert!(auth_server::Application::build(forgotten).await.is_ok());
}

#[tokio::test]
async fn rotation_end_to_end_without_unknown_kids() {
    let app = spawn_app_with(|s| {
        // The background lifecycle never ticks here; the test drives every step.
        s.jwks_max_age = 600;
        s.key_refresh_interval = 3600;
        s.jwt_lifetime = 60;
    })
    .await;
    let state = app.state.clone();
    let user = app.user("rotate@example.com").await;
    let before = token_of(&app, &user.signed).await;
    let (old_kid, _) = verify(&app.address, &before).await.expect("verifies");

    // Step 1: a next key is published, not yet signing.
    let created = keys::rotate(&state.pool, &state.keys, false)
        .await
        .expect("rotate");
    let KeyEvent::Created {
        kid: new_kid,
        state: "next",
    } = created
    else {
        panic!("expected a next key, got {created:?}");
    };
    state.keys.reload(&state.pool).await.expect("reload");
    let published: Vec<Value> = reqwest::get(format!("{}/api/auth/jwks", app.address))
        .await
        .expect("r")
        .json::<Value>()
        .await
        .expect("json")["keys"]
        .as_array()
        .expect("keys")
        .clone();
    let kids: HashSet<&str> = published
        .iter()
        .map(|k| k["kid"].as_str().expect("kid"))
        .collect();
    assert_eq!(kids, HashSet::from([old_kid.as_str(), new_kid.as_str()]));
    assert_eq!(
        token_of(&app, &user.signed).await,
        before,
        "old key still signs"
    );

    // Step 2: it may not sign before validators' JWKS caches (max-age) have seen it …
    let early = keys::rotate(&state.pool, &state.keys, false).await;
    assert!(
        early.is_err(),
        "promotion before the publish delay is refused"
    );
    // … once that time has passed (here: moved back), it is promoted.
    app.sql("UPDATE identity.signing_keys SET created_at = created_at - interval '2 hours' WHERE state = 'next'")
        .await;
    let promoted = keys::rotate(&state.pool, &state.keys, false)
        .await
        .expect("promote");
    assert_eq!(
        promoted,
        KeyEvent::Promoted {
            kid: new_kid.clone()
        }
    );
    state.keys.reload(&state.pool).await.expect("reload");
    let after = token_of(&app, &user.signed).await;
    let (kid_after, _) = verify(&app.address, &after)
        .await
        .expect("new token verifies");
    assert_eq!(kid_after, new_kid);
    let (kid_before, _) = verify(&app.address, &before)
        .await
        .expect("old token still verifies");
    assert_eq!(kid_before, old_kid);

    // Step 3: retire removes the old key only once its tokens have expired.
    assert!(keys::retire(&state.pool, &state.keys, None)
        .await
        .expect("retire")
        .is_empty());
    app.sql("UPDATE identity.signing_keys SET retired_at = retired_at - interval '2 hours' WHERE state = 'retired'")
        .await;
    let removed = keys::retire(&state.pool, &state.keys, None)
        .await
        .expect("retire");
    assert_eq!(
        removed,
        vec![KeyEvent::Removed {
            kid: old_kid.clone()
        }]
    );
    state.keys.reload(&state.pool).await.expect("reload");
    assert!(
        verify(&app.address, &before).await.is_err(),
        "old kid left the JWKS"
    );
    let rows = app
        .sql("SELECT sealed_private IS NULL FROM identity.signing_keys WHERE state = 'removed'")
        .await;
    assert!(rows[0].get::<_, bool>(0), "removed key is wiped");
}

#[tokio::test]
async fn instances_agree_on_one_key_and_pick_up_rotations() {
    let app = spawn_app_with(|s| {
        // Dev mode: timings below the verifier's floors, so rotations take seconds.
        s.dev_mode = true;
        s.jwks_max_age = 0;
        s.key_refresh_interval = 1;
    })
    .await;
    // Start from no key at all, then start two more instances together.
    app.sql("DELETE FROM identity.signing_keys").await;
    let (a, b) = tokio::join!(start(app.settings.clone()), start(app.settings.clone()));
    let rows = app.sql("SELECT kid FROM identity.signing_keys").await;
    assert_eq!(rows.len(), 1, "exactly one first key");
    let kid: String = rows[0].get(0);
    let user = app.user("pair@example.com").await;
    for (address, _) in [&a, &b] {
        let token = token_at(address, &user.signed).await;
        assert_eq!(header_of(&token)["kid"], kid.as_str());
    }
    // A rotation forced through instance A reaches instance B by its refresh loop.
    let sa = &a.1;
    keys::rotate(&sa.pool, &sa.keys, false).await.expect("next");
    let KeyEvent::Promoted { kid: new_kid } = keys::rotate(&sa.pool, &sa.keys, true)
        .await
        .expect("promote")
    else {
        panic!("expected promotion");
    };
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let current =
        b.1.keys
            .snapshot()
            .current
            .as_ref()
            .expect("key")
            .kid
            .clone();
    assert_eq!(current, new_kid);
}

#[tokio::test]
async fn automatic_rotation_publishes_then_promotes() {
    let app = spawn_app_with(|s| {
        // Dev mode: timings below the verifier's floors, so rotations take seconds.
        s.dev_mode = true;
        s.jwks_max_age = 0;
        s.key_refresh_interval = 1;
        s.key_rotation_interval = 2;
    })
    .await;
    let first: String = app.sql("SELECT kid FROM identity.signing_keys").await[0].get(0);
    // interval 2 s, publish delay 1 s: a next key appears after ~1 s, signs after ~2 s.
    tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
    let rows = app
        .sql("SELECT kid, state FROM identity.signing_keys ORDER BY created_at")
        .await;
    assert!(rows.len() >= 2, "a rotation happened");
    let current: Vec<String> = rows
        .iter()
        .filter(|r| r.get::<_, String>(1) == "current")
        .map(|r| r.get(0))
        .collect();
    assert_eq!(current.len(), 1);
    assert_ne!(current[0], first);
    let old_state: String = rows[0].get(1);
    assert_eq!(old_state, "retired");
}

#[tokio::test]
async fn publish_delay_counts_from_when_the_key_became_visible() {
    let app = spawn_app().await;
    // Another transaction holds the lifecycle lock while a rotation starts.
    let mut holder = app.db.client().await;
    let tx = holder.transaction().await.expect("tx");
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&auth_server::db::signing_keys::KEYS_LOCK],
    )
    .await
    .expect("lock");
    let state = app.state.clone();
    let rotation = tokio::spawn(async move { keys::rotate(&state.pool, &state.keys, false).await });
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(!rotation.is_finished(), "rotation waits for the lock");
    let released: chrono::DateTime<chrono::Utc> = tx
        .query_one("SELECT clock_timestamp()", &[])
        .await
        .expect("time")
        .get(0);
    tx.commit().await.expect("release");
    let KeyEvent::Created { kid, state } = rotation.await.expect("task").expect("rotate") else {
        panic!("expected a new key");
    };
    assert_eq!(state, "next");
    let created: chrono::DateTime<chrono::Utc> = app
        .db
        .client()
        .await
        .query_one(
            "SELECT created_at FROM identity.signing_keys WHERE kid = $1",
            &[&kid],
        )
        .await
        .expect("row")
        .get(0);
    assert!(
        created >= released,
        "publish time {created} precedes the lock release {released}: the key would sign before it was published for the whole delay"
    );
    // So the key cannot be promoted (sign) until the full delay after visibility.
    let early = keys::rotate(&app.state.pool, &app.state.keys, false).await;
    assert!(early.is_err(), "promoted before the publish delay");
    assert!(keys::maintain(&app.state.pool, &app.state.keys)
        .await
        .expect("maintain")
        .iter()
        .all(|e| !matches!(e, KeyEvent::Promoted { .. })));
}

#[tokio::test]
async fn with_no_key_loaded_token_is_503_and_sign_up_still_succeeds_without_a_jwt() {
    let app = spawn_app().await;
    // Every key removed under the running instance, and its next reload sees that.
    app.sql("DELETE FROM identity.signing_keys").await;
    app.state
        .keys
        .reload(&app.state.pool)
        .await
        .expect("reload");

    let res = app
        .sign_up_response("nokey@example.com", "long-enough-1")
        .await;
    assert_eq!(res.status(), reqwest::StatusCode::OK, "the account is made");
    assert!(!res.headers().contains_key("set-auth-jwt"));
    let signed = header_text(&res, "set-auth-token");
    let res = app.get_bearer("/token", &signed).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_error(
        res,
        reqwest::StatusCode::SERVICE_UNAVAILABLE,
        Some("SERVICE_UNAVAILABLE"),
    )
    .await;
    // get-session still answers, without the JWT header.
    let res = app.get_bearer("/get-session", &signed).await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    assert!(!res.headers().contains_key("set-auth-jwt"));
}
