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
