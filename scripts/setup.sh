#!/usr/bin/env bash
# Installs everything the build and the tests need, on a fresh Debian machine or a
# developer's: a Rust toolchain that targets wasm32 with std sources, wasm-bindgen-cli
# matching Cargo.lock, cargo-fuzz, npm packages, Chromium for browser tests and Python
# packages for the fixtures. Idempotent: what is already there is kept.
#
#   scripts/setup.sh            everything
#   scripts/setup.sh toolchain  only what building the wasm needs
#   scripts/setup.sh python     only the Python packages (in .cache/venv)
#   scripts/setup.sh fuzz       only cargo-fuzz (in .cache/tools)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.cache
mkdir -p "$CACHE"
what=${1:-all}

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Writes .cache/toolchain.env with the cargo and rustc that can build std for wasm32.
# First choice: rustup's own toolchain with the wasm32 target and rust-src (the normal
# route on a developer's machine). Else Debian's rustc-web, which ships std's sources.
toolchain() {
  if command -v rustup >/dev/null; then
    local have_target have_src
    have_target=$(rustup target list --installed 2>/dev/null | grep -c '^wasm32-unknown-unknown$' || true)
    have_src=$(rustup component list --installed 2>/dev/null | grep -c '^rust-src' || true)
    if [ "$have_target" = 0 ] || [ "$have_src" = 0 ]; then
      log "trying rustup (wasm32 target, rust-src), 60 s at most"
      timeout 60 rustup target add wasm32-unknown-unknown >/dev/null 2>&1 &&
        timeout 60 rustup component add rust-src >/dev/null 2>&1 && have_target=1 && have_src=1 || true
    fi
    if [ "$have_target" != 0 ] && [ "$have_src" != 0 ]; then
      printf 'WASM_CARGO=%s\nWASM_RUSTC=%s\n' "$(rustup which cargo)" "$(rustup which rustc)" > "$CACHE/toolchain.env"
      return 0
    fi
  fi
  apt_install rustc-web cargo-web rust-web-src rust-web-llvm lld-22
  printf 'WASM_CARGO=/usr/bin/cargo\nWASM_RUSTC=/usr/bin/rustc\n' > "$CACHE/toolchain.env"
}

# wasm-bindgen-cli must be exactly the version of the wasm-bindgen crate in Cargo.lock.
wasm_bindgen_cli() {
  local version
  version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print}' Cargo.lock)
  local bin=$CACHE/tools/bin/wasm-bindgen
  if [ -x "$bin" ] && "$bin" --version | grep -q " $version\$"; then return 0; fi
  log "cargo install wasm-bindgen-cli $version (about 2 minutes)"
  cargo install -q wasm-bindgen-cli --version "$version" --root "$CACHE/tools"
}

# cargo-fuzz drives the fuzz targets in fuzz/ (scripts/fuzz.sh).
cargo_fuzz() {
  local version=0.13.2
  local bin=$CACHE/tools/bin/cargo-fuzz
  if [ -x "$bin" ] && "$bin" --version | grep -q " $version\$"; then return 0; fi
  log "cargo install cargo-fuzz $version (about 3 minutes)"
  cargo install -q cargo-fuzz --version "$version" --locked --root "$CACHE/tools"
}

npm_packages() {
  if [ ! -d node_modules/.bin ] || [ package.json -nt node_modules/.package-lock.json ]; then
    log "npm install"
    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
  fi
}

# Python packages for the fixture generators and the demo's training script, in a venv.
python_packages() {
  local venv=$CACHE/venv
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
  fi
  if [ ! -f "$venv/.installed" ] || [ scripts/requirements.txt -nt "$venv/.installed" ]; then
    log "pip install -r scripts/requirements.txt"
    "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/requirements.txt
    touch "$venv/.installed"
  fi
  local signing=$CACHE/model-signing
  if [ ! -f "$signing/.installed" ] || [ scripts/requirements-model-signing.txt -nt "$signing/.installed" ]; then
    log "pip install -r scripts/requirements-model-signing.txt (into the venv $signing)"
    python3 -m venv "$signing"
    "$signing/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-model-signing.txt
    touch "$signing/.installed"
  fi
  # The conformance cases come from a newer onnx than the fixture generators pin; it lives
  # apart from the venv and is put on PYTHONPATH only by scripts/conformance.sh.
  local onnx=$CACHE/onnx-conformance
  if [ ! -f "$onnx/.installed" ] || [ tests/conformance/requirements.txt -nt "$onnx/.installed" ]; then
    log "pip install -r tests/conformance/requirements.txt (into $onnx)"
    rm -rf "$onnx"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps --target "$onnx" -r tests/conformance/requirements.txt
    touch "$onnx/.installed"
  fi
}

browser() {
  command -v chromium >/dev/null || apt_install chromium
}

case "$what" in
  toolchain) toolchain; wasm_bindgen_cli; npm_packages ;;
  python) python_packages ;;
  fuzz) cargo_fuzz ;;
  all) toolchain; wasm_bindgen_cli; cargo_fuzz; npm_packages; browser; python_packages ;;
  *) echo "usage: $0 [toolchain|python|fuzz|all]" >&2; exit 2 ;;
esac
