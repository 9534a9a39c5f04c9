//! Starts the real auth-server (the token issuer and JWKS) and the profile-api on
//! port 0, both on one fresh database, and talks to them over HTTP.

use actix_web::web::Data;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use test_support::TestDatabase;

/// The auth-server's public URL: its origin is the tokens' `iss` and `aud`.
pub use test_stack::AUTH_BASE_URL;
/// The browser origin trusted by both services in tests.
pub use test_stack::TRUSTED_ORIGIN as TRUSTED;
/// The shared test settings of both services (the auth-server's rate limiter off).
pub use test_stack::{auth_settings, profile_settings};

/// A running auth-server.
pub struct AuthServer {
    pub address: String,
    pub state: Data<auth_server::state::AppState>,
    pub http: reqwest::Client,
}

/// A running profile-api with its issuer and database.
pub struct TestApp {
    pub address: String,
    pub state: Data<profile_api::state::AppState>,
    pub auth: AuthServer,
    pub http: reqwest::Client,
    pub db: TestDatabase,
}

/// A signed-up user and an access token for them.
pub struct TestUser {
    pub id: String,
    /// The auth-server session credential (`set-auth-token`).
    pub session: String,
    /// An RS256 JWT from `GET /api/auth/token`.
    pub jwt: String,
}

/// Starts an auth-server.
pub async fn start_auth(settings: auth_server::Settings) -> AuthServer {
    let app = auth_server::Application::build(settings)
        .await
        .expect("auth-server builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    AuthServer {
        address,
        state,
        http: reqwest::Client::new(),
    }
}

/// Starts a profile-api; returns its address and state.
pub async fn start_profile(
    settings: profile_api::Settings,
) -> (String, Data<profile_api::state::AppState>) {
    let app = profile_api::Application::build(settings)
        .await
        .expect("profile-api builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    (address, state)
}

/// Starts both services with the default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts both services after `tweak` adjusts the profile-api's settings.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut profile_api::Settings)) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        profile_api::telemetry::init("pretty", true);
    }
    let db = TestDatabase::new().await;
    let auth = start_auth(auth_settings(&db)).await;
    let mut settings = profile_settings(&db, &auth.address);
    tweak(&mut settings);
    let (address, state) = start_profile(settings).await;
    TestApp {
        address,
        state,
        auth,
        http: reqwest::Client::new(),
        db,
    }
}

impl AuthServer {
    /// Signs up through the auth-server and fetches a JWT for the new session.
    pub async fn user(&self, email: &str) -> TestUser {
        let signed_up =
            test_stack::sign_up(&self.http, &self.address, email, test_stack::TEST_PASSWORD).await;
        let jwt = self.jwt_for(&signed_up.session).await;
        TestUser {
            id: signed_up.id,
            session: signed_up.session,
            jwt,
        }
    }

    /// A JWT for an auth-server session (the auth-server may hand a session the
    /// same one again).
    pub async fn jwt_for(&self, session: &str) -> String {
        test_stack::jwt_for(&self.http, &self.address, session).await
    }
}

impl TestApp {
    /// `{address}{path}` of the profile-api.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Signs up a user through the auth-server (see [`AuthServer::user`]).
    pub async fn user(&self, email: &str) -> TestUser {
        self.auth.user(email).await
    }

    /// A fresh JWT for an auth-server session.
    pub async fn jwt_for(&self, session: &str) -> String {
        self.auth.jwt_for(session).await
    }

    /// A request to `/api/profile` carrying `jwt`.
    pub fn profile(&self, method: Method, jwt: &str) -> RequestBuilder {
        self.http
            .request(method, self.url("/api/profile"))
            .bearer_auth(jwt)
    }

    /// `GET /api/profile`.
    pub async fn get_profile(&self, jwt: &str) -> Response {
        send(self.profile(Method::GET, jwt)).await
    }

    /// `PUT /api/profile` with a JSON body.
    pub async fn put_profile(&self, jwt: &str, body: &Value) -> Response {
        send(self.profile(Method::PUT, jwt).json(body)).await
    }

    /// `PATCH /api/profile` with an `application/merge-patch+json` body.
    pub async fn patch_profile(&self, jwt: &str, body: &Value) -> Response {
        send(
            self.profile(Method::PATCH, jwt)
                .header("content-type", "application/merge-patch+json")
                .body(body.to_string()),
        )
        .await
    }

    /// `DELETE /api/profile`.
    pub async fn delete_profile(&self, jwt: &str) -> Response {
        send(self.profile(Method::DELETE, jwt)).await
    }

    /// Runs SQL as the database owner (to inspect rows or delete users).
    pub async fn sql(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        self.db.client().await.query(sql, &[]).await.expect("sql")
    }
}

/// Sends a request built elsewhere.
pub async fn send(req: RequestBuilder) -> Response {
    req.send().await.expect("request")
}

/// The response's `ETag`.
pub fn etag_of(res: &Response) -> String {
    res.headers()
        .get("etag")
        .expect("ETag header")
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// Asserts a successful profile response and returns (ETag, body).
pub async fn profile_of(res: Response, status: StatusCode) -> (String, Value) {
    assert_eq!(res.status(), status);
    let etag = etag_of(&res);
    (etag, res.json().await.expect("profile json"))
}

/// Asserts an error response's status, JSON shape and code, returning its body.
pub async fn assert_error(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(
        res.headers()
            .get("content-type")
            .map(|v| v.to_str().expect("ascii")),
        Some("application/json")
    );
    let body: Value = res.json().await.expect("json error body");
    assert_eq!(body["code"], code, "body: {body}");
    assert!(body["message"].is_string(), "body: {body}");
    body
}
