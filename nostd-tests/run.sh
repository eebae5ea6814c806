#!/usr/bin/env bash
# `make nostd`: builds the bare-metal image for each target, runs it on its QEMU machine (the
# runner in .cargo/config.toml, under a timeout), keeps each run's output, then lets the host
# side check the runs against the same scenario run natively and print the footprint table.
# The last line is a JSON array, one object per target; the exit status is non-zero if any
# target failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# target=QEMU machine (the machine also names the memory layout in image/memory/).
TARGETS=(
    thumbv6m-none-eabi=microbit
    thumbv7em-none-eabihf=mps2-an386
    riscv32imc-unknown-none-elf=virt
)

RUNS=target/nostd-runs
rm -rf "$RUNS"
mkdir -p "$RUNS"

for entry in "${TARGETS[@]}"; do
    target="${entry%%=*}"
    echo "== $target on ${entry#*=}" >&2
    # A failed build must not leave an older image to be measured.
    rm -f "target/$target/release/zaxos-nostd-image"
    if cargo build --release -q -p zaxos-nostd-image --target "$target" 2>"$RUNS/$target.build"; then
        # stdout is what the image printed through semihosting; stderr is QEMU's and cargo's.
        cargo run --release -q -p zaxos-nostd-image --target "$target" >"$RUNS/$target.log" 2>"$RUNS/$target.err"
        status=$?
        echo "$status" >"$RUNS/$target.status"
        sed 's/^/    /' "$RUNS/$target.log" >&2
        [ "$status" -eq 0 ] || sed 's/^/    stderr: /' "$RUNS/$target.err" >&2
    else
        # Keep the linker's verdict (a region that overflowed, say) for the report.
        sed 's/^/    /' "$RUNS/$target.build" >&2
        { echo "build failed"; grep -oE "(error: .*|rust-lld: error: .*)" "$RUNS/$target.build" | sed 's/^/build: /'; } >"$RUNS/$target.log"
        echo "build" >"$RUNS/$target.status"
    fi
done

cargo run --release -q -p zaxos-nostd-report -- "$RUNS" "${TARGETS[@]}"
