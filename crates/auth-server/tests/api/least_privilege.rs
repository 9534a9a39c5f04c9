//! The auth-server under the least-privilege role of docs/auth-server-database-role.md:
//! it serves everything as that role, migrates as the owner, and cannot run DDL.

use auth_server::keys::{self, KeyEvent};
use reqwest::StatusCode;
use serde_json::{json, Value};
use test_support::TestDatabase;
use tokio_postgres::error::SqlState;

use crate::helpers::*;
use crate::social::{location, Browser, CLIENT_ID, CLIENT_SECRET, DONE, WELCOME};

const ROLE_DOC: &str = include_str!("../../../../docs/auth-server-database-role.md");

/// The `-- auth-server grants` SQL block of the doc, for `role` on `database`.
fn documented_grants(role: &str, database: &str) -> String {
    let block = ROLE_DOC
        .split("```sql")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .find(|block| block.trim_start().starts_with("-- auth-server grants"))
        .expect("the doc has a `-- auth-server grants` sql block");
    block
        .replace("auth_server", &format!("\"{role}\""))
        .replace("DATABASE neondb", &format!("DATABASE \"{database}\""))
}

/// A login role that exists for one test (role names are cluster-wide), dropped
/// again even when the test fails.
struct TestRole {
    name: String,
    db_url: String,
}

impl TestRole {
    async fn create(db: &TestDatabase) -> Self {
        let name = format!("auth_server_test_{}", uuid::Uuid::new_v4().simple());
        let client = db.client().await;
        client
            .batch_execute(&format!("CREATE ROLE \"{name}\" LOGIN"))
            .await
            .expect("create role");
        client
            .batch_execute(&documented_grants(&name, db.name()))
            .await
            .expect("documented grants apply");
        Self {
            name,
            db_url: db.url().to_owned(),
        }
    }

    /// The test database's URL, logging in as this role.
    fn url(&self) -> String {
        let mut url = url::Url::parse(&self.db_url).expect("database url");
        url.set_username(&self.name).expect("username");
        url.set_password(None).expect("password");
        url.to_string()
    }
}

impl Drop for TestRole {
    fn drop(&mut self) {
        let (name, db_url) = (self.name.clone(), self.db_url.clone());
        // Drop may run inside a runtime; a thread with its own works everywhere.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&db_url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP OWNED BY \"{name}\""))
                        .await;
                }
                if let Ok((admin, conn)) =
                    tokio_postgres::connect(&test_support::admin_url(), tokio_postgres::NoTls)
                        .await
                {
                    tokio::spawn(conn);
                    let _ = admin
                        .batch_execute(&format!(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{name}';
                             DROP ROLE IF EXISTS \"{name}\";"
                        ))
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

#[tokio::test]
async fn the_server_works_as_the_documented_least_privilege_role() {
    let db = TestDatabase::new().await;
    let role = TestRole::create(&db).await;
    let mut settings = test_settings(&db);
    settings.database_url = role.url();
    // Migrations (up to date here, but they run) go through the owner.
    settings.migrate_database_url = Some(db.url().to_owned());
    settings.migrate_on_start = true;
    settings.rate_limit_enabled = true;
    settings.rate_limit_max = 3;
    // Start with no key at all: the first key is created as the role.
    db.client()
        .await
        .batch_execute("DELETE FROM identity.signing_keys")
        .await
        .expect("no keys");
    // Mail goes to a real SMTP server, so the lifecycle flows run as the role too.
    let sink = smtp_sink::SmtpSink::start().expect("smtp");
    settings.smtp_url = Some(sink.url());
    settings.mail_poll_interval = 0.1;
    // Social sign-in through a provider on loopback, so its tables are used as the role.
    let provider = oidc_provider::Provider::start(CLIENT_ID, CLIENT_SECRET);
    settings.oidc = vec![auth_server::config::OidcProviderSettings {
        id: "mock".into(),
        issuer: provider.issuer(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        scopes: vec!["email".into()],
    }];
    settings.github_client_id = Some(CLIENT_ID.into());
    settings.github_client_secret = Some(CLIENT_SECRET.into());
    settings.github_authorize_url = provider.github_authorize_url();
    settings.github_token_url = provider.github_token_url();
    settings.github_api_url = provider.github_api_url();
    settings.social_store_tokens = true;
    let (address, state) = start(settings.clone()).await;
    let app = TestApp {
        address,
        state,
        settings,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        db,
    };
    let client = app.state.pool.get().await.expect("pooled connection");
    let who: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .expect("current_user")
        .get(0);
    assert_eq!(who, role.name, "the server's own connections are the role");

    // The API flow: sign-up, sign-in, get-session, token, change password, sign-out.
    assert_eq!(
        app.http
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .expect("readyz")
            .status(),
        StatusCode::OK
    );
    let user = app.user("least@example.com").await;
    let bearer = app.sign_in(&user.email, &user.password).await;
    assert_eq!(
        app.session_of(&bearer).await["user"]["id"],
        user.id.as_str()
    );
    let res = app.get_bearer("/token", &bearer).await;
    assert_eq!(res.status(), StatusCode::OK);
    let token: Value = res.json().await.expect("json");
    assert!(token["token"].is_string());
    let res = app
        .post_bearer(
            "/change-password",
            &bearer,
            &json!({"currentPassword": user.password, "newPassword": "least-priv-new-1"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.post_bearer("/sign-out", &bearer, &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.session_of(&bearer).await, Value::Null);

    // Reset by mail (outbox worker, token, credential, sessions), then delete the
    // user, whose learner profile goes by the cascade the role cannot run itself.
    let res = app
        .post(
            "/request-password-reset",
            &json!({"email": user.email, "redirectTo": "/r"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mail = sink
        .wait_for(&user.email, std::time::Duration::from_secs(15))
        .await;
    let link = mail
        .link_containing("/reset-password/")
        .expect("reset link");
    let token = link
        .split("/reset-password/")
        .nth(1)
        .and_then(|t| t.split('?').next())
        .expect("token");
    let res = app
        .post(
            "/reset-password",
            &json!({"newPassword": "least-priv-reset-1", "token": token}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // (This test's limiter allows 3 tries per window; start a fresh one.)
    app.sql("DELETE FROM identity.rate_limits").await;
    let bearer = app.sign_in(&user.email, "least-priv-reset-1").await;
    app.sql(&format!(
        "INSERT INTO learner.profiles (user_id, display_name) VALUES ('{}', 'Least')",
        user.id
    ))
    .await;
    let res = app
        .http
        .post(app.url("/delete-user"))
        .bearer_auth(&bearer)
        .json(&json!({"password": "least-priv-reset-1"}))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(app.sql("SELECT 1 FROM learner.profiles").await.is_empty());

    // Social sign-up, a link, an unlink and an abandoned sign-in, as the role.
    provider.login_as(oidc_provider::User::new(
        "sub-least",
        "least-social@example.com",
    ));
    let browser = Browser::new();
    let res = browser.sign_in(&app, "mock", json!({})).await;
    assert_eq!(location(&res), WELCOME);
    provider.login_as(oidc_provider::User::new("9001", "least-social@example.com"));
    let url = browser
        .start(
            &app,
            "/link-social",
            json!({"provider": "github", "callbackURL": DONE}),
        )
        .await;
    let back = browser.authorize(&app, &url).await;
    assert_eq!(location(&browser.get(&back).await), DONE);
    let list: Value = browser
        .get(&app.url("/list-accounts"))
        .await
        .json()
        .await
        .expect("json");
    let github = list
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["providerId"] == "github")
        .expect("linked");
    let res = browser
        .post(&app, "/unlink-account", &json!({"accountId": github["id"]}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    browser
        .start(&app, "/sign-in/social", json!({"provider": "mock"}))
        .await;
    app.sql("UPDATE identity.oauth_states SET expires_at = now() - interval '1 minute'")
        .await;

    // The sweeper's deletes run as the role.
    let swept = auth_server::sweeper::sweep_once(&app.state)
        .await
        .expect("sweep as the role");
    assert_eq!(swept.expect("not locked").oauth_states, 1);

    // A service client, registered as the owner (the CLI's role), gets a token as the role.
    let owner = database::build_pool(app.db.url(), &Default::default()).expect("owner pool");
    let registered = auth_server::client_credentials::create(
        &owner.get().await.expect("owner"),
        &app.state.hasher,
        "grader",
        &["profiles:read".to_owned()],
    )
    .await
    .expect("client");
    let res = app
        .http
        .post(format!("{}/oauth2/token", app.address))
        .basic_auth(registered.client.id, Some(&registered.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), StatusCode::OK);

    // A whole rotation as the role: publish, promote, retire the old key, remove it.
    let (pool, store) = (&app.state.pool, &app.state.keys);
    let first: String = app.sql("SELECT kid FROM identity.signing_keys").await[0].get(0);
    assert!(matches!(
        keys::rotate(pool, store, false).await.expect("publish"),
        KeyEvent::Created { .. }
    ));
    assert!(matches!(
        keys::rotate(pool, store, true).await.expect("promote"),
        KeyEvent::Promoted { .. }
    ));
    keys::maintain(pool, store).await.expect("lifecycle step");
    assert_eq!(
        keys::retire(pool, store, Some(&first))
            .await
            .expect("remove"),
        vec![KeyEvent::Removed { kid: first }]
    );
    store.reload(pool).await.expect("reload");

    // The shared (Postgres) rate limiter counts, and refuses the fourth attempt.
    let creds = json!({"email": "nobody@example.com", "password": "whatever-123"});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.post("/sign-in/email", &creds).await.status());
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let swept: u64 = client
        .execute(
            "DELETE FROM identity.rate_limits WHERE window_end < now()",
            &[],
        )
        .await
        .expect("the sweep's delete is allowed");
    assert_eq!(swept, 0);

    // What it must not do is refused.
    for sql in [
        "CREATE TABLE identity.scratch (id int)",
        "CREATE TABLE public.scratch (id int)",
        "ALTER TABLE identity.accounts DROP CONSTRAINT accounts_password_hash_cost_caps",
        "ALTER TABLE identity.users ADD COLUMN x int",
        "DROP TABLE identity.sessions",
        "TRUNCATE identity.sessions",
        "CREATE FUNCTION identity.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "DELETE FROM identity.oauth_clients",
        "INSERT INTO identity.oauth_clients (name, secret_hash) VALUES ('x', '$argon2id$x')",
        "DELETE FROM identity.signing_keys",
        "SELECT * FROM identity.import_runs",
        "SELECT * FROM identity.imported_users",
        "SELECT * FROM learner.profiles",
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        assert_eq!(
            err.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err}"
        );
    }
    // Without AUTH_MIGRATE_DATABASE_URL the start-up migration would run as the
    // role, which cannot create the migration history: the server refuses to start.
    let mut as_role = app.settings.clone();
    as_role.migrate_database_url = None;
    let Err(err) = auth_server::Application::build(as_role).await else {
        panic!("the role migrated");
    };
    let err = format!("{err:#}");
    assert!(err.contains("permission denied"), "{err}");
    drop(client);
    drop(role);
}

#[test]
fn the_doc_block_is_what_the_test_runs() {
    let sql = documented_grants("r", "d");
    assert!(
        sql.contains("GRANT CONNECT ON DATABASE \"d\" TO \"r\";"),
        "{sql}"
    );
    assert!(
        sql.contains("GRANT USAGE ON SCHEMA identity TO \"r\";"),
        "{sql}"
    );
    for word in [
        "CREATE",
        "ALL",
        "TRUNCATE",
        "REFERENCES",
        "TRIGGER",
        "learner",
    ] {
        assert!(!sql.contains(word), "{word} in {sql}");
    }
}
