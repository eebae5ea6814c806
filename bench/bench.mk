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

.PHONY: bench bench-peers bench-build

bench-build:
	@cargo build -q --release -p zaxos-bench

bench: bench-build
	@command -v valgrind >/dev/null || { apt-get install -y -q valgrind >/dev/null 2>&1 || true; }
	@$(BENCH_BIN) all --entries $(BENCH_ENTRIES) $(if $(BENCH_REPEAT),--repeat $(BENCH_REPEAT)) \
	  $(if $(shell command -v valgrind),,--no-callgrind) $(if $(shell command -v node),,--no-wasm)

bench-peers: bench-build
	@$(BENCH_BIN) peers --entries $(BENCH_ENTRIES) $(if $(BENCH_REPEAT),--repeat $(BENCH_REPEAT))
