#!/usr/bin/env bash
# Runs the end-to-end suite: the devserver (in memory) + the release build in dist/ + Debian's
# Chromium through playwright-core. Needs target/debug/devserver (`cargo build -p devserver`) and
# dist/ (`trunk build --release`); override with DEVSERVER_BIN / DIST_DIR. Screenshots go to
# SCREENSHOT_DIR (default tests/e2e/screenshots). The benchmark is separate: `node bench.mjs`.
set -euo pipefail
cd "$(dirname "$0")"

# `npm ls` fails when anything in package.json is missing or at another version.
if ! npm ls --depth=0 >/dev/null 2>&1; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$PWD/screenshots}"

status=0
node --test --test-concurrency=1 --test-reporter=spec \
  skeleton.test.mjs realtime.test.mjs journeys.test.mjs || status=$?

echo "e2e screenshots: $SCREENSHOT_DIR"
exit "$status"
