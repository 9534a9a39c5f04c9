//! Accounts and linking (Better Auth's wire §7.5–§7.7): implicit linking only for
//! an address both sides have verified, link-social, unlink-account.

use oidc_provider::User;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::*;

/// A password user; `verified` marks the address verified.
async fn password_user(app: &TestApp, email: &str, verified: bool) -> TestUser {
    let user = app.user(email).await;
    if verified {
        app.sql(&format!(
            "UPDATE identity.users SET email_verified = true WHERE email = '{email}'"
        ))
        .await;
    }
    user
}

#[tokio::test]
async fn a_verified_provider_address_links_to_a_verified_user() {
    let (app, provider) = app_with_provider(|_| {}).await;
    let local = password_user(&app, "linda@example.com", true).await;
    provider.login_as(User::new("sub-linda", "linda@example.com"));
    let browser = Browser::new();
    let res = browser.sign_in(&app, "mock", json!({})).await;
    assert_eq!(
        location(&res),
        DONE,
        "an existing user lands on callbackURL"
    );
    assert_eq!(browser.session(&app).await["user"]["id"], local.id.as_str());
    assert_eq!(
        accounts_of(&app, "linda@example.com").await,
        vec![
            ("credential".to_owned(), local.id.clone()),
            ("mock".to_owned(), "sub-linda".to_owned())
        ]
    );
    // list-accounts shows both, with the scopes the provider granted.
    let list: Value = browser
        .get(&app.url("/list-accounts"))
        .await
        .json()
        .await
        .expect("json");
    let mock = list
        .as_array()
        .expect("array")
        .iter()
        .find(|a| a["providerId"] == "mock")
        .expect("mock account");
    assert_eq!(mock["accountId"], "sub-linda");
    assert!(
        mock["scopes"]
            .as_array()
            .expect("scopes")
            .iter()
            .any(|s| s == "email"),
        "{mock}"
    );
    let linked = app
        .sql("SELECT count(*) FROM identity.audit_log WHERE event = 'account_linked'")
        .await;
    assert_eq!(linked[0].get::<_, i64>(0), 1);
}

#[tokio::test]
async fn linking_is_refused_unless_both_sides_verified_the_address() {
    // (local verified, provider says verified, provider trusted) → linked?
    for (local_verified, provider_verified, trusted, linked) in [
        (true, false, false, false),
        (false, true, false, false), // a pre-registered account does not capture its owner
        (false, true, true, false),
        (true, false, true, true),
    ] {
        let (app, provider) = app_with_provider(|s| {
            if trusted {
                s.trusted_link_providers = "mock".into();
            }
        })
        .await;
        password_user(&app, "owner@example.com", local_verified).await;
        provider.login_as(User {
            email_verified: Some(provider_verified),
            ..User::new("sub-owner", "owner@example.com")
        });
        let browser = Browser::new();
        let res = browser.sign_in(&app, "mock", json!({})).await;
        let case =
            format!("local {local_verified}, provider {provider_verified}, trusted {trusted}");
        if linked {
            assert_eq!(location(&res), DONE, "{case}");
            assert_eq!(
                accounts_of(&app, "owner@example.com").await.len(),
                2,
                "{case}"
            );
        } else {
            assert_eq!(
                location(&res),
                format!("{OOPS}?error=account_not_linked"),
                "{case}"
            );
            assert!(browser.session(&app).await.is_null(), "{case}");
            assert_eq!(
                accounts_of(&app, "owner@example.com").await.len(),
                1,
                "{case}: nothing written"
            );
            assert_eq!(
                count(&app, "identity.sessions").await,
                1,
                "{case}: only the sign-up's"
            );
        }
    }
}

#[tokio::test]
async fn link_social_adds_a_provider_to_the_signed_in_user() {
    let (app, provider) = app_with_provider(|_| {}).await;
    let local = password_user(&app, "lin@example.com", false).await;
    let browser = Browser::new();
    let res = browser
        .post(
            &app,
            "/sign-in/email",
            &json!({"email": "lin@example.com", "password": local.password}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // Another address at the provider: refused.
    provider.login_as(User::new("sub-other", "someone-else@example.com"));
    let res = round_trip(
        &browser,
        &app,
        "/link-social",
        json!({"provider": "mock", "callbackURL": DONE, "errorCallbackURL": OOPS}),
    )
    .await;
    assert_eq!(location(&res), format!("{OOPS}?error=email_does_not_match"));

    // The same address (even though ours is not verified: the user is signed in).
    provider.login_as(User::new("sub-lin", "lin@example.com"));
    let res = round_trip(
        &browser,
        &app,
        "/link-social",
        json!({"provider": "mock", "callbackURL": DONE, "errorCallbackURL": OOPS}),
    )
    .await;
    assert_eq!(location(&res), DONE);
    assert!(
        !set_cookies(res.headers())
            .join(";")
            .contains("session_token="),
        "linking opens no new session"
    );
    assert_eq!(accounts_of(&app, "lin@example.com").await.len(), 2);
    assert_eq!(
        count(&app, "identity.sessions").await,
        2,
        "sign-up and sign-in only"
    );

    // That provider account cannot be linked to somebody else.
    let other = password_user(&app, "lin2@example.com", true).await;
    let second = Browser::new();
    second
        .post(
            &app,
            "/sign-in/email",
            &json!({"email": "lin2@example.com", "password": other.password}),
        )
        .await;
    provider.login_as(User::new("sub-lin", "lin2@example.com"));
    let res = round_trip(
        &second,
        &app,
        "/link-social",
        json!({"provider": "mock", "errorCallbackURL": OOPS}),
    )
    .await;
    assert_eq!(
        location(&res),
        format!("{OOPS}?error=account_already_linked_to_different_user")
    );

    // Without a session: 401; unknown provider: 404.
    let res = Browser::new()
        .post(&app, "/link-social", &json!({"provider": "mock"}))
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, None).await;
    let res = browser
        .post(&app, "/link-social", &json!({"provider": "nope"}))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, Some("PROVIDER_NOT_FOUND")).await;
}

#[tokio::test]
async fn a_link_started_by_a_session_that_ended_is_refused() {
    let (app, provider) = app_with_provider(|_| {}).await;
    let local = password_user(&app, "ended@example.com", true).await;
    let browser = Browser::new();
    browser
        .post(
            &app,
            "/sign-in/email",
            &json!({"email": "ended@example.com", "password": local.password}),
        )
        .await;
    provider.login_as(User::new("sub-ended", "ended@example.com"));
    let url = browser
        .start(
            &app,
            "/link-social",
            json!({"provider": "mock", "errorCallbackURL": OOPS}),
        )
        .await;
    let back = browser.authorize(&app, &url).await;
    app.sql("DELETE FROM identity.sessions").await;
    let res = browser.get(&back).await;
    assert_eq!(
        location(&res),
        format!("{OOPS}?error=unable_to_link_account")
    );
    assert_eq!(accounts_of(&app, "ended@example.com").await.len(), 1);
}

#[tokio::test]
async fn unlink_removes_an_account_but_never_the_last() {
    let (app, provider) = app_with_provider(|_| {}).await;
    provider.login_as(User::new("sub-solo", "solo@example.com"));
    let browser = Browser::new();
    let res = browser.sign_in(&app, "mock", json!({})).await;
    assert_eq!(location(&res), WELCOME);
    let list: Value = browser
        .get(&app.url("/list-accounts"))
        .await
        .json()
        .await
        .expect("json");
    let only = list[0]["id"].as_str().expect("id").to_owned();

    // The only way in: refused, before the id is even looked at.
    for id in [only.as_str(), "not-an-id"] {
        let res = browser
            .post(&app, "/unlink-account", &json!({"accountId": id}))
            .await;
        assert_error(
            res,
            StatusCode::BAD_REQUEST,
            Some("FAILED_TO_UNLINK_LAST_ACCOUNT"),
        )
        .await;
    }

    // With a second way in (GitHub), either can go; an unknown id is 404-ish.
    provider.login_as(User::new("4242", "solo@example.com"));
    let url = browser
        .start(
            &app,
            "/link-social",
            json!({"provider": "github", "callbackURL": DONE}),
        )
        .await;
    let back = browser.authorize(&app, &url).await;
    assert_eq!(location(&browser.get(&back).await), DONE);
    let res = browser
        .post(
            &app,
            "/unlink-account",
            &json!({"accountId": "00000000-0000-0000-0000-000000000000"}),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, Some("ACCOUNT_NOT_FOUND")).await;
    let res = browser
        .post(&app, "/unlink-account", &json!({"accountId": only}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({"status": true})
    );
    assert_eq!(
        accounts_of(&app, "solo@example.com").await,
        vec![("github".to_owned(), "4242".to_owned())]
    );
    assert!(
        !browser.session(&app).await.is_null(),
        "sessions are untouched"
    );
    // Signing in with the unlinked provider now makes a new account... only if the
    // address may be linked: it is verified on both sides, so it links again.
    let events = app
        .sql("SELECT count(*) FROM identity.audit_log WHERE event = 'account_unlinked'")
        .await;
    assert_eq!(events[0].get::<_, i64>(0), 1);

    // Another user's account id is not ours to unlink.
    let res = Browser::new()
        .post(&app, "/unlink-account", &json!({"accountId": only}))
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, None).await;
}

#[tokio::test]
async fn a_banned_user_is_not_signed_in_by_a_provider() {
    let (app, provider) = app_with_provider(|_| {}).await;
    provider.login_as(User::new("sub-ban", "ban@example.com"));
    let browser = Browser::new();
    assert_eq!(
        location(&browser.sign_in(&app, "mock", json!({})).await),
        WELCOME
    );
    app.sql("UPDATE identity.users SET banned_until = 'infinity'")
        .await;
    let again = Browser::new();
    let res = again.sign_in(&app, "mock", json!({})).await;
    assert_eq!(location(&res), format!("{OOPS}?error=banned"));
    assert!(again.session(&app).await.is_null());
}
