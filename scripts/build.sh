#!/usr/bin/env bash
# Builds dist/: the wasm core (release, LTO, simd128, wasm exceptions so that panics are
# caught) three times, as simd128, with relaxed SIMD, and with relaxed SIMD and threads, its
# wasm-bindgen glue (target "web", which serves browsers, Node and workerd alike), then
# wasm-opt from the npm binaryen package. Each step is skipped when its output is newer than
# its input, so a second run with nothing changed takes seconds.
#
#   EDGEINFER_WASM_OPT=0 scripts/build.sh   skip wasm-opt (a quicker inner loop)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[build]\033[0m %s\n' "$*" >&2; }

[ -f .cache/toolchain.env ] && [ -x .cache/tools/bin/wasm-bindgen ] && [ -x node_modules/.bin/wasm-opt ] ||
  bash scripts/setup.sh toolchain
. .cache/toolchain.env

target=wasm32-unknown-unknown
targets=${CARGO_TARGET_DIR:-target}
features=+simd128,+exception-handling,+bulk-memory,+nontrapping-fptoint,+sign-ext

# Builds one variant of the core: $1 its extra target features ("" or ",+relaxed-simd..."),
# $2 its cargo target directory (each variant has its own, so that none rebuilds another's
# std), $3 its wasm file in dist/, $4 its glue's name in dist/; then cargo's own arguments.
variant() {
  local extra=$1 dir=$2 out=dist/$3 glue_name=$4
  shift 4
  # Panics unwind (and are caught at the binding) instead of trapping and killing the instance.
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=$features$extra -C panic=unwind -Zlocation-detail=none${link:+ $link}"
  log "cargo build --release --target $target ($out)"
  CARGO_TARGET_DIR=$dir RUSTC_BOOTSTRAP=1 RUSTC="$WASM_RUSTC" "$WASM_CARGO" build --quiet --release --lib \
    --target "$target" -Zbuild-std=std,panic_unwind -Zbuild-std-features=optimize_for_size "$@"

  local raw=$dir/$target/release/edgeinfer.wasm
  if [ -f "$out" ] && [ "$out" -nt "$raw" ] && [ -f "dist/${glue_name%.js}.d.ts" ] && [ "${EDGEINFER_WASM_OPT:-1}" = "$(cat "$dir/wasm-opt.flag" 2>/dev/null)" ]; then
    log "$out is up to date"
    return
  fi
  log "wasm-bindgen ($out)"
  local glue
  glue=$(mktemp -d)
  .cache/tools/bin/wasm-bindgen --target web --out-dir "$glue" --out-name edgeinfer \
    --remove-name-section --remove-producers-section "$raw"
  # The unthreaded variants' glue is the same: one edgeinfer.js serves both. The threads
  # build's differs (it imports a shared memory): edgeinfer_threads.js. Their snippets are
  # the same files.
  mkdir -p dist
  rm -rf dist/snippets
  mv "$glue/edgeinfer.js" "dist/$glue_name"
  # The glue's types, from the Rust signatures: js/ is type-checked against them.
  mv "$glue/edgeinfer.d.ts" "dist/${glue_name%.js}.d.ts"
  rm -f "$glue/edgeinfer_bg.wasm.d.ts"
  mv "$glue/snippets" dist/
  node scripts/inline-wrap-error.mjs "dist/$glue_name"
  # wasm-opt takes minutes: it runs in the background, beside the next variant's cargo build.
  optimize "$glue" "$out" "$dir" "$wasm_opt_features" &
  optimizing+=($!)
}

# wasm-opt from $1/edgeinfer_bg.wasm to $2 (moved there as it is when EDGEINFER_WASM_OPT=0),
# then the flag in $3 that says how $2 was made; $4 enables the variant's own features.
optimize() {
  local glue=$1 out=$2 dir=$3 enable=$4
  if [ "${EDGEINFER_WASM_OPT:-1}" = 1 ]; then
    log "wasm-opt -O3 ($out)"
    # --low-memory-unused lets wasm-opt fold `ptr + constant` into loads' and stores' offset
    # field, which LLVM leaves as an add: V8 then addresses with a displacement instead of an
    # instruction per load (three per step of the matrix tile). The promise is only that no
    # such sum wraps past 4 GiB into the first KiB, which in-bounds Rust pointers never do.
    node_modules/.bin/wasm-opt -O3 --enable-simd $enable --enable-bulk-memory \
      --enable-nontrapping-float-to-int --enable-sign-ext --enable-reference-types --enable-multivalue \
      --enable-mutable-globals --enable-exception-handling --low-memory-unused \
      "$glue/edgeinfer_bg.wasm" -o "$glue/optimized.wasm"
    mv "$glue/optimized.wasm" "$out"
  else
    mv "$glue/edgeinfer_bg.wasm" "$out"
  fi
  rm -rf "$glue"
  echo "${EDGEINFER_WASM_OPT:-1}" > "$dir/wasm-opt.flag"
  log "$out: $(stat -c %s "$out") bytes, $(gzip -9 -c "$out" | wc -c) gzipped"
}

# simd128 runs everywhere; the relaxed-SIMD variants where the engine has it, the threads
# one where it also has shared memory and Workers (js/variant.js).
optimizing=()
link="" wasm_opt_features=""
variant "" "$targets" edgeinfer_bg.wasm edgeinfer.js
wasm_opt_features="--enable-relaxed-simd"
variant ",+relaxed-simd" "$targets/relaxed" edgeinfer_relaxed_bg.wasm edgeinfer.js
# Threads: a shared memory the JS layer passes to every Worker, and the TLS exports
# wasm-bindgen needs to give each thread its own stack and thread-locals.
link="-C link-arg=--shared-memory -C link-arg=--max-memory=4294967296 -C link-arg=--import-memory"
for export in __wasm_init_tls __tls_size __tls_align __tls_base; do link+=" -C link-arg=--export=$export"; done
wasm_opt_features="--enable-relaxed-simd --enable-threads"
variant ",+relaxed-simd,+atomics,+mutable-globals" "$targets/threads" edgeinfer_threads_bg.wasm edgeinfer_threads.js \
  --no-default-features --features threads
for pid in "${optimizing[@]}"; do wait "$pid"; done
