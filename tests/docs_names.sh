#!/usr/bin/env bash
# tests/docs_names.sh - the docs stay true to the code: every nb_ name that README.md and docs/*.md
# mention (nb_matmul, nb_conv_opts, NB_REDUCE_MEAN, ...) must be declared or defined somewhere in the
# library, its tests, tools or examples; a renamed or removed function left in the docs fails here.
# Prints a Check-style summary line for tests/run.sh: one check.
set -u
cd "$(dirname "$0")/.." || exit 1
names=$(grep -ohE '\b(nb|NB)_[A-Za-z0-9_]+' README.md docs/*.md | sort -u)
defs=$(grep -rhoE '\b(nb|NB)_[A-Za-z0-9_]+' include tensor autograd ops backends nn examples tools tests bench fuzz \
       --include='*.c' --include='*.h' --include='*.def' --include='*.sh' | sort -u)
total=0; missing=()
for n in $names; do
    total=$((total + 1))
    # a name used only as a prefix in prose (nb_cu_*, NB_UN_*) is fine when some name starts with it
    if ! grep -qxF "$n" <<<"$defs" && ! grep -q "^${n}" <<<"$defs"; then missing+=("$n"); fi
done
for n in "${missing[@]}"; do
    echo "docs name not in the code: $n ($(grep -lE "\b$n\b" README.md docs/*.md | tr '\n' ' '))"
done
f=${#missing[@]}
# one check (the docs against the code), whatever the number of names it read
echo "names read: $total, not in the code: $f"
if [ "$f" -eq 0 ]; then echo "100%: Checks: 1, Failures: 0, Errors: 0"; else echo "0%: Checks: 1, Failures: 1, Errors: 0"; fi
[ "$f" -eq 0 ]
