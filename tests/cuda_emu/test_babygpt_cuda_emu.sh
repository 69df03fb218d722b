#!/usr/bin/env bash
# tests/cuda_emu/test_babygpt_cuda_emu.sh - Baby GPT end to end on the CUDA backend, run on
# the CUDA emulator of tests/cuda_emu (no GPU needed): `babygpt train --device cuda` must give
# the losses `--device cpu` gives (same seed, same batches; dropout draws the same random
# stream on both), an interrupted cuda run resumed from its checkpoint must end where the
# uninterrupted one does, and its checkpoint must load for sampling. make check runs it
# (NB_BUILD names the build folder).
set -u
b=${NB_BUILD:-build}
if ! command -v "${NB_EMU_CXX:-g++}" >/dev/null; then
    echo "SKIP: babygpt on the CUDA emulator: no C++ compiler (${NB_EMU_CXX:-g++}) to build the kernels with"
    exit 0
fi
bg=$(realpath "$b/babygpt") || { echo "FAIL: no $b/babygpt"; exit 1; }
emu=$(realpath "$b/libnbcudaemu.so") || { echo "FAIL: no $b/libnbcudaemu.so"; exit 1; }
cache=${NB_EMU_CACHE:-$(realpath "$b")/cuda_emu}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # name, command...
    local name=$1; shift
    if "$@"; then echo "ok: $name"; else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
emu() {
    NABLA_LIBCUDA=$emu NABLA_NVRTC=$emu NABLA_CUDA_CACHE= NABLA_CUBLAS=$emu NB_EMU_CACHE=$cache "$@"
}
args=(train --config tiny --steps 4 --batch 2 --eval-every 2 --eval-batches 1 --quiet --threads 1)

# the tokenizer is trained once (on the CPU run) and shared, so both runs see the same tokens
"$bg" "${args[@]}" --device cpu --out "$tmp/cpu" >"$tmp/cpu.log" 2>&1 || { cat "$tmp/cpu.log"; exit 1; }
tok=(--vocab "$tmp/cpu/tokenizer")
[ -d "$tmp/cpu/tokenizer" ] || { echo "FAIL: no tokenizer in $tmp/cpu"; exit 1; }
"$bg" "${args[@]}" "${tok[@]}" --device cpu --out "$tmp/cpu2" --overwrite >"$tmp/cpu2.log" 2>&1 ||
    { cat "$tmp/cpu2.log"; exit 1; }
emu "$bg" "${args[@]}" "${tok[@]}" --device cuda --out "$tmp/cuda" >"$tmp/cuda.log" 2>&1
rc=$?
cat "$tmp/cuda.log"
check "babygpt train --device cuda exits 0" test "$rc" -eq 0
check "it trained on cuda" grep -q ', cuda$' "$tmp/cuda.log"

# loss.csv: step,train_loss,val_loss,lr,tokens_per_s; train and validation losses must agree
same_losses() { # a.csv b.csv tolerance
    awk -F, -v tol="$3" 'NR == FNR { if (FNR > 1) { t[$1] = $2; v[$1] = $3 }; next }
        FNR > 1 { n++; d1 = $2 - t[$1]; d2 = $3 - v[$1]; if (d1 < 0) d1 = -d1; if (d2 < 0) d2 = -d2;
                  if (!($1 in t) || d1 > tol || d2 > tol) { printf "step %s: %s/%s vs %s/%s\n", $1, t[$1], v[$1], $2, $3; bad = 1 } }
        END { exit bad || n < 3 }' "$1" "$2"
}
check "cuda losses equal cpu losses (within 2e-3)" same_losses "$tmp/cpu2/loss.csv" "$tmp/cuda/loss.csv" 0.002

# a training step allocates nothing from the GPU after the first: 2 and 5 steps, the same allocations
for n in 2 5; do
    NB_EMU_STATS=$tmp/stats-$n emu "$bg" train "${tok[@]}" --config tiny --steps $n --batch 2 --eval-every 1000 \
        --eval-batches 1 --quiet --threads 1 --device cuda --out "$tmp/steps-$n" >"$tmp/steps-$n.log" 2>&1 ||
        cat "$tmp/steps-$n.log"
done
a2=$(sed -n 's/^allocs //p' "$tmp/stats-2" 2>/dev/null)
a5=$(sed -n 's/^allocs //p' "$tmp/stats-5" 2>/dev/null)
l2=$(sed -n 's/^launches //p' "$tmp/stats-2" 2>/dev/null)
l5=$(sed -n 's/^launches //p' "$tmp/stats-5" 2>/dev/null)
echo "device allocations: ${a2:-?} for 2 steps, ${a5:-?} for 5 (kernel launches ${l2:-?}, ${l5:-?})"
check "steps after the first allocate no device memory" test -n "$a2" -a "$a2" = "$a5" -a "${l5:-0}" -gt "${l2:-0}"

# interrupted after 2 steps, resumed to 4: the same end as the uninterrupted run
emu "$bg" "${args[@]}" "${tok[@]}" --device cuda --out "$tmp/cuda-r" --stop-after 2 >"$tmp/r1.log" 2>&1
check "cuda run stops after 2 steps" test $? -eq 0
emu "$bg" train --resume "$tmp/cuda-r" --device cuda --eval-every 2 --eval-batches 1 --quiet --threads 1 >"$tmp/r2.log" 2>&1
rc=$?
[ $rc -eq 0 ] || cat "$tmp/r1.log" "$tmp/r2.log"
check "cuda run resumes from its checkpoint" test $rc -eq 0
check "resumed cuda run ends with the uninterrupted run's losses" same_losses "$tmp/cuda/loss.csv" "$tmp/cuda-r/loss.csv" 0.0005

# the checkpoint written from the GPU loads on the CPU
"$bg" sample --checkpoint "$tmp/cuda" --prompt "Hello" --max-tokens 8 --seed 1 >"$tmp/sample.log" 2>&1
rc=$?
[ $rc -eq 0 ] || cat "$tmp/sample.log"
check "sampling from the cuda-trained checkpoint" test $rc -eq 0

# sample, chat and summarize with --device cuda (KV cache on the GPU) write what the CPU writes
gen_same() { # name, stdin, args...
    local name=$1 input=$2; shift 2
    # stdout only: under the sanitizers, the emulated run also warns on stderr about its fibers
    printf '%s' "$input" | "$bg" "$@" --checkpoint "$tmp/cuda" --temperature 0 --device cpu \
        >"$tmp/gen-cpu.txt" 2>"$tmp/gen-cpu.err"
    local rc1=$?
    printf '%s' "$input" | emu "$bg" "$@" --checkpoint "$tmp/cuda" --temperature 0 --device cuda \
        >"$tmp/gen-cuda.txt" 2>"$tmp/gen-cuda.err"
    local rc2=$?
    if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ] || ! cmp -s "$tmp/gen-cpu.txt" "$tmp/gen-cuda.txt"; then
        echo "$name: cpu (exit $rc1) vs cuda (exit $rc2):"
        cat "$tmp/gen-cpu.txt" "$tmp/gen-cpu.err" "$tmp/gen-cuda.txt" "$tmp/gen-cuda.err"
        return 1
    fi
}
check "sample --device cuda writes what the cpu writes" gen_same sample "" sample --prompt "#Person1#: Hello" --max-tokens 24
check "chat --device cuda answers as the cpu does" gen_same chat $'Hello there\nHow are you?\n' chat --max-tokens 12
check "summarize --device cuda summarizes as the cpu does" \
    gen_same summarize $'#Person1#: Where is the bank?\n#Person2#: Next to the park.\n' summarize --max-tokens 12
"$bg" sample --checkpoint "$tmp/cuda" --device tpu >"$tmp/tpu.log" 2>&1
check "an unknown --device is a usage error (exit 2)" test $? -eq 2

# serve --device cuda (one worker) summarizes as serve on the CPU does
serve_summary() { # device, output file
    local log=$tmp/serve-$1.log
    if [ "$1" = cuda ]; then
        # not through emu(): a backgrounded function is a subshell, and $! would be its pid, not
        # the server's (which then outlived the kill below)
        NABLA_LIBCUDA=$emu NABLA_NVRTC=$emu NABLA_CUDA_CACHE= NABLA_CUBLAS=$emu NB_EMU_CACHE=$cache \
            "$bg" serve --checkpoint "$tmp/cuda" --port 0 --quiet --device cuda >"$log" 2>&1 &
    else
        "$bg" serve --checkpoint "$tmp/cuda" --port 0 --quiet >"$log" 2>&1 &
    fi
    local pid=$! url=""
    for _ in $(seq 100); do
        url=$(grep -oE 'http://[0-9.]+:[0-9]+/' "$log" | head -n 1)
        [ -n "$url" ] && break
        sleep 0.1
    done
    /usr/bin/python3 - "$url" >"$2" 2>&1 <<'PY'
import json, sys, urllib.request
body = {"dialogue": "#Person1#: Where is the bank?\n#Person2#: Next to the park.",
        "settings": {"temperature": 0, "max_tokens": 12}}
req = urllib.request.Request(sys.argv[1] + "api/summarize", json.dumps(body).encode(),
                             {"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req, timeout=120))["summary"])
PY
    local rc=$?
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [ $rc -eq 0 ] || { cat "$log" "$2"; return 1; }
}
if command -v /usr/bin/python3 >/dev/null; then
    serve_summary cpu "$tmp/sum-cpu.txt" && serve_summary cuda "$tmp/sum-cuda.txt"
    check "serve --device cuda answers" test $? -eq 0
    check "... with the summary serve on the cpu gives" cmp -s "$tmp/sum-cpu.txt" "$tmp/sum-cuda.txt"
fi
emu "$bg" serve --checkpoint "$tmp/cuda" --device cuda --workers 2 >"$tmp/w2.log" 2>&1
rc=$?
check "serve --device cuda refuses 2 workers (exit 2)" test $rc -eq 2

# babygpt eval --device cuda scores a file as the CPU does
cat >"$tmp/few.csv" <<'CSV'
id,dialogue,summary,topic
t_0,"#Person1#: Hello, how are you doing today?
#Person2#: Fine, thanks. And you?","#Person1# and #Person2# greet each other.",greeting
t_1,"#Person1#: Where is the station?
#Person2#: Two blocks down, on the left.","#Person2# tells #Person1# the way to the station.",directions
CSV
"$bg" eval --checkpoint "$tmp/cuda" --data "$tmp/few.csv" >"$tmp/eval-cpu.log" 2>&1
emu "$bg" eval --checkpoint "$tmp/cuda" --data "$tmp/few.csv" --device cuda >"$tmp/eval-cuda.log" 2>&1
rc=$?
cat "$tmp/eval-cpu.log" "$tmp/eval-cuda.log"
check "babygpt eval --device cuda exits 0" test $rc -eq 0
same_eval() {
    awk '$1 == "loss" { v[FILENAME] = $2 } END { n = 0; for (f in v) { x[n++] = v[f] }
         d = x[0] - x[1]; if (d < 0) d = -d; exit !(n == 2 && d < 2e-3) }' "$1" "$2"
}
check "cuda eval loss equals cpu eval loss" same_eval "$tmp/eval-cpu.log" "$tmp/eval-cuda.log"

# without the emulator (no driver here) --device cuda fails with one clear line
if [ ! -e /dev/nvidia0 ]; then
    NABLA_LIBCUDA=/nonexistent/libcuda.so.1 "$bg" "${args[@]}" --device cuda --out "$tmp/none" >"$tmp/none.log" 2>&1
    rc=$?
    check "--device cuda without a driver exits non-zero" test $rc -ne 0
    check "... saying why" grep -q 'cuda' "$tmp/none.log"
fi
echo "$fails failed"
[ "$fails" -eq 0 ]
