#!/bin/sh
# Times ONNX Runtime (onnxruntime-node, 2 intra-op threads) against mnistc's own evaluation on the same
# models, the 10,000 MNIST test images in one call, side by side in one run (onnx.BenchmarkVsORT: the
# committed seed-1 baselines of results/article and results/lenet300 as float32, 8-bit per-column weights +
# 8-bit activations, 4-bit weights + 8-bit activations), and prints each median over COUNT samples (default
# 5, each the mean of 5 calls) with the ratio ONNX Runtime / mnistc (above 1: mnistc is faster).
# Run from anywhere on an otherwise idle machine: sh scripts/onnx/bench.sh [COUNT]   (raw output: bench-out/onnx.txt)
set -e
cd "$(dirname "$0")/../.."
sh scripts/setup.sh
count=${1:-5}
mkdir -p bench-out
tags=$(sh scripts/blas-tags.sh)
go test -tags "$tags" ./onnx -run '^$' -bench '^BenchmarkVsORT$' -benchtime 5x -count "$count" > bench-out/onnx.txt
printf "%-26s %12s %16s %8s\n" "model ($count samples)" "mnistc ms" "onnxruntime ms" "ratio"
awk '/^BenchmarkVsORT\// {
  split($1, p, "/"); key = p[2] "/" p[3]; who = p[4]; sub(/-[0-9]+$/, "", who)
  v[key, who, ++n[key, who]] = $3 / 1e6; keys[key] = 1
}
function median(key, who,   i, j, t, m, a) {
  m = n[key, who]; for (i = 1; i <= m; i++) a[i] = v[key, who, i]
  for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
  for (k in keys) { a = median(k, "mnistc"); o = median(k, "onnxruntime"); printf "%-26s %12.2f %16.2f %8.2f\n", k, a, o, o / a }
}' bench-out/onnx.txt | sort
