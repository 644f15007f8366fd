#!/bin/sh
# Brings what the fast path and the tests use, when missing: from Debian's
# packages libopenblas-dev (the OpenBLAS build of mnistc), python3-numpy (the
# tests that check a checkpoint in NumPy and read arrays NumPy writes) and
# nodejs + npm; from npm, onnxruntime-node into scripts/onnx/node_modules
# (the test that runs exported ONNX models in ONNX Runtime). Best effort:
# without root, apt-get or npm it says what is missing and carries on; the
# tests that need it skip (and fail when CI=true). Silent when all is here.
here=$(dirname "$0")
need=""
printf 'int main(void){return 0;}\n' | ${CC:-gcc} -x c - -lopenblas -o /dev/null >/dev/null 2>&1 || need="$need libopenblas-dev"
/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 || need="$need python3-numpy"
command -v node >/dev/null 2>&1 || need="$need nodejs"
command -v npm >/dev/null 2>&1 || need="$need npm"
if [ -n "$need" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing$need; install them (Debian: apt-get install$need) for the OpenBLAS path, the NumPy and the ONNX Runtime checks; continuing without" >&2
  else
    echo "setup: installing$need" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq $need; } >/dev/null 2>&1 ||
      echo "setup: apt-get install$need failed; continuing with what is here" >&2
  fi
fi

# ONNX Runtime for Node, at the version package-lock.json pins. --ignore-scripts:
# its install script only fetches GPU extras; the CPU library ships in the package.
ort="$here/onnx"
want=$(sed -n 's/.*"onnxruntime-node": "\([0-9.]*\)".*/\1/p' "$ort/package.json")
have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$ort/node_modules/onnxruntime-node/package.json" 2>/dev/null)
[ -n "$want" ] && [ "$have" = "$want" ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: no npm: cannot install onnxruntime-node $want (the ONNX Runtime check skips)" >&2
  exit 0
fi
echo "setup: installing onnxruntime-node $want (npm ci --ignore-scripts in $ort)" >&2
(cd "$ort" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) ||
  echo "setup: npm ci in $ort failed; the ONNX Runtime check skips (fails when CI=true)" >&2
exit 0
