//! Sign-in must not tell, by how long it takes, whether an e-mail address has an
//! account: an unknown address pays for a (dummy) password hash like a wrong
//! password does.
//!
//! Three kinds of failed sign-in are timed, interleaved so that load from other
//! processes on the machine spreads over all of them alike, and their medians are
//! compared:
//! - an unknown e-mail address;
//! - a known address (argon2id, signed up here) with a wrong password;
//! - an imported user with a bcrypt (cost 10) hash and a wrong password (it costs
//!   2-3× argon2id, so refusals are padded to the slowest kind of hash).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// Timed attempts per kind (after the warm-up).
const ROUNDS: usize = 40;
/// Untimed attempts per kind first (connections, caches, the hash pool).
const WARM_UP: usize = 3;
/// Largest ratio between two medians still taken as "the same cost". Skipping the
/// hash makes an unknown e-mail ~1 ms against ~20 ms or more, far beyond it.
const MAX_RATIO: f64 = 2.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    UnknownEmail,
    Argon2WrongPassword,
    BcryptWrongPassword,
}

const KINDS: [Kind; 3] = [
    Kind::UnknownEmail,
    Kind::Argon2WrongPassword,
    Kind::BcryptWrongPassword,
];

struct Medians {
    unknown: Duration,
    argon2: Duration,
    bcrypt: Duration,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ratio(a: Duration, b: Duration) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi.as_secs_f64() / lo.as_secs_f64().max(1e-6)
}

/// Inserts a user whose credential is a bcrypt hash, as the Supabase import does.
async fn insert_bcrypt_user(app: &TestApp, email: &str, password: &str) {
    let hash = bcrypt::hash_with_result(password, 10)
        .expect("bcrypt")
        .format_for_version(bcrypt::Version::TwoA);
    assert!(hash.starts_with("$2a$10$"), "{hash}");
    app.insert_legacy_user(email, &hash, None).await;
}

/// Times `WARM_UP + ROUNDS` failed sign-ins of each kind, interleaved (the order
/// within a round rotates), and returns the medians of the timed ones.
async fn measure() -> Medians {
    let app = spawn_app().await;
    let known = app.user("known@example.com").await;
    let imported = "imported@example.com";
    insert_bcrypt_user(&app, imported, "the-right-bcrypt-password").await;
    let mut samples: [Vec<Duration>; 3] = Default::default();
    for round in 0..WARM_UP + ROUNDS {
        for i in 0..KINDS.len() {
            let slot = (round + i) % KINDS.len();
            let email = match KINDS[slot] {
                Kind::UnknownEmail => format!("nobody-{round}@example.com"),
                Kind::Argon2WrongPassword => known.email.clone(),
                Kind::BcryptWrongPassword => imported.to_owned(),
            };
            let started = Instant::now();
            let res = app
                .post(
                    "/sign-in/email",
                    &json!({"email": email, "password": "wrong-password-123"}),
                )
                .await;
            let status = res.status();
            let body = res.bytes().await.expect("body");
            let elapsed = started.elapsed();
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{:?}: {}",
                KINDS[slot],
                String::from_utf8_lossy(&body)
            );
            if round >= WARM_UP {
                samples[slot].push(elapsed);
            }
        }
    }
    // Positive controls, after the timing so the bcrypt hash was in place for all of
    // it (a right password replaces it with argon2id): both accounts work, so each
    // 401 above was the wrong password, not a broken account.
    app.sign_in(&known.email, &known.password).await;
    app.sign_in(imported, "the-right-bcrypt-password").await;
    let [unknown, argon2, bcrypt] = samples.map(median);
    let medians = Medians {
        unknown,
        argon2,
        bcrypt,
    };
    println!(
        "sign-in failure medians over {ROUNDS} tries each: unknown e-mail {:?}, argon2id wrong password {:?}, bcrypt-10 wrong password {:?}",
        medians.unknown, medians.argon2, medians.bcrypt
    );
    medians
}

#[tokio::test]
async fn sign_in_timing_does_not_tell_unknown_emails_from_wrong_passwords() {
    let m = measure().await;
    // Unknown e-mail vs an argon2id account with a wrong password: the dummy hash
    // costs what a real check costs. Fails if unknown e-mails skip hashing.
    let r = ratio(m.unknown, m.argon2);
    assert!(
        r <= MAX_RATIO,
        "unknown e-mail median {:?} vs wrong argon2id password median {:?}: ratio {r:.2} > {MAX_RATIO}",
        m.unknown,
        m.argon2
    );

    // An imported bcrypt (cost 10) account with a wrong password costs 2-3× the
    // argon2id dummy (measured before the fix: unknown 26 ms, argon2id 28 ms,
    // bcrypt-10 87 ms). Refusals are now padded to the slowest kind of hash seen
    // (identity-core's failure floor), so the three must look alike.
    let r = ratio(m.unknown, m.bcrypt);
    assert!(
        r <= MAX_RATIO,
        "unknown e-mail median {:?} vs wrong bcrypt-10 password median {:?}: ratio {r:.2} > {MAX_RATIO}",
        m.unknown,
        m.bcrypt
    );
}
