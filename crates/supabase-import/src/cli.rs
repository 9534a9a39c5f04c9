//! Command-line options.

use std::path::PathBuf;

use clap::Parser;

/// Copies Supabase Auth users (with their password hashes, OAuth identities and
/// profiles) into our `identity` and `learner` schemas. Safe to run again: rows
/// whose source did not change are skipped, and an interrupted run resumes.
/// See docs/migrating-from-supabase.md.
#[derive(Debug, Clone, Parser)]
#[command(name = "supabase-import", version)]
pub struct Options {
    /// The Supabase database (only read), e.g.
    /// postgres://postgres:PW@db.REF.supabase.co:5432/postgres?sslmode=verify-full&sslrootcert=prod-supabase.cer,
    /// or any Postgres with a Supabase dump restored. Prefer the environment
    /// variable: a flag's password shows in `ps` and shell history. Without
    /// `sslmode`, a host other than localhost gets `verify-full`.
    #[arg(
        long,
        value_name = "URL",
        env = "SUPABASE_IMPORT_SOURCE_URL",
        hide_env_values = true
    )]
    pub source: String,

    /// Our database, migrated (`auth-server migrate`); use Neon's direct endpoint,
    /// e.g. postgresql://USER:PW@ep-….neon.tech/DB?sslmode=verify-full. The same
    /// environment and TLS rules as the source.
    #[arg(
        long,
        value_name = "URL",
        env = "SUPABASE_IMPORT_TARGET_URL",
        hide_env_values = true
    )]
    pub target: String,

    /// The source's profile table (schema.table), or `none`. A missing table is
    /// reported and the profiles are left out.
    #[arg(long, value_name = "TABLE", default_value = "public.profiles")]
    pub profiles_table: String,

    /// The column of the profile table that holds the auth.users id.
    #[arg(long, value_name = "COLUMN", default_value = "id")]
    pub profiles_key: String,

    /// Fill learner.profiles.TARGET from the source column SOURCE (repeatable);
    /// `TARGET=` leaves TARGET out. Without it: every learner.profiles column takes
    /// the source column of the same name, and display_name falls back to
    /// full_name, name, username.
    #[arg(long = "map", value_name = "TARGET=SOURCE")]
    pub map: Vec<String>,

    /// Read everything and write nothing: each batch runs in a transaction that is
    /// rolled back, so the report says exactly what a real run would do.
    #[arg(long)]
    pub dry_run: bool,

    /// Users per batch (one transaction each).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    pub batch_size: u32,

    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Abandon an unfinished run that used other options and start a new one.
    #[arg(long)]
    pub restart: bool,

    /// Skip the verification pass (counts and checksums between source and target).
    #[arg(long)]
    pub no_verify: bool,

    /// No progress bar (it is hidden anyway when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,

    /// Testing aid: stop after committing this many batches, as if interrupted.
    #[arg(long, hide = true, value_name = "N")]
    pub stop_after_batches: Option<u32>,
}

impl Options {
    /// Options for tests and library callers: defaults plus the two URLs.
    pub fn new(source: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            target: target.into(),
            profiles_table: "public.profiles".into(),
            profiles_key: "id".into(),
            map: Vec::new(),
            dry_run: false,
            batch_size: 1000,
            report: None,
            restart: false,
            no_verify: false,
            no_progress: true,
            stop_after_batches: None,
        }
    }

    /// `--map` entries as (target, source); an empty source unmaps the target.
    pub fn mapping_overrides(&self) -> anyhow::Result<Vec<(String, Option<String>)>> {
        self.map
            .iter()
            .map(|m| {
                let (t, s) = m
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--map {m}: expected TARGET=SOURCE"))?;
                let t = t.trim();
                anyhow::ensure!(!t.is_empty(), "--map {m}: empty target column");
                let s = s.trim();
                Ok((t.to_owned(), (!s.is_empty()).then(|| s.to_owned())))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn parses_a_full_command_line() {
        let o = Options::parse_from([
            "supabase-import",
            "--source",
            "postgres://s/db",
            "--target",
            "postgres://t/db",
            "--profiles-table",
            "public.members",
            "--map",
            "display_name=nick",
            "--map",
            "bio=",
            "--dry-run",
            "--batch-size",
            "500",
        ]);
        assert!(o.dry_run);
        assert_eq!(o.batch_size, 500);
        assert_eq!(
            o.mapping_overrides().expect("mapping"),
            vec![
                ("display_name".to_owned(), Some("nick".to_owned())),
                ("bio".to_owned(), None)
            ]
        );
        let bad = Options {
            map: vec!["nonsense".into()],
            ..o
        };
        assert!(bad.mapping_overrides().is_err());
    }

    /// The only test that touches these variables (nextest runs each test in its
    /// own process; under `cargo test` no other test depends on them either: the
    /// rest pass both flags).
    #[test]
    fn urls_come_from_the_environment_and_flags_win() {
        std::env::set_var("SUPABASE_IMPORT_SOURCE_URL", "postgres://env-source/db");
        std::env::set_var("SUPABASE_IMPORT_TARGET_URL", "postgres://env-target/db");
        let o = Options::try_parse_from(["x"]).expect("both from the environment");
        assert_eq!(o.source, "postgres://env-source/db");
        assert_eq!(o.target, "postgres://env-target/db");
        let o = Options::try_parse_from(["x", "--source", "postgres://flag/db"]).expect("mixed");
        assert_eq!(o.source, "postgres://flag/db", "the flag wins");
        assert_eq!(o.target, "postgres://env-target/db");
        // --help names the variables but never prints their values.
        let help = Options::command().render_long_help().to_string();
        assert!(help.contains("SUPABASE_IMPORT_SOURCE_URL"), "{help}");
        assert!(!help.contains("env-source"), "{help}");
        std::env::remove_var("SUPABASE_IMPORT_SOURCE_URL");
        std::env::remove_var("SUPABASE_IMPORT_TARGET_URL");
        assert!(Options::try_parse_from(["x", "--target", "postgres://t/db"]).is_err());
    }

    #[test]
    fn batch_size_is_bounded() {
        assert!(Options::try_parse_from([
            "x",
            "--source",
            "a",
            "--target",
            "b",
            "--batch-size",
            "0"
        ])
        .is_err());
    }
}
