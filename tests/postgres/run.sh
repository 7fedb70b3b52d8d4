#!/usr/bin/env bash
# The PostgreSQL migration test: a throwaway PostgreSQL 15 cluster with the Supabase stub, the
# migrations and the seed, then every case of tests/cases/access_cases.json (run_cases.py).
#
# Usage: bash tests/postgres/run.sh [--verbose]
# Needs the PostgreSQL 15 server binaries (PG_BIN, default /usr/lib/postgresql/15/bin), psql and
# python3 >= 3.11. Run as root, the server runs as the `postgres` user; otherwise as yourself.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
pg_bin="${PG_BIN:-/usr/lib/postgresql/15/bin}"

for tool in "$pg_bin/initdb" "$pg_bin/pg_ctl"; do
  if [[ ! -x "$tool" ]]; then
    echo "missing $tool (install postgresql-15 or set PG_BIN)" >&2
    exit 2
  fi
done
command -v psql >/dev/null || { echo "missing psql" >&2; exit 2; }

# initdb refuses to run as root, so as root the server commands run as `postgres`.
if [[ "$(id -u)" == 0 ]]; then
  server_user=postgres
  as_server() { runuser -u "$server_user" -- "$@"; }
else
  server_user="$(id -un)"
  as_server() { "$@"; }
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/pgtest.XXXXXX")"
data="$tmp/data"
sock="$tmp/sock"
runner=""
cleanup() {
  if [[ -n "$runner" ]]; then
    kill "$runner" 2>/dev/null || true
  fi
  if [[ -f "$data/postmaster.pid" ]]; then
    as_server "$pg_bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$sock"
if [[ "$(id -u)" == 0 ]]; then
  chown -R "$server_user" "$tmp"
fi

# A free port: bind to 0 and let the kernel pick. The socket lives in $tmp, and TCP is bound
# to 127.0.0.1 only.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')"

as_server "$pg_bin/initdb" -D "$data" -U postgres --auth=trust --no-sync \
  --encoding=UTF8 --locale=C >"$tmp/initdb.log" 2>&1 \
  || { cat "$tmp/initdb.log" >&2; exit 1; }

# Durability is irrelevant for a throwaway cluster; wal_level=logical so the publication is
# usable as on Supabase; UTC like a Supabase project, which fixes the JSON timestamp offset.
if ! as_server "$pg_bin/pg_ctl" -D "$data" -l "$tmp/server.log" -w -t 30 start -o \
  "-c listen_addresses=127.0.0.1 -p $port -k $sock -c fsync=off -c synchronous_commit=off \
   -c full_page_writes=off -c wal_level=logical -c timezone=UTC -c log_timezone=UTC" \
  >/dev/null; then
  cat "$tmp/server.log" >&2
  exit 1
fi

# In the background so a TERM or Ctrl-C reaches the trap at once (bash runs traps only between
# foreground commands); the trap stops the runner, then the cluster.
PGHOST="$sock" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres \
  python3 "$here/run_cases.py" --repo "$repo" "$@" &
runner=$!
wait "$runner"
