#!/usr/bin/env bash
# Formatters and linters, as CI runs them: rustfmt and clippy over the workspace, clippy again
# for wasm32 (the binding only compiles there) when the toolchain has it, prettier and eslint.
#   scripts/lint.sh --fix   rewrite what the formatters would change instead of failing
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1m[lint]\033[0m %s\n' "$*" >&2; }

if [ "${1:-}" = --fix ]; then
  cargo fmt --all
  node_modules/.bin/prettier --write --log-level warn .
  node_modules/.bin/eslint --fix .
  exit 0
fi

log "rustfmt, prettier"
cargo fmt --all -- --check
node_modules/.bin/prettier --check --log-level warn .
log "eslint"
node_modules/.bin/eslint .
log "clippy"
cargo clippy --quiet --workspace --all-targets -- -D warnings
cargo clippy --quiet -p edgeinfer-kernels --features threads --all-targets -- -D warnings
if rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  log "clippy --target wasm32-unknown-unknown"
  # The wasm builds use one nightly feature (src/lib.rs), as scripts/build.sh builds them.
  RUSTC_BOOTSTRAP=1 cargo clippy --quiet --lib --target wasm32-unknown-unknown -- -D warnings
  RUSTC_BOOTSTRAP=1 cargo clippy --quiet --lib --target wasm32-unknown-unknown --no-default-features --features threads -- -D warnings
else
  log "no rustup wasm32 target: the binding's clippy pass is skipped (the wasm build checks it compiles)"
fi
