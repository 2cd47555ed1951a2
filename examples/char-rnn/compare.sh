#!/usr/bin/env bash
# Times char-rnn and the PyTorch reference on the same corpus and recipe, back to back, and
# prints ms/step and the ratio. Usage (from the repository root):
#   examples/char-rnn/compare.sh CORPUS [STEPS] [PYTHON]
set -euo pipefail
corpus=${1:?usage: compare.sh CORPUS [STEPS] [PYTHON]}
steps=${2:-200}
python=${3:-python3}
out=$(mktemp -d)
cargo build --release -q -p char-rnn
ours=$(./target/release/char-rnn train --corpus "$corpus" --out "$out" --steps "$steps" \
  --lr-decay 1.0 --eval-every 100000 --checkpoint-every 100000 --sample 0 --quiet | tail -1)
ours_ms=$(sed -E 's/.* ([0-9.]+) ms\/step.*/\1/' <<<"$ours")
echo "burn-rnn char-rnn: $ours"
for threads in 1 2; do
  line=$("$python" examples/char-rnn/pytorch_reference.py --corpus "$corpus" --steps "$steps" \
    --eval-every 100000 --threads "$threads" | tail -1)
  ms=$(sed -E 's/.* ([0-9.]+) ms\/step.*/\1/' <<<"$line")
  echo "$line"
  awk -v o="$ours_ms" -v p="$ms" -v t="$threads" \
    'BEGIN { printf "time per step, ours / PyTorch (%d threads): %.1f / %.1f ms = %.1fx\n", t, o, p, o / p }'
done
rm -rf "$out"
