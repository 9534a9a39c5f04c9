//! The profile-api, as a binary of this crate for the fault tests (see
//! `faults-auth-server`). It prints `port=<n>` on stdout once it listens.

use profile_api::{telemetry, Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    telemetry::init(&settings.log_format, settings.access_log);
    let app = Application::build(settings).await?;
    println!("port={}", app.port());
    app.run_until_stopped().await?;
    Ok(())
}
