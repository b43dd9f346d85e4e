#!/usr/bin/env bash
# ONNX conformance: makes the onnx package's backend node test cases, runs them natively
# through the core's public API and holds the floor in tests/conformance/floor.json.
#   scripts/conformance.sh [--release]   (--release: the optimised build, for quick reruns)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh python
cases=.cache/conformance/cases
if [ ! -f "$cases/cases.json" ] || [ tests/conformance/make_cases.py -nt "$cases/cases.json" ] \
  || [ .cache/onnx-conformance/.installed -nt "$cases/cases.json" ]; then
  PYTHONPATH=.cache/onnx-conformance .cache/venv/bin/python -W ignore tests/conformance/make_cases.py "$cases"
fi
cargo run --quiet ${1:-} --example conformance -- "$cases" \
  --floor tests/conformance/floor.json --json .cache/conformance/results.json
