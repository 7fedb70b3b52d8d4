#!/usr/bin/env bash
# Installs what building, running and testing need, skipping whatever is already present.
# Safe to run again and again; used by scripts/dev.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

if ! command -v cargo >/dev/null; then
  say "cargo is missing: install Rust with rustup first (https://rustup.rs)"; exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! rustup component list --installed 2>/dev/null | grep -q '^rustfmt'; then
  rustup component add rustfmt
fi

if ! trunk --version 2>/dev/null | grep -q '^trunk 0\.21\.'; then
  say "installing Trunk 0.21 (about 8 minutes the first time)"
  cargo install trunk --version '~0.21' --locked
fi

# wasm-bindgen-cli must equal the wasm-bindgen version in Cargo.lock.
wbg_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " ${wbg_version}\$"; then
  say "installing wasm-bindgen-cli ${wbg_version}"
  # Not --locked: one of its locked dependencies is missing from the registry.
  cargo install wasm-bindgen-cli --version "${wbg_version}"
fi

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs npm)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql-15)
command -v psql >/dev/null || need_apt+=(postgresql-client-15)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! wasm-opt --version 2>/dev/null | grep -q 'version 132'; then
  say "installing wasm-opt (npm binaryen@132)"
  npm install -g --silent binaryen@132
fi

say "ready: $(trunk --version), wasm-bindgen $(wasm-bindgen --version | awk '{print $2}'), $(wasm-opt --version | cut -d' ' -f1-3)"
