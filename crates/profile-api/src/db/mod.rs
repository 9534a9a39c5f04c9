//! SQL, one module per table. Every statement is parameterised and prepared once per
//! pooled connection (`prepare_cached`), which stays correct behind Neon's
//! transaction-mode pooler because a statement never leaves the connection that
//! prepared it.
//!
//! The profile-api applies no migrations: the auth-server owns the schema
//! (`migrations/`, applied by `auth-server migrate`), and the profile-api's
//! database role may only read and write `learner.profiles`
//! (docs/profile-api-database-role.md).

pub mod profiles;

pub use deadpool_postgres::GenericClient;
