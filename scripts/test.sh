#!/usr/bin/env bash
# Runs every test: the Rust core natively, then the packed npm tarball installed into a fresh
# directory and tested as users get it, in Node, in workerd and in headless Chromium, its
# TypeScript types, and the shared acceptance corpus through its public API.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { printf '\033[1m[test]\033[0m %s\n' "$*" >&2; }

bash scripts/setup.sh all

log "cargo test (the core, natively)"
cargo test --quiet --workspace
.cache/venv/bin/python -m unittest discover -s tests/python

bash scripts/build.sh

log "npm pack, then install the tarball into a fresh directory"
rm -rf .cache/pack .cache/consumer
mkdir -p .cache/pack .cache/consumer
tarball=$(npm pack --silent --pack-destination .cache/pack | tail -n 1)
(cd .cache/consumer && npm init -y >/dev/null && npm install --silent --no-audit --no-fund "../pack/$tarball")
export EDGEINFER_PACKAGE=$ROOT/.cache/consumer/node_modules/edgeinfer

log "TypeScript types (tsc --noEmit)"
node_modules/.bin/tsc -p tests/types

log "node:test: Node, workerd and Chromium"
node --test --test-reporter=dot tests/js/

log "acceptance corpus through the public API"
# The shared directory sits beside the checkout, or where $EDGEINFER_SHARED says (as in the JS harness).
shared=${EDGEINFER_SHARED:-}
for d in "$ROOT/../shared" /work/shared; do [ -z "$shared" ] && [ -d "$d/corpus" ] && shared=$d; done
node "$shared/acceptance/run-corpus.mjs" --package "$EDGEINFER_PACKAGE" "$shared/corpus"
