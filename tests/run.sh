#!/usr/bin/env bash
# Runs every test program given on the command line, prints each one's Check
# summary, and closes with one line: "N passed, N failed, N skipped".
set -u
passed=0; failed=0; skipped=0; bad=()
for t in "$@"; do
    name=$(basename "$t")
    log=$(mktemp)
    if [ -n "${NB_TEST_TIMEOUT:-}" ]; then timeout "$NB_TEST_TIMEOUT" "$t" >"$log" 2>&1; rc=$?
    else "$t" >"$log" 2>&1; rc=$?; fi
    line=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -n 1)
    n=$(sed -nE 's/.*Checks: ([0-9]+).*/\1/p' <<<"$line"); n=${n:-0}
    f=$(sed -nE 's/.*Failures: ([0-9]+).*/\1/p' <<<"$line"); f=${f:-0}
    e=$(sed -nE 's/.*Errors: ([0-9]+).*/\1/p' <<<"$line"); e=${e:-0}
    s=$(grep -c '^SKIP: ' "$log")
    if [ -z "$line" ]; then n=1; line="program (exit $rc)"; fi   # an example program: one test
    if [ "$rc" -ne 0 ] && [ $((f + e)) -eq 0 ]; then f=1; fi
    passed=$((passed + n - f - e)); failed=$((failed + f + e)); skipped=$((skipped + s))
    printf '%-28s %s%s\n' "$name" "${line:-no Check summary (exit $rc)}" "$( [ "$s" -gt 0 ] && echo ", $s skipped" )"
    grep '^SKIP: ' "$log" | sed 's/^/    /'
    if [ "$rc" -ne 0 ] || [ $((f + e)) -ne 0 ]; then bad+=("$name"); sed 's/^/    | /' "$log" | tail -n 60; fi
    rm -f "$log"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "${#bad[@]}" -eq 0 ] || { echo "failing: ${bad[*]}"; exit 1; }
