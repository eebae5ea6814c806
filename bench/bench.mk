# zaxos-bench: included from the top-level Makefile.
#   make bench         throughput (3 and 5 nodes, W = 1, 64, 1024), instructions per entry by
#                      callgrind, failover, partial connectivity, wasm vs native; a markdown table
#                      per measure; the last line is one JSON object
#   make bench-peers   throughput at W = 64 on 3 nodes for zaxos, raft-rs and OmniPaxos; the last
#                      line is {"zaxos": {"entries_per_s": …, "msgs_per_entry": …}, "raft-rs": …, "omnipaxos": …}
# Options: BENCH_ENTRIES (default 100000), BENCH_REPEAT (runs per figure, the median is kept).

BENCH_ENTRIES ?= 100000
BENCH_REPEAT ?=
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
	@$(BENCH_BIN) all --entries $(BENCH_ENTRIES) $(if $(BENCH_REPEAT),--repeat $(BENCH_REPEAT)) \
	  $(if $(shell command -v valgrind),,--no-callgrind) $(if $(shell command -v node),,--no-wasm) \
	  --wasm-kernel $(BENCH_WASM)

bench-peers: bench-build
	@$(BENCH_BIN) peers --entries $(BENCH_ENTRIES) $(if $(BENCH_REPEAT),--repeat $(BENCH_REPEAT))

# The durable stores (store/bench, outside the workspace so that `make test` never builds
# raft-engine): fsync'd entries/s against raft-engine 0.4.2, restart of a 1 GiB log, NOR flash
# bytes per entry; a markdown table each; the last line is one JSON object.
# Options: STORE_BENCH_DIR (where the logs go; default the system's temporary directory).
STORE_BENCH_DIR ?=

.PHONY: bench-store
bench-store:
	@cd store/bench && cargo build -q --release
	@store/bench/target/release/zaxos-store-bench all $(if $(STORE_BENCH_DIR),--dir $(STORE_BENCH_DIR))
