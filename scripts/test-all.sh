#!/usr/bin/env bash
# Runs every test suite of the project and ends with one line: "N passed, N failed".
#
# Each suite prints its own line "<name>: N passed, N failed". A suite whose directory is not in
# the tree yet is skipped (and says so); a suite that exists but cannot run, or whose output has
# no counts, counts as one failure. The exit status is non-zero when anything failed.
#
# Adding a suite is one line in the SUITES table below:
#   <name> <directory that must exist> <how to count> <command run from the repository root>
# How to count:
#   cargo  sum the "test result: ok. N passed; M failed" lines of cargo test
#   line   the last line "<name>: N passed, N failed" that the command prints itself
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The tree suite has its own make target; keep its crate out of the generic cargo run so that
# nothing is counted twice.
RUST_EXCLUDE=""
[ -d tree ] && RUST_EXCLUDE="--exclude zaxos-tree"
# The store's crash tests run as a suite of their own, so that what each checked is shown.
[ -d store ] && RUST_EXCLUDE="$RUST_EXCLUDE --exclude zaxos-store"

SUITES=(
    "rust        core         cargo  cargo test --workspace --all-features $RUST_EXCLUDE"
    "store       store        cargo  cargo test -p zaxos-store -- --nocapture --test-threads=1"
    "sim         core         line   scripts/sim-suite.sh"
    "model       model        cargo  cargo test --release --no-fail-fast --manifest-path model/Cargo.toml"
    "fuzz-corpus fuzz         cargo  cargo test --no-fail-fast --manifest-path fuzz/Cargo.toml -p zaxos-fuzz-harness"
    "fuzz        fuzz         line   fuzz/run.sh ${FUZZ_TEST_SECONDS:-30} decode step step_message"
    "nostd       nostd-tests  line   nostd-tests/run.sh"
    "nostd-host  nostd-tests  cargo  cargo test --manifest-path nostd-tests/Cargo.toml -p zaxos-nostd-scenario"
    "tree        tree         line   make --no-print-directory test-tree"
    "wasm        wasm         line   make --no-print-directory test-wasm"
    "web         web          line   make --no-print-directory test-web"
)

LOG_DIR="$ROOT/target/test-all"
mkdir -p "$LOG_DIR"

total_passed=0
total_failed=0

# count_cargo LOG: prints "passed failed" summed over cargo's "test result:" lines.
count_cargo() {
    awk '/^test result: /{
            for (i = 1; i <= NF; i++) {
                if ($(i+1) ~ /^passed;?$/) p += $i
                if ($(i+1) ~ /^failed;?$/) f += $i
            }
            n++
        }
        END { if (n == 0) print "none"; else print p + 0, f + 0 }' "$1"
}

# count_line NAME LOG: prints "passed failed" from the last "<name>: N passed, N failed" line.
count_line() {
    local line
    line="$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed\$" "$2" | tail -n 1)"
    if [ -z "$line" ]; then echo none; return; fi
    sed -E 's/^[^:]+: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/' <<<"$line"
}

run_suite() {
    local name="$1" dir="$2" how="$3" cmd="$4" log status counts passed failed
    if [ ! -d "$dir" ]; then
        echo "$name: skipped ($dir/ not in the tree yet)"
        SUMMARY+=("$name: skipped ($dir/ not in the tree yet)")
        return
    fi
    log="$LOG_DIR/$name.log"
    echo "== $name: $cmd"
    # Show the suite's output as it runs and keep it for counting.
    bash -c "$cmd" 2>&1 | tee "$log"
    status="${PIPESTATUS[0]}"
    case "$how" in
        cargo) counts="$(count_cargo "$log")" ;;
        line) counts="$(count_line "$name" "$log")" ;;
        *) counts=none ;;
    esac
    if [ "$counts" = none ]; then
        passed=0
        failed=1
        echo "$name: could not run or printed no counts (exit $status, log $log)"
    else
        read -r passed failed <<<"$counts"
        # A failing command with no failed test (a build error after some tests ran, say)
        # still counts as a failure.
        if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
            failed=1
            echo "$name: command exited with status $status"
        fi
    fi
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    SUMMARY+=("$name: $passed passed, $failed failed")
}

SUMMARY=()
for entry in "${SUITES[@]}"; do
    read -r name dir how cmd <<<"$entry"
    # ONLY="rust nostd" runs just those suites.
    if [ "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
    run_suite "$name" "$dir" "$how" "$cmd"
done

echo
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
