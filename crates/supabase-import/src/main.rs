//! `supabase-import --source URL --target URL [--dry-run] [--report FILE] …`
//!
//! Exit status: 0 done (rows skipped by a rule are not errors), 1 error,
//! 2 verification found differences, 3 interrupted (run again to resume).

use std::process::ExitCode;

use clap::Parser;
use supabase_import::Options;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let opts = Options::parse();
    match supabase_import::run(&opts).await {
        Ok(report) => {
            print!("{report}");
            if let Some(path) = &opts.report {
                println!("JSON report: {}", path.display());
            }
            if !report.completed {
                ExitCode::from(3)
            } else if report.verification.as_ref().is_some_and(|v| !v.ok) {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("supabase-import: {e:#}");
            ExitCode::FAILURE
        }
    }
}
