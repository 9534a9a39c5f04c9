//! `supabase-synth --url URL --users N [--cost C]`: creates a Supabase-shaped
//! `auth` schema and `public.profiles` in the database at URL and fills them with N
//! generated users (see `supabase_import::synth`). For benchmarks and rehearsals;
//! never point it at a real Supabase project.

use std::time::Instant;

use clap::Parser;

#[derive(Parser)]
#[command(name = "supabase-synth")]
struct Args {
    /// A scratch database (it gets an `auth` schema and `public.profiles`).
    #[arg(long)]
    url: String,
    /// Users to generate.
    #[arg(long, default_value_t = 100_000)]
    users: u64,
    /// bcrypt cost of the (16 distinct) password hashes.
    #[arg(long, default_value_t = 10)]
    cost: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = database::connect(&args.url).await?;
    let clock = Instant::now();
    supabase_import::synth::generate(&client, args.users, args.cost).await?;
    println!(
        "generated {} users (with identities and profiles) in {:.1} s; user n signs in as user<n>@synthetic.example with password-<n mod 16>",
        args.users,
        clock.elapsed().as_secs_f64(),
    );
    Ok(())
}
