#!/usr/bin/env bash
# The main job (make babygpt): train Baby GPT's tiny config on the built-in
# dialogue corpus, leave loss.png, loss.csv and the checkpoints in $OUT_DIR,
# then print a sampled dialogue and a summary. About 3-4 minutes on 2 cores.
set -euo pipefail
BUILD=${1:-build}
OUT_DIR=${BABYGPT_OUT:-out/babygpt}
STEPS=${BABYGPT_STEPS:-1200}
bin="$BUILD/babygpt"
echo "== training Baby GPT (tiny) on the built-in corpus for $STEPS steps -> $OUT_DIR"
"$bin" train --config tiny --steps "$STEPS" --eval-every 100 --bpe-size 1024 --out "$OUT_DIR"
echo
echo "== the loss curve: $OUT_DIR/loss.png   (numbers: $OUT_DIR/loss.csv)"
column -s, -t < "$OUT_DIR/loss.csv" | head -n 3
echo "..."
column -s, -t < "$OUT_DIR/loss.csv" | tail -n 2
echo
echo "== a sampled dialogue"
"$bin" sample --checkpoint "$OUT_DIR" --prompt "#Person1#: " --max-tokens 120 --temperature 0.7 --seed 7
echo
echo "== chat (piped): the model answers as #Person2#"
printf 'Hello! I would like to book a table for two tonight.\nAt seven, please.\n' |
    "$bin" chat --checkpoint "$OUT_DIR" --temperature 0.7 --seed 3
echo
echo "== a summary of a new dialogue"
dialogue='#Person1#: Good morning. I would like to open a savings account.
#Person2#: Certainly. May I see your ID card, please?
#Person1#: Here it is. How much do I need to deposit?
#Person2#: The minimum deposit is fifty dollars.
#Person1#: All right, I will deposit one hundred dollars.'
printf '%s\n' "$dialogue"
printf -- '-> '
printf '%s\n' "$dialogue" | "$bin" summarize --checkpoint "$OUT_DIR"
