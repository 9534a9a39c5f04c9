//! Names shared by the crates that write the identity tables.
//!
//! Only names and conventions live here, not row structs: the writers genuinely
//! need different shapes. The auth-server writes one user at a time from a request
//! (`identity.users` name/email/image) and reads back a fixed column list; the
//! importer writes every column in batches through `jsonb_to_recordset`; the
//! profile-api writes a fixed set of `learner.profiles` columns while the importer
//! writes whichever columns the operator maps, discovered at run time.

/// The users table.
pub const USERS: &str = "identity.users";
/// The sign-in methods table.
pub const ACCOUNTS: &str = "identity.accounts";
/// The learners' profiles table (owned by the profile-api, filled by the importer).
pub const PROFILES: &str = "learner.profiles";

/// `identity.accounts.provider_id` of the account that holds the password hash.
/// Its `account_id` is the user's id as text, and at most one exists per user
/// (a partial unique index).
pub const CREDENTIAL_PROVIDER: &str = "credential";
