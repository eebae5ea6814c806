# zaxos-bench: included from the top-level Makefile.
#   make bench         two modes (batched, singly) × 3 and 5 nodes × W = 1, 64, 1024: throughput
#                      and instructions per entry by callgrind for zaxos (values and bytes),
#                      raft-rs and OmniPaxos; failover, partial connectivity, wasm vs native; the
#                      target table; draws bench/instructions.svg; the last line is one JSON object
#   make bench-peers   3 nodes, W = 64, both modes: throughput and instructions per entry; the last
#                      line is {"zaxos": {"batched": {"entries_per_s": …, "msgs_per_entry": …,
#                      "instructions_per_entry": …}, "singly": {…}}, "zaxos-bytes": …, "raft-rs": …, "omnipaxos": …}
# Options: BENCH_ENTRIES (default 100000), BENCH_REPEAT (runs per figure, the median is kept),
# BENCH_JOBS (callgrind processes at a time, default 2).

BENCH_ENTRIES ?= 100000
BENCH_REPEAT ?=
BENCH_JOBS ?= 2
BENCH_BIN := target/release/zaxos-bench
BENCH_WASM := target/wasm32-unknown-unknown/release/zaxos_bench.wasm

.PHONY: bench bench-peers bench-build bench-wasm-kernel

bench-build:
	@cargo build -q --release -p zaxos-bench

# The zaxos workload as plain wasm32 exports (bench/src/wasm.rs), for the wasm-vs-native table.
bench-wasm-kernel:
	@rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown >/dev/null
	@cargo rustc -q --release -p zaxos-bench --lib --no-default-features --target wasm32-unknown-unknown --crate-type cdylib

bench: bench-build
	@command -v valgrind >/dev/null || { apt-get install -y -q valgrind >/dev/null 2>&1 || true; }
	@$(MAKE) --no-print-directory bench-wasm-kernel >/dev/null 2>&1 || echo "wasm32 build of the workload failed; its row is left out" >&2
	@$(BENCH_BIN) all --entries $(BENCH_ENTRIES) $(if $(BENCH_REPEAT),--repeat $(BENCH_REPEAT)) --jobs $(BENCH_JOBS) \
	  $(if $(shell command -v valgrind),,--no-callgrind) $(if $(shell command -v node),,--no-wasm) \
	  --wasm-kernel $(BENCH_WASM) --svg bench/instructions.svg

bench-peers: bench-build
	@command -v valgrind >/dev/null || { apt-get install -y -q valgrind >/dev/null 2>&1 || true; }
	@$(BENCH_BIN) peers --entries $(BENCH_ENTRIES) $(if $(BENCH_REPEAT),--repeat $(BENCH_REPEAT)) --jobs $(BENCH_JOBS) \
	  $(if $(shell command -v valgrind),,--no-callgrind)
