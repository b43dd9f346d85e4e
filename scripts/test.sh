#!/usr/bin/env bash
# Runs every test: the Rust core natively and the ONNX node tests, a smoke of each fuzz
# target, then the packed npm tarball installed into a fresh directory and tested as users get
# it, in Node, in workerd and in headless Chromium, its TypeScript types, and the team's
# acceptance runner where it is present.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { printf '\033[1m[test]\033[0m %s\n' "$*" >&2; }

bash scripts/setup.sh all
bash scripts/lint.sh

log "cargo test (the core, natively)"
cargo test --quiet --workspace
# The kernels split across a team of threads, as the threads build splits them.
cargo test --quiet -p edgeinfer-kernels --features threads
.cache/venv/bin/python -m unittest discover -s tests/python

log "ONNX conformance: the onnx package's node tests, held at tests/conformance/floor.json"
bash scripts/conformance.sh

bash scripts/build.sh

log "fuzzing: a 60-second smoke of each target (scripts/fuzz.sh)"
bash scripts/fuzz.sh 60 -seed=1

log "npm pack, then install the tarball into a fresh directory"
rm -rf .cache/pack .cache/consumer
mkdir -p .cache/pack .cache/consumer
tarball=$(npm pack --silent --pack-destination .cache/pack | tail -n 1)
(cd .cache/consumer && npm init -y >/dev/null && npm install --silent --no-audit --no-fund "../pack/$tarball")
export EDGEINFER_PACKAGE=$ROOT/.cache/consumer/node_modules/edgeinfer

log "TypeScript: the types against a user's program, and js/ against its types (tsc --noEmit)"
node_modules/.bin/tsc -p tests/types
node_modules/.bin/tsc -p js

log "node:test: Node, workerd and Chromium"
node --test --test-reporter=dot tests/js/

# The team's acceptance runner, where its shared directory is present (beside the checkout, or
# where $EDGEINFER_SHARED says): the package's own tests above need nothing outside the clone.
shared=${EDGEINFER_SHARED:-$ROOT/../shared}
if [ -f "$shared/acceptance/run-corpus.mjs" ]; then
  log "acceptance corpus through the public API ($shared)"
  node "$shared/acceptance/run-corpus.mjs" --package "$EDGEINFER_PACKAGE" "$shared/corpus"
else
  log "no shared acceptance runner beside the checkout: skipped (the corpus itself ran above)"
fi
