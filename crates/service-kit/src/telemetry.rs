//! Structured logs for both services: JSON (or pretty) lines via tracing-subscriber,
//! to stdout or to any [`MakeWriter`], so a test can capture every line a running
//! service writes (and assert that no credential is among them).

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;

/// The filter type [`init_with`] takes, re-exported so callers need not depend on
/// tracing-subscriber.
pub use tracing_subscriber::EnvFilter;

/// Default log filter. Client errors (4xx) are not logged per request: under a
/// flood of bad tokens or passwords that would be a log line per request; the
/// handlers log what matters (sign-in rejected, token rejected …) themselves.
pub const DEFAULT_FILTER: &str = "info,actix_server=warn,tracing_actix_web=error";

/// Always appended to the filter: tokio-postgres logs every statement's parameters
/// at debug level (`tokio_postgres::query`), and ours carry password hashes, token
/// hashes and sealed keys. This replaces any directive for that same target, so
/// `RUST_LOG=debug` (or `tokio_postgres=trace`) cannot turn it back on; only a
/// span-scoped directive (`[HTTP request]=debug`) still could.
pub const QUIET_QUERY_PARAMETERS: &str = "tokio_postgres::query=info";

/// The filter from `RUST_LOG`, or [`DEFAULT_FILTER`] when it is unset or invalid.
pub fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// Installs the global subscriber once, writing to stdout; `format` is `json` or
/// `pretty`. With `access_log`, every request span logs one line when it closes
/// (method, route, status, request id, user id, latency). `RUST_LOG` overrides the
/// default filter.
pub fn init(format: &str, access_log: bool) {
    use std::io::IsTerminal;
    // Colours only for a person at a terminal: redirected to a file or a pipe
    // (scripts/dev's logs, a log collector) escape codes are noise.
    let ansi = std::io::stdout().is_terminal();
    install(format, access_log, env_filter(), std::io::stdout, ansi);
}

/// [`init`] with an explicit filter and sink (tests capture logs this way, with a
/// [`CapturedLogs`]).
pub fn init_with<W>(format: &str, access_log: bool, filter: EnvFilter, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    install(format, access_log, filter, writer, false);
}

fn install<W>(format: &str, access_log: bool, filter: EnvFilter, writer: W, ansi: bool)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let spans = if access_log {
        FmtSpan::CLOSE
    } else {
        FmtSpan::NONE
    };
    let filter = filter.add_directive(
        QUIET_QUERY_PARAMETERS
            .parse()
            .expect("a valid directive, checked by a test"),
    );
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_span_events(spans)
        .with_ansi(ansi)
        .with_writer(writer);
    let result = if format == "pretty" {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
    // A second call (tests) keeps the first subscriber.
    let _ = result;
}

/// An in-memory log sink: clones share one buffer, so a test hands one clone to
/// [`init_with`] and reads every line back from another.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer()).into_owned()
    }

    fn buffer(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A panicking writer cannot leave the byte buffer inconsistent; keep reading.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the subscriber is global, so a second one in this process (under
    // `cargo test`) would not be installed.
    #[test]
    fn captured_logs_collect_every_line_but_query_parameters() {
        let logs = CapturedLogs::default();
        init_with(
            "json",
            false,
            EnvFilter::new("info,app=debug,tokio_postgres=trace,tokio_postgres::query=trace"),
            logs.clone(),
        );
        tracing::info!(user_id = "u-1", "hello");
        tracing::trace!(target: "app", "filtered out");
        tracing::debug!(target: "tokio_postgres::query", "parameters: [secret-hash]");
        tracing::info!(target: "tokio_postgres::query", "kept at info");
        tracing::debug!(target: "tokio_postgres::prepare", "statement text");
        let text = logs.text();
        assert!(text.contains("\"user_id\":\"u-1\""), "{text}");
        assert!(text.contains("\"message\":\"hello\""), "{text}");
        assert!(!text.contains("filtered out"), "{text}");
        assert!(!text.contains("secret-hash"), "{text}");
        assert!(text.contains("kept at info"), "{text}");
        assert!(text.contains("statement text"), "{text}");
    }
}
