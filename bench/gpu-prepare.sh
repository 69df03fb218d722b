#!/usr/bin/env bash
# bench/gpu-prepare.sh - run HERE (the development machine) before bench/gpu.sh is sent to a lent GPU
# machine. That machine starts bare, cannot reach a package archive and lacks nabla's build
# dependencies (Check, PCRE2, jansson, libedit, libmicrohttpd, stb), and the data beside the
# checkout (../shared/data) does not travel with it. So this script makes one folder, .gpu/
# (ignored by git), that does:
#   .gpu/bin/    babygpt, test_cuda, test_cuda_ops, test_cuda_edge(_nn), built here with the CUDA backend (the CUDA
#                libraries themselves are opened at run time: nothing of CUDA is bundled);
#   .gpu/lib/    the shared libraries those programs need beyond the C library itself;
#   .gpu/data/   copies of the GPT-2 tokenizer files and the DialogSum splits;
#   .gpu/fonts/  a font for the loss plot;
#   .gpu/kernel-cache/  every kernel module compiled by this NVRTC for sm_90 (H100, H200;
#                tools/cuda_precompile.c): used there when its NVRTC has the same version;
#   .gpu/COMMIT  the commit (and whether the tree had changes) it was built from.
# bench/gpu.sh uses .gpu/ when it is there and the machine cannot build. Then send it with
#   run(command='bash bench/gpu.sh "$OUT" .gpu/data/dialogsum', carry=[".gpu"])
# usage: bench/gpu-prepare.sh [DATA_FOLDER]   (default ../shared/data: gpt2/ and dialogsum/)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
G=.gpu
JOBS=${MAKE_JOBS:-$(nproc)}

[ -f /usr/local/cuda/include/nvrtc.h ] || [ -n "${CUDA_HOME:-}" ] ||
    { echo "gpu-prepare: no CUDA toolkit under /usr/local/cuda (or CUDA_HOME): cannot build the CUDA backend" >&2; exit 1; }
echo "gpu-prepare: building (make -j$JOBS CUDA=1)"
make -j"$JOBS" CUDA=1 all build/tests/test_cuda build/tests/test_cuda_ops build/tests/test_cuda_edge build/tests/test_cuda_edge_nn >/dev/null

rm -rf "$G"
mkdir -p "$G/bin" "$G/lib" "$G/data" "$G/fonts"
cp build/babygpt build/tests/test_cuda build/tests/test_cuda_ops build/tests/test_cuda_edge build/tests/test_cuda_edge_nn "$G/bin/"

# Every library the programs load, except the C library's own (present on any Linux).
ldd "$G"/bin/* | awk '/=> \//{print $3}' | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
    libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | ld-linux*) ;;
    *) cp -L "$lib" "$G/lib/" ;;
    esac
done

for d in gpt2 dialogsum; do
    if [ -d "$DATA/$d" ]; then
        cp -r "$DATA/$d" "$G/data/"
        chmod -R u+w "$G/data/$d"
    else
        echo "gpu-prepare: $DATA/$d not found: the GPU run goes without it" >&2
    fi
done

for f in /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf; do
    if [ -f "$f" ]; then
        cp "$f" "$G/fonts/"
        break
    fi
done

cc -std=c11 -D_GNU_SOURCE -DNB_WITH_CUDA=1 -I. -Iinclude -I"${CUDA_HOME:-/usr/local/cuda}/include" \
    tools/cuda_precompile.c build/libnabla.a -fopenmp -lm -ldl -lpthread -o build/cuda_precompile
NABLA_CUDA_CACHE="$PWD/$G/kernel-cache" build/cuda_precompile 90

{
    git rev-parse HEAD 2>/dev/null || echo unknown
    git diff --quiet HEAD 2>/dev/null || echo "(with uncommitted changes)"
} >"$G/COMMIT"

# The folder must travel as an ignored path named in `carry`, and stay out of commits.
grep -qxF '/.gpu/' .gitignore 2>/dev/null || echo "gpu-prepare: note: add /.gpu/ to .gitignore" >&2

size=$(du -sm "$G" | cut -f1)
echo "gpu-prepare: $G ready (${size} MiB; the working tree and carried paths may total 64 MiB):"
ls "$G/bin" "$G/lib" "$G/data" | sed 's/^/  /'
echo "gpu-prepare: send it with: bash bench/gpu.sh \"\$OUT\" $G/data/dialogsum   (carry: $G)"
