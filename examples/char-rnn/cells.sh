#!/usr/bin/env bash
# Trains char-rnn once per cell variant on the embedded corpus with the same recipe and steps,
# and prints a Markdown table of the validation loss and the time per step. Usage (from the
# repository root):
#   examples/char-rnn/cells.sh [STEPS]
set -euo pipefail
steps=${1:-300}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo build --release -q -p char-rnn
variants=(
  "LSTM|--cell lstm"
  "LSTM + projection (proj_size 64)|--cell lstm --proj-size 64"
  "LSTM + peepholes|--cell lstm --peephole"
  "GRU|--cell gru"
  "RNN (tanh)|--cell rnn"
  "minGRU|--cell mingru"
  "minLSTM|--cell minlstm"
  "LayerNorm LSTM|--cell lnlstm"
  "LayerNorm GRU|--cell lngru"
)
echo "| cell | flags | validation loss after $steps steps (nats/char) | ms/step |"
echo "| --- | --- | ---: | ---: |"
for variant in "${variants[@]}"; do
  name=${variant%%|*}
  flags=${variant#*|}
  # shellcheck disable=SC2086 # the flags are words
  line=$(./target/release/char-rnn train $flags --out "$out/run" --force --steps "$steps" \
    --eval-every "$steps" --checkpoint-every "$steps" --sample 0 --quiet | tail -1)
  ms=$(sed -E 's/.* ([0-9.]+) ms\/step.*/\1/' <<<"$line")
  val=$(sed -E 's/.*validation ([0-9.]+) nats.*/\1/' <<<"$line")
  echo "| $name | \`$flags\` | $val | $ms |"
done
