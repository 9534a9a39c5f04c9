//! Structured logs. Request spans come from `tracing-actix-web` (with a request id);
//! nothing here ever records bodies, cookies or authorization headers.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber once; `format` is `json` or `pretty`.
/// `RUST_LOG` overrides the default filter.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let result = if format == "pretty" {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
    // A second call (tests) keeps the first subscriber.
    let _ = result;
}
