//! API tests of the profile-api: one binary; each test gets its own database, a
//! real auth-server as the token issuer, and the real profile-api, both on port 0.

mod helpers;

mod auth;
mod conditional;
mod crud;
mod health;
mod least_privilege;
mod log_secrets;
mod logs;
mod metrics;
mod openapi;
mod patch;
mod service;
mod validation;
