#!/bin/sh
# Pruning with retraining on the committed baselines of results/article:
# keep rates × schedules × seeds, global magnitude pruning, default
# fine-tuning recipe (5 epochs). Prints one line per run:
#   seed keep schedule acc_before acc_no_retrain acc_after delta_pp seconds
# Usage: sh scripts/recovery.sh [KEEPS] [SCHEDULES]
set -e
keeps=${1:-"0.1 0.05 0.02"}
schedules=${2:-"oneshot iterative gradual"}
tmp=$(mktemp -d)
for ck in results/article/baselines/seed*.npz; do
  seed=$(basename "$ck" | sed 's/seed\([0-9]*\)-.*/\1/')
  for k in $keeps; do
    for s in $schedules; do
      bin/mnistc finetune --model "$ck" --pass "prune:keep=$k,scope=global,schedule=$s" --out "$tmp/ft.npz" --json --quiet 2>/dev/null |
        python3 -c "import json,sys; r=json.load(sys.stdin); print($seed, $k, '$s', r['acc_before'], r['acc_no_retrain'], r['acc_after'], round(r['delta_pp'],2), round(r['train_seconds'],1))"
    done
  done
done
rm -rf "$tmp"
