//! `auth-server [serve]` runs the server; `auth-server migrate` applies migrations.

use auth_server::{telemetry, Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    telemetry::init(&settings.log_format);
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    match command.as_str() {
        "serve" => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "auth-server listening");
            app.run_until_stopped().await?;
        }
        "migrate" => {
            let mut client = database::connect(settings.migration_url()).await?;
            let applied = database::migrate(&mut client).await?;
            tracing::info!(applied, "migrations up to date");
        }
        other => anyhow::bail!("unknown command {other:?}; expected serve or migrate"),
    }
    Ok(())
}
