//! The binary itself: summary on stdout, JSON report, exit codes.

use std::process::Command;

use serde_json::Value;
use uuid::Uuid;

use crate::helpers::*;

fn import(f: &Fixture, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_supabase-import"))
        .args(["--source", f.source.url(), "--target", f.target.url()])
        .args(extra)
        .output()
        .expect("supabase-import runs")
}

#[tokio::test]
async fn the_binary_prints_a_summary_writes_json_and_exits_by_outcome() {
    let f = Fixture::new().await;
    let dir = std::env::temp_dir().join(format!("supabase-import-cli-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let path = dir.join("report.json");
    let path_str = path.to_str().expect("utf-8 path");

    // Interrupted: exit 3, and it says how to go on.
    let out = import(&f, &["--batch-size", "5", "--stop-after-batches", "1"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("INTERRUPTED"));

    let out = import(&f, &["--report", path_str]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("completed") && stdout.contains("Verification: OK"),
        "{stdout}"
    );
    assert!(stdout.contains("resumed after 1 batches"), "{stdout}");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("report")).expect("json");
    assert_eq!(json["counts"]["users"]["imported"], 10);
    assert!(
        out.stderr.is_empty(),
        "no progress bar without a terminal: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Bad arguments: exit 1 with a message, nothing written.
    let out = import(&f, &["--map", "nonsense"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TARGET=SOURCE"));
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs the binary with the URLs in the environment only, never on the command line.
fn import_from_env(source: &str, target: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_supabase-import"))
        .env("SUPABASE_IMPORT_SOURCE_URL", source)
        .env("SUPABASE_IMPORT_TARGET_URL", target)
        .env_remove("RUST_LOG")
        .output()
        .expect("supabase-import runs")
}

#[tokio::test]
async fn the_urls_can_come_from_the_environment() {
    let f = Fixture::new().await;
    let out = import_from_env(f.source.url(), f.target.url());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Verification: OK"), "{stdout}");
    // Loopback, no sslmode: left as it is, and nothing to warn about.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// This machine's name: it resolves to a loopback address, but as a name it is not
/// `localhost`, so the import treats it as a remote host (names are not resolved).
fn machine_name() -> String {
    use std::net::ToSocketAddrs as _;
    let name = std::fs::read_to_string("/etc/hostname")
        .expect("/etc/hostname")
        .trim()
        .to_owned();
    assert!(
        (name.as_str(), 5432)
            .to_socket_addrs()
            .is_ok_and(|mut a| a.any(|a| a.ip().is_loopback())),
        "{name} must resolve to this machine for this test"
    );
    name
}

#[tokio::test]
async fn a_remote_source_is_verified_by_default_and_require_is_warned_about() {
    let f = Fixture::new().await;
    let remote = f.source.url().replace("127.0.0.1", &machine_name());
    assert_ne!(remote, f.source.url());
    // No sslmode: verify-full, and the local cluster's self-signed certificate
    // (for `localhost`, from no trusted CA) is refused before anything is read.
    let out = import_from_env(&remote, f.target.url());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("source"), "{stderr}");
    assert!(
        stderr.contains("certificate verify failed"),
        "a TLS verification error: {stderr}"
    );
    let runs: i64 = f
        .target
        .client()
        .await
        .query_one("SELECT count(*) FROM identity.import_runs", &[])
        .await
        .expect("runs")
        .get(0);
    assert_eq!(runs, 0, "nothing was started");

    // An explicit sslmode=require keeps libpq's meaning (encrypted, unverified):
    // it runs, with a warning.
    let sep = if remote.contains('?') { '&' } else { '?' };
    let out = import_from_env(&format!("{remote}{sep}sslmode=require"), f.target.url());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("sslmode=require") && stderr.contains("not checked"),
        "{stderr}"
    );
}
