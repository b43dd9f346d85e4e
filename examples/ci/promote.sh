#!/usr/bin/env bash
# The promotion pipeline that promote.yml runs: train a candidate, build and sign it as a
# bundle, gate it against the production bundle on held-out data, and write a Worker project
# serving both, with a canary share of callers on the candidate and shadow traffic comparing
# the two. The pipeline then deploys the project; an admin rolls back with
# PUT /v2/models/cancer/traffic {"canary": 0}.
#
#   examples/ci/promote.sh PRODUCTION.wasm VERSION OUT_DIR
#
# Environment: SIGNING_KEY and PUBLIC_KEY (files, from `edgeinfer keygen`); optionally
# EDGEINFER (the command, default `npx edgeinfer`), PYTHON, TRAIN_ARGS (for train.py),
# MAX_REGRESSION (default 0.01), CANARY (percent, default 10), SHADOW (default 25).
# Exits 1, writing nothing, when the candidate fails the gate.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 PRODUCTION.wasm VERSION OUT_DIR" >&2; exit 2; }
production=$1 version=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
edgeinfer=${EDGEINFER:-npx edgeinfer}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== train"
# shellcheck disable=SC2086 # TRAIN_ARGS is a list of arguments
"${PYTHON:-python3}" "$here/train.py" --out "$work/model.onnx" --holdout "$work/holdout.csv" ${TRAIN_ARGS:-}

echo "== build and sign"
$edgeinfer build "$work/model.onnx" --name cancer --version "$version" --sign "${SIGNING_KEY:?}" -o "$work/candidate"
candidate=$work/candidate/cancer.wasm
$edgeinfer verify "$candidate" --public-key "${PUBLIC_KEY:?}" > /dev/null

echo "== compare with production"
$edgeinfer compare "$production" "$candidate" --csv "$work/holdout.csv" --label benign \
  --max-regression "${MAX_REGRESSION:-0.01}" --public-key "$PUBLIC_KEY"

echo "== a Worker serving both, ${CANARY:-10}% of callers on the candidate"
current=$($edgeinfer verify "$production" --public-key "$PUBLIC_KEY" | sed 1d |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).version))')
traffic="{\"cancer\": {\"production\": \"$current\", \"candidate\": \"$version\", \"canary\": ${CANARY:-10}, \"shadow\": ${SHADOW:-25}}}"
$edgeinfer worker "$production" "$candidate" --public-key "$PUBLIC_KEY" --traffic "$traffic" -o "$out" --force
