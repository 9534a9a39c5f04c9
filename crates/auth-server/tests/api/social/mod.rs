//! Social sign-in against a real OpenID Connect provider (and a GitHub-shaped
//! OAuth server) on loopback, driven like a browser: a cookie jar per browser,
//! redirects followed by hand.

mod github;
mod linking;
mod oidc;

use auth_server::config::OidcProviderSettings;
use auth_server::Settings;
use oidc_provider::Provider;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

pub const CLIENT_ID: &str = "learn-platform";
pub const CLIENT_SECRET: &str = "learn-platform-secret";
/// Where the site lands after sign-in, a new user, and an error.
pub const DONE: &str = "http://localhost:3000/dashboard";
pub const WELCOME: &str = "http://localhost:3000/welcome";
pub const OOPS: &str = "http://localhost:3000/oops";

/// A provider on loopback and an app that knows it as `mock` (generic OIDC),
/// `google` (same provider as Google's issuer) and `github`.
pub async fn app_with_provider(tweak: impl FnOnce(&mut Settings)) -> (TestApp, Provider) {
    let provider = Provider::start(CLIENT_ID, CLIENT_SECRET);
    let issuer = provider.issuer();
    let (github_authorize, github_token, github_api) = (
        provider.github_authorize_url(),
        provider.github_token_url(),
        provider.github_api_url(),
    );
    let app = spawn_app_with(|s| {
        s.oidc = vec![OidcProviderSettings {
            id: "mock".into(),
            issuer: issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            scopes: vec!["email".into(), "profile".into()],
        }];
        s.google_client_id = Some(CLIENT_ID.into());
        s.google_client_secret = Some(CLIENT_SECRET.into());
        s.google_issuer = issuer;
        s.github_client_id = Some(CLIENT_ID.into());
        s.github_client_secret = Some(CLIENT_SECRET.into());
        s.github_authorize_url = github_authorize;
        s.github_token_url = github_token;
        s.github_api_url = github_api;
        tweak(s);
    })
    .await;
    (app, provider)
}

/// A browser: its own cookie jar, redirects by hand.
pub struct Browser {
    pub http: reqwest::Client,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    /// POSTs JSON from the trusted site.
    pub async fn post(&self, app: &TestApp, path: &str, body: &Value) -> Response {
        self.http
            .post(app.url(path))
            .header("origin", TRUSTED)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, url: &str) -> Response {
        self.http.get(url).send().await.expect("request")
    }

    /// `sign-in/social` (or `link-social`): the provider URL it answers.
    pub async fn start(&self, app: &TestApp, path: &str, body: Value) -> String {
        let res = self.post(app, path, &body).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let location = header_text(&res, "location");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["redirect"], true);
        assert_eq!(body["url"], location.as_str());
        location
    }

    /// Opens the provider's authorization URL; returns where the provider sends
    /// the browser back, pointed at the running app (the base URL is a name).
    pub async fn authorize(&self, app: &TestApp, provider_url: &str) -> String {
        let res = self.get(provider_url).await;
        assert_eq!(res.status(), StatusCode::FOUND, "provider authorize");
        let back = header_text(&res, "location");
        back.replace(test_stack::AUTH_BASE_URL, &app.address)
    }

    /// The whole dance: start, provider, callback; the callback's response.
    pub async fn sign_in(&self, app: &TestApp, provider: &str, extra: Value) -> Response {
        let mut body = json!({
            "provider": provider,
            "callbackURL": DONE,
            "newUserCallbackURL": WELCOME,
            "errorCallbackURL": OOPS,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let url = self.start(app, "/sign-in/social", body).await;
        let back = self.authorize(app, &url).await;
        self.get(&back).await
    }

    /// The session this browser's cookie holds (`null` when none).
    pub async fn session(&self, app: &TestApp) -> Value {
        self.get(&app.url("/get-session"))
            .await
            .json()
            .await
            .expect("json")
    }
}

/// `url` with the query parameter `name` set to `value` (a tampered callback).
pub fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("url");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == name {
                (k, value.to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.into()
}

/// Starts `path` (sign-in or link) with `body` and follows the provider back to
/// our callback; the callback's response.
pub async fn round_trip(browser: &Browser, app: &TestApp, path: &str, body: Value) -> Response {
    let url = browser.start(app, path, body).await;
    let back = browser.authorize(app, &url).await;
    browser.get(&back).await
}

/// The `Location` of a 302.
pub fn location(res: &Response) -> String {
    assert_eq!(res.status(), StatusCode::FOUND);
    header_text(res, "location")
}

/// `(provider_id, account_id)` of every account of the user with this e-mail.
pub async fn accounts_of(app: &TestApp, email: &str) -> Vec<(String, String)> {
    let client = app.db.client().await;
    client
        .query(
            "SELECT a.provider_id, a.account_id FROM identity.accounts a
             JOIN identity.users u ON u.id = a.user_id WHERE u.email = $1
             ORDER BY a.provider_id",
            &[&email],
        )
        .await
        .expect("sql")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Rows in a table.
pub async fn count(app: &TestApp, table: &str) -> i64 {
    app.sql(&format!("SELECT count(*) FROM {table}")).await[0].get(0)
}
