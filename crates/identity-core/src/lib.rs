//! The identity rules more than one crate needs, kept here so none exists twice:
//! password schemes and the hasher ([`password`]), e-mail normalising and checks
//! ([`email`]), the field limits of `identity.users` ([`limits`]) and the names of
//! the shared tables ([`schema`]).
//!
//! Framework-free: the auth-server and the `supabase-import` tool both link it.

pub mod email;
pub mod limits;
pub mod password;
pub mod schema;
