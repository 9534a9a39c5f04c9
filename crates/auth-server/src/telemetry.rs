//! Structured logs. Request spans come from `tracing-actix-web` (with a request id);
//! nothing here ever records bodies, cookies or authorization headers.

use tracing_subscriber::{fmt, EnvFilter};

/// Default log filter. Client errors (4xx) are not logged per request: under a
/// flood of bad tokens or passwords that would be a log line per request; the
/// handlers log what matters (sign-in rejected, rate limited) themselves.
pub const DEFAULT_FILTER: &str = "info,actix_server=warn,tracing_actix_web=error";

/// Installs the global subscriber once; `format` is `json` or `pretty`.
/// `RUST_LOG` overrides the default filter.
pub fn init(format: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let result = if format == "pretty" {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
    // A second call (tests) keeps the first subscriber.
    let _ = result;
}
