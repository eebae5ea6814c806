#!/usr/bin/env bash
# Mutation testing of the protocol code (core/src/role, core.rs, node.rs) with cargo-mutants:
# each mutant is built and run against the core tests that take seconds (the library's own,
# node, values, extremes, membership, the scenarios) and a short simulator check (40 seeds of
# 3,000 ticks, every invariant on every step). Writes target/mutants/report.md: the kill rate
# and every surviving mutant, each to be killed by a new check or explained as equivalent.
#
#   make mutants                          every mutant (about 1,200: many hours on 2 cores)
#   make mutants MUTANTS_SHARD=0/20       one twentieth of them
#   make mutants MUTANTS_FILES="core/src/role/learner.rs"
#   make mutants MUTANTS_ITERATE=1        continue: skip what the last run caught or found unviable
#   make mutants MUTANTS_JOBS=2           mutants built and tested side by side
#   make mutants MUTANTS_TIMEOUT=S        seconds a mutant's tests may take (60; the tests take about 4)
#   make mutants MUTANTS_RE='Leader::on_ack'   only the mutants whose names match (cargo-mutants --re)
#   MUTANTS_REPORT_ONLY=1 scripts/mutants.sh   the report of the last run again
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked
# Optimised a little, the tests of a mutant take 4 s instead of 45 and its build no longer
# (overflow checks and debug assertions stay on).
export CARGO_PROFILE_DEV_OPT_LEVEL="${CARGO_PROFILE_DEV_OPT_LEVEL:-1}" CARGO_PROFILE_TEST_OPT_LEVEL="${CARGO_PROFILE_TEST_OPT_LEVEL:-1}"
FILES="${MUTANTS_FILES:-core/src/role/*.rs core/src/core.rs core/src/node.rs}"
mkdir -p target/mutants
args=(--package zaxos --all-features --timeout "${MUTANTS_TIMEOUT:-60}" --output target/mutants --no-shuffle)
for f in $FILES; do args+=(--file "$f"); done
[ -n "${MUTANTS_SHARD:-}" ] && args+=(--shard "$MUTANTS_SHARD")
# Continue a run: mutants caught or unviable last time are not tried again.
[ -n "${MUTANTS_ITERATE:-}" ] && args+=(--iterate)
[ -n "${MUTANTS_RE:-}" ] && args+=(--re "$MUTANTS_RE")
args+=(--jobs "${MUTANTS_JOBS:-1}")
status=0
if [ -z "${MUTANTS_REPORT_ONLY:-}" ]; then
    set +e
    cargo mutants "${args[@]}" -- --lib --test node --test values --test extremes --test membership \
        --test scenarios --test sim_teeth -- --skip caught
    status=$?
    set -e
fi
out=target/mutants/mutants.out
count() { if [ -f "$out/$1" ]; then wc -l <"$out/$1" | tr -d ' '; else echo 0; fi; }
# With MUTANTS_ITERATE, what earlier runs caught is listed in previously_caught.txt.
caught=$(( $(count caught.txt) + $(count previously_caught.txt) )); missed=$(count missed.txt); timeout=$(count timeout.txt); unviable=$(count unviable.txt)
viable=$((caught + missed + timeout))
rate=$([ "$viable" -gt 0 ] && echo "scale=1; 100 * ($caught + $timeout) / $viable" | bc || echo 0)
{
    echo "# Mutation testing: $FILES${MUTANTS_SHARD:+ (shard $MUTANTS_SHARD)}"
    echo
    echo "| caught | timed out (counted as caught) | missed | unviable | kill rate |"
    echo "|---:|---:|---:|---:|---:|"
    echo "| $caught | $timeout | $missed | $unviable | $rate% |"
    echo
    echo "## Surviving mutants"
    echo
    if [ "$missed" -gt 0 ]; then sed 's/^/- /' "$out/missed.txt"; else echo "none"; fi
} > target/mutants/report.md
cat target/mutants/report.md
echo "mutants: $caught caught, $timeout timed out, $missed missed, $unviable unviable, kill rate $rate%"
# cargo-mutants exits 2 when mutants survive: the report says which; that is not an error here.
[ "$status" -le 2 ]
