#!/usr/bin/env bash
# README command 2: set up what is missing, then run every test:
#   1. formatting, native unit and property tests (core, devserver, app logic): cargo test
#   2. wasm-bindgen-test in headless Chromium (components and browser adapters)
#   3. the release build, with the shipped size (gzipped wasm, JS, CSS)
#   4. the supabase-js compatibility test against the devserver
#   5. the SQL migrations on a throwaway PostgreSQL 15 cluster, with the shared case table
#   6. end-to-end tests: devserver + release build + Chromium (screenshots in $SCREENSHOT_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started=$(date +%s)
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never

step() { printf '\n==== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }
# Every runner's output is also kept here, to add up the counts at the end.
log=$(mktemp)
trap 'rm -f "$log"' EXIT

step "formatting"
cargo fmt --all -- --check

step "native unit and property tests"
cargo test --workspace 2>&1 | tee -a "$log"

step "browser tests (wasm-bindgen-test, headless Chromium)"
CHROMEDRIVER=/usr/bin/chromedriver \
WASM_BINDGEN_TEST_WEBDRIVER_JSON="$root/webdriver.json" \
WASM_BINDGEN_TEST_TIMEOUT=120 \
  cargo test --target wasm32-unknown-unknown -p redemption-dashboard --test browser -- --nocapture \
  2>&1 | tee -a "$log"

step "release build"
trunk build --release
echo "shipped size (gzip -9):"
total=0
for file in dist/*.wasm dist/*.js dist/*.css; do
  raw=$(wc -c < "$file"); gz=$(gzip -9c "$file" | wc -c); total=$((total + gz))
  printf '  %-55s %8d bytes, %7d gzipped\n' "$(basename "$file")" "$raw" "$gz"
done
awk -v t="$total" 'BEGIN { printf "  total shipped, gzipped: %d bytes (%.1f KB); budget 125 KB\n", t, t / 1000 }'

step "supabase-js compatibility"
cargo build -p devserver
export DEVSERVER_BIN="$root/target/debug/devserver"
bash tests/supabase-js/run.sh 2>&1 | tee -a "$log"

step "SQL migrations on PostgreSQL 15"
bash tests/postgres/run.sh 2>&1 | tee -a "$log"

step "end-to-end (Chromium)"
export DIST_DIR="$root/dist"
export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$root/tests/e2e/screenshots}"
bash tests/e2e/run.sh 2>&1 | tee -a "$log"
echo "screenshots: $SCREENSHOT_DIR"

step "all tests passed"
# cargo and wasm-bindgen-test: "test result: ok. N passed; M failed"; node: "ℹ pass N" /
# "ℹ fail N"; the PostgreSQL runner: "N passed, M failed".
awk '
  /^test result:/ { passed += $4; failed += $6 }
  /^ℹ pass / { passed += $3 }
  /^ℹ fail / { failed += $3 }
  /^# pass / { passed += $3 }
  /^# fail / { failed += $3 }
  /^[0-9]+ passed, [0-9]+ failed$/ { passed += $1; failed += $3 }
  END { printf "total: %d passed, %d failed\n", passed, failed }
' "$log"
