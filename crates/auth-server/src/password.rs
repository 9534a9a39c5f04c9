//! Password hashing with argon2id (m=19456 KiB, t=2, p=1), run on the blocking pool
//! with a bounded number in flight: a flood of sign-ins queues here instead of
//! stalling the async workers or allocating 19 MiB per waiting request.

use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// argon2id memory cost in KiB (OWASP's minimum recommendation).
pub const M_COST: u32 = 19_456;
/// argon2id iterations.
pub const T_COST: u32 = 2;
/// argon2id lanes.
pub const P_COST: u32 = 1;

/// Hashes and verifies passwords off the async executor.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// A hash of a random password: verified against when the user does not exist,
    /// so an unknown e-mail costs the same as a wrong password.
    dummy_hash: Arc<str>,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST, T_COST, P_COST, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &[u8]) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Ok(argon2()
        .hash_password(password, &salt)
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?
        .to_string())
}

fn verify_blocking(password: &[u8], phc: &str) -> bool {
    match PasswordHash::new(phc) {
        // Parameters come from the stored string, so older hashes keep verifying.
        Ok(parsed) => argon2().verify_password(password, &parsed).is_ok(),
        Err(_) => false,
    }
}

impl PasswordHasher {
    /// A hasher that runs at most `max_in_flight` hashes at once.
    pub fn new(max_in_flight: usize) -> anyhow::Result<Self> {
        let random: String = crate::credentials::new_token();
        let dummy = hash_blocking(random.as_bytes())?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
            dummy_hash: dummy.into(),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .context("password hasher closed")?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(f))
            .await
            .context("password hashing task failed")
    }

    /// A new argon2id PHC string for `password`.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = password.as_bytes().to_vec();
        self.run(move || hash_blocking(&password)).await?
    }

    /// Whether `password` matches `phc`; with `None` (no such user) the same work is
    /// done against the dummy hash and the answer is always `false`.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> anyhow::Result<bool> {
        let password = password.as_bytes().to_vec();
        let (target, real) = match phc {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        let ok = self
            .run(move || verify_blocking(&password, &target))
            .await?;
        Ok(ok && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_chosen_parameters_and_verify() {
        let h = PasswordHasher::new(2).expect("hasher");
        let phc = h.hash("correct horse").await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(h.verify("correct horse", Some(&phc)).await.expect("verify"));
        assert!(!h.verify("wrong horse", Some(&phc)).await.expect("verify"));
        assert!(!h.verify("correct horse", None).await.expect("verify"));
        assert!(!h
            .verify("x", Some("not a phc string"))
            .await
            .expect("verify"));
    }
}
