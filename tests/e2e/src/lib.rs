//! The two real services on port 0 over one fresh database, as the cross-service
//! tests use them: the profile-api knows the auth-server only by its JWKS URL,
//! issuer and audience, as in production.

use actix_web::web::Data;
use auth_server::state::AppState;
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use test_support::TestDatabase;

/// The auth-server's public URL: its origin is the tokens' `iss` and `aud`.
pub const AUTH_BASE_URL: &str = "http://localhost:4100";
/// The browser origin the auth-server trusts.
pub const TRUSTED_ORIGIN: &str = "http://localhost:3000";

/// Both services running, with the database they share.
pub struct Stack {
    /// `http://127.0.0.1:<port>` of the auth-server.
    pub auth: String,
    /// `http://127.0.0.1:<port>` of the profile-api.
    pub profile: String,
    /// The auth-server's state (its keys sign forged-claim tokens in tests).
    pub auth_state: Data<AppState>,
    /// A client that never follows redirects (tests read `Location` themselves).
    pub http: Client,
    /// The database both services use.
    pub db: TestDatabase,
}

/// A signed-up learner.
pub struct Learner {
    /// User id (the JWT's `sub`).
    pub id: String,
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
    /// The signed session token from `set-auth-token`.
    pub session: String,
    /// A JWT for backends.
    pub jwt: String,
}

/// The auth-server's settings for cross-service tests (rate limiting off unless
/// a test turns it on).
pub fn auth_settings(db: &TestDatabase) -> auth_server::Settings {
    auth_server::Settings {
        database_url: db.url().to_owned(),
        migrate_on_start: false,
        host: "127.0.0.1".into(),
        port: 0,
        base_url: AUTH_BASE_URL.into(),
        trusted_origins: TRUSTED_ORIGIN.into(),
        secret: Some("e2e-stack-secret-0123456789abcdefghijklmnop".into()),
        key_encryption_secret: Some("e2e-stack-kek-0123456789abcdefghijklmnop".into()),
        max_concurrent_hashes: 2,
        db_pool_size: 4,
        workers: 1,
        log_format: "pretty".into(),
        rate_limit_enabled: false,
        ..auth_server::Settings::default()
    }
}

/// The profile-api's settings, pointed at an auth-server's JWKS.
pub fn profile_settings(db: &TestDatabase, auth_url: &str) -> profile_api::Settings {
    profile_api::Settings {
        database_url: db.url().to_owned(),
        host: "127.0.0.1".into(),
        port: 0,
        jwks_url: format!("{auth_url}/.well-known/jwks.json"),
        jwt_issuer: AUTH_BASE_URL.into(),
        jwt_audience: AUTH_BASE_URL.into(),
        db_pool_size: 4,
        workers: 1,
        log_format: "pretty".into(),
        ..profile_api::Settings::default()
    }
}

/// Starts both services with the default test settings.
pub async fn start_stack() -> Stack {
    start_stack_with(|_| {}).await
}

/// Starts both services after `tweak` adjusts the auth-server's settings.
pub async fn start_stack_with(tweak: impl FnOnce(&mut auth_server::Settings)) -> Stack {
    let db = TestDatabase::new().await;
    let mut settings = auth_settings(&db);
    tweak(&mut settings);
    let auth = auth_server::Application::build(settings)
        .await
        .expect("auth-server builds");
    let auth_url = format!("http://127.0.0.1:{}", auth.port());
    let auth_state = auth.state();
    tokio::spawn(auth.run_until_stopped());

    let profile = profile_api::Application::build(profile_settings(&db, &auth_url))
        .await
        .expect("profile-api builds");
    let profile_url = format!("http://127.0.0.1:{}", profile.port());
    tokio::spawn(profile.run_until_stopped());

    Stack {
        auth: auth_url,
        profile: profile_url,
        auth_state,
        http: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        db,
    }
}

impl Stack {
    /// An auth-server URL for a path under `/api/auth` (`"/sign-in/email"`).
    pub fn auth_url(&self, path: &str) -> String {
        format!("{}/api/auth{path}", self.auth)
    }

    /// A request to the learner's own profile with a bearer JWT.
    pub fn profile_request(&self, method: reqwest::Method, jwt: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}/api/profile", self.profile))
            .bearer_auth(jwt)
    }

    /// Signs a learner up (bearer mode) and exchanges the session for a JWT.
    pub async fn learner(&self, email: &str) -> Learner {
        let password = "correct-horse-battery".to_owned();
        let res = send(
            self.http
                .post(self.auth_url("/sign-up/email"))
                .json(&json!({"name": "Learner", "email": email, "password": password})),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK, "sign-up of {email}");
        let session = header(&res, "set-auth-token");
        let id = body(res).await["user"]["id"]
            .as_str()
            .expect("user id")
            .to_owned();
        let jwt = self.jwt(&session).await;
        Learner {
            id,
            email: email.to_owned(),
            password,
            session,
            jwt,
        }
    }

    /// A JWT for a signed session token, from `GET /token`.
    pub async fn jwt(&self, session: &str) -> String {
        let res = send(self.http.get(self.auth_url("/token")).bearer_auth(session)).await;
        assert_eq!(res.status(), StatusCode::OK, "GET /token");
        body(res).await["token"].as_str().expect("token").to_owned()
    }

    /// Runs one SQL query on the shared database.
    pub async fn sql(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        self.db.client().await.query(sql, &[]).await.expect("sql")
    }
}

/// Sends a request, panicking on a transport error.
pub async fn send(req: RequestBuilder) -> Response {
    req.send().await.expect("request")
}

/// A response header as text; panics when it is missing.
pub fn header(res: &Response, name: &str) -> String {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .expect("ascii header")
        .to_owned()
}

/// The JSON body of a response.
pub async fn body(res: Response) -> Value {
    res.json().await.expect("json body")
}
