#!/usr/bin/env bash
# bench/run.sh BUILD - every benchmark of `make bench`, then one summary table.
#   1. the machine: CPU, cores, load (benchmarks on a shared machine are only comparable
#      within one run: the load is printed before and after), and its FP32 FMA peak
#      (bench_peak: FMAs on registers only, 1 thread and all threads);
#   2. every bench binary built from bench/*.c: bench_gemm (GFLOP/s per Baby GPT shape against
#      OpenBLAS), bench_fused (each fused kernel against its composition), bench_tokenizer,
#      serve_load (a short in-process load test), and bench_train (per config, in rounds with PyTorch);
#   3. bench/pytorch_train.py: the same training step in PyTorch, tuned (in BENCH_ROUNDS rounds
#      alternating with nabla's) and untuned (once);
#   4. a table per config: nabla's tokens/s and peak RSS next to PyTorch's, medians over the
#      rounds, and the ratios (median of the per-round ratios, with their range). Anything that cannot run prints one SKIP line saying why.
# nabla's training step is run twice per config: as is (libgomp's default wait policy, threads
# spin between parallel regions) and with OMP_WAIT_POLICY=passive (the same OpenMP setting the
# tuned PyTorch run gets); see docs/performance.md.
# environment: BENCH_CONFIGS ("tiny small safe-pro"), BENCH_BATCH (8), BENCH_STEPS (timed
#   steps, 5), BENCH_WARMUP (2), BENCH_THREADS (0: all cores), BENCH_VOCAB (50257),
#   BENCH_ROUNDS (3: nabla / tuned PyTorch pairs per config, reported as medians),
#   BENCH_QUICK=1 (skip the gemm, tokenizer and serve benches), PYTHON (/usr/bin/python3).
set -u
BUILD=${1:-build}
CONFIGS=${BENCH_CONFIGS:-tiny small safe-pro}
BATCH=${BENCH_BATCH:-8}
STEPS=${BENCH_STEPS:-5}
WARMUP=${BENCH_WARMUP:-2}
THREADS=${BENCH_THREADS:-0}
VOCAB=${BENCH_VOCAB:-50257}
ROUNDS=${BENCH_ROUNDS:-3}
PY=${PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.."
RES=$(mktemp)
trap 'rm -f "$RES"' EXIT
status=0

log() { printf '\n== %s\n' "$*"; }
skip() { printf 'SKIP: %s\n' "$*"; }

log "machine"
grep -m1 'model name' /proc/cpuinfo | sed 's/^model name[^:]*: /cpu: /'
echo "cores: $(nproc); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -o -m1 -w 'avx512f' /proc/cpuinfo >/dev/null && echo "avx512f: yes" || echo "avx512f: no"

run_bin() { # name, args...
    local bin="$BUILD/bench/$1"
    shift
    if [ ! -x "$bin" ]; then
        skip "$(basename "$bin"): not built"
        return
    fi
    "$bin" "$@" || { echo "$(basename "$bin") failed (exit $?)"; status=1; }
}

log "FP32 FMA peak from registers: the ceiling for every GFLOP/s below (bench_peak)"
run_bin bench_peak

quick=${BENCH_QUICK:-0}
for src in bench/*.c; do
    name=$(basename "$src" .c)
    case "$name" in
    bench_train | bench_peak) ;; # bench_train below, once per config; bench_peak above
    bench_gemm)
        log "matmul: GFLOP/s per Baby GPT shape ($name)"
        if [ "$quick" = 1 ]; then skip "$name: BENCH_QUICK=1"; else run_bin "$name"; fi
        ;;
    bench_fused)
        log "fused kernels against their composition ($name)"
        run_bin "$name" 5 "$THREADS"
        ;;
    serve_load)
        log "serve load test ($name, 5 s)"
        if [ "$quick" = 1 ]; then skip "$name: BENCH_QUICK=1"; else run_bin "$name" --seconds 5; fi
        ;;
    *)
        log "$name"
        if [ "$quick" = 1 ]; then skip "$name: BENCH_QUICK=1"; else run_bin "$name"; fi
        ;;
    esac
done

# The training steps: per config, BENCH_ROUNDS rounds of (nabla, nabla passive, tuned PyTorch)
# back to back, so that each ratio compares runs taken moments apart (PyTorch's own throughput
# moves by 5-15% between runs on a shared VM); untuned PyTorch once per config.
PY_OK=1
if ! "$PY" -c 'import torch' 2>/dev/null; then
    PY_OK=0
    skip "pytorch_train.py: $PY cannot import torch (install python3-torch)"
fi
torch_run() { # config modes
    "$PY" bench/pytorch_train.py --configs "$1" --modes "$2" --batch "$BATCH" --steps "$STEPS" \
        --warmup "$WARMUP" --threads "$THREADS" --vocab "$VOCAB" | tee -a "$RES" | grep -v '^RESULT'
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
}
log "training step: nabla (bench_train) and PyTorch (bench/pytorch_train.py), batch $BATCH, $WARMUP warm-up + $STEPS timed steps, $ROUNDS round(s)"
[ -x "$BUILD/bench/bench_train" ] || skip "bench_train: not built"
for c in $CONFIGS; do
    for round in $(seq 1 "$ROUNDS"); do
        if [ -x "$BUILD/bench/bench_train" ]; then
            for mode in default passive; do
                echo "-- $c, round $round, nabla, OpenMP wait policy: $mode"
                if [ "$mode" = passive ]; then
                    out=$(OMP_WAIT_POLICY=passive "$BUILD/bench/bench_train" "$c" "$BATCH" "$STEPS" "$THREADS" "$VOCAB" "$WARMUP")
                else
                    out=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$BUILD/bench/bench_train" "$c" "$BATCH" "$STEPS" "$THREADS" "$VOCAB" "$WARMUP")
                fi
                rc=$?
                printf '%s\n' "$out" | grep -v '^RESULT'
                if [ $rc -ne 0 ]; then
                    echo "bench_train $c failed (exit $rc)"
                    status=1
                fi
                printf '%s\n' "$out" | grep '^RESULT' | sed "s/^RESULT nabla /RESULT nabla-$mode /" >>"$RES"
            done
        fi
        if [ "$PY_OK" = 1 ]; then
            echo "-- $c, round $round, PyTorch tuned"
            torch_run "$c" tuned
        fi
    done
    if [ "$PY_OK" = 1 ]; then
        echo "-- $c, PyTorch untuned"
        torch_run "$c" untuned
    fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- summary ----------------------------------------------------------------------------------
# stat who config key: the median of that key over the rounds (the "-" when absent).
# ratios num den config: median, lowest and highest of the per-round ratios num/den of tokens/s.
stat() {
    awk -v w="$1" -v c="$2" -v k="$3" '$1 == "RESULT" && $2 == w && $3 == c {
        for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) v[n++] = kv[2] + 0 } }
        END { if (!n) { printf "-"; exit }
              for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
              m = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2; printf "%g", m }' "$RES"
}
ratios() {
    awk -v a="$1" -v b="$2" -v c="$3" '$1 == "RESULT" && $3 == c && ($2 == a || $2 == b) {
        for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "tokens_per_s") { if ($2 == a) x[na++] = kv[2]; else y[nb++] = kv[2] } } }
        END { n = na < nb ? na : nb; if (!n) { printf "-"; exit }
              for (i = 0; i < n; i++) r[i] = y[i] > 0 ? x[i] / y[i] : 0
              for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
              m = n % 2 ? r[(n - 1) / 2] : (r[n / 2 - 1] + r[n / 2]) / 2
              if (n == 1) printf "%.2f", m; else printf "%.2f (%.2f-%.2f)", m, r[0], r[n - 1] }' "$RES"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'; }
log "summary (batch $BATCH, vocab $VOCAB; tokens/s, higher is better, median over $ROUNDS round(s); RSS in MB)"
printf '| %-8s | %11s | %13s | %11s | %13s | %21s | %21s | %9s | %9s | %9s |\n' config \
    "nabla tok/s" "nabla passive" "torch tuned" "torch untuned" "nabla/tuned" "passive/tuned" \
    "nabla RSS" "torch RSS" "RSS ratio"
printf '|%s|\n' "----------|-------------|---------------|-------------|---------------|-----------------------|-----------------------|-----------|-----------|-----------"
for c in $CONFIGS; do
    nd=$(stat nabla-default "$c" tokens_per_s)
    np=$(stat nabla-passive "$c" tokens_per_s)
    tt=$(stat torch-tuned "$c" tokens_per_s)
    tu=$(stat torch-untuned "$c" tokens_per_s)
    nr=$(stat nabla-default "$c" peak_rss_mb)
    tr=$(stat torch-tuned "$c" peak_rss_mb)
    printf '| %-8s | %11s | %13s | %11s | %13s | %21s | %21s | %9s | %9s | %9s |\n' "$c" \
        "$nd" "$np" "$tt" "$tu" "$(ratios nabla-default torch-tuned "$c")" \
        "$(ratios nabla-passive torch-tuned "$c")" "$nr" "$tr" "$(ratio "$nr" "$tr")"
done
echo "(ratios: median of the per-round ratios, lowest-highest in brackets; step times: the RESULT"
echo " lines above; targets: nabla/tuned >= 1.3 for small and safe-pro, RSS ratio <= 0.5; the"
echo " machine's FMA peak and how to read these: docs/performance.md)"
exit $status
