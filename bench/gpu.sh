#!/usr/bin/env bash
# bench/gpu.sh - the CUDA backend on a machine with an NVIDIA GPU, in one run:
#   1. builds nabla (with the CUDA backend) and runs the CUDA tests;
#   2. times a Baby GPT safe-pro training step (batch 32, context 192) with
#      nabla and with the same model in PyTorch on the same GPU, and prints both
#      tokens/s and their ratio;
#   3. given the DialogSum folder, trains safe-pro for its full 5000 steps on the
#      GPU and evaluates it on the validation split.
# It writes its logs, the loss plot and results.md into the output folder and
# prints the results table last.
#
# On the lent GPU machines, which lack the build dependencies and the data beside the
# checkout, run bench/gpu-prepare.sh here first and carry its .gpu/ folder: the programs built
# here, their libraries, the data and a font are then taken from it (see that script).
#
# usage: bench/gpu.sh [OUT_FOLDER] [DIALOGSUM_FOLDER]
#   OUT_FOLDER        default: $GPU_OUT, else $OUT, else out/gpu
#   DIALOGSUM_FOLDER  default: $DIALOGSUM (no full training when empty)
# environment: BENCH_STEPS (timed steps, 30), GPT2_VOCAB (default ../shared/data/gpt2, else
#   .gpu/data/gpt2, when present: the GPT-2 tokenizer, vocabulary 50257), NABLA_TF32 (1: allow
#   TF32 in both nabla and PyTorch; default off in both), MAKE_JOBS, GPU_PREPARED (1: use .gpu/
#   even where the machine could build; 0: always build), GPU_TRAIN_LIMIT (seconds the full
#   training may take, default 360: then it is interrupted like Ctrl-C, evaluates, saves its
#   checkpoint, and the run goes on to the validation and the table; 0: no limit).
#   For checking this script itself without a GPU: GPU_EMULATE=1 runs everything on the CUDA
#   emulator (tests/cuda_emu, build/libnbcudaemu.so; a check of the plumbing, not a
#   measurement), GPU_CONFIG (default safe-pro) and GPU_BATCH (default the config's) shrink the
#   model (PyTorch is compared on safe-pro at batch 32 only), GPT2_VOCAB=none trains a small BPE,
#   GPU_EVAL_DEVICE=cpu scores the validation split on the CPU (default cuda).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
OUT_DIR=${1:-${GPU_OUT:-${OUT:-out/gpu}}}
DATA=${2:-${DIALOGSUM:-}}
STEPS=${BENCH_STEPS:-30}
TRAIN_LIMIT=${GPU_TRAIN_LIMIT:-360}
JOBS=${MAKE_JOBS:-$(nproc)}
VOCAB=${GPT2_VOCAB:-}
[ -z "$VOCAB" ] && [ -f ../shared/data/gpt2/encoder.json ] && VOCAB=$(cd ../shared/data/gpt2 && pwd)
[ -z "$VOCAB" ] && [ -f .gpu/data/gpt2/encoder.json ] && VOCAB=$(cd .gpu/data/gpt2 && pwd)
[ "$VOCAB" = none ] && VOCAB=""
CFG=${GPU_CONFIG:-safe-pro}
BATCH=${GPU_BATCH:-}
EMULATE=${GPU_EMULATE:-0}
EVAL_DEVICE=${GPU_EVAL_DEVICE:-cuda}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
export NABLA_CUDA_CACHE=${NABLA_CUDA_CACHE:-$OUT_DIR/kernel-cache}
RESULTS=()
# results.md: the title $1, then the rows so far
table() { printf '%s\n' "$1" "" "| what | result |" "| --- | --- |" "${RESULTS[@]}" >"$OUT_DIR/results.md"; }
# Each row is added to results.md as soon as it is known, so a run cut off at a time limit
# still leaves what it measured.
row() {
    RESULTS+=("| $1 | $2 |")
    table "# nabla CUDA results (partial: the run has not finished)"
}
log() { printf '== %s\n' "$*"; }

# NVRTC and cuBLAS are opened at run time from the toolkit (/usr/local/cuda or $CUDA_HOME). Where
# the toolkit lacks them, the copies PyTorch's CUDA wheels installed (site-packages/nvidia/...)
# are put on the library path instead.
cuda_lib=${CUDA_HOME:-/usr/local/cuda}/lib64
if ! ls "$cuda_lib"/libnvrtc.so* "$cuda_lib"/libcublas.so* >/dev/null 2>&1; then
    nv=$(python3 -c 'import nvidia, sys; print(" ".join(nvidia.__path__))' 2>/dev/null)
    for name in libnvrtc.so libcublas.so; do
        [ -n "$nv" ] || break
        # shellcheck disable=SC2086 # nv is a list of folders
        hit=$(find $nv -name "$name.*" -print -quit 2>/dev/null)
        if [ -n "$hit" ]; then
            LD_LIBRARY_PATH="$(dirname "$hit")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
            export LD_LIBRARY_PATH
            echo "gpu.sh: $name from $(dirname "$hit") (not in $cuda_lib)"
        fi
    done
fi

# ---- 1. build and test --------------------------------------------------------------------------
log "GPU"
if [ "$EMULATE" = 1 ]; then
    echo "none: the CUDA emulator (tests/cuda_emu) on the CPU; a check of this script, not a measurement" >"$OUT_DIR/gpu.txt"
    cat "$OUT_DIR/gpu.txt"
else
    { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true; } | tee "$OUT_DIR/gpu.txt"
fi
row "GPU" "$(head -n 1 "$OUT_DIR/gpu.txt")"

# The programs: built here, or those bench/gpu-prepare.sh built elsewhere (.gpu/bin), used
# when this machine lacks the build dependencies (or GPU_PREPARED=1).
BIN=build        # babygpt
TBIN=build/tests # test_cuda, test_cuda_ops, test_cuda_edge, test_cuda_edge_nn
PREPARED=${GPU_PREPARED:-}
if [ -z "$PREPARED" ]; then
    PREPARED=0
    if [ -x .gpu/bin/babygpt ] && ! pkg-config --exists check libpcre2-8 jansson stb libedit libmicrohttpd 2>/dev/null; then
        PREPARED=1
    fi
fi
if [ "$PREPARED" = 1 ] && [ -x .gpu/bin/babygpt ]; then
    # Each program through a wrapper that puts the bundled libraries on its own library path
    # only: the rest of this script (python3 with PyTorch, grep, sed) keeps the machine's own.
    BIN="$OUT_DIR/prepared-bin"
    TBIN=$BIN
    mkdir -p "$BIN"
    for p in babygpt test_cuda test_cuda_ops test_cuda_edge test_cuda_edge_nn; do
        # shellcheck disable=SC2016 # the wrapper expands LD_LIBRARY_PATH when it runs
        printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s" "$@"\n' \
            "$PWD/.gpu/lib" "$PWD/.gpu/bin/$p" >"$BIN/$p"
        chmod +x "$BIN/$p"
    done
    font=$(find .gpu/fonts -name '*.ttf' -print -quit 2>/dev/null)
    [ -n "$font" ] && export NABLA_FONT=${NABLA_FONT:-$PWD/$font}
    if [ -d .gpu/kernel-cache ]; then # kernels compiled there by the same NVRTC, if it is the same
        mkdir -p "$NABLA_CUDA_CACHE" && cp -n .gpu/kernel-cache/* "$NABLA_CUDA_CACHE/" 2>/dev/null
    fi
    built=$(tr '\n' ' ' <.gpu/COMMIT 2>/dev/null)
    log "using the programs bench/gpu-prepare.sh built from $built"
    row "build" "prepared by bench/gpu-prepare.sh from $built"
    if ! "$BIN/babygpt" --help >"$OUT_DIR/build.log" 2>&1; then
        tail -n 20 "$OUT_DIR/build.log"
        row "prepared programs" "FAILED to start (build.log)"
    fi
else
    log "building (make -j$JOBS) -> $OUT_DIR/build.log"
    emu_target=()
    [ "$EMULATE" = 1 ] && emu_target=(build/libnbcudaemu.so)
    if make -j"$JOBS" all build/tests/test_cuda build/tests/test_cuda_ops build/tests/test_cuda_edge build/tests/test_cuda_edge_nn "${emu_target[@]}" >"$OUT_DIR/build.log" 2>&1; then
        row "build" "ok"
    else
        tail -n 30 "$OUT_DIR/build.log"
        row "build" "FAILED (build.log; bench/gpu-prepare.sh builds elsewhere for machines without the dependencies)"
        table "# nabla CUDA results ($(date -u +%Y-%m-%dT%H:%MZ)): the build failed"
        cat "$OUT_DIR/results.md"
        exit 1
    fi
fi

tests=("$TBIN/test_cuda" "$TBIN/test_cuda_ops" "$TBIN/test_cuda_edge" "$TBIN/test_cuda_edge_nn")
if [ "$EMULATE" = 1 ]; then
    # every CUDA program from here on runs on the emulator, except test_cuda, which checks the
    # kernels with the real NVRTC and the message a machine without a driver gives
    emu_lib=$(realpath "${NB_EMU_LIB:-build/libnbcudaemu.so}") || exit 1
    export NABLA_LIBCUDA=$emu_lib NABLA_NVRTC=$emu_lib NABLA_CUBLAS=$emu_lib
    export NB_EMU_CACHE=${NB_EMU_CACHE:-$OUT_DIR/emu-cache} NABLA_CUDA_CACHE=""
    mkdir -p "$OUT_DIR/emu-bin"
    printf '#!/bin/sh\nexec env -u NABLA_LIBCUDA -u NABLA_NVRTC -u NABLA_CUBLAS "%s" "$@"\n' \
        "$(realpath "$TBIN/test_cuda")" >"$OUT_DIR/emu-bin/test_cuda"
    chmod +x "$OUT_DIR/emu-bin/test_cuda"
    tests[0]="$OUT_DIR/emu-bin/test_cuda"
fi
log "CUDA tests -> $OUT_DIR/tests.log"
if bash tests/run.sh "${tests[@]}" >"$OUT_DIR/tests.log" 2>&1; then
    row "CUDA tests" "$(tail -n 1 "$OUT_DIR/tests.log")"
else
    tail -n 60 "$OUT_DIR/tests.log"
    row "CUDA tests" "FAILED: $(tail -n 2 "$OUT_DIR/tests.log" | tr '\n' ' ')"
fi

# ---- 2. one safe-pro training step: nabla vs PyTorch ------------------------------------------------
vocab_args=()
[ -n "$VOCAB" ] && vocab_args=(--vocab "$VOCAB")
batch_args=()
[ -n "$BATCH" ] && batch_args=(--batch "$BATCH")
data_args=()
[ -n "$DATA" ] && data_args=(--data "$DATA")
tok_s() { sed -nE 's/.*done: .* \(([0-9.]+) tokens\/s\).*/\1/p' "$1" | tail -n 1; }

log "nabla: $CFG, batch ${BATCH:-of the config}, $STEPS steps on cuda (a first short run warms the kernel cache)"
"$BIN/babygpt" train --config "$CFG" "${batch_args[@]}" --device cuda --steps 3 --eval-every 1000000 --eval-batches 1 \
    "${vocab_args[@]}" "${data_args[@]}" --quiet --overwrite --out "$OUT_DIR/nabla-warm" >"$OUT_DIR/nabla-warm.log" 2>&1
"$BIN/babygpt" train --config "$CFG" "${batch_args[@]}" --device cuda --steps "$STEPS" --eval-every 1000000 --eval-batches 1 \
    "${vocab_args[@]}" "${data_args[@]}" --quiet --overwrite --out "$OUT_DIR/nabla-step" >"$OUT_DIR/nabla-step.log" 2>&1
nabla_rc=$?
NABLA_TPS=$(tok_s "$OUT_DIR/nabla-step.log")
if [ $nabla_rc -ne 0 ] || [ -z "$NABLA_TPS" ]; then
    tail -n 20 "$OUT_DIR/nabla-step.log"
    NABLA_TPS=""
    row "nabla $CFG step" "FAILED: $(tail -n 1 "$OUT_DIR/nabla-step.log") (nabla-step.log)"
else
    row "nabla $CFG step (tokens/s, $STEPS steps incl. 1 eval)" "$NABLA_TPS"
fi
V=$(sed -nE 's/.*"vocab_size": *([0-9]+).*/\1/p' "$OUT_DIR/nabla-step/config.json" 2>/dev/null | head -n 1)
[ -z "$V" ] && V=$(grep -oE 'vocab(ulary)?[ _a-z]*[ =:]+[0-9]+' "$OUT_DIR/nabla-step.log" | grep -oE '[0-9]+$' | head -n 1)
[ -z "$V" ] && { [ -n "$VOCAB" ] && V=50257 || V=2048; }

log "PyTorch: the same model (vocab $V), same GPU -> $OUT_DIR/torch.log"
cat >"$OUT_DIR/torch_step.py" <<'PY'
import math, os, sys, time
import torch, torch.nn as nn, torch.nn.functional as F
V, steps = int(sys.argv[1]), int(sys.argv[2])
L, H, C, T, B, P = 6, 6, 384, 192, 32, 0.2
tf32 = os.environ.get("NABLA_TF32", "0") not in ("", "0")
torch.backends.cuda.matmul.allow_tf32 = tf32
torch.backends.cudnn.allow_tf32 = tf32
dev = "cuda"
class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.ln1, s.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        s.qkv, s.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        s.fc, s.out = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)
        s.drop = nn.Dropout(P)
    def forward(s, x):
        b, t, _ = x.shape
        q, k, v = s.qkv(s.ln1(x)).split(C, dim=2)
        q, k, v = (z.view(b, t, H, C // H).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + s.drop(s.proj(y.transpose(1, 2).reshape(b, t, C)))
        return x + s.drop(s.out(F.gelu(s.fc(s.ln2(x)), approximate="tanh")))
class GPT(nn.Module):
    def __init__(s):
        super().__init__()
        s.tok, s.pos = nn.Embedding(V, C), nn.Embedding(T, C)
        s.blocks = nn.ModuleList(Block() for _ in range(L))
        s.ln, s.head, s.drop = nn.LayerNorm(C), nn.Linear(C, V, bias=False), nn.Dropout(P)
    def forward(s, idx, tgt):
        x = s.drop(s.tok(idx) + s.pos(torch.arange(idx.shape[1], device=idx.device)))
        for blk in s.blocks: x = blk(x)
        return F.cross_entropy(s.head(s.ln(x)).view(-1, V), tgt.view(-1))
torch.manual_seed(0)
m = GPT().to(dev)
opt = torch.optim.AdamW(m.parameters(), lr=3e-4, weight_decay=0.1, fused=True)
x = torch.randint(0, V, (B, T), device=dev); y = torch.randint(0, V, (B, T), device=dev)
def step():
    opt.zero_grad(set_to_none=True)
    loss = m(x, y); loss.backward(); opt.step()
    return loss
for _ in range(5): step()
torch.cuda.synchronize(); t0 = time.perf_counter()
for _ in range(steps): loss = step()
torch.cuda.synchronize(); dt = time.perf_counter() - t0
print(f"torch {torch.__version__}: {steps} steps in {dt:.3f} s, loss {loss.item():.4f}")
print(f"TOKENS_PER_S {B * T * steps / dt:.0f}")
PY
TORCH_TPS=""
if [ "$CFG" != safe-pro ] || { [ -n "$BATCH" ] && [ "$BATCH" != 32 ]; }; then
    row "PyTorch step" "not run (it is the safe-pro model at batch 32; this run is $CFG, batch ${BATCH:-of the config})"
elif python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
    python3 "$OUT_DIR/torch_step.py" "$V" "$STEPS" >"$OUT_DIR/torch.log" 2>&1
    TORCH_TPS=$(sed -nE 's/^TOKENS_PER_S ([0-9.]+)/\1/p' "$OUT_DIR/torch.log")
    [ -z "$TORCH_TPS" ] && tail -n 20 "$OUT_DIR/torch.log"
    row "PyTorch safe-pro step (tokens/s, $STEPS steps after 5 warm-up)" "${TORCH_TPS:-FAILED (torch.log)}"
else
    echo "PyTorch with CUDA is not installed: no comparison" | tee "$OUT_DIR/torch.log"
    row "PyTorch safe-pro step" "not available (no PyTorch that sees a CUDA device)"
fi
if [ -n "$NABLA_TPS" ] && [ -n "$TORCH_TPS" ]; then
    RATIO=$(awk -v a="$NABLA_TPS" -v b="$TORCH_TPS" 'BEGIN { printf "%.3f", a / b }')
    log "nabla $NABLA_TPS tokens/s, PyTorch $TORCH_TPS tokens/s: ratio nabla/PyTorch $RATIO"
    row "ratio nabla / PyTorch" "$RATIO"
fi

# ---- 3. the full safe-pro run on DialogSum -----------------------------------------------------------
if [ -n "$DATA" ]; then
    log "training $CFG for its full run on $DATA (cuda) -> $OUT_DIR/$CFG"
    t0=$(date +%s)
    limit=()
    [ "$TRAIN_LIMIT" != 0 ] && limit=(timeout -s INT -k 120 "$TRAIN_LIMIT")
    "${limit[@]}" "$BIN/babygpt" train --config "$CFG" "${batch_args[@]}" --device cuda --data "$DATA" "${vocab_args[@]}" \
        --quiet --overwrite --out "$OUT_DIR/$CFG" >"$OUT_DIR/train.log" 2>&1
    train_rc=$?
    # timeout exits 124 when it had to interrupt the run, even when the run then saved and ended well
    if [ $train_rc -eq 0 ] || { [ $train_rc -eq 124 ] && grep -q 'babygpt: wrote ' "$OUT_DIR/train.log"; }; then
        t1=$(date +%s)
        cut=""
        grep -q 'stopped at step' "$OUT_DIR/train.log" && cut=", stopped by GPU_TRAIN_LIMIT=${TRAIN_LIMIT} s"
        asked=$(sed -nE 's/.* ([0-9]+) steps, lr .*/\1/p' "$OUT_DIR/train.log" | head -n 1)
        row "$CFG training (${asked:-?} steps asked)" \
            "$(grep 'done:' "$OUT_DIR/train.log" | tail -n 1 | sed 's/^babygpt: //') ($((t1 - t0)) s wall$cut)"
        cp -f "$OUT_DIR/$CFG/loss.png" "$OUT_DIR/loss.png" 2>/dev/null
        val=$(ls "$DATA"/validation.* 2>/dev/null | head -n 1)
        if [ -n "$val" ]; then
            log "evaluating on $val -> $OUT_DIR/eval.log"
            where=$EVAL_DEVICE
            if ! "$BIN/babygpt" eval --checkpoint "$OUT_DIR/$CFG" --data "$val" --device "$EVAL_DEVICE" >"$OUT_DIR/eval.log" 2>&1; then
                tail -n 5 "$OUT_DIR/eval.log"
                where="cpu (on cuda it failed: eval.log)"
                "$BIN/babygpt" eval --checkpoint "$OUT_DIR/$CFG" --data "$val" >"$OUT_DIR/eval-cpu.log" 2>&1
                cat "$OUT_DIR/eval-cpu.log" >>"$OUT_DIR/eval.log"
            fi
            row "validation ($(basename "$val"), on $where)" "$(tail -n 1 "$OUT_DIR/eval.log")"
        else
            row "validation" "no validation.* file in $DATA"
        fi
    else
        tail -n 30 "$OUT_DIR/train.log"
        row "$CFG training" "FAILED: $(tail -n 1 "$OUT_DIR/train.log") (train.log)"
    fi
else
    row "$CFG full training" "skipped (give the DialogSum folder as the second argument)"
fi

# ---- results -------------------------------------------------------------------------------------------
table "# nabla CUDA results ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
cat "$OUT_DIR/results.md"
