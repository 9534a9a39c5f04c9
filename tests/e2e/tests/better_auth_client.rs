//! Runs the real `better-auth` npm client (tests/js, pinned version) against the real
//! auth-server, in cookie mode and in bearer mode.
//!
//! Needs Node 20+ and the npm packages: `npm ci --prefix tests/js` (from the workspace root).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use auth_server::{Application, Settings};
use test_support::TestDatabase;
use tokio::process::Command;

/// The server's public URL; its origin is the JWT issuer and audience.
const BASE_URL: &str = "http://localhost:4100";
/// The browser origin the client pretends to run on.
const TRUSTED: &str = "http://localhost:3000";
/// Longest the JS suite may take before it is killed.
const NODE_TIMEOUT: Duration = Duration::from_secs(100);

fn workspace_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

#[tokio::test]
async fn real_better_auth_client_works_in_cookie_and_bearer_mode() {
    let root = workspace_root();
    let node_modules = root.join("tests/js/node_modules");
    assert!(
        node_modules.join("better-auth").is_dir() && node_modules.join("jose").is_dir(),
        "{} is missing or incomplete: run `npm ci --prefix tests/js` in the workspace root first",
        node_modules.display()
    );

    let db = TestDatabase::new().await;
    let settings = Settings {
        database_url: db.url().to_owned(),
        migrate_on_start: false,
        host: "127.0.0.1".into(),
        port: 0,
        base_url: BASE_URL.into(),
        secret: Some("e2e-better-auth-client-secret-0123456789abcdef".into()),
        key_encryption_secret: Some("e2e-key-encryption-secret-0123456789abcdef".into()),
        trusted_origins: TRUSTED.into(),
        max_concurrent_hashes: 2,
        db_pool_size: 4,
        workers: 1,
        log_format: "pretty".into(),
        ..Settings::default()
    };
    let app = Application::build(settings).await.expect("app builds");
    let auth_url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let child = Command::new("node")
        .arg("--test")
        .arg("tests/js/client.test.mjs")
        .current_dir(&root)
        .env("AUTH_URL", &auth_url)
        .env("AUTH_ISSUER", BASE_URL)
        .env("AUTH_AUDIENCE", BASE_URL)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `node` (Node 20+ must be on PATH): {e}"));
    let output = tokio::time::timeout(NODE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("node --test did not finish within {NODE_TIMEOUT:?}"))
        .expect("waiting for node");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node --test tests/js/client.test.mjs failed ({}) against {auth_url}\n\
         --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    // Shown with --no-capture (or on a later failure): which sub-tests ran or were skipped.
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        eprintln!("{stderr}");
    }
}
