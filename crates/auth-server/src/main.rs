//! `auth-server [serve]` runs the server; `auth-server migrate` applies migrations;
//! `auth-server keys list|rotate [--force]|retire [--kid KID]|reseal` manages the
//! JWT signing keys (see docs/keys.md); `auth-server clients create NAME --scopes
//! a,b | list | rotate-secret ID | disable ID | delete ID` manages service clients
//! (docs/service-tokens.md); `auth-server audit [--user ID] [--ip IP] [--since T]
//! [--limit N]` prints the audit trail; `auth-server users ban ID|EMAIL [--until T]
//! [--reason TEXT] | unban ID|EMAIL` bans a user (every session ends) or lifts it.

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
        ["clients", rest @ ..] => clients_command(&settings, rest).await?,
        ["audit", rest @ ..] => audit_command(&settings, rest).await?,
        ["users", rest @ ..] => users_command(&settings, rest).await?,
        _ => anyhow::bail!(
            "usage: auth-server [serve | migrate | keys list | keys rotate [--force] | keys retire [--kid KID] | keys reseal | clients create NAME --scopes A,B | clients list | clients rotate-secret ID | clients disable ID | clients delete ID | audit [--user ID] [--ip IP] [--since RFC3339] [--limit N] | users ban ID|EMAIL [--until RFC3339] [--reason TEXT] | users unban ID|EMAIL]"
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

async fn clients_command(settings: &Settings, args: &[&str]) -> anyhow::Result<()> {
    use auth_server::client_credentials as cc;
    use auth_server::db::oauth_clients;
    let pool = database::build_pool(settings.migration_url(), &Default::default())?;
    let db = pool.get().await?;
    let hasher = auth_server::password::PasswordHasher::new(1, 1)?;
    let id =
        |s: &str| uuid::Uuid::parse_str(s).map_err(|_| anyhow::anyhow!("{s:?} is not a client id"));
    let show = |c: &cc::NewCredentials| {
        println!("client_id:     {}", c.client.id);
        println!("client_secret: {}", c.secret);
        println!("scopes:        {}", c.client.scopes.join(" "));
        println!("(the secret is shown only now; it is stored as an argon2id hash)");
    };
    match args {
        ["create", name, "--scopes", scopes] => {
            let scopes: Vec<String> = scopes
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            show(&cc::create(&db, &hasher, name, &scopes).await?);
        }
        ["create", name] => show(&cc::create(&db, &hasher, name, &[]).await?),
        ["list"] => {
            println!("{:<36}  {:<20}  {:<8}  {:<25}  SCOPES", "CLIENT_ID", "NAME", "STATE", "LAST TOKEN");
            for c in oauth_clients::list(&db).await? {
                let last = c
                    .last_issued_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_else(|| "-".into());
                let state = if c.disabled_at.is_some() { "disabled" } else { "active" };
                println!("{:<36}  {:<20}  {:<8}  {:<25}  {}", c.id, c.name, state, last, c.scopes.join(" "));
            }
        }
        ["rotate-secret", client] => show(&cc::rotate_secret(&db, &hasher, id(client)?).await?),
        ["disable", client] => {
            anyhow::ensure!(oauth_clients::disable(&db, id(client)?).await?, "no client {client}");
            println!("disabled {client}: it gets no new tokens; tokens already issued expire within AUTH_SERVICE_TOKEN_LIFETIME");
        }
        ["delete", client] => {
            anyhow::ensure!(oauth_clients::delete(&db, id(client)?).await?, "no client {client}");
            println!("deleted {client}");
        }
        _ => anyhow::bail!(
            "usage: auth-server clients create NAME --scopes A,B | list | rotate-secret ID | disable ID | delete ID"
        ),
    }
    Ok(())
}

async fn audit_command(settings: &Settings, args: &[&str]) -> anyhow::Result<()> {
    use auth_server::db::audit_log::{self, Filter};
    let mut filter = Filter {
        limit: 200,
        ..Filter::default()
    };
    let mut rest = args;
    while let [flag, value, tail @ ..] = rest {
        match *flag {
            "--user" => filter.user_id = Some(uuid::Uuid::parse_str(value)?),
            "--ip" => filter.ip = Some((*value).to_owned()),
            "--since" => {
                filter.since =
                    Some(chrono::DateTime::parse_from_rfc3339(value)?.with_timezone(&chrono::Utc))
            }
            "--limit" => filter.limit = value.parse()?,
            other => anyhow::bail!("unknown option {other}"),
        }
        rest = tail;
    }
    anyhow::ensure!(
        rest.is_empty(),
        "usage: auth-server audit [--user ID] [--ip IP] [--since RFC3339] [--limit N]"
    );
    let pool = database::build_pool(settings.migration_url(), &Default::default())?;
    let db = pool.get().await?;
    for e in audit_log::find(&db, &filter).await? {
        let who = match (e.user_id, e.client_id) {
            (Some(u), _) => format!("user {u}"),
            (None, Some(c)) => format!("client {c}"),
            (None, None) => "-".to_owned(),
        };
        println!(
            "{}  {:<22} {:<44} ip {:<15} req {} {} ua {:?}",
            e.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            e.event,
            who,
            if e.ip.is_empty() { "-" } else { &e.ip },
            if e.request_id.is_empty() {
                "-"
            } else {
                &e.request_id
            },
            e.detail,
            e.user_agent
        );
    }
    Ok(())
}

async fn users_command(settings: &Settings, args: &[&str]) -> anyhow::Result<()> {
    use auth_server::user_admin;
    let usage = "usage: auth-server users ban ID|EMAIL [--until RFC3339] [--reason TEXT] | users unban ID|EMAIL";
    let pool = database::build_pool(settings.migration_url(), &Default::default())?;
    let mut db = pool.get().await?;
    match args {
        ["ban", who, rest @ ..] => {
            let (mut until, mut reason) = (None, String::new());
            let mut rest = rest;
            while let [flag, value, tail @ ..] = rest {
                match *flag {
                    "--until" => {
                        until = Some(
                            chrono::DateTime::parse_from_rfc3339(value)?
                                .with_timezone(&chrono::Utc),
                        )
                    }
                    "--reason" => reason = (*value).to_owned(),
                    _ => anyhow::bail!(usage),
                }
                rest = tail;
            }
            anyhow::ensure!(rest.is_empty(), usage);
            let banned = user_admin::ban(&mut db, who, until, &reason).await?;
            let until = banned
                .until
                .map_or_else(|| "for good".to_owned(), |t| format!("until {t}"));
            println!(
                "banned {} {until}; {} session(s) ended",
                banned.user_id, banned.sessions_ended
            );
        }
        ["unban", who] => {
            let (id, lifted) = user_admin::unban(&mut db, who).await?;
            println!(
                "{}",
                if lifted {
                    format!("unbanned {id}")
                } else {
                    format!("{id} was not banned")
                }
            );
        }
        _ => anyhow::bail!(usage),
    }
    Ok(())
}
