//! Against a real server: outages classify as `Unavailable` (503), our own mistakes
//! as `Bug` (500).

use std::time::{Duration, Instant};

use database::{build_pool, classify, classify_pool, Failure, PoolOptions};
use test_support::TestDatabase;

#[tokio::test]
async fn a_refused_connection_is_unavailable_and_fails_fast() {
    // Port 1 on loopback: nothing listens there, so the connect is refused at once.
    let pool = build_pool(
        "postgres://postgres@127.0.0.1:1/none",
        &PoolOptions::default(),
    )
    .expect("pool");
    let started = Instant::now();
    let err = pool.get().await.expect_err("nothing listens on port 1");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(classify_pool(&err), Failure::Unavailable);
}

#[tokio::test]
async fn bad_sql_is_a_bug() {
    let db = TestDatabase::new().await;
    let client = db.client().await;
    let err = client
        .simple_query("SELEC 1")
        .await
        .expect_err("syntax error");
    assert_eq!(classify(&err), Failure::Bug);
    let err = client
        .query_one("SELECT 'text'::text", &[])
        .await
        .expect("row")
        .try_get::<_, i32>(0)
        .expect_err("wrong type");
    assert_eq!(classify(&err), Failure::Bug);
}

#[tokio::test]
async fn a_statement_timeout_and_a_terminated_session_are_unavailable() {
    let db = TestDatabase::new().await;
    let client = db.client().await;
    client
        .batch_execute("SET statement_timeout = 50")
        .await
        .expect("set");
    let err = client
        .simple_query("SELECT pg_sleep(2)")
        .await
        .expect_err("cancelled");
    assert_eq!(classify(&err), Failure::Unavailable);

    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    db.client()
        .await
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = client
        .simple_query("SELECT 1")
        .await
        .expect_err("session ended");
    assert_eq!(classify(&err), Failure::Unavailable);
}
