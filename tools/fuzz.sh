#!/usr/bin/env bash
# Builds every fuzz/fuzz_*.c as a libFuzzer target (clang, ASan + UBSan) and
# runs each for the given number of seconds (default 30). CI runs it briefly;
# for a longer campaign:  bash tools/fuzz.sh 3600
# Crashes are saved under build/fuzz/findings/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
if ! command -v clang >/dev/null 2>&1; then
    echo "SKIP: fuzz: clang is not installed (apt-get install clang libclang-rt-14-dev libomp-14-dev)"
    exit 0
fi
out=build/fuzz
mkdir -p "$out/obj"
pk="check libpcre2-8 jansson stb"
cflags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fopenmp -I. -Iinclude $(pkg-config --cflags $pk)"
srcs=$(ls tensor/*.c autograd/*.c ops/*.c backends/*.c backends/cpu/*.c nn/*.c examples/babygpt/*.c | grep -v 'examples/babygpt/main.c\|serve')
objs=()
for s in $srcs; do
    o="$out/obj/${s//\//_}.o"
    if [ ! -f "$o" ] || [ "$s" -nt "$o" ]; then clang $cflags -c "$s" -o "$o"; fi
    objs+=("$o")
done
rm -f "$out/libfuzzdeps.a"
ar rcs "$out/libfuzzdeps.a" "${objs[@]}"
status=0
for f in fuzz/fuzz_*.c; do
    name=$(basename "$f" .c)
    clang $cflags -fsanitize=fuzzer "$f" "$out/libfuzzdeps.a" -o "$out/$name" \
        $(pkg-config --libs libpcre2-8 jansson) -lm -ldl -lpthread
    mkdir -p "$out/corpus/$name" "$out/findings/$name"
    echo "== fuzzing $name for ${secs}s"
    if ! "$out/$name" -max_total_time="$secs" -max_len=8192 -artifact_prefix="$out/findings/$name/" \
        "$out/corpus/$name" >"$out/$name.log" 2>&1; then
        echo "FAIL: $name found a crash:"; tail -n 40 "$out/$name.log"; status=1
    else
        grep -E '^(#[0-9]+|Done)' "$out/$name.log" | tail -n 1
    fi
done
exit $status
