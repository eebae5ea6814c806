#!/usr/bin/env bash
# The kernel's own flash on a Cortex-M4F (thumbv7em-none-eabihf), as nostd-tests' images are
# built: flash of the `kernel` image (one node, every API call) minus that of the `empty` image
# (the same runtime and loop, no node). Flash = .vector_table + .text + .rodata + .data (its
# initial values live in flash). Prints one line per image and the difference; last line JSON.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
TARGET=thumbv7em-none-eabihf
cargo build --release -q --target "$TARGET" --bins
size_of() {
    # Section sizes from the ELF section headers (readelf; no llvm-size needed).
    readelf -SW "target/$TARGET/release/$1" | python3 -c '
import re, sys
total = 0
for line in sys.stdin:
    m = re.search(r"\] (\.vector_table|\.text|\.rodata|\.data)\s+\S+\s+\S+\s+\S+\s+([0-9a-f]+)", line)
    if m:
        total += int(m.group(2), 16)
print(total)'
}
empty=$(size_of empty)
kernel=$(size_of kernel)
echo "empty image (runtime, loop):       $empty B flash"
echo "kernel image (one node, every call): $kernel B flash"
echo "the kernel's own flash:            $((kernel - empty)) B"
echo "{\"target\":\"$TARGET\",\"empty_flash\":$empty,\"kernel_image_flash\":$kernel,\"kernel_flash\":$((kernel - empty))}"
