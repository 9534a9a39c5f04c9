//! GitHub (plain OAuth 2.0 and its REST API) through a GitHub-shaped server.

use oidc_provider::{GithubEmail, User};
use serde_json::json;

use super::*;

fn github_user(id: &str, emails: &[(&str, bool, bool)]) -> User {
    User {
        name: None,
        github_login: "octo".into(),
        github_emails: emails
            .iter()
            .map(|(email, primary, verified)| GithubEmail {
                email: (*email).into(),
                primary: *primary,
                verified: *verified,
            })
            .collect(),
        ..User::new(id, "unused@example.com")
    }
}

#[tokio::test]
async fn a_github_user_signs_in_with_the_verified_primary_address() {
    let (app, provider) = app_with_provider(|_| {}).await;
    provider.login_as(github_user(
        "583231",
        &[
            ("old@example.com", false, true),
            ("Octo@Example.com", true, true),
        ],
    ));
    let browser = Browser::new();
    let url = browser
        .start(
            &app,
            "/sign-in/social",
            json!({"provider": "github", "callbackURL": DONE, "newUserCallbackURL": WELCOME}),
        )
        .await;
    let q: std::collections::HashMap<String, String> = url::Url::parse(&url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["scope"], "read:user user:email");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(!q.contains_key("nonce"), "GitHub has no ID token");
    let back = browser.authorize(&app, &url).await;
    assert_eq!(location(&browser.get(&back).await), WELCOME);
    let user = browser.session(&app).await["user"].clone();
    assert_eq!(user["email"], "octo@example.com");
    assert_eq!(user["emailVerified"], true);
    assert_eq!(user["name"], "octo", "the login when there is no name");
    assert_eq!(
        accounts_of(&app, "octo@example.com").await,
        vec![("github".to_owned(), "583231".to_owned())]
    );
    let counts = provider.counts();
    assert_eq!(
        (
            counts.github_token,
            counts.github_user,
            counts.github_emails
        ),
        (1, 1, 1)
    );
    let token_request = provider.last_token_request().expect("token request");
    assert_eq!(token_request["client_auth"], "client_secret_post");
    assert!(token_request.contains_key("code_verifier"));
}

#[tokio::test]
async fn a_verified_address_that_is_not_primary_is_used_and_none_at_all_is_refused() {
    let (app, provider) = app_with_provider(|_| {}).await;
    // The primary address was never verified at GitHub; another one was.
    provider.login_as(github_user(
        "1001",
        &[
            ("victim@example.com", true, false),
            ("real@example.com", false, true),
        ],
    ));
    let browser = Browser::new();
    let res = browser.sign_in(&app, "github", json!({})).await;
    assert_eq!(location(&res), WELCOME);
    assert_eq!(
        browser.session(&app).await["user"]["email"],
        "real@example.com"
    );
    assert_eq!(
        count(&app, "identity.users WHERE email = 'victim@example.com'").await,
        0
    );

    provider.login_as(github_user("1002", &[("nobody@example.com", true, false)]));
    let browser = Browser::new();
    let res = browser.sign_in(&app, "github", json!({})).await;
    assert_eq!(location(&res), format!("{OOPS}?error=email_not_verified"));
    assert!(browser.session(&app).await.is_null());
}

#[tokio::test]
async fn a_refused_github_code_is_invalid_code() {
    let (app, provider) = app_with_provider(|_| {}).await;
    provider.login_as(github_user("77", &[("c@example.com", true, true)]));
    let browser = Browser::new();
    let url = browser
        .start(
            &app,
            "/sign-in/social",
            json!({"provider": "github", "errorCallbackURL": OOPS}),
        )
        .await;
    let back = browser.authorize(&app, &url).await;
    let res = browser.get(&with_param(&back, "code", "forged")).await;
    assert_eq!(location(&res), format!("{OOPS}?error=invalid_code"));
}
