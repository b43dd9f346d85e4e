#!/usr/bin/env bash
# Builds dist/: the wasm core (release, LTO, simd128, wasm exceptions so that panics are
# caught), its wasm-bindgen glue (target "web", which serves browsers, Node and workerd
# alike), then wasm-opt from the npm binaryen package. Each step is skipped when its output
# is newer than its input, so a second run with nothing changed takes seconds.
#
#   EDGEINFER_WASM_OPT=0 scripts/build.sh   skip wasm-opt (a quicker inner loop)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[build]\033[0m %s\n' "$*" >&2; }

[ -f .cache/toolchain.env ] && [ -x .cache/tools/bin/wasm-bindgen ] && [ -x node_modules/.bin/wasm-opt ] ||
  bash scripts/setup.sh toolchain
. .cache/toolchain.env

target=wasm32-unknown-unknown
# Panics unwind (and are caught at the binding) instead of trapping and killing the instance.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128,+exception-handling,+bulk-memory,+nontrapping-fptoint,+sign-ext -C panic=unwind -Zlocation-detail=none"
log "cargo build --release --target $target"
RUSTC_BOOTSTRAP=1 RUSTC="$WASM_RUSTC" "$WASM_CARGO" build --quiet --release --lib \
  --target "$target" -Zbuild-std=std,panic_unwind -Zbuild-std-features=optimize_for_size

raw=${CARGO_TARGET_DIR:-target}/$target/release/edgeinfer.wasm
out=dist/edgeinfer_bg.wasm
if [ -f "$out" ] && [ "$out" -nt "$raw" ] && [ "${EDGEINFER_WASM_OPT:-1}" = "$(cat .cache/wasm-opt.flag 2>/dev/null)" ]; then
  log "dist/ is up to date"
  exit 0
fi
log "wasm-bindgen"
rm -rf dist && mkdir -p dist
.cache/tools/bin/wasm-bindgen --target web --out-dir dist --out-name edgeinfer --no-typescript \
  --remove-name-section --remove-producers-section "$raw"
node scripts/inline-wrap-error.mjs dist/edgeinfer.js
if [ "${EDGEINFER_WASM_OPT:-1}" = 1 ]; then
  log "wasm-opt -O3"
  # --low-memory-unused lets wasm-opt fold `ptr + constant` into loads' and stores' offset
  # field, which LLVM leaves as an add: V8 then addresses with a displacement instead of an
  # instruction per load (three per step of the matrix tile). The promise is only that no
  # such sum wraps past 4 GiB into the first KiB, which in-bounds Rust pointers never do.
  node_modules/.bin/wasm-opt -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-reference-types --enable-multivalue --enable-mutable-globals \
    --enable-exception-handling --low-memory-unused "$out" -o "$out.opt"
  mv "$out.opt" "$out"
fi
echo "${EDGEINFER_WASM_OPT:-1}" > .cache/wasm-opt.flag
log "dist/edgeinfer_bg.wasm: $(stat -c %s "$out") bytes, $(gzip -9 -c "$out" | wc -c) gzipped"
