#!/usr/bin/env bash
# Runs each fuzz target for SECONDS seconds: fuzz/run.sh SECONDS TARGET...
# Prints each target's figures, then "fuzz: N passed, N failed" (a target passes when it ran
# and found no crash); the last line is one JSON object. FUZZ_SKIP=batch (a list) keeps the
# targets away from a known bug's trigger, to dig past it (see harness/src/lib.rs).
#
# The targets are cargo-fuzz's (`cargo +nightly fuzz run -s address step` works too), built here
# on the stable toolchain with the instrumentation cargo-fuzz gives them without a sanitizer:
# the kernel is safe Rust, and neither nightly nor cargo-fuzz has to be installed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
seconds="$1"
shift
host="$(rustc -vV | sed -n 's/^host: //p')"
# cargo-fuzz's flags for `-s none` (libFuzzer's coverage, comparisons traced, cfg fuzzing).
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# --target keeps the flags off build scripts; a target dir of its own keeps other builds warm.
cargo build --release --target "$host" --target-dir target/libfuzzer --bins >&2 || {
    echo "fuzz: 0 passed, 1 failed"
    exit 1
}
bin="target/libfuzzer/$host/release"
json=()
status=0
passed=0
failed=0
for target in "$@"; do
    scratch="target/corpus/$target"
    mkdir -p "$scratch" "artifacts/$target"
    before="$(find "artifacts/$target" -type f | wc -l)"
    log="target/fuzz-$target.log"
    # New inputs go to the first directory: the committed corpus is only read.
    "$bin/$target" "$scratch" "corpus/$target" -artifact_prefix="artifacts/$target/" \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    after="$(find "artifacts/$target" -type f | wc -l)"
    crashes=$((after - before))
    echo "$target: ${execs:-0} executions in ${seconds}s, $crashes new crash inputs (exit $rc, log fuzz/$log)"
    if [ "$crashes" -gt 0 ] || [ "$rc" -ne 0 ] || [ "${execs:-0}" -eq 0 ]; then
        status=1
        failed=$((failed + 1))
        grep -E "panicked at|^SUMMARY|Test unit written" "$log" | head -n 5
    else
        passed=$((passed + 1))
    fi
    json+=("\"$target\":{\"execs\":${execs:-0},\"crashes\":$crashes}")
done
echo "fuzz: $passed passed, $failed failed"
(IFS=,; echo "{${json[*]}}")
exit "$status"
