#!/usr/bin/env bash
# Trains char-rnn once per cell variant on the embedded corpus with the same recipe and steps,
# and prints a Markdown table of the training and validation loss and the time per step.
# Usage (from the repository root):
#   examples/char-rnn/cells.sh [STEPS] [NAMES]
# NAMES, an extended regular expression, keeps only the variants whose name matches it.
set -euo pipefail
steps=${1:-300}
names=${2:-.}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo build --release -q -p char-rnn
variants=(
  "LSTM|--cell lstm"
  "LSTM + projection (proj_size 64)|--cell lstm --proj-size 64"
  "LSTM + peepholes|--cell lstm --peephole"
  "LSTM + zoneout (h 0.05, c 0.5)|--cell lstm --zoneout-hidden 0.05 --zoneout-cell 0.5"
  "LSTM + DropConnect (weight_drop 0.5)|--cell lstm --weight-drop 0.5"
  "LSTM + variational dropout (in 0.1, out 0.25)|--cell lstm --input-dropout 0.1 --output-dropout 0.25"
  "GRU|--cell gru"
  "GRU + DropConnect (weight_drop 0.5)|--cell gru --weight-drop 0.5"
  "RNN (tanh)|--cell rnn"
  "minGRU|--cell mingru"
  "minLSTM|--cell minlstm"
  "LayerNorm LSTM|--cell lnlstm"
  "LayerNorm GRU|--cell lngru"
)
echo "| cell | flags | training loss | validation loss after $steps steps (nats/char) | ms/step |"
echo "| --- | --- | ---: | ---: | ---: |"
for variant in "${variants[@]}"; do
  name=${variant%%|*}
  flags=${variant#*|}
  grep -qE -- "$names" <<<"$name" || continue
  # shellcheck disable=SC2086 # the flags are words
  log=$(./target/release/char-rnn train $flags --out "$out/run" --force --steps "$steps" \
    --eval-every "$steps" --checkpoint-every "$steps" --sample 0 --quiet | tail -2)
  last=$(tail -1 <<<"$log")
  ms=$(sed -E 's/.* ([0-9.]+) ms\/step.*/\1/' <<<"$last")
  val=$(sed -E 's/.*validation ([0-9.]+) nats.*/\1/' <<<"$last")
  train=$(head -1 <<<"$log" | sed -E 's/.* train ([0-9.]+) .*/\1/')
  echo "| $name | \`$flags\` | $train | $val | $ms |"
done
