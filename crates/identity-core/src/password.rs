//! Password hashing with argon2id (m=19456 KiB, t=2, p=1), run on the blocking pool
//! with a bounded number in flight: a flood of sign-ins queues here instead of
//! stalling the async workers or allocating 19 MiB per waiting request.
//!
//! Verification also accepts the hashes an import brings along (Supabase Auth's):
//! bcrypt `$2a$`/`$2b$`/`$2y$` of cost 4–14 and argon2i/argon2id PHC strings within
//! the cost caps below (a hash over them is never verified).
//! The scheme is chosen by the hash's prefix. Such hashes verify as
//! [`Verification::ValidOutdated`], and the caller replaces them with argon2id;
//! new hashes are only ever argon2id with the parameters below.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use argon2::password_hash::{Ident, Output, ParamsString};
use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

/// argon2id memory cost in KiB (OWASP's minimum recommendation).
pub const M_COST: u32 = 19_456;
/// argon2id iterations.
pub const T_COST: u32 = 2;
/// argon2id lanes.
pub const P_COST: u32 = 1;

/// argon2's working memory (19 MiB): one per hash in flight, allocated once and
/// reused, so memory stays at `max_in_flight` × 19 MiB however many hashes run.
/// (Allocating it per hash let glibc's per-thread arenas keep hundreds of MiB.)
type Workspace = Vec<Block>;

fn new_workspace() -> Workspace {
    vec![Block::default(); M_COST as usize]
}

/// Hashes and verifies passwords off the async executor.
#[derive(Clone)]
pub struct PasswordHasher {
    /// Hashes in flight plus hashes waiting: past it a request is refused at once
    /// (503) instead of queueing without bound behind a flood.
    admission: Arc<Semaphore>,
    permits: Arc<Semaphore>,
    workspaces: Arc<Mutex<Vec<Workspace>>>,
    /// A hash of a random password: verified against when the user does not exist,
    /// so an unknown e-mail costs the same as a wrong password.
    dummy_hash: Arc<str>,
    /// Over-cap hashes already logged (by a keyed digest, not the hash), so an
    /// attacker retrying one address cannot fill the log: one WARN per hash per hour.
    over_cap_logged: moka::sync::Cache<u64, ()>,
    digest_keys: std::collections::hash_map::RandomState,
    /// How long a refusal must take (see [`FailureFloor`]).
    floor: Arc<FailureFloor>,
    /// The bounds the semaphores were made with, to tell queued from running.
    max_in_flight: usize,
    max_admitted: usize,
    /// What the hasher has done, read by metrics (see [`PasswordHasher::stats`]).
    counters: Arc<Counters>,
    /// Told how long each job waited for a slot (a metrics histogram).
    wait_observer: Option<WaitObserver>,
}

/// Called with each job's wait for a hashing slot.
type WaitObserver = Arc<dyn Fn(Duration) + Send + Sync>;

#[derive(Debug, Default)]
struct Counters {
    completed: AtomicU64,
    refused: AtomicU64,
}

/// A snapshot of the hasher's queue and totals, for metrics. Counts every job:
/// argon2id hashes and verifications, and the rare legacy (bcrypt, imported
/// argon2) verifications, which share the same slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HasherStats {
    /// Jobs computing right now (at most the configured concurrency).
    pub in_flight: usize,
    /// Jobs admitted and waiting for a slot.
    pub queued: usize,
    /// The concurrency bound (`AUTH_MAX_CONCURRENT_HASHES`).
    pub max_in_flight: usize,
    /// Jobs finished since start.
    pub completed: u64,
    /// Jobs refused at once because the queue was full ([`HasherBusy`]).
    pub refused: u64,
}

/// The typical time of one verification per kind of hash: our argon2id (and the
/// dummy), and legacy hashes (imported bcrypt or argon2). A refused password is
/// made to take as long as the slowest kind, measured from when hashing started:
/// otherwise the time of a wrong answer tells an imported bcrypt account (~70 ms at
/// Supabase's cost 10) from an unknown e-mail (the argon2id dummy, ~25 ms). Only
/// refusals wait, on a timer (no CPU, no connection held); sign-ins do not.
#[derive(Debug, Default)]
struct FailureFloor {
    current_us: AtomicU64,
    legacy_us: AtomicU64,
}

/// Longest a refusal is made to wait, whatever was measured.
const MAX_FLOOR: Duration = Duration::from_secs(2);

impl FailureFloor {
    /// Folds one measurement into the kind's moving average (weight 1/8; the
    /// first sample is taken as is). Racy updates only lose a sample.
    fn record(&self, legacy: bool, took: Duration) {
        let slot = if legacy {
            &self.legacy_us
        } else {
            &self.current_us
        };
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let old = slot.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        slot.store(new.max(1), Ordering::Relaxed);
    }

    /// The slowest kind's typical time plus an eighth (so most refusals of that
    /// kind need no wait and none ends early), capped at [`MAX_FLOOR`].
    fn floor(&self) -> Duration {
        let slowest = self
            .current_us
            .load(Ordering::Relaxed)
            .max(self.legacy_us.load(Ordering::Relaxed));
        Duration::from_micros(slowest + slowest / 8).min(MAX_FLOOR)
    }
}

/// Every hasher slot and queue place is taken: the caller should answer 503 with
/// `Retry-After` (the server is saturated, not broken).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("password hasher saturated")]
pub struct HasherBusy;

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST, T_COST, P_COST, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The raw argon2id output for `password` and `salt` with our parameters, computed
/// in the caller's workspace.
fn raw_hash(
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    workspace: &mut Workspace,
) -> anyhow::Result<()> {
    argon2()
        .hash_password_into_with_memory(password, salt, out, &mut workspace[..])
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
}

fn hash_blocking(password: &[u8], workspace: &mut Workspace) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let mut out = [0u8; 32];
    raw_hash(password, raw_salt, &mut out, workspace)?;
    let params = Params::new(M_COST, T_COST, P_COST, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13 as u32),
        params: ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("params: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Verifies a hash of our own scheme in the caller's workspace.
fn verify_current(password: &[u8], parsed: &PasswordHash<'_>, workspace: &mut Workspace) -> bool {
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if raw_hash(password, raw_salt, &mut out, workspace).is_err() {
        return false;
    }
    // `Output` compares in constant time.
    Output::new(&out).is_ok_and(|got| got == expected)
}

/// Largest costs a stored hash may declare (imported or not). Each sign-in attempt
/// for an address pays the cost its hash declares, so one row asking for 1 GiB or
/// bcrypt cost 31 could starve the hash pool. The same caps are the table's CHECK
/// `accounts_password_hash_cost_caps` (migrations/V6__hash_cost_caps.sql).
/// argon2 memory, KiB (64 MiB).
pub const MAX_ARGON2_M_COST: u32 = 65_536;
/// argon2 iterations.
pub const MAX_ARGON2_T_COST: u32 = 10;
/// argon2 lanes.
pub const MAX_ARGON2_P_COST: u32 = 4;
/// bcrypt cost (2^14 rounds, ~1 s on one core).
pub const MAX_BCRYPT_COST: u32 = 14;

/// The kind of a stored password hash, told by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// argon2id v19 with exactly our parameters: what we write.
    Current,
    /// argon2i, or argon2id with other parameters or version (imported).
    Argon2Legacy,
    /// bcrypt `$2a$`, `$2b$` or `$2y$` (imported from Supabase Auth or elsewhere).
    Bcrypt,
    /// bcrypt or argon2 that declares a cost over the caps above: never verified.
    OverCostCap,
    /// Anything else: never verifies.
    Unsupported,
}

/// Classifies a stored hash without verifying anything.
pub fn scheme(stored: &str) -> Scheme {
    if let Some(cost) = bcrypt_cost(stored) {
        return if cost > MAX_BCRYPT_COST {
            Scheme::OverCostCap
        } else {
            Scheme::Bcrypt
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Scheme::Unsupported;
    };
    let Some(algorithm) = argon2_algorithm(parsed.algorithm) else {
        return Scheme::Unsupported;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return Scheme::Unsupported;
    };
    if params.m_cost() > MAX_ARGON2_M_COST
        || params.t_cost() > MAX_ARGON2_T_COST
        || params.p_cost() > MAX_ARGON2_P_COST
    {
        return Scheme::OverCostCap;
    }
    let current = algorithm == Algorithm::Argon2id
        && parsed.version == Some(Version::V0x13 as u32)
        && params.m_cost() == M_COST
        && params.t_cost() == T_COST
        && params.p_cost() == P_COST;
    if current {
        Scheme::Current
    } else {
        Scheme::Argon2Legacy
    }
}

/// The cost of a bcrypt hash: `$2a$`/`$2b$`/`$2y$`, a two-digit cost 04–31, then 53
/// characters of bcrypt's base64 (22 of salt, 31 of hash). `$2x$` (the old buggy
/// variant) is refused.
fn bcrypt_cost(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    let shape = b.len() == 60
        && b.starts_with(b"$2")
        && matches!(b[2], b'a' | b'b' | b'y')
        && b[3] == b'$'
        && b[6] == b'$'
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/');
    if !shape {
        return None;
    }
    std::str::from_utf8(&b[4..6])
        .ok()
        .and_then(|c| c.parse::<u32>().ok())
        .filter(|c| (4..=31).contains(c))
}

fn argon2_algorithm(ident: Ident<'_>) -> Option<Algorithm> {
    match ident.as_str() {
        "argon2id" => Some(Algorithm::Argon2id),
        "argon2i" => Some(Algorithm::Argon2i),
        _ => None,
    }
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Wrong password, no such user, or a hash we cannot verify.
    Invalid,
    /// Right password, hash already argon2id with our parameters.
    Valid,
    /// Right password, but the hash is of another scheme or strength: replace it.
    ValidOutdated,
}

impl Verification {
    /// Whether the password was right.
    pub fn is_valid(self) -> bool {
        !matches!(self, Verification::Invalid)
    }
}

fn verify_blocking(password: &[u8], stored: &str, workspace: &mut Workspace) -> Verification {
    let kind = scheme(stored);
    let ok = match kind {
        // Like Go's bcrypt (and so Supabase Auth), only the first 72 bytes count.
        Scheme::Bcrypt => bcrypt::verify(password, stored).unwrap_or(false),
        Scheme::Current => match PasswordHash::new(stored) {
            Ok(parsed) => verify_current(password, &parsed, workspace),
            Err(_) => false,
        },
        // Parameters and variant come from the stored string (rare: imported
        // hashes, replaced at the first sign-in), so they get their own memory.
        Scheme::Argon2Legacy => match PasswordHash::new(stored) {
            Ok(parsed) => Argon2::default().verify_password(password, &parsed).is_ok(),
            Err(_) => false,
        },
        Scheme::Unsupported | Scheme::OverCostCap => false,
    };
    match (ok, kind) {
        (false, _) => Verification::Invalid,
        (true, Scheme::Current) => Verification::Valid,
        (true, _) => Verification::ValidOutdated,
    }
}

/// 32 random alphanumerics: the dummy hash's password, never used for anything else.
fn random_password() -> Vec<u8> {
    use rand::distributions::{Alphanumeric, Distribution};
    Alphanumeric
        .sample_iter(rand::rngs::OsRng)
        .take(32)
        .collect()
}

impl PasswordHasher {
    /// A hasher that runs at most `max_in_flight` hashes at once and lets at most
    /// `max_queued` more wait; beyond that, calls fail at once with [`HasherBusy`].
    pub fn new(max_in_flight: usize, max_queued: usize) -> anyhow::Result<Self> {
        let max_in_flight = max_in_flight.max(1);
        let admitted = max_in_flight
            .saturating_add(max_queued)
            .min(Semaphore::MAX_PERMITS);
        let dummy = hash_blocking(&random_password(), &mut new_workspace())?;
        Ok(Self {
            admission: Arc::new(Semaphore::new(admitted)),
            permits: Arc::new(Semaphore::new(max_in_flight)),
            // Workspaces are created on first use, never more than the permits.
            workspaces: Arc::new(Mutex::new(Vec::with_capacity(max_in_flight))),
            dummy_hash: dummy.into(),
            over_cap_logged: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(std::time::Duration::from_secs(3600))
                .build(),
            digest_keys: Default::default(),
            floor: Arc::default(),
            max_in_flight,
            max_admitted: admitted,
            counters: Arc::default(),
            wait_observer: None,
        })
    }

    /// Calls `observer` with how long each job waited for a hashing slot (for a
    /// metrics histogram; keep it cheap, it runs on the request's task).
    pub fn with_wait_observer(
        mut self,
        observer: impl Fn(Duration) + Send + Sync + 'static,
    ) -> Self {
        self.wait_observer = Some(Arc::new(observer));
        self
    }

    /// The queue and totals now (a few atomic loads; the two semaphores are read
    /// one after the other, so under load the split between running and queued
    /// can be off by a job).
    pub fn stats(&self) -> HasherStats {
        let in_flight = self
            .max_in_flight
            .saturating_sub(self.permits.available_permits());
        let admitted = self
            .max_admitted
            .saturating_sub(self.admission.available_permits());
        HasherStats {
            in_flight,
            queued: admitted.saturating_sub(in_flight),
            max_in_flight: self.max_in_flight,
            completed: self.counters.completed.load(Ordering::Relaxed),
            refused: self.counters.refused.load(Ordering::Relaxed),
        }
    }

    /// Measures one bcrypt verification at `cost` (the highest cost among stored
    /// hashes), so refusals are padded to it before the first imported user ever
    /// signs in. Call once at start-up when legacy bcrypt hashes exist.
    pub async fn calibrate_bcrypt(&self, cost: u32) -> anyhow::Result<()> {
        let cost = cost.clamp(4, MAX_BCRYPT_COST);
        let password = random_password();
        let took = self
            .run(move |_| {
                let stored = bcrypt::hash(&password, cost)?;
                let started = Instant::now();
                let _ = bcrypt::verify(b"not the password", &stored);
                anyhow::Ok(started.elapsed())
            })
            .await??;
        self.floor.record(true, took);
        tracing::info!(
            cost,
            took_ms = took.as_millis() as u64,
            "refusals padded to the bcrypt verification time"
        );
        Ok(())
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Workspace) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let _admitted = self.admission.try_acquire().map_err(|_| {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            HasherBusy
        })?;
        let queued_at = Instant::now();
        let _permit = self
            .permits
            .acquire()
            .await
            .context("password hasher closed")?;
        if let Some(observe) = &self.wait_observer {
            observe(queued_at.elapsed());
        }
        let taken = self.workspaces.lock().ok().and_then(|mut w| w.pop());
        let mut workspace = taken.unwrap_or_else(new_workspace);
        let span = tracing::Span::current();
        let (result, workspace) = tokio::task::spawn_blocking(move || {
            let result = span.in_scope(|| f(&mut workspace));
            (result, workspace)
        })
        .await
        .context("password hashing task failed")?;
        self.counters.completed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut pool) = self.workspaces.lock() {
            pool.push(workspace);
        }
        Ok(result)
    }

    /// Whether this over-cap hash was not logged within the last hour.
    fn first_sighting(&self, stored: &str) -> bool {
        use std::hash::BuildHasher as _;
        let digest = self.digest_keys.hash_one(stored);
        let entry = self.over_cap_logged.entry(digest).or_insert(());
        entry.is_fresh()
    }

    /// A new argon2id PHC string for `password`.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = password.as_bytes().to_vec();
        self.run(move |w| hash_blocking(&password, w)).await?
    }

    /// Whether `password` matches `phc`; with `None` (no such user) the same work is
    /// done against the dummy hash and the answer is always `false`.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> anyhow::Result<bool> {
        Ok(self.check(password, phc).await?.is_valid())
    }

    /// Checks `password` against a stored hash of any supported scheme and tells
    /// whether the hash should be replaced. With `None` (no such user) the same work
    /// is done against the dummy hash and the answer is always `Invalid`.
    pub async fn check(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> anyhow::Result<Verification> {
        let password = password.as_bytes().to_vec();
        let (target, real) = match stored {
            Some(h) if scheme(h) == Scheme::OverCostCap => {
                // Never pay what the row declares: do the dummy's (normal) work
                // instead, so the answer costs and looks like a wrong password.
                if self.first_sighting(h) {
                    tracing::warn!(
                        costs = %declared_costs(h),
                        "stored password hash declares a cost over the caps; not verified (the user must reset the password)"
                    );
                }
                (self.dummy_hash.to_string(), false)
            }
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        let legacy = real && scheme(&target) != Scheme::Current;
        let (verdict, took) = self
            .run(move |w| {
                let started = Instant::now();
                let verdict = verify_blocking(&password, &target, w);
                (verdict, started.elapsed())
            })
            .await?;
        self.floor.record(legacy, took);
        let verdict = if real { verdict } else { Verification::Invalid };
        if !verdict.is_valid() {
            // The wait counts from when hashing started, so time spent queueing
            // for a hasher does not shorten it.
            if let Some(rest) = self.floor.floor().checked_sub(took) {
                tokio::time::sleep(rest).await;
            }
        }
        Ok(verdict)
    }
}

/// The cost parameters a hash declares, for logs and reports (never the salt or
/// hash).
pub fn declared_costs(stored: &str) -> String {
    if let Some(cost) = bcrypt_cost(stored) {
        return format!("bcrypt cost {cost}");
    }
    match PasswordHash::new(stored)
        .ok()
        .and_then(|p| Params::try_from(&p).ok())
    {
        Some(p) => format!("argon2 m={} t={} p={}", p.m_cost(), p.t_cost(), p.p_cost()),
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher as _;

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_chosen_parameters_and_verify() {
        let h = PasswordHasher::new(2, 64).expect("hasher");
        let phc = h.hash("correct horse").await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(h.verify("correct horse", Some(&phc)).await.expect("verify"));
        assert!(!h.verify("wrong horse", Some(&phc)).await.expect("verify"));
        assert!(!h.verify("correct horse", None).await.expect("verify"));
        assert!(!h
            .verify("x", Some("not a phc string"))
            .await
            .expect("verify"));
        assert_eq!(
            h.check("correct horse", Some(&phc)).await.expect("check"),
            Verification::Valid
        );
    }

    fn bcrypt_hash(password: &str, cost: u32, version: bcrypt::Version) -> String {
        bcrypt::hash_with_result(password, cost)
            .expect("bcrypt")
            .format_for_version(version)
    }

    #[tokio::test]
    async fn refusals_take_as_long_as_the_slowest_kind_of_hash() {
        let h = PasswordHasher::new(2, 64).expect("hasher");
        let argon = h.hash("right horse").await.expect("hash");
        let bcrypt = bcrypt_hash("right horse", 10, bcrypt::Version::TwoB);
        // Learn both kinds.
        for _ in 0..2 {
            h.check("wrong", Some(&bcrypt)).await.expect("check");
            h.check("wrong", None).await.expect("check");
        }
        let legacy = Duration::from_micros(h.floor.legacy_us.load(Ordering::Relaxed));
        let current = Duration::from_micros(h.floor.current_us.load(Ordering::Relaxed));
        assert!(
            legacy > current,
            "bcrypt-10 {legacy:?} vs argon2id {current:?}"
        );
        let floor = h.floor.floor();
        assert!(floor >= legacy, "{floor:?} < {legacy:?}");
        // An unknown user and a wrong argon2id password wait for the bcrypt time...
        for stored in [None, Some(argon.as_str())] {
            let started = Instant::now();
            let verdict = h.check("wrong", stored).await.expect("check");
            assert_eq!(verdict, Verification::Invalid);
            assert!(
                started.elapsed() >= floor,
                "{:?} < {floor:?}",
                started.elapsed()
            );
        }
        // ...while a right password does not wait at all.
        let started = Instant::now();
        let verdict = h.check("right horse", Some(&argon)).await.expect("check");
        assert_eq!(verdict, Verification::Valid);
        let right = started.elapsed();
        assert!(
            right < floor,
            "a sign-in took {right:?}, the floor is {floor:?}"
        );
    }

    #[tokio::test]
    async fn calibration_pads_refusals_before_any_bcrypt_hash_is_checked() {
        let h = PasswordHasher::new(2, 64).expect("hasher");
        assert_eq!(h.floor.floor(), Duration::ZERO);
        h.calibrate_bcrypt(10).await.expect("calibrate");
        let floor = h.floor.floor();
        assert!(floor > Duration::ZERO);
        let started = Instant::now();
        h.check("wrong", None).await.expect("check");
        assert!(
            started.elapsed() >= floor,
            "{:?} < {floor:?}",
            started.elapsed()
        );
        assert!(floor <= MAX_FLOOR);
    }

    #[tokio::test]
    async fn bcrypt_of_every_variant_verifies_and_is_outdated() {
        let h = PasswordHasher::new(2, 64).expect("hasher");
        for (cost, version, prefix) in [
            (4, bcrypt::Version::TwoA, "$2a$04$"),
            (5, bcrypt::Version::TwoB, "$2b$05$"),
            (6, bcrypt::Version::TwoY, "$2y$06$"),
        ] {
            let stored = bcrypt_hash("hunter22", cost, version);
            assert!(stored.starts_with(prefix), "{stored}");
            assert_eq!(scheme(&stored), Scheme::Bcrypt);
            assert_eq!(
                h.check("hunter22", Some(&stored)).await.expect("check"),
                Verification::ValidOutdated
            );
            assert_eq!(
                h.check("hunter23", Some(&stored)).await.expect("check"),
                Verification::Invalid
            );
        }
        let old = bcrypt_hash("hunter22", 4, bcrypt::Version::TwoX);
        assert_eq!(scheme(&old), Scheme::Unsupported, "$2x$ is refused");
    }

    #[tokio::test]
    async fn our_phc_strings_are_standard_and_memory_is_bounded() {
        let h = PasswordHasher::new(2, 64).expect("hasher");
        let mut tasks = Vec::new();
        for i in 0..12 {
            let h = h.clone();
            tasks.push(tokio::spawn(
                async move { h.hash(&format!("pw-{i}")).await },
            ));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            let phc = t.await.expect("task").expect("hash");
            // Any argon2 implementation verifies what we wrote.
            let parsed = PasswordHash::new(&phc).expect("phc");
            assert!(Argon2::default()
                .verify_password(format!("pw-{i}").as_bytes(), &parsed)
                .is_ok());
        }
        // Twelve hashes ran, but never more workspaces than permits were made.
        assert!(h.workspaces.lock().expect("lock").len() <= 2);
    }

    #[tokio::test]
    async fn argon2_with_other_variant_or_parameters_is_outdated() {
        let h = PasswordHasher::new(2, 64).expect("hasher");
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        for (alg, m, t) in [
            (Algorithm::Argon2i, M_COST, T_COST),
            (Algorithm::Argon2id, 4096, 3),
        ] {
            let params = Params::new(m, t, 1, None).expect("params");
            let stored = Argon2::new(alg, Version::V0x13, params)
                .hash_password(b"hunter22", &salt)
                .expect("hash")
                .to_string();
            assert_eq!(scheme(&stored), Scheme::Argon2Legacy, "{stored}");
            assert_eq!(
                h.check("hunter22", Some(&stored)).await.expect("check"),
                Verification::ValidOutdated
            );
            assert_eq!(
                h.check("nope", Some(&stored)).await.expect("check"),
                Verification::Invalid
            );
        }
    }

    #[test]
    fn unsupported_schemes_are_told_apart() {
        for s in [
            "",
            "plaintext",
            r#"{"key_id":"k","alg":"aes-gcm-hkdf","data":"x","nonce":"y"}"#,
            "$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk=ZZ==$c2FsdA==$aGFzaA==",
            "$argon2d$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert_eq!(scheme(s), Scheme::Unsupported, "{s}");
        }
        // bcrypt's shape with a cost outside 04–31.
        let shape = |cost: &str| format!("$2b${cost}${}", "a".repeat(53));
        assert_eq!(scheme(&shape("03")), Scheme::Unsupported);
        assert_eq!(scheme(&shape("32")), Scheme::Unsupported);
        assert_eq!(scheme(&shape("31")), Scheme::OverCostCap);
    }

    const SALT_AND_HASH: &str = "c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

    fn argon2_shape(m: u32, t: u32, p: u32) -> String {
        format!("$argon2id$v=19$m={m},t={t},p={p}${SALT_AND_HASH}")
    }

    #[test]
    fn cost_caps_hold_at_their_edges() {
        let bcrypt = |cost: u32| format!("$2b${cost:02}${}", "a".repeat(53));
        assert_eq!(scheme(&bcrypt(MAX_BCRYPT_COST)), Scheme::Bcrypt);
        assert_eq!(scheme(&bcrypt(MAX_BCRYPT_COST + 1)), Scheme::OverCostCap);
        assert_eq!(
            scheme(&argon2_shape(
                MAX_ARGON2_M_COST,
                MAX_ARGON2_T_COST,
                MAX_ARGON2_P_COST
            )),
            Scheme::Argon2Legacy
        );
        for (m, t, p) in [
            (MAX_ARGON2_M_COST + 1, 2, 1),
            (M_COST, MAX_ARGON2_T_COST + 1, 1),
            (M_COST, 2, MAX_ARGON2_P_COST + 1),
            // What the issue found possible: 1 GiB.
            (1 << 20, 2, 1),
        ] {
            assert_eq!(
                scheme(&argon2_shape(m, t, p)),
                Scheme::OverCostCap,
                "{m} {t} {p}"
            );
        }
        let argon2i = format!(
            "$argon2i$v=19$m={},t=3,p=1${SALT_AND_HASH}",
            MAX_ARGON2_M_COST + 1
        );
        assert_eq!(scheme(&argon2i), Scheme::OverCostCap);
        assert_eq!(declared_costs(&bcrypt(15)), "bcrypt cost 15");
        assert_eq!(
            declared_costs(&argon2_shape(1 << 20, 2, 1)),
            "argon2 m=1048576 t=2 p=1"
        );
    }

    #[tokio::test]
    async fn past_the_queue_bound_calls_fail_at_once_and_the_hasher_recovers() {
        let h = PasswordHasher::new(1, 1).expect("hasher");
        // Polled in order: the first runs, the second waits, the third is refused.
        let (a, b, c) = tokio::join!(h.hash("one"), h.hash("two"), h.hash("three"));
        assert!(a.is_ok() && b.is_ok(), "in flight and queued both finish");
        let refused = c.expect_err("third is over the bound");
        assert!(
            refused.downcast_ref::<HasherBusy>().is_some(),
            "{refused:#}"
        );
        // Places free up again once the work is done.
        assert!(h
            .verify("two", Some(&b.expect("hash")))
            .await
            .expect("verify"));
    }

    #[tokio::test]
    async fn stats_show_the_queue_while_it_forms_and_count_what_was_done() {
        let waits = Arc::new(Mutex::new(Vec::new()));
        let seen = waits.clone();
        let h = PasswordHasher::new(1, 1)
            .expect("hasher")
            .with_wait_observer(move |d| seen.lock().expect("lock").push(d));
        let idle = h.stats();
        assert_eq!((idle.in_flight, idle.queued, idle.completed), (0, 0, 0));
        assert_eq!(idle.max_in_flight, 1);
        // The first takes the slot, the second queues behind it; sample the stats
        // while both are pending (the first hash takes tens of milliseconds).
        let during = async {
            for _ in 0..200 {
                let s = h.stats();
                if s.in_flight == 1 && s.queued == 1 {
                    return Some(s);
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            None
        };
        let (a, b, c, sampled) =
            tokio::join!(h.hash("one"), h.hash("two"), h.hash("three"), during);
        assert!(a.is_ok() && b.is_ok() && c.is_err());
        assert!(sampled.is_some(), "one running and one queued were seen");
        let done = h.stats();
        assert_eq!((done.in_flight, done.queued), (0, 0));
        assert_eq!((done.completed, done.refused), (2, 1));
        let waits = waits.lock().expect("lock").clone();
        assert_eq!(waits.len(), 2, "one wait per admitted job");
        // The queued job waited for the whole first hash.
        assert!(
            waits.iter().any(|w| *w >= Duration::from_millis(1)),
            "{waits:?}"
        );
    }

    #[tokio::test]
    async fn a_hash_over_the_cap_fails_like_a_wrong_password_without_its_cost() {
        let h = PasswordHasher::new(1, 64).expect("hasher");
        // A real argon2id hash of the password at the edge verifies (small salt,
        // t=1 so the test stays quick; m at the cap).
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let at_cap = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(MAX_ARGON2_M_COST, 1, 1, None).expect("params"),
        )
        .hash_password(b"hunter22", &salt)
        .expect("hash")
        .to_string();
        assert_eq!(
            h.check("hunter22", Some(&at_cap)).await.expect("check"),
            Verification::ValidOutdated
        );
        // One over: even the right password is refused, and fast, though the
        // declared cost (bcrypt 31: days) would never finish.
        let started = std::time::Instant::now();
        let over = format!("$2b$31${}", "a".repeat(53));
        assert_eq!(
            h.check("hunter22", Some(&over)).await.expect("check"),
            Verification::Invalid
        );
        let huge = argon2_shape(1 << 20, 2, 1);
        assert_eq!(
            h.check("hunter22", Some(&huge)).await.expect("check"),
            Verification::Invalid
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        // Logged once per hash, not once per attempt.
        assert!(!h.first_sighting(&over), "already logged above");
        assert!(h.first_sighting(&format!("$2b$30${}", "a".repeat(53))));
    }
}
