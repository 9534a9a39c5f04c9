//! Structured logs. Request spans come from `tracing-actix-web` with a request id
//! and the caller's `user_id`; nothing here ever records bodies or the
//! `Authorization` header.

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{fmt, EnvFilter};

/// Default log filter. Client errors (4xx) are not logged per request: under a
/// flood of bad tokens that would be a log line per request; the verifier logs the
/// reason at debug level.
pub const DEFAULT_FILTER: &str = "info,actix_server=warn,tracing_actix_web=error";

/// Installs the global subscriber once, writing to stdout; `format` is `json` or
/// `pretty`. With `access_log`, every request span logs one line when it closes
/// (method, route, status, request id, user id, latency). `RUST_LOG` overrides the
/// default filter.
pub fn init(format: &str, access_log: bool) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    init_with(format, access_log, filter, std::io::stdout);
}

/// [`init`] with an explicit filter and sink (tests capture logs this way).
pub fn init_with<W>(format: &str, access_log: bool, filter: EnvFilter, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let spans = if access_log {
        FmtSpan::CLOSE
    } else {
        FmtSpan::NONE
    };
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_span_events(spans)
        .with_writer(writer);
    let result = if format == "pretty" {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
    // A second call (tests) keeps the first subscriber.
    let _ = result;
}
