//! The auth-server: a Better Auth–compatible identity provider on Postgres.
//! `main.rs` is a thin shell around [`startup::Application`].

pub mod account_deletion;
pub mod accounts;
pub mod audit;
pub mod body;
pub mod client_credentials;
pub mod client_ip;
pub mod config;
pub mod cookies;
pub mod credentials;
pub mod csrf;
pub mod db;
pub mod email_verification;
pub mod error;
pub mod extract;
pub mod forms;
pub mod jwt;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod one_time_tokens;
pub mod openapi;
pub mod password;
pub mod password_reset;
pub mod rate_limit;
pub mod routes;
pub mod session_service;
pub mod social;
pub mod social_sign_in;
pub mod startup;
pub mod state;
pub mod sweeper;
pub mod telemetry;
pub mod user_admin;

pub use config::Settings;
pub use startup::Application;

/// Settings the property tests share.
#[cfg(test)]
pub(crate) mod test_config {
    use proptest::prelude::ProptestConfig;

    /// 256 cases, and no regression files: a failure prints its minimal input,
    /// which then goes into a unit test.
    pub fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }
}
