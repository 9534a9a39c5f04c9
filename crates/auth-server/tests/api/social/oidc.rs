//! The OpenID Connect flow: new and returning users, the state, the nonce and the
//! ID token's checks, provider errors and outages.

use oidc_provider::{Quirk, User};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::*;

#[tokio::test]
async fn a_new_user_signs_up_then_comes_back_as_the_same_user() {
    let (app, provider) = app_with_provider(|_| {}).await;
    provider.login_as(User {
        picture: Some("https://img.example.com/ada.png".into()),
        name: Some("Ada Lovelace".into()),
        ..User::new("sub-ada", "Ada@Example.com")
    });
    let browser = Browser::new();
    let url = browser
        .start(
            &app,
            "/sign-in/social",
            json!({"provider": "mock", "callbackURL": DONE, "newUserCallbackURL": WELCOME, "errorCallbackURL": OOPS}),
        )
        .await;
    // The authorization request: code flow, S256 PKCE, a nonce, our redirect URI.
    let url = url::Url::parse(&url).expect("url");
    assert!(url
        .as_str()
        .starts_with(&format!("{}/authorize?", provider.issuer())));
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["nonce"].len() >= 16);
    assert_eq!(
        q["redirect_uri"],
        format!("{}/api/auth/callback/mock", test_stack::AUTH_BASE_URL)
    );
    let scopes: Vec<&str> = q["scope"].split(' ').collect();
    assert!(
        scopes.contains(&"openid") && scopes.contains(&"email"),
        "{scopes:?}"
    );
    // Only a hash of the state is stored.
    let state = &q["state"];
    let stored = app
        .sql("SELECT state_hash FROM identity.oauth_states")
        .await;
    assert_eq!(stored.len(), 1);
    let hash: Vec<u8> = stored[0].get(0);
    assert_ne!(hash, state.as_bytes());

    let back = browser.authorize(&app, url.as_str()).await;
    let res = browser.get(&back).await;
    assert_eq!(
        location(&res),
        WELCOME,
        "a new user lands on newUserCallbackURL"
    );
    let cookies = set_cookies(res.headers());
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("better-auth.session_token=")),
        "{cookies:?}"
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("better-auth.state=;") && c.contains("Max-Age=0")),
        "{cookies:?}"
    );
    // The code was exchanged with the PKCE verifier and the client's secret.
    let token_request = provider.last_token_request().expect("token request");
    assert_eq!(token_request["grant_type"], "authorization_code");
    assert!(token_request["code_verifier"].len() >= 43);
    assert_ne!(token_request["client_auth"], "none");
    // The ID token carried the e-mail, so userinfo was not asked.
    assert_eq!(provider.counts().userinfo, 0);

    let session = browser.session(&app).await;
    let user = &session["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["emailVerified"], true);
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["image"], "https://img.example.com/ada.png");
    assert_eq!(
        accounts_of(&app, "ada@example.com").await,
        vec![("mock".to_owned(), "sub-ada".to_owned())]
    );
    assert_eq!(
        count(&app, "identity.oauth_states").await,
        0,
        "the state is spent"
    );
    // No provider token is kept unless asked.
    let kept = app
        .sql("SELECT count(*) FROM identity.accounts WHERE access_token_sealed IS NOT NULL")
        .await;
    assert_eq!(kept[0].get::<_, i64>(0), 0);

    // Next time: the same user, to callbackURL.
    let again = Browser::new();
    let res = again.sign_in(&app, "mock", json!({})).await;
    assert_eq!(location(&res), DONE);
    assert_eq!(again.session(&app).await["user"]["id"], user["id"]);
    assert_eq!(count(&app, "identity.users").await, 1);
    // Each step is in the audit trail.
    let events: Vec<String> = app
        .sql("SELECT event FROM identity.audit_log WHERE user_id IS NOT NULL ORDER BY id")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(events, ["sign_up", "sign_in", "sign_in"]);
}

#[tokio::test]
async fn an_imported_supabase_identity_signs_in_under_its_uuid() {
    let (app, provider) = app_with_provider(|_| {}).await;
    let id = "6f1c0d5e-3b7a-4c8e-9d2f-0a1b2c3d4e5f";
    app.sql(&format!(
        "INSERT INTO identity.users (id, name, email, email_verified) VALUES ('{id}', 'Grace', 'grace@example.com', true)"
    ))
    .await;
    app.sql(&format!(
        "INSERT INTO identity.accounts (user_id, provider_id, account_id) VALUES ('{id}', 'google', '109876543210')"
    ))
    .await;
    // Google now reports another address: the subject decides, not the e-mail.
    provider.login_as(User::new("109876543210", "grace.hopper@example.com"));
    let browser = Browser::new();
    let res = browser.sign_in(&app, "google", json!({})).await;
    assert_eq!(location(&res), DONE);
    let session = browser.session(&app).await;
    assert_eq!(session["user"]["id"], id);
    assert_eq!(session["user"]["email"], "grace@example.com");
    assert_eq!(count(&app, "identity.users").await, 1);
    // Google's authorization URL asks for incremental scopes, like Better Auth's.
    let q = provider.last_authorize().expect("authorize");
    assert_eq!(q["include_granted_scopes"], "true");
}

#[tokio::test]
async fn the_state_must_be_known_unused_and_from_the_same_browser() {
    let (app, provider) = app_with_provider(|_| {}).await;
    provider.login_as(User::new("sub-state", "state@example.com"));
    let error_page = format!("{}/api/auth/error", test_stack::AUTH_BASE_URL);

    // No state; a forged one.
    let anyone = Browser::new();
    let res = anyone.get(&app.url("/callback/mock?code=x")).await;
    assert_eq!(
        location(&res),
        format!("{error_page}?error=state_not_found")
    );
    let res = anyone
        .get(&app.url("/callback/mock?code=x&state=forged"))
        .await;
    assert_eq!(location(&res), format!("{error_page}?error=state_mismatch"));

    // A state carried to another browser (a login-CSRF attempt) is refused there
    // and left for its own browser, which then finishes.
    let victim = Browser::new();
    let url = victim
        .start(
            &app,
            "/sign-in/social",
            json!({"provider": "mock", "callbackURL": DONE, "errorCallbackURL": OOPS}),
        )
        .await;
    let back = victim.authorize(&app, &url).await;
    let attacker = Browser::new();
    let res = attacker.get(&back).await;
    assert_eq!(location(&res), format!("{OOPS}?error=state_mismatch"));
    assert!(attacker.session(&app).await.is_null());
    let res = victim.get(&back).await;
    assert_eq!(location(&res), DONE);

    // Used once: replaying the callback is refused.
    let res = victim.get(&back).await;
    assert_eq!(location(&res), format!("{error_page}?error=state_mismatch"));

    // An expired state.
    let late = Browser::new();
    let url = late
        .start(
            &app,
            "/sign-in/social",
            json!({"provider": "mock", "errorCallbackURL": OOPS}),
        )
        .await;
    let back = late.authorize(&app, &url).await;
    app.sql("UPDATE identity.oauth_states SET expires_at = now() - interval '1 second'")
        .await;
    let res = late.get(&back).await;
    assert_eq!(location(&res), format!("{OOPS}?error=state_mismatch"));
    assert!(set_cookies(res.headers())
        .join(";")
        .contains("better-auth.state=;"));
    assert!(late.session(&app).await.is_null());

    // A state started for one provider cannot finish at another's callback.
    let other = Browser::new();
    let url = other
        .start(
            &app,
            "/sign-in/social",
            json!({"provider": "mock", "errorCallbackURL": OOPS}),
        )
        .await;
    let back = other.authorize(&app, &url).await;
    let res = other
        .get(&back.replace("/callback/mock", "/callback/google"))
        .await;
    assert_eq!(location(&res), format!("{OOPS}?error=state_mismatch"));
}

/// Signs in while the provider misbehaves; the error code the site receives.
async fn refused_with(quirk: Quirk) -> (String, TestApp) {
    let (app, provider) = app_with_provider(|_| {}).await;
    provider.login_as(User::new("sub-quirk", "quirk@example.com"));
    provider.set_quirk(quirk);
    let browser = Browser::new();
    let res = browser.sign_in(&app, "mock", json!({})).await;
    let to = location(&res);
    assert!(browser.session(&app).await.is_null(), "{quirk:?} signed in");
    (to, app)
}

#[tokio::test]
async fn id_tokens_that_do_not_check_out_are_refused() {
    for quirk in [
        Quirk::WrongNonce,
        Quirk::RogueKey,
        Quirk::Expired,
        Quirk::WrongIssuer,
        Quirk::WrongAudience,
    ] {
        let (to, app) = refused_with(quirk).await;
        assert_eq!(
            to,
            format!("{OOPS}?error=unable_to_get_user_info"),
            "{quirk:?}"
        );
        assert_eq!(count(&app, "identity.users").await, 0, "{quirk:?}");
    }
}

#[tokio::test]
async fn a_provider_error_and_a_string_email_verified_are_handled() {
    let (to, _) = refused_with(Quirk::DenyAuthorize).await;
    assert_eq!(
        to,
        format!("{OOPS}?error=access_denied&error_description=The%20user%20said%20no")
    );
    // "email_verified": "true" (some providers) counts as true.
    let (app, provider) = app_with_provider(|_| {}).await;
    provider.login_as(User::new("sub-str", "str@example.com"));
    provider.set_quirk(Quirk::EmailVerifiedAsString);
    let browser = Browser::new();
    let res = browser.sign_in(&app, "mock", json!({})).await;
    assert_eq!(location(&res), WELCOME);
    assert_eq!(browser.session(&app).await["user"]["emailVerified"], true);
}

#[tokio::test]
async fn no_code_and_a_foreign_issuer_are_refused() {
    let (app, provider) = app_with_provider(|_| {}).await;
    provider.login_as(User::new("sub-iss", "iss@example.com"));
    let browser = Browser::new();
    let url = browser
        .start(
            &app,
            "/sign-in/social",
            json!({"provider": "mock", "errorCallbackURL": OOPS}),
        )
        .await;
    let back = browser.authorize(&app, &url).await;
    let res = browser
        .get(&with_param(&back, "iss", "http://evil.example"))
        .await;
    assert_eq!(location(&res), format!("{OOPS}?error=issuer_mismatch"));

    let url = browser
        .start(
            &app,
            "/sign-in/social",
            json!({"provider": "mock", "errorCallbackURL": OOPS}),
        )
        .await;
    let state = url::Url::parse(&url)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let res = browser
        .get(&app.url(&format!("/callback/mock?state={state}")))
        .await;
    assert_eq!(location(&res), format!("{OOPS}?error=no_code"));
    assert_eq!(provider.counts().token, 0);
}

#[tokio::test]
async fn a_form_post_callback_is_turned_into_the_get_form() {
    let (app, _provider) = app_with_provider(|_| {}).await;
    let res = Browser::new()
        .http
        .post(app.url("/callback/mock"))
        .form(&[("code", "c 1"), ("state", "s")])
        .send()
        .await
        .expect("post");
    assert_eq!(
        location(&res),
        format!(
            "{}/api/auth/callback/mock?code=c%201&state=s",
            test_stack::AUTH_BASE_URL
        )
    );
}

#[tokio::test]
async fn a_provider_down_at_start_up_answers_503_then_works_once_it_is_back() {
    let (app, provider) = app_with_provider(|_| {}).await;
    provider.set_quirk(Quirk::Unavailable);
    let browser = Browser::new();
    let started = std::time::Instant::now();
    let res = browser
        .post(&app, "/sign-in/social", &json!({"provider": "mock"}))
        .await;
    assert_eq!(
        res.headers().get("retry-after").map(|v| v.to_str().ok()),
        Some(Some("2"))
    );
    assert_error(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        Some("PROVIDER_UNAVAILABLE"),
    )
    .await;
    // Remembered: the next try does not wait for the provider again.
    let discovery_before = provider.counts().discovery;
    let res = browser
        .post(&app, "/sign-in/social", &json!({"provider": "mock"}))
        .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(provider.counts().discovery, discovery_before);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));

    provider.set_quirk(Quirk::None);
    provider.login_as(User::new("sub-back", "back@example.com"));
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let res = browser.sign_in(&app, "mock", json!({})).await;
    assert_eq!(location(&res), WELCOME);
}

#[tokio::test]
async fn start_checks_the_provider_and_every_redirect_target() {
    let (app, _provider) = app_with_provider(|_| {}).await;
    let browser = Browser::new();
    let res = browser
        .post(&app, "/sign-in/social", &json!({"provider": "myspace"}))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, Some("PROVIDER_NOT_FOUND")).await;
    for (field, code) in [
        ("callbackURL", "INVALID_CALLBACK_URL"),
        ("errorCallbackURL", "INVALID_ERROR_CALLBACK_URL"),
        ("newUserCallbackURL", "INVALID_NEW_USER_CALLBACK_URL"),
    ] {
        let res = browser
            .post(
                &app,
                "/sign-in/social",
                &json!({"provider": "mock", field: "https://evil.example/x"}),
            )
            .await;
        assert_error(res, StatusCode::FORBIDDEN, Some(code)).await;
    }
    let res = browser
        .post(
            &app,
            "/sign-in/social",
            &json!({"provider": "mock", "scopes": ["ok", "bad scope"]}),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")).await;
    let res = browser.post(&app, "/sign-in/social", &json!({})).await;
    assert_error(res, StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")).await;
    assert_eq!(count(&app, "identity.oauth_states").await, 0);
    // disableRedirect: the URL without a Location header.
    let res = browser
        .post(
            &app,
            "/sign-in/social",
            &json!({"provider": "mock", "disableRedirect": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("location").is_none());
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["redirect"], false);
    assert!(body["url"]
        .as_str()
        .expect("url")
        .contains("code_challenge="));
}

#[tokio::test]
async fn an_id_token_from_the_client_signs_in_directly() {
    let (app, provider) = app_with_provider(|_| {}).await;
    provider.login_as(User::new("sub-onetap", "onetap@example.com"));
    let browser = Browser::new();
    let token = provider.mint_id_token(Some("n-1"));
    let res = browser
        .post(
            &app,
            "/sign-in/social",
            &json!({"provider": "google", "idToken": {"token": token, "nonce": "n-1"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["redirect"], false);
    assert_eq!(body["user"]["email"], "onetap@example.com");
    assert_eq!(
        browser.session(&app).await["user"]["email"],
        "onetap@example.com"
    );

    // Another nonce, another key, or GitHub (no ID tokens): refused.
    let res = browser
        .post(
            &app,
            "/sign-in/social",
            &json!({"provider": "google", "idToken": {"token": token, "nonce": "n-2"}}),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, Some("INVALID_TOKEN")).await;
    provider.set_quirk(Quirk::RogueKey);
    let rogue = provider.mint_id_token(None);
    let res = browser
        .post(
            &app,
            "/sign-in/social",
            &json!({"provider": "google", "idToken": {"token": rogue}}),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, Some("INVALID_TOKEN")).await;
    let res = browser
        .post(
            &app,
            "/sign-in/social",
            &json!({"provider": "github", "idToken": {"token": token}}),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, Some("ID_TOKEN_NOT_SUPPORTED")).await;
    let res = browser
        .post(
            &app,
            "/sign-in/social",
            &json!({"provider": "google", "idToken": {"nonce": 5}}),
        )
        .await;
    let body = assert_error(res, StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")).await;
    assert!(
        body["message"]
            .as_str()
            .expect("m")
            .contains("[body.idToken.token]"),
        "{body}"
    );
}

#[tokio::test]
async fn sign_in_and_callbacks_are_rate_limited_per_ip() {
    let (app, _provider) = app_with_provider(|s| {
        s.rate_limit_enabled = true;
        s.social_rate_limit_max = 3;
    })
    .await;
    let browser = Browser::new();
    for _ in 0..3 {
        let res = browser
            .post(
                &app,
                "/sign-in/social",
                &json!({"provider": "mock", "disableRedirect": true}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = browser.get(&app.url("/callback/mock?state=x&code=y")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn provider_tokens_are_kept_sealed_only_when_asked() {
    let (app, provider) = app_with_provider(|s| s.social_store_tokens = true).await;
    provider.login_as(User::new("sub-keep", "keep@example.com"));
    let browser = Browser::new();
    let res = browser.sign_in(&app, "mock", json!({})).await;
    assert_eq!(location(&res), WELCOME);
    let row = &app
        .sql("SELECT access_token_sealed, refresh_token_sealed, token_kek_id, access_token_expires_at, scope FROM identity.accounts WHERE provider_id = 'mock'")
        .await[0];
    let access: Vec<u8> = row.get(0);
    let refresh: Option<Vec<u8>> = row.get(1);
    let kek: String = row.get(2);
    let expires: Option<chrono::DateTime<chrono::Utc>> = row.get(3);
    assert!(access.len() > 16 && refresh.is_some() && !kek.is_empty() && expires.is_some());
    // Sealed: the plain token appears nowhere in the row.
    let raw = String::from_utf8_lossy(&access);
    assert!(!raw.contains("eyJ") && !raw.chars().all(|c| c.is_ascii_alphanumeric()));
    let accounts = browser.get(&app.url("/list-accounts")).await;
    let list: Value = accounts.json().await.expect("json");
    let text = list.to_string();
    assert!(
        !text.contains("access") && !text.contains("Token"),
        "{text}"
    );
}

#[tokio::test]
async fn without_an_email_only_a_returning_user_gets_in() {
    let (app, provider) = app_with_provider(|_| {}).await;
    // A new subject without an address: nobody to create.
    provider.login_as(User {
        email: None,
        email_verified: None,
        ..User::new("sub-noemail", "unused@example.com")
    });
    let browser = Browser::new();
    let res = browser.sign_in(&app, "mock", json!({})).await;
    assert_eq!(location(&res), format!("{OOPS}?error=email_not_found"));
    assert!(
        provider.counts().userinfo >= 1,
        "userinfo was asked for the address"
    );
    // Known by its subject, the same account gets in even when the address is withheld.
    provider.login_as(User::new("sub-noemail", "known@example.com"));
    assert_eq!(
        location(&Browser::new().sign_in(&app, "mock", json!({})).await),
        WELCOME
    );
    provider.login_as(User {
        email: None,
        email_verified: None,
        ..User::new("sub-noemail", "unused@example.com")
    });
    let again = Browser::new();
    assert_eq!(
        location(&again.sign_in(&app, "mock", json!({})).await),
        DONE
    );
    assert_eq!(
        again.session(&app).await["user"]["email"],
        "known@example.com"
    );
}
