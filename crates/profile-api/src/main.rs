//! `profile-api`: serves until SIGINT/SIGTERM. Configuration comes from the
//! environment (`DATABASE_URL`, `PROFILE_*`; see docs/configuration.md). Run
//! `auth-server migrate` first: this service applies no migrations.

use profile_api::{telemetry, Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    telemetry::init(&settings.log_format, settings.access_log);
    tracing::info!(?settings, "starting profile-api");
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "profile-api listening");
    app.run_until_stopped().await?;
    Ok(())
}
