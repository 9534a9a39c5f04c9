//! supabase-import against real Postgres: a Supabase-shaped source database and
//! our schema as the target, each test with its own pair. One binary.

mod helpers;

mod cli;
mod import;
mod runs;
