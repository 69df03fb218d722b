#!/usr/bin/env bash
# tools/cross_check.sh - nabla on 64-bit Arm (aarch64), checked from an x86-64 Debian machine:
#
#   1. installs, when missing, Debian's cross compiler (gcc-aarch64-linux-gnu), qemu-user and
#      the arm64 builds of the dependencies (dpkg --add-architecture arm64; with sudo when not
#      root);
#   2. cross-builds the library, babygpt, every test, example and benchmark for aarch64 twice,
#      with the CUDA backend (where the toolkit's headers are) and without it, -Wall -Wextra
#      -Wpedantic: any warning fails the check;
#   3. runs single-threaded programs under qemu-aarch64 and requires their output to equal the
#      x86-64 build's, byte for byte: examples/mlp (training, save, reload), examples/mlp_grad
#      (a loss and its gradients), babygpt's model summary, and the clear message of
#      `babygpt train --device cuda` on a machine without a GPU.
#
# The test programs themselves are not run under qemu: its user-mode emulation here cannot
# start a second thread (pthread_create hangs), and Check and OpenMP need them.
#
#   bash tools/cross_check.sh          # BUILD folders build/arm64 and build/arm64-cuda
#   CROSS_INSTALL=0 bash tools/cross_check.sh   # never install; SKIP when the tools are missing
#
# Exit status: 0 when every step passed or was skipped with a SKIP line (tools missing and not
# installable), 1 when a build warned or failed or an output differed.
set -uo pipefail
cd "$(dirname "$0")/.."
CC_ARM=aarch64-linux-gnu-gcc
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
ARM_PKGS="check:arm64 libsubunit-dev:arm64 libjansson-dev:arm64 libpcre2-dev:arm64 libedit-dev:arm64
          libmicrohttpd-dev:arm64 libstb-dev:arm64"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

have_tools() {
    command -v "$CC_ARM" >/dev/null && command -v qemu-aarch64 >/dev/null &&
        PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
            pkg-config --exists check libpcre2-8 jansson stb libedit libmicrohttpd
}

if ! have_tools && [ "${CROSS_INSTALL:-1}" != 0 ]; then
    echo "== installing the aarch64 cross compiler, qemu-user and the arm64 dependencies"
    export DEBIAN_FRONTEND=noninteractive
    {
        $SUDO dpkg --add-architecture arm64 &&
            $SUDO apt-get update -qq &&
            $SUDO apt-get install -y -qq --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
                qemu-user $ARM_PKGS
    } >build/cross-install.log 2>&1 || echo "note: installing failed (see build/cross-install.log)"
fi
if ! have_tools; then
    echo "SKIP: aarch64 cross check: $CC_ARM, qemu-aarch64 or the arm64 dependencies are missing"
    exit 0
fi

rc=0
jobs=$(nproc)
targets() { # every program of build folder $1
    echo "lib $1/babygpt"
    ls tests/test_*.c | sed "s|tests/\(.*\)\.c|$1/tests/\1|"
    ls examples/*/main.c | grep -v babygpt | sed "s|examples/\(.*\)/main.c|$1/examples/\1|"
    ls bench/*.c | sed "s|bench/\(.*\)\.c|$1/bench/\1|"
}
for variant in arm64:0 arm64-cuda:1; do
    b=build/${variant%:*} cuda=${variant#*:}
    if [ "$cuda" = 1 ] && [ ! -f "${CUDA_HOME:-/usr/local/cuda}/include/nvrtc.h" ]; then
        echo "SKIP: aarch64 build with the CUDA backend: no CUDA toolkit headers"
        continue
    fi
    echo "== cross-building for aarch64 in $b (CUDA=$cuda)"
    # shellcheck disable=SC2046
    PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
        make -j"$jobs" CC="$CC_ARM" BUILD="$b" CUDA="$cuda" $(targets "$b") >"$b.log" 2>&1
    st=$?
    warn=$(grep -cE 'warning:|error:' "$b.log")
    if [ $st -ne 0 ] || [ "$warn" -ne 0 ]; then
        grep -E 'warning:|error:' "$b.log" | head -20
        echo "FAIL: aarch64 build in $b: exit $st, $warn warnings or errors (log: $b.log)"
        rc=1
    else
        echo "ok: aarch64 build in $b: $(file -b "$b/babygpt" | cut -d, -f1-2), no warnings"
    fi
done

echo "== the same programs on x86-64 and on aarch64 (qemu), outputs compared"
make -j"$jobs" lib build/babygpt build/examples/mlp build/examples/mlp_grad >build/cross-native.log 2>&1 ||
    { echo "FAIL: the native build (build/cross-native.log)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
same() { # name, the aarch64 build folder, then the command with @B@ for the build folder
    local name=$1 armb=$2
    shift 2
    local native=("${@//@B@/build}") arm=("${@//@B@/$armb}")
    (cd "$tmp" && NABLA_NUM_THREADS=1 timeout 300 "${native[@]}") >"$tmp/native.out" 2>&1
    local s1=$?
    (cd "$tmp" && NABLA_NUM_THREADS=1 timeout 300 qemu-aarch64 "${arm[@]}") >"$tmp/arm.out" 2>&1
    local s2=$?
    if [ $s1 -eq $s2 ] && cmp -s "$tmp/native.out" "$tmp/arm.out"; then
        echo "ok: $name: same output (exit $s1, $(wc -l <"$tmp/arm.out") lines)"
    else
        echo "FAIL: $name: x86-64 exit $s1, aarch64 exit $s2; outputs:"
        diff "$tmp/native.out" "$tmp/arm.out" | head -10
        rc=1
    fi
}
here=$PWD
same "examples/mlp (train, save, reload)" build/arm64 "$here/@B@/examples/mlp"
same "examples/mlp_grad (loss and gradients)" build/arm64 "$here/@B@/examples/mlp_grad"
same "babygpt summary --config safe-pro" build/arm64 "$here/@B@/babygpt" summary --config safe-pro
if [ -x build/arm64-cuda/babygpt ]; then # built only where the toolkit is, as the native one
    same "babygpt train --device cuda without a GPU (CUDA backend built)" build/arm64-cuda \
        "$here/@B@/babygpt" train --device cuda --steps 1 --out "$tmp/run"
fi
[ $rc -eq 0 ] && echo "aarch64 cross check passed" || echo "aarch64 cross check FAILED"
exit $rc
