//! Several instances of each service on one database, as behind a load balancer:
//! sessions and revocations are seen by every instance at once, a key rotated
//! through one signs on the other only after it was published, and two instances
//! starting on an empty database apply the migrations once. (Shared rate limits and
//! the outbox sending each mail once are proven in the auth-server's `limits` and
//! `lifecycle::outbox` suites.)

use std::sync::Arc;

use actix_web::web::Data;
use auth_server::keys::{self, KeyEvent};
use auth_server::state::AppState;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use test_support::TestDatabase;

struct Instance {
    url: String,
    state: Data<AppState>,
}

async fn auth_instance(settings: auth_server::Settings) -> Instance {
    let app = auth_server::Application::build(settings)
        .await
        .expect("auth-server builds");
    let url = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    Instance { url, state }
}

async fn profile_instance(db: &TestDatabase, auth_url: &str) -> String {
    let app = profile_api::Application::build(e2e::profile_settings(db, auth_url))
        .await
        .expect("profile-api builds");
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    url
}

async fn session(http: &Client, auth: &str, bearer: &str) -> Value {
    http.get(format!("{auth}/api/auth/get-session"))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("get-session")
        .json()
        .await
        .expect("json")
}

fn kid(jwt: &str) -> String {
    use base64::Engine as _;
    let header = jwt.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url");
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    v["kid"].as_str().expect("kid").to_owned()
}

#[tokio::test]
async fn sessions_and_revocations_are_seen_by_every_instance_at_once() {
    let db = TestDatabase::new().await;
    let settings = e2e::auth_settings(&db);
    let (a, b) = (
        auth_instance(settings.clone()).await,
        auth_instance(settings).await,
    );
    let (pa, pb) = (
        profile_instance(&db, &a.url).await,
        profile_instance(&db, &b.url).await,
    );
    let http = Client::new();

    // Signed up through A: B knows the session, and both profile-apis take A's JWT.
    let learner = test_stack::sign_up(
        &http,
        &a.url,
        "roaming@example.com",
        test_stack::TEST_PASSWORD,
    )
    .await;
    assert_eq!(
        session(&http, &b.url, &learner.session).await["user"]["id"],
        learner.id.as_str()
    );
    let jwt = test_stack::jwt_for(&http, &a.url, &learner.session).await;
    for profile in [&pa, &pb] {
        let res = http
            .put(format!("{profile}/api/profile"))
            .bearer_auth(&jwt)
            .json(&json!({"display_name": "Roaming"}))
            .send()
            .await
            .expect("put");
        assert!(res.status().is_success(), "{profile}: {}", res.status());
    }

    // Signed out through B: A refuses the session on the very next request.
    let res = http
        .post(format!("{}/api/auth/sign-out", b.url))
        .bearer_auth(&learner.session)
        .json(&json!({}))
        .send()
        .await
        .expect("sign-out");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(session(&http, &a.url, &learner.session).await, Value::Null);
    let res = http
        .get(format!("{}/api/auth/token", a.url))
        .bearer_auth(&learner.session)
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_key_rotated_through_one_instance_signs_on_the_other_only_once_published() {
    let db = TestDatabase::new().await;
    let settings = e2e::auth_settings(&db);
    let (a, b) = (
        auth_instance(settings.clone()).await,
        auth_instance(settings).await,
    );
    let http = Client::new();
    let learner =
        test_stack::sign_up(&http, &b.url, "keys@example.com", test_stack::TEST_PASSWORD).await;
    let before = kid(&test_stack::jwt_for(&http, &b.url, &learner.session).await);

    // A publishes the next key: once B has reloaded, B's JWKS carries it, but B
    // still signs with the current one.
    let created = keys::rotate(&a.state.pool, &a.state.keys, false)
        .await
        .expect("publish");
    let KeyEvent::Created { kid: next, .. } = created else {
        panic!("{created:?}")
    };
    b.state.keys.reload(&b.state.pool).await.expect("reload");
    let jwks: Value = http
        .get(format!("{}/.well-known/jwks.json", b.url))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        kids.contains(&next.as_str()) && kids.contains(&before.as_str()),
        "{kids:?}"
    );
    let fresh = test_stack::sign_up(
        &http,
        &b.url,
        "keys2@example.com",
        test_stack::TEST_PASSWORD,
    )
    .await;
    assert_eq!(
        kid(&test_stack::jwt_for(&http, &b.url, &fresh.session).await),
        before
    );

    // Promoted through A: B signs with it after its next reload.
    assert!(matches!(
        keys::rotate(&a.state.pool, &a.state.keys, true)
            .await
            .expect("promote"),
        KeyEvent::Promoted { .. }
    ));
    b.state.keys.reload(&b.state.pool).await.expect("reload");
    let third = test_stack::sign_up(
        &http,
        &b.url,
        "keys3@example.com",
        test_stack::TEST_PASSWORD,
    )
    .await;
    assert_eq!(
        kid(&test_stack::jwt_for(&http, &b.url, &third.session).await),
        next
    );
}

#[tokio::test]
async fn two_instances_starting_on_an_empty_database_migrate_once() {
    let db = TestDatabase::unmigrated().await;
    let mut with_migrations = e2e::auth_settings(&db);
    with_migrations.migrate_on_start = true;
    let builds = Arc::new(tokio::sync::Barrier::new(2));
    let start = |s: auth_server::Settings| {
        let builds = builds.clone();
        async move {
            builds.wait().await;
            auth_instance(s).await
        }
    };
    let (a, b) = tokio::join!(start(with_migrations.clone()), start(with_migrations));
    let client = db.client().await;
    let applied: i64 = client
        .query_one("SELECT count(*) FROM identity.schema_history", &[])
        .await
        .expect("history")
        .get(0);
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .expect("migrations")
        .count() as i64;
    assert_eq!(applied, files, "every migration applied exactly once");
    // Both serve.
    let http = Client::new();
    for url in [&a.url, &b.url] {
        let res = http
            .get(format!("{url}/readyz"))
            .send()
            .await
            .expect("readyz");
        assert_eq!(res.status(), StatusCode::OK, "{url}");
    }
}
