//! SQL, one module per table. Every statement is parameterised and prepared once per
//! pooled connection (`prepare_cached`), which stays correct behind Neon's
//! transaction-mode pooler because a statement never leaves the connection that
//! prepared it.

pub mod accounts;
pub mod audit_log;
pub mod mail_outbox;
pub mod oauth_clients;
pub mod oauth_states;
pub mod rate_limits;
pub mod sessions;
pub mod signing_keys;
pub mod users;
pub mod verifications;

pub use deadpool_postgres::GenericClient;
