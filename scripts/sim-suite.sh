#!/usr/bin/env bash
# The simulator as a test suite: SEEDS seeds of TICKS ticks with every fault class on.
# Prints the simulator's output, then "sim: N passed, N failed" counting seeds.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SEEDS="${SEEDS:-500}"
TICKS="${TICKS:-20000}"
out="$(make --no-print-directory sim SEEDS="$SEEDS" TICKS="$TICKS")"
status=$?
printf '%s\n' "$out"
json="$(printf '%s\n' "$out" | tail -n 1)"
seeds="$(sed -nE 's/.*"seeds":([0-9]+).*/\1/p' <<<"$json")"
failed="$(sed -nE 's/.*"failed_seeds":([0-9]+).*/\1/p' <<<"$json")"
if [ -z "$seeds" ] || [ -z "$failed" ]; then
    echo "sim: 0 passed, 1 failed"
    exit 1
fi
# Every fault class must actually have been injected, or the run proves less than it claims.
for class in loss duplicate reorder partition partial_connectivity crash torn_write clock_skew; do
    n="$(sed -nE "s/.*\"$class\":([0-9]+).*/\\1/p" <<<"$json")"
    if [ -z "$n" ] || [ "$n" -eq 0 ]; then
        echo "sim: fault class $class was never injected"
        failed=$((failed + 1))
    fi
done
echo "sim: $((seeds - failed)) passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
