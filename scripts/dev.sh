#!/usr/bin/env bash
# README command 1: set up what is missing, start the local Supabase-compatible backend on
# 127.0.0.1:54321 (data in ./.devserver-data, demo data seeded the first time, status simulator
# on) and serve the app at http://127.0.0.1:8080 with live reload. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

cargo build -p devserver
./target/debug/devserver --port 54321 --data-dir ./.devserver-data "$@" &
devserver_pid=$!
trap 'kill $devserver_pid 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 50); do
  curl -fsS http://127.0.0.1:54321/_dev/health >/dev/null 2>&1 && break
  sleep 0.2
done

echo
echo "  Dashboard:  http://127.0.0.1:8080   (sign in as investor1@demo.local / demo-password)"
echo "  Backend:    http://127.0.0.1:54321  (faults: curl http://127.0.0.1:54321/_dev/faults)"
echo
trunk serve --release
