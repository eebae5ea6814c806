# The front door of the project. Every target installs what it lacks (scripts/install.sh, which
# skips whatever is already present) and then runs.
#
#   make demo                    the browser demo: serves web/ on 127.0.0.1 and prints the URL
#   make demo-terminal           terminal demo of a simulated cluster
#   make test                    every suite; ends with "N passed, N failed"
#   make sim SEEDS=N TICKS=T     the deterministic simulator over N seeds; last line is JSON
#                                (SIM_FLAGS=--batch-proposals: half the proposals in batches)
#   make nostd                   bare-metal images under QEMU with their footprint; last line is JSON
#   make wasm / test-wasm        the npm package in wasm/pkg/ / its tests
#   make bench / bench-peers     benchmarks; last line is JSON
#   make test-web                end-to-end tests in headless Chromium
#   make test-tree               the znode tree's tests
#   make record-traces           re-record the ZooKeeper traces the tree's tests replay
#   make model DEPTH=N           exhaustive interleaving search over three real nodes; last line JSON
#   make fuzz SECONDS=N          each fuzz target for N seconds (nightly, cargo-fuzz); last line JSON
#   make soak SEEDS=N            the simulator over N seeds on every core; last line JSON
#   make mutants                 cargo-mutants over the protocol code (MUTANTS_SHARD=k/n); a report
#
# A component directory may bring its own targets in <dir>/<dir>.mk (tree/tree.mk, wasm/wasm.mk,
# web/web.mk, bench/bench.mk); it is included when present. Until then its targets fail with
# "not built yet".

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

INSTALL := scripts/install.sh
SEEDS ?= 100
TICKS ?= 20000
SIM_FLAGS ?=

.PHONY: help install demo demo-terminal test sim nostd mutants

help:
	@sed -n '1,22p' Makefile | sed 's/^# \{0,1\}//'

install:
	$(INSTALL)

# The browser demo (web/web.mk): builds the wasm package if needed, then serves the page and the
# signaling relay until Ctrl-C.
demo: web-demo

demo-terminal:
	@test -d core || { echo "not built yet: core missing" >&2; exit 1; }
	cargo run --release -p zaxos --features sim --example demo

# Suites are listed in scripts/test-all.sh; it installs nothing itself.
TEST_PARTS := rust-targets qemu $(if $(wildcard wasm),wasm) $(if $(wildcard web),browser)

test:
	@$(INSTALL) $(TEST_PARTS)
	@scripts/test-all.sh

sim:
	@test -d core || { echo "not built yet: core missing" >&2; exit 1; }
	@cargo run --release -q -p zaxos --features sim --bin zaxos-sim -- --seeds $(SEEDS) --ticks $(TICKS) $(SIM_FLAGS)

# Mutation testing of the protocol code (scripts/mutants.sh; MUTANTS_SHARD=k/n, MUTANTS_FILES=…, MUTANTS_RE=…):
# writes target/mutants/report.md with the kill rate and the surviving mutants.
mutants:
	@scripts/mutants.sh

nostd:
	@test -d nostd-tests || { echo "not built yet: nostd-tests missing" >&2; exit 1; }
	@$(INSTALL) rust-targets qemu
	@nostd-tests/run.sh

# Component makefiles, and a clear failure for each target whose component is not there yet.
-include tree/tree.mk wasm/wasm.mk web/web.mk bench/bench.mk model/model.mk fuzz/fuzz.mk

define not_built
.PHONY: $(1)
$(1):
	@echo "not built yet: $(2) missing" >&2; exit 1
endef

ifeq ($(wildcard tree/tree.mk),)
$(eval $(call not_built,test-tree,tree/tree.mk))
$(eval $(call not_built,record-traces,tree/tree.mk))
endif
ifeq ($(wildcard wasm/wasm.mk),)
$(eval $(call not_built,wasm,wasm/wasm.mk))
$(eval $(call not_built,test-wasm,wasm/wasm.mk))
endif
ifeq ($(wildcard web/web.mk),)
$(eval $(call not_built,test-web,web/web.mk))
$(eval $(call not_built,web-demo,web/web.mk))
endif
ifeq ($(wildcard bench/bench.mk),)
$(eval $(call not_built,bench,bench/bench.mk))
$(eval $(call not_built,bench-peers,bench/bench.mk))
endif
