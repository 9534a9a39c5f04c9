//! Password hashing and the hash schemes we verify: moved to `identity-core` so the
//! importer shares them without linking the server. Re-exported here so
//! `crate::password::…` keeps working.

pub use identity_core::password::*;
