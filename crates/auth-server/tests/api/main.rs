//! API tests of the auth-server: one binary, each test on its own database.

mod helpers;

mod audit;
mod browser;
mod health;
mod least_privilege;
mod legacy_passwords;
mod lifecycle;
mod limits;
mod logs;
mod metrics;
mod openapi;
mod password;
mod service_tokens;
mod session;
mod sign_in;
mod sign_up;
mod social;
mod sweeper;
mod timing;
mod tokens;
mod user;
