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

.PHONY: bench bench-peers bench-build bench-wasm-kernel bench-wasm-pkg

# The npm package's module (Node + Simulation, the same profile, wasm-bindgen and wasm-opt as
# make wasm) with the `packed` feature as well, in target/bench-wasm-pkg: the JS rows of the
# wasm-vs-native table (object methods and packed methods) both run this one build.
BENCH_WASM_PKG := target/bench-wasm-pkg
BENCH_WASM_OPT := tools/node/node_modules/.bin/wasm-opt
bench-wasm-pkg:
	@scripts/install.sh wasm >/dev/null
	@cargo build -q -p zaxos-wasm --target wasm32-unknown-unknown --profile wasm-release --features packed
	@rm -rf $(BENCH_WASM_PKG) && mkdir -p $(BENCH_WASM_PKG)
	@wasm-bindgen --target web --out-dir $(BENCH_WASM_PKG) --out-name zaxos --remove-name-section --remove-producers-section \
	  target/wasm32-unknown-unknown/wasm-release/zaxos_wasm.wasm
	@$(BENCH_WASM_OPT) -Oz --converge --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
	  --enable-mutable-globals --enable-reference-types --enable-multivalue --strip-debug --strip-producers \
	  $(BENCH_WASM_PKG)/zaxos_bg.wasm -o $(BENCH_WASM_PKG)/zaxos_bg.wasm
	@cp wasm/js/index.js wasm/js/package.json $(BENCH_WASM_PKG)/

bench-build:
	@cargo build -q --release -p zaxos-bench

# The zaxos workload as plain wasm32 exports (bench/src/wasm.rs), for the wasm-vs-native table.
bench-wasm-kernel:
	@rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown >/dev/null
	@cargo rustc -q --release -p zaxos-bench --lib --no-default-features --target wasm32-unknown-unknown --crate-type cdylib

bench: bench-build
	@command -v valgrind >/dev/null || { apt-get install -y -q valgrind >/dev/null 2>&1 || true; }
	@$(MAKE) --no-print-directory bench-wasm-kernel >/dev/null 2>&1 || echo "wasm32 build of the workload failed; its row is left out" >&2
	@$(if $(shell command -v node),$(MAKE) --no-print-directory bench-wasm-pkg >/dev/null 2>&1 || echo "wasm package build failed; the JS rows are left out" >&2,true)
	@$(BENCH_BIN) all --entries $(BENCH_ENTRIES) $(if $(BENCH_REPEAT),--repeat $(BENCH_REPEAT)) --jobs $(BENCH_JOBS) \
	  $(if $(shell command -v valgrind),,--no-callgrind) $(if $(shell command -v node),,--no-wasm) \
	  --wasm-kernel $(BENCH_WASM) --wasm-pkg $(BENCH_WASM_PKG) --svg bench/instructions.svg

bench-peers: bench-build
	@command -v valgrind >/dev/null || { apt-get install -y -q valgrind >/dev/null 2>&1 || true; }
	@$(BENCH_BIN) peers --entries $(BENCH_ENTRIES) $(if $(BENCH_REPEAT),--repeat $(BENCH_REPEAT)) --jobs $(BENCH_JOBS) \
	  $(if $(shell command -v valgrind),,--no-callgrind)

# The durable stores (store/bench, outside the workspace so that `make test` never builds
# raft-engine): fsync'd entries/s against raft-engine 0.4.2, restart of a 1 GiB log, NOR flash
# bytes per entry; a markdown table each; the last line is one JSON object.
# Options: STORE_BENCH_DIR (where the logs go; default the system's temporary directory).
STORE_BENCH_DIR ?=

.PHONY: bench-store
bench-store:
	@cd store/bench && cargo build -q --release
	@store/bench/target/release/zaxos-store-bench all $(if $(STORE_BENCH_DIR),--dir $(STORE_BENCH_DIR))

