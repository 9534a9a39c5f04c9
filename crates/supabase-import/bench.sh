#!/usr/bin/env bash
# Benchmark of supabase-import (docs/benchmarks.md, "Supabase import"): generates
# USERS synthetic Supabase users (bcrypt hashes, identities, profiles) into a
# scratch source database and imports them into a freshly migrated target.
#
#   crates/supabase-import/bench.sh [USERS]      # default 100000
#
# Uses the local Postgres (BENCH_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres);
# drops and re-creates the databases bench_supabase_src and bench_supabase_tgt.
set -euo pipefail
cd "$(dirname "$0")/../.."
USERS=${1:-100000}
ADMIN=${BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BASE=${ADMIN%/*}
SRC=$BASE/bench_supabase_src
TGT=$BASE/bench_supabase_tgt

cargo build --release --quiet -p supabase-import -p auth-server
for db in bench_supabase_src bench_supabase_tgt; do
  psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
done
RUST_LOG=warn AUTH_DEV_MODE=true DATABASE_URL=$TGT target/release/auth-server migrate
target/release/supabase-synth --url "$SRC" --users "$USERS"

echo "==> supabase-import of $USERS users"
start=$(date +%s%N)
target/release/supabase-import --source "$SRC" --target "$TGT" --report target/supabase-import-bench.json
end=$(date +%s%N)
echo "wall time: $(( (end - start) / 1000000 )) ms (import and verification); report: target/supabase-import-bench.json"
