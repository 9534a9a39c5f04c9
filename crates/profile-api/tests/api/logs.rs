use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing_subscriber::EnvFilter;

use crate::helpers::*;

/// A log sink the test can read back.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

#[tokio::test]
async fn logs_carry_request_and_user_ids_but_never_tokens() {
    // nextest runs each test in its own process, so this subscriber sees only us.
    let capture = Capture::default();
    let sink = capture.clone();
    profile_api::telemetry::init_with("json", true, EnvFilter::new("debug"), move || sink.clone());
    let app = spawn_app().await;
    let user = app.user("logs@example.com").await;
    app.put_profile(&user.jwt, &json!({"display_name": "Logged"}))
        .await;
    app.get_profile(&user.jwt).await;
    let (signed, signature) = user.jwt.rsplit_once('.').expect("jwt");
    let tampered = format!("{signed}.{}", signature.replace(&signature[..4], "AAAA"));
    assert_eq!(app.get_profile(&tampered).await.status(), 401);
    // Spans close (and log) just after the response is written.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let logs = capture.text();
    assert!(logs.contains("\"request_id\""), "{logs}");
    assert!(
        logs.contains(&format!("\"user_id\":\"{}\"", user.id)),
        "{logs}"
    );
    assert!(
        logs.contains("bearer token rejected"),
        "the reason is logged: {logs}"
    );
    for secret in [signature, &tampered[tampered.len() - 40..], &user.jwt[..60]] {
        assert!(!logs.contains(secret), "a token reached the logs");
    }
}
