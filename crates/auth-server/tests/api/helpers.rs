//! Starts the real auth-server on port 0 against a fresh database.

use auth_server::state::AppState;
use auth_server::{Application, Settings};
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use test_support::TestDatabase;

/// Key-encryption secret for tests.
pub use test_stack::TEST_KEK;
/// The secret of the wire spec's captures, so its test vectors apply.
pub use test_stack::TEST_SECRET as SPEC_SECRET;
/// The trusted browser origin configured for tests.
pub use test_stack::TRUSTED_ORIGIN as TRUSTED;

/// A running app with its own database.
pub struct TestApp {
    pub address: String,
    pub state: actix_web::web::Data<AppState>,
    pub settings: Settings,
    pub http: reqwest::Client,
    pub db: TestDatabase,
}

/// A signed-up user with their first session.
pub struct TestUser {
    pub email: String,
    pub password: String,
    /// The raw session token (JSON `token`).
    pub token: String,
    /// `token.sig` as in `set-auth-token`.
    pub signed: String,
    pub id: String,
}

/// Settings every test starts from: the shared test settings (rate limiter off;
/// the limiter's tests turn it on).
pub fn test_settings(db: &TestDatabase) -> Settings {
    test_stack::auth_settings(db)
}

/// Starts the app with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the app after `tweak` adjusts its settings.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        auth_server::telemetry::init("pretty");
    }
    let db = TestDatabase::new().await;
    let mut settings = test_settings(&db);
    tweak(&mut settings);
    let (address, state) = start(settings.clone()).await;
    TestApp {
        address,
        state,
        settings,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        db,
    }
}

/// Builds and spawns an app; returns its address and state.
pub async fn start(settings: Settings) -> (String, actix_web::web::Data<AppState>) {
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    (address, state)
}

/// Values of every `set-cookie` header.
pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect()
}

impl TestApp {
    /// `{address}/api/auth{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/auth{}", self.address, path)
    }

    /// POSTs JSON with no cookies and no Origin (a server-side caller).
    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// POSTs JSON as a bearer client.
    pub async fn post_bearer(&self, path: &str, bearer: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(bearer)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// GETs as a bearer client.
    pub async fn get_bearer(&self, path: &str, bearer: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(bearer)
            .send()
            .await
            .expect("request")
    }

    /// The session JSON (or null) for a bearer credential.
    pub async fn session_of(&self, bearer: &str) -> Value {
        let res = self.get_bearer("/get-session", bearer).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("json")
    }

    /// Signs up a fresh user and returns their credentials.
    pub async fn user(&self, email: &str) -> TestUser {
        let password = "correct-horse-battery".to_owned();
        let res = self.sign_up_response(email, &password).await;
        assert_eq!(res.status(), StatusCode::OK, "sign-up failed");
        let signed = header_text(&res, "set-auth-token");
        let body: Value = res.json().await.expect("json");
        TestUser {
            email: email.to_lowercase(),
            password,
            token: body["token"].as_str().expect("token").to_owned(),
            signed,
            id: body["user"]["id"].as_str().expect("id").to_owned(),
        }
    }

    /// The raw response of a sign-up.
    pub async fn sign_up_response(&self, email: &str, password: &str) -> Response {
        self.post(
            "/sign-up/email",
            &json!({"name": "Test User", "email": email, "password": password}),
        )
        .await
    }

    /// Signs in and returns the new bearer (`token.sig`).
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let res = self
            .post(
                "/sign-in/email",
                &json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "sign-in failed");
        res.headers()
            .get("set-auth-token")
            .expect("set-auth-token")
            .to_str()
            .expect("ascii")
            .to_owned()
    }

    /// Runs SQL against the app's database (to move timestamps, inspect rows).
    pub async fn sql(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        let client = self.db.client().await;
        client.query(sql, &[]).await.expect("sql")
    }
}

/// Asserts an error response's status and code (`None`: any code, but one is
/// always there), returning its body.
pub async fn assert_error(res: Response, status: StatusCode, code: Option<&str>) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(
        res.headers()
            .get("content-type")
            .map(|v| v.to_str().expect("ascii")),
        Some("application/json")
    );
    let body: Value = res.json().await.expect("json error body");
    assert!(body["code"].is_string(), "body: {body}");
    if let Some(code) = code {
        assert_eq!(body["code"], code, "body: {body}");
    }
    assert!(body["message"].is_string(), "body: {body}");
    body
}

/// A response header as text; panics when it is missing.
pub fn header_text(res: &Response, name: &str) -> String {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .expect("ascii")
        .to_owned()
}
