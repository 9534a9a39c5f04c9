//! Measures what one password hash costs on this machine with the server's argon2id
//! parameters, and the sign-in ceiling that follows (cores ÷ hash time).
//!
//!   cargo run --release -p auth-server --example argon2_cost

use std::time::Instant;

use auth_server::password::PasswordHasher;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let hasher = PasswordHasher::new(1, 64)?;
    let phc = hasher.hash("warm-up password").await?;
    let rounds = 40;
    let start = Instant::now();
    for _ in 0..rounds {
        hasher.verify("warm-up password", Some(&phc)).await?;
    }
    let per_hash = start.elapsed().as_secs_f64() / f64::from(rounds);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "argon2id m={} t={} p={}: {:.2} ms per hash; ceiling {} cores / hash = {:.1} sign-ins/s",
        auth_server::password::M_COST,
        auth_server::password::T_COST,
        auth_server::password::P_COST,
        per_hash * 1000.0,
        cores,
        cores as f64 / per_hash
    );
    Ok(())
}
