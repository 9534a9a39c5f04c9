//! The pool hands out working connections after a server-side disconnect (what a
//! Neon suspend does) and replaces connections idle past `max_idle`.

use std::time::Duration;

use database::{build_pool, PoolOptions};
use test_support::TestDatabase;

async fn backend_pid(pool: &database::deadpool_postgres::Pool) -> i32 {
    let client = pool.get().await.expect("connection");
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0)
}

#[tokio::test]
async fn a_killed_idle_connection_is_replaced_not_handed_out() {
    let db = TestDatabase::new().await;
    let pool = build_pool(
        db.url(),
        &PoolOptions {
            max_size: 1,
            verify_after_idle: Duration::from_millis(50),
            ..PoolOptions::default()
        },
    )
    .expect("pool");
    let first = backend_pid(&pool).await;
    // The server ends the session (as a compute suspend does).
    db.client()
        .await
        .execute("SELECT pg_terminate_backend($1)", &[&first])
        .await
        .expect("terminate");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = backend_pid(&pool).await;
    assert_ne!(first, second, "a fresh connection replaced the dead one");
}

#[tokio::test]
async fn busy_connections_are_reused_and_long_idle_ones_dropped() {
    let db = TestDatabase::new().await;
    let pool = build_pool(
        db.url(),
        &PoolOptions {
            max_size: 1,
            max_idle: Duration::from_millis(300),
            ..PoolOptions::default()
        },
    )
    .expect("pool");
    let a = backend_pid(&pool).await;
    let b = backend_pid(&pool).await;
    assert_eq!(a, b, "reused while busy");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let c = backend_pid(&pool).await;
    assert_ne!(b, c, "replaced after max_idle");
}
