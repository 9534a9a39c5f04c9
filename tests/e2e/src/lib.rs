//! The two real services on port 0 over one fresh database, as the cross-service
//! tests use them: the profile-api knows the auth-server only by its JWKS URL,
//! issuer and audience, as in production.

use actix_web::web::Data;
use auth_server::state::AppState;
use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;
use test_support::TestDatabase;

/// The auth-server's public URL: its origin is the tokens' `iss` and `aud`.
pub use test_stack::AUTH_BASE_URL;
/// The browser origin the auth-server trusts.
pub use test_stack::TRUSTED_ORIGIN;
/// The shared test settings of both services (the auth-server's rate limiter off
/// unless a test turns it on).
pub use test_stack::{auth_settings, profile_settings};

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
        let password = test_stack::TEST_PASSWORD.to_owned();
        let signed_up = test_stack::sign_up(&self.http, &self.auth, email, &password).await;
        let jwt = self.jwt(&signed_up.session).await;
        Learner {
            id: signed_up.id,
            email: email.to_owned(),
            password,
            session: signed_up.session,
            jwt,
        }
    }

    /// A JWT for a signed session token, from `GET /token`.
    pub async fn jwt(&self, session: &str) -> String {
        test_stack::jwt_for(&self.http, &self.auth, session).await
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
