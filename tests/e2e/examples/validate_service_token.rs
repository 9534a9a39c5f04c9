//! Validates an auth-server service token (client credentials, `typ: at+jwt`) with
//! the `jwt-verifier` crate, offline against the auth-server's JWKS.
//! docs/service-tokens.md shows it; tests/e2e/tests/service_tokens.rs runs it.
//!
//!   JWKS_URL=https://auth.example.com/.well-known/jwks.json \
//!   ISSUER=https://auth.example.com AUDIENCE=https://auth.example.com \
//!   TOKEN=eyJ... cargo run -p e2e --example validate_service_token
//!
//! In an actix-web service, register the `Verifier` as app data and take
//! `jwt_verifier::actix::ServiceCaller` as an extractor instead:
//! `async fn handler(caller: ServiceCaller) { caller.require_scope("profiles:read")?; … }`

use jwt_verifier::{ServiceClaims, Verifier, VerifierConfig, VerifyError};

/// Builds a verifier once per process: it caches the JWKS (and refetches on an
/// unknown `kid`, at most every 30 s).
pub fn verifier(jwks_url: &str, issuer: &str, audience: &str) -> Verifier {
    let config = VerifierConfig::new(jwks_url, issuer, audience);
    Verifier::new(config).expect("a valid verifier configuration")
}

/// The service's claims if `token` is a service token granting `scope`. A
/// learner's token is `VerifyError::WrongKind`.
pub async fn validate(
    verifier: &Verifier,
    token: &str,
    scope: &str,
) -> Result<ServiceClaims, String> {
    let claims = verifier
        .verify_service(token)
        .await
        .map_err(|e: VerifyError| e.to_string())?;
    if !claims.has_scope(scope) {
        return Err(format!("scope {scope} not granted"));
    }
    Ok(claims)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let verifier = verifier(&env("JWKS_URL"), &env("ISSUER"), &env("AUDIENCE"));
    match validate(&verifier, &env("TOKEN"), "profiles:read").await {
        Ok(c) => println!("client {} scopes {}", c.client_id, c.scope),
        Err(e) => {
            println!("rejected: {e}");
            std::process::exit(1);
        }
    }
}
