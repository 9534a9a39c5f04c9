# Shared by scripts/dev and scripts/test: find a Postgres, or start a private one.

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/$1" ] && echo "$dir/$1" && return 0
  command -v "$1"
}

pg_answers() { # URL
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -d "$1" -t 3
  else
    psql "$1" -qtAc 'select 1' >/dev/null 2>&1
  fi
}

# Starts (once) a throwaway cluster under .dev/pg on port 54329 and prints its admin URL.
start_private_cluster() {
  local dir="$PWD/.dev/pg" port=54329 initdb pg_ctl user
  initdb=$(pg_bin initdb) || { echo "no PostgreSQL binaries found (apt-get install postgresql)" >&2; return 1; }
  pg_ctl=$(pg_bin pg_ctl)
  user=$(id -un)
  mkdir -p "$dir"
  local run=() 
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root; use the postgres system user.
    chown -R postgres "$dir"
    run=(runuser -u postgres --)
    user=postgres
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    "${run[@]}" "$initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  if ! "${run[@]}" "$pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    "${run[@]}" "$pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  fi
  echo "postgres://postgres@127.0.0.1:$port/postgres"
}

stop_private_cluster() {
  local dir="$PWD/.dev/pg" pg_ctl run=()
  [ -f "$dir/data/postmaster.pid" ] || return 0
  pg_ctl=$(pg_bin pg_ctl)
  [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
}

# For tests: the configured admin URL must answer; start the machine's cluster or a
# private one otherwise.
ensure_test_postgres() {
  pg_answers "$TEST_DATABASE_URL" && return 0
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "==> starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
    pg_answers "$TEST_DATABASE_URL" && return 0
  fi
  echo "==> no Postgres at $TEST_DATABASE_URL; starting a private throwaway cluster"
  TEST_DATABASE_URL=$(start_private_cluster)
  export TEST_DATABASE_URL
}
