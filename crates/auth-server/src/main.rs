//! `auth-server [serve]` runs the server; `auth-server migrate` applies migrations;
//! `auth-server keys list|rotate [--force]|retire [--kid KID]|reseal` manages the
//! JWT signing keys (see docs/keys.md).

use auth_server::{keys, startup, telemetry, Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    // Migrating needs only a database URL; everything else needs valid secrets.
    let settings = if words.as_slice() == ["migrate"] {
        Settings::read_env()?
    } else {
        Settings::from_env()?
    };
    telemetry::init(&settings.log_format);
    match words.as_slice() {
        [] | ["serve"] => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "auth-server listening");
            app.run_until_stopped().await?;
        }
        ["migrate"] => {
            let mut client = database::connect(settings.migration_url()).await?;
            let applied = database::migrate(&mut client).await?;
            println!("migrations up to date ({applied} applied)");
        }
        ["keys", rest @ ..] => keys_command(&settings, rest).await?,
        _ => anyhow::bail!(
            "usage: auth-server [serve | migrate | keys list | keys rotate [--force] | keys retire [--kid KID] | keys reseal]"
        ),
    }
    Ok(())
}

async fn keys_command(settings: &Settings, args: &[&str]) -> anyhow::Result<()> {
    let pool = database::build_pool(settings.migration_url(), &Default::default())?;
    let store = startup::key_store(settings);
    match args {
        ["list"] => {
            println!(
                "{:<34} {:<8} {:<25} {:<25} {:<25}",
                "KID", "STATE", "CREATED", "ACTIVATED", "RETIRED"
            );
            let fmt = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_else(|| "-".into())
            };
            for k in keys::list(&pool).await? {
                println!(
                    "{:<34} {:<8} {:<25} {:<25} {:<25}",
                    k.kid,
                    k.state,
                    fmt(Some(k.created_at)),
                    fmt(k.activated_at),
                    fmt(k.retired_at)
                );
            }
        }
        ["rotate"] | ["rotate", "--force"] => {
            let event = keys::rotate(&pool, &store, args.len() == 2).await?;
            println!("{event:?}");
            if let keys::KeyEvent::Created { .. } = event {
                let delay = store.policy().publish_delay();
                println!(
                    "published as next; it starts signing in {}s (instances promote it automatically, or run `keys rotate` again then)",
                    delay.as_secs()
                );
            }
        }
        ["retire"] => {
            let removed = keys::retire(&pool, &store, None).await?;
            println!("removed {} key(s): {removed:?}", removed.len());
        }
        ["retire", "--kid", kid] => {
            let removed = keys::retire(&pool, &store, Some(kid)).await?;
            anyhow::ensure!(!removed.is_empty(), "no retired or next key {kid}");
            println!("removed {kid}; tokens it signed no longer verify once validators refresh");
        }
        ["reseal"] => {
            let n = keys::reseal(&pool, store.sealer()).await?;
            println!("resealed {n} key(s) under the current AUTH_KEY_ENCRYPTION_SECRET");
        }
        _ => anyhow::bail!(
            "usage: auth-server keys list | rotate [--force] | retire [--kid KID] | reseal"
        ),
    }
    Ok(())
}
