#!/usr/bin/env bash
# Runs the supabase-js compatibility test against the devserver binary.
# DEVSERVER_BIN defaults to the workspace's debug build, which is built if missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [[ -z "${DEVSERVER_BIN:-}" ]]; then
  cargo build --quiet -p devserver --manifest-path "$root/Cargo.toml"
  export DEVSERVER_BIN="$root/target/debug/devserver"
fi
cd "$here"
# `npm ls` fails when anything in package.json is missing or at another version.
if ! npm ls --depth=0 >/dev/null 2>&1; then
  npm ci --no-audit --no-fund
fi
node --test compat.test.mjs
