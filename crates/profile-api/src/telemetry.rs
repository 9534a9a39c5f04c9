//! Structured logs (see `service_kit::telemetry`). Request spans come from
//! `tracing-actix-web` with a request id and the caller's `user_id`; nothing here
//! ever records bodies or the `Authorization` header.

pub use service_kit::telemetry::{init, init_with, DEFAULT_FILTER};
