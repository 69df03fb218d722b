#!/usr/bin/env bash
# The main job (make babygpt): train Baby GPT's tiny config on the built-in
# dialogue corpus, leave loss.png, loss.csv and the checkpoints in $OUT_DIR,
# then print a sampled dialogue, a chat and a summary. About a minute of
# training on 2 cores (63 s in CI; the build before it takes about as long).
set -euo pipefail
BUILD=${1:-build}
OUT_DIR=${BABYGPT_OUT:-out/babygpt}
STEPS=${BABYGPT_STEPS:-3000}
bin="$BUILD/babygpt"
echo "== training Baby GPT (tiny) on the built-in corpus for $STEPS steps -> $OUT_DIR"
"$bin" train --config tiny --steps "$STEPS" --eval-every 250 --bpe-size 1024 --out "$OUT_DIR" --overwrite
echo
echo "== the loss curve: $OUT_DIR/loss.png   (numbers: $OUT_DIR/loss.csv)"
column -s, -t < "$OUT_DIR/loss.csv" | head -n 3
echo "..."
column -s, -t < "$OUT_DIR/loss.csv" | tail -n 2
echo
echo "== a sampled dialogue"
"$bin" sample --checkpoint "$OUT_DIR" --prompt "#Person1#:" --max-tokens 120 --temperature 0.7 --seed 7
echo
echo "== chat (piped): the model answers as #Person2#"
printf 'Hello! I would like to book a table for two tonight.\nAt seven, please.\n' |
    "$bin" chat --checkpoint "$OUT_DIR" --temperature 0.7 --seed 3
echo
echo "== a summary of a new dialogue"
dialogue='#Person2#: Next, please. How can I help you?
#Person1#: I would like to open a savings account.
#Person2#: Sure. I will need your ID and proof of address.
#Person1#: Here you are. Is there a minimum deposit?
#Person2#: You need 250 dollars to start.
#Person1#: OK, I will deposit 300 dollars now.'
printf '%s\n' "$dialogue"
printf -- '-> '
printf '%s\n' "$dialogue" | "$bin" summarize --checkpoint "$OUT_DIR"
