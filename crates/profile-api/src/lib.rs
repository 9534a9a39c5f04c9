//! The profile-api: each learner's profile (background, languages, goals) behind
//! `/api/profile`, for the user named by an RS256 JWT from the auth-server, stored
//! in `learner.profiles` (Postgres / Neon). `main.rs` is a thin shell around
//! [`startup::Application`].
//!
//! The service applies no migrations: the auth-server owns the schema
//! (`auth-server migrate`), and this service's database role is limited to
//! `learner.profiles` (docs/profile-api-database-role.md).

pub mod auth;
pub mod body;
pub mod conditional;
pub mod config;
pub mod db;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod profile;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::Settings;
pub use startup::Application;
