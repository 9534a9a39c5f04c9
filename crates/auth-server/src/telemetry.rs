//! Structured logs (see `service_kit::telemetry`). Request spans come from
//! `tracing-actix-web` (with a request id); nothing here ever records bodies,
//! cookies or authorization headers.

pub use service_kit::telemetry::{init_with, DEFAULT_FILTER};

/// Installs the global subscriber once, writing to stdout; `format` is `json` or
/// `pretty`. `RUST_LOG` overrides the default filter.
pub fn init(format: &str) {
    service_kit::telemetry::init(format, false);
}
