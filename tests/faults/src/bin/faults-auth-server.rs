//! The auth-server's `serve`, as a binary of this crate so the fault tests can start,
//! signal and kill it as a real process (`CARGO_BIN_EXE_*` only names own binaries).
//! It prints `port=<n>` on stdout once it listens.

use auth_server::{telemetry, Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    telemetry::init(&settings.log_format);
    let app = Application::build(settings).await?;
    println!("port={}", app.port());
    app.run_until_stopped().await?;
    Ok(())
}
