//! Everything a handler needs, built once at start-up and shared (no statics).

use deadpool_postgres::Pool;
use jwt_verifier::Verifier;

use crate::config::Settings;

/// Shared application state.
pub struct AppState {
    /// The settings the app was built with.
    pub settings: Settings,
    /// Connections to the profiles database (lazy: none is opened at start-up).
    pub pool: Pool,
    /// Verifies bearer tokens against the auth-server's cached JWKS. Also
    /// registered as its own app data for the `AuthenticatedUser` extractor.
    pub verifier: Verifier,
}
