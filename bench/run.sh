#!/usr/bin/env bash
# bench/run.sh BUILD - every benchmark of `make bench`, then one summary table.
#   1. the machine: CPU, cores, load (benchmarks on a shared machine are only comparable
#      within one run: the load is printed before and after), and its FP32 FMA peak
#      (bench_peak: FMAs on registers only, 1 thread and all threads);
#   2. every bench binary built from bench/*.c: bench_gemm (GFLOP/s per Baby GPT shape against
#      OpenBLAS), bench_fused (each fused kernel against its composition), bench_tokenizer,
#      serve_load (a short in-process load test), and bench_train once per config;
#   3. bench/pytorch_train.py: the same training step in PyTorch, tuned and untuned;
#   4. a table per config: nabla's tokens/s, step time and peak RSS next to PyTorch's, and
#      the ratios. Anything that cannot run prints one SKIP line saying why.
# nabla's training step is run twice per config: as is (libgomp's default wait policy, threads
# spin between parallel regions) and with OMP_WAIT_POLICY=passive (the same OpenMP setting the
# tuned PyTorch run gets); see docs/performance.md.
# environment: BENCH_CONFIGS ("tiny small safe-pro"), BENCH_BATCH (8), BENCH_STEPS (timed
#   steps, 5), BENCH_WARMUP (2), BENCH_THREADS (0: all cores), BENCH_VOCAB (50257),
#   BENCH_QUICK=1 (skip the gemm, tokenizer and serve benches), PYTHON (/usr/bin/python3).
set -u
BUILD=${1:-build}
CONFIGS=${BENCH_CONFIGS:-tiny small safe-pro}
BATCH=${BENCH_BATCH:-8}
STEPS=${BENCH_STEPS:-5}
WARMUP=${BENCH_WARMUP:-2}
THREADS=${BENCH_THREADS:-0}
VOCAB=${BENCH_VOCAB:-50257}
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

log "training step, nabla (bench_train: batch $BATCH, $WARMUP warm-up + $STEPS timed steps)"
if [ ! -x "$BUILD/bench/bench_train" ]; then
    skip "bench_train: not built"
else
    for c in $CONFIGS; do
        for mode in default passive; do
            echo "-- $c, OpenMP wait policy: $mode"
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
    done
fi

log "training step, PyTorch (bench/pytorch_train.py, tuned and untuned)"
if ! "$PY" -c 'import torch' 2>/dev/null; then
    skip "pytorch_train.py: $PY cannot import torch (install python3-torch)"
else
    "$PY" bench/pytorch_train.py --configs "$(echo $CONFIGS | tr ' ' ',')" --batch "$BATCH" \
        --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" --vocab "$VOCAB" | tee -a "$RES" |
        grep -v '^RESULT'
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- summary ----------------------------------------------------------------------------------
field() { # who config key -> value from the RESULT lines ("" when absent)
    awk -v w="$1" -v c="$2" -v k="$3" '$1 == "RESULT" && $2 == w && $3 == c {
        for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$RES" | tail -n 1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'; }
log "summary (batch $BATCH, vocab $VOCAB; tokens/s, higher is better; RSS in MB)"
printf '| %-8s | %12s | %12s | %12s | %12s | %14s | %14s | %10s | %10s | %10s |\n' config \
    "nabla tok/s" "nabla passive" "torch tuned" "torch untuned" "nabla/tuned" "passive/tuned" \
    "nabla RSS" "torch RSS" "RSS ratio"
printf '|%s|\n' "----------|--------------|--------------|--------------|--------------|----------------|----------------|------------|------------|------------"
for c in $CONFIGS; do
    nd=$(field nabla-default "$c" tokens_per_s)
    np=$(field nabla-passive "$c" tokens_per_s)
    tt=$(field torch-tuned "$c" tokens_per_s)
    tu=$(field torch-untuned "$c" tokens_per_s)
    nr=$(field nabla-default "$c" peak_rss_mb)
    tr=$(field torch-tuned "$c" peak_rss_mb)
    printf '| %-8s | %12s | %12s | %12s | %12s | %14s | %14s | %10s | %10s | %10s |\n' "$c" \
        "${nd:--}" "${np:--}" "${tt:--}" "${tu:--}" "$(ratio "$nd" "$tt")" "$(ratio "$np" "$tt")" \
        "${nr:--}" "${tr:--}" "$(ratio "$nr" "$tr")"
done
echo "(step times: the RESULT lines above; targets: nabla/tuned >= 1.3 for small and safe-pro,"
echo " RSS ratio <= 0.5; the machine's FMA peak and how to read these: docs/performance.md)"
exit $status
