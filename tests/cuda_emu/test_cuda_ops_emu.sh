#!/usr/bin/env bash
# tests/cuda_emu/test_cuda_ops_emu.sh - tests/test_cuda_ops (every op of the CUDA backend
# against the CPU backend: forward, backward, broadcast, views, allocator, errors) and
# tests/test_cuda_edge, test_cuda_edge_nn (their edge cases), run on the
# CUDA emulator of tests/cuda_emu, so the backend's host code and every kernel it launches
# run, and are checked, on a machine without a GPU. make check runs it (NB_BUILD names the
# build folder). The emulator must really run the tests: a SKIP from test_cuda_ops here is a
# failure, not a skip.
set -u
b=${NB_BUILD:-build}
if ! command -v "${NB_EMU_CXX:-g++}" >/dev/null; then
    echo "SKIP: cuda ops on the CUDA emulator: no C++ compiler (${NB_EMU_CXX:-g++}) to build the kernels with"
    echo "100%: Checks: 0, Failures: 0, Errors: 0"
    exit 0
fi
emu=$(realpath "$b/libnbcudaemu.so") || { echo "no $b/libnbcudaemu.so (make $b/libnbcudaemu.so)"; exit 1; }
export NABLA_LIBCUDA=$emu NABLA_NVRTC=$emu NABLA_CUBLAS=$emu
export NABLA_CUDA_CACHE=                       # the library's own disk cache: off
export NB_EMU_CACHE=${NB_EMU_CACHE:-$(realpath "$b")/cuda_emu} # built kernel modules
unset NABLA_CUDA_DEVICE
# Under the sanitizers (make check SANITIZE=1) each program runs its tests in one process
# (CK_FORK=no): LeakSanitizer's exit-time check crashes in Check's forked children once they have
# run emulated kernels ("Tracer caught signal 11" on a garbage dynamic-TLS range, gcc 12's
# libsanitizer), while the same tests unforked pass with the leak check working. ASan and UBSan
# check the same code either way.
if ldd "$b/tests/test_cuda_ops" 2>/dev/null | grep -q libasan; then export CK_FORK=no; fi
# three times: blocks and threads in their natural order, reversed, and shuffled (NB_EMU_SEED),
# so a race that one order happens to win fails in another
rc=0
checks=0
for t in test_cuda_ops test_cuda_edge test_cuda_edge_nn; do
    for seed in 0 reverse 20261127; do
        # the reversed run also gives every device tensor its own allocation, ending at a guard
        # page and NaN-filled, so that reading or writing past a tensor's end is caught too
        exact=0
        [ "$seed" = reverse ] && exact=1
        echo "== $t on the CUDA emulator, NB_EMU_SEED=$seed NABLA_DEBUG_EXACT_ALLOC=$exact"
        out=$(NB_EMU_SEED=$seed NABLA_DEBUG_EXACT_ALLOC=$exact "$b/tests/$t" 2>&1) || rc=1
        if grep -q '^SKIP: ' <<<"$out"; then
            sed 's/^SKIP: /NOT RUN: /' <<<"$out"
            echo "the CUDA emulator did not start (see NOT RUN above)"
            exit 1
        fi
        grep -vE '^[0-9]+%: Checks: ' <<<"$out"
        n=$(sed -nE 's/^[0-9]+%: Checks: ([0-9]+).*/\1/p' <<<"$out")
        [ "$seed" = 0 ] && checks=$((checks + ${n:-0}))
        grep -E '^[0-9]+%: Checks: ' <<<"$out" | grep -q 'Failures: 0, Errors: 0' || rc=1
    done
done
# one summary line for tests/run.sh: the cases of the three programs (each run in three orders)
echo "100%: Checks: $checks, Failures: $rc, Errors: 0"
exit "$rc"
