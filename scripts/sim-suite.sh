#!/usr/bin/env bash
# The simulator as a test suite: SEEDS seeds of TICKS ticks with every fault class on, then
# BATCH_SEEDS more with half the proposals made in batches (`--batch-proposals`).
# Prints the simulator's output, then "sim: N passed, N failed" counting seeds.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SEEDS="${SEEDS:-500}"
TICKS="${TICKS:-20000}"
BATCH_SEEDS="${BATCH_SEEDS:-150}"

passed=0
failed=0
# run LABEL FLAGS...: one pass of the simulator; adds its seeds to the counts.
run() {
    local label="$1" seeds="$2"
    shift 2
    local out status json n f
    out="$(make --no-print-directory sim SEEDS="$seeds" TICKS="$TICKS" SIM_FLAGS="$*")"
    status=$?
    printf '%s\n' "$out"
    json="$(printf '%s\n' "$out" | tail -n 1)"
    n="$(sed -nE 's/.*"seeds":([0-9]+).*/\1/p' <<<"$json")"
    f="$(sed -nE 's/.*"failed_seeds":([0-9]+).*/\1/p' <<<"$json")"
    if [ -z "$n" ] || [ -z "$f" ]; then
        echo "sim ($label): no summary"
        failed=$((failed + 1))
        return
    fi
    # Every fault class must actually have been injected, or the run proves less than it claims.
    for class in loss duplicate reorder partition partial_connectivity crash torn_write clock_skew replay forge compact; do
        local c
        c="$(sed -nE "s/.*\"$class\":([0-9]+).*/\\1/p" <<<"$json")"
        if [ -z "$c" ] || [ "$c" -eq 0 ]; then
            echo "sim ($label): fault class $class was never injected"
            f=$((f + 1))
        fi
    done
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    passed=$((passed + n - f))
    failed=$((failed + f))
}

run "one proposal at a time" "$SEEDS"
[ "$BATCH_SEEDS" -gt 0 ] && run "batch proposals" "$BATCH_SEEDS" --batch-proposals
echo "sim: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
