//! The service under the least-privilege role of docs/profile-api-database-role.md.

use reqwest::{Method, StatusCode};
use serde_json::json;
use test_support::TestDatabase;
use tokio_postgres::error::SqlState;

use crate::helpers::*;

const ROLE_DOC: &str = include_str!("../../../../docs/profile-api-database-role.md");

/// The `-- profile-api grants` SQL block of the doc, for `role` on `database`.
fn documented_grants(role: &str, database: &str) -> String {
    let block = ROLE_DOC
        .split("```sql")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .find(|block| block.trim_start().starts_with("-- profile-api grants"))
        .expect("the doc has a `-- profile-api grants` sql block");
    block
        .replace("profile_api", &format!("\"{role}\""))
        .replace("DATABASE neondb", &format!("DATABASE \"{database}\""))
}

/// A login role that exists for one test. Role names are cluster-wide, so each test
/// makes its own and drops it again, even when the test fails.
struct TestRole {
    name: String,
    db_url: String,
}

impl TestRole {
    async fn create(db: &TestDatabase) -> Self {
        let name = format!("profile_api_test_{}", uuid::Uuid::new_v4().simple());
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
                // Privileges live in the test database (if it still exists) …
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&db_url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP OWNED BY \"{name}\""))
                        .await;
                }
                // … the role itself in the cluster.
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
async fn the_service_works_as_the_documented_least_privilege_role() {
    let db = TestDatabase::new().await;
    let role = TestRole::create(&db).await;
    let auth = start_auth(auth_settings(&db)).await;
    let mut settings = profile_settings(&db, &auth.address);
    settings.database_url = role.url();
    let (address, state) = start_profile(settings).await;
    let app = TestApp {
        address,
        state,
        auth,
        http: reqwest::Client::new(),
        db,
    };

    // Its own connections really are that role.
    let client = app.state.pool.get().await.expect("pooled connection");
    let who: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .expect("current_user")
        .get(0);
    assert_eq!(who, role.name);

    // Everything the API does works: readiness, create (the FK check needs no
    // rights on identity.users), read, conditional patch, delete.
    assert_eq!(
        send(app.http.get(app.url("/readyz"))).await.status(),
        StatusCode::OK
    );
    let user = app.user("leastpriv@example.com").await;
    let (tag, _) = profile_of(
        app.put_profile(&user.jwt, &json!({"display_name": "Least"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let res = send(
        app.profile(Method::PATCH, &user.jwt)
            .header("if-match", &tag)
            .json(&json!({"bio": "privileged enough"})),
    )
    .await;
    let (_, body) = profile_of(res, StatusCode::OK).await;
    assert_eq!(body["bio"], "privileged enough");
    assert_eq!(
        app.delete_profile(&user.jwt).await.status(),
        StatusCode::NO_CONTENT
    );

    // The cascade from identity.users and the FK error path work under it too.
    assert_eq!(
        app.put_profile(&user.jwt, &json!({})).await.status(),
        StatusCode::CREATED
    );
    let profile_rows = format!(
        "SELECT count(*) FROM learner.profiles WHERE user_id = '{}'",
        user.id
    );
    let count = |rows: Vec<tokio_postgres::Row>| rows[0].get::<_, i64>(0);
    assert_eq!(count(app.sql(&profile_rows).await), 1, "profile stored");
    app.sql(&format!(
        "DELETE FROM identity.users WHERE id = '{}'",
        user.id
    ))
    .await;
    assert_eq!(
        count(app.sql(&profile_rows).await),
        0,
        "deleting the user cascades to the profile row"
    );
    assert_error(
        app.get_profile(&user.jwt).await,
        StatusCode::NOT_FOUND,
        "PROFILE_NOT_FOUND",
    )
    .await;
    assert_error(
        app.put_profile(&user.jwt, &json!({})).await,
        StatusCode::UNAUTHORIZED,
        "USER_NOT_FOUND",
    )
    .await;

    // What it must not touch is refused.
    for sql in [
        "SELECT password_hash FROM identity.accounts",
        "SELECT token_hash FROM identity.sessions",
        "SELECT email FROM identity.users",
        "SELECT sealed_private FROM identity.signing_keys",
        "DELETE FROM identity.sessions",
        "CREATE TABLE learner.scratch (id int)",
        "ALTER TABLE learner.profiles ADD COLUMN x int",
        "TRUNCATE learner.profiles",
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        assert_eq!(
            err.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err}"
        );
    }
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
        sql.contains("GRANT USAGE ON SCHEMA learner TO \"r\";"),
        "{sql}"
    );
    assert!(
        sql.contains("GRANT SELECT, INSERT, UPDATE, DELETE ON learner.profiles TO \"r\";"),
        "{sql}"
    );
    assert!(
        !sql.contains("identity"),
        "no rights on the identity schema: {sql}"
    );
}
