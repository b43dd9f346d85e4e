#!/usr/bin/env bash
# Runs the coverage-guided fuzz targets in fuzz/ (cargo-fuzz, libFuzzer, AddressSanitizer),
# each for SECONDS, from the committed seeds and the test fixtures. What a run learns is kept
# in .cache/fuzz/corpus/TARGET for the next; a crash, a panic (even one the engine would have
# caught as E_INTERNAL), a hang past 10 s or 2.5 GB of memory stops the run, leaves its input
# in .cache/fuzz/artifacts/TARGET/ and fails the script.
#
# `framing` is the server's v2 binary framing, in JS: a property-based run of
# tests/js/v2-framing.test.mjs (fast-check) with a fresh seed, as many cases as fit in
# SECONDS at its speed here (docs/decisions/fuzzing.md says why it is not libFuzzer).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   default: 60 s each of model bundle feeds tables framing
#   scripts/fuzz.sh 600 -runs=10000000 tables   libFuzzer flags go before the targets
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1m[fuzz]\033[0m %s\n' "$*" >&2; }

seconds=${1:-60}
shift || true
flags=()
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do flags+=("$1"); shift; done
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model bundle feeds tables framing)

bash scripts/setup.sh fuzz
export PATH=$PWD/.cache/tools/bin:$PATH
# AddressSanitizer's flags are nightly ones, on the same stable toolchain the wasm builds use.
# The release profile is the wasm's (size first, LTO); rust-lld cannot link sanitizer coverage
# under LTO (rust-fuzz/cargo-fuzz#384), and a fuzzer wants speed.
export RUSTC_BOOTSTRAP=1 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_OPT_LEVEL=3

# Where each target starts: its committed seeds, or for models every test fixture (libFuzzer
# reads directories recursively and keeps what is new).
seeds() {
  case $1 in
    model) echo tests/fixtures ;;
    bundle | tables) echo "fuzz/seeds/$1" ;;
    feeds) ;;
  esac
}

if [ "${targets[*]}" != framing ]; then
  log "cargo fuzz build"
  cargo fuzz build -O
fi
for target in "${targets[@]}"; do
  if [ "$target" = framing ]; then
    # libFuzzer's -seed=N, if given, seeds this run too.
    seed=$RANDOM$RANDOM
    for f in "${flags[@]}"; do [ "${f#-seed=}" != "$f" ] && seed=${f#-seed=}; done
    log "framing: $((seconds * 400)) cases, seed $seed"
    FUZZ_RUNS=$((seconds * 400)) FUZZ_SEED=$seed node --test --test-reporter=dot tests/js/v2-framing.test.mjs
    continue
  fi
  corpus=.cache/fuzz/corpus/$target
  artifacts=.cache/fuzz/artifacts/$target/
  output=.cache/fuzz/$target.log
  rm -rf "$artifacts"
  mkdir -p "$corpus" "$artifacts"
  log "$target: ${seconds} s (output in $output)"
  # shellcheck disable=SC2046
  if ! cargo fuzz run -O "$target" "$corpus" $(seeds "$target") -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -max_len=65536 \
    -artifact_prefix="$artifacts" -print_final_stats=1 "${flags[@]}" >"$output" 2>&1; then
    tail -n 80 "$output" >&2
    log "$target failed: its input is in $artifacts"
    exit 1
  fi
  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$output" >&2 || true
done
