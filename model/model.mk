# The model checker (model/): an exhaustive interleaving search over three real nodes.
#
#   make model DEPTH=N            search N actions deep past the setup (default 7); prints the
#                                 states explored and every violation with its trace, last line JSON
#   make model MODEL_FLAGS=...    options of zaxos-model (default --isolate 2: n2 stays cut off
#                                 after the setup; MODEL_FLAGS= lets it in, for a far larger
#                                 search; --scenario fresh, --async, --bug quorum-of-one,
#                                 --states-max N, --all, ...; see model/README.md)

DEPTH ?= 7
MODEL_FLAGS ?= --isolate 2

.PHONY: model
model:
	@cargo run --release -q --manifest-path model/Cargo.toml -- --depth $(DEPTH) $(MODEL_FLAGS)

# Soak: many more simulator seeds than CI, on every core.
#
#   make soak SEEDS=N             seeds SOAK_START..SOAK_START+N of TICKS ticks (zaxos-sim --seeds),
#                                 one job per core; last line JSON with the failing seeds
#                                 (replay one: make sim SIM_FLAGS="--seed S --trace")

SOAK_START ?= 0

.PHONY: soak
soak:
	@cargo run --release -q -p zaxos --features sim --bin zaxos-sim -- --seeds $(SEEDS) --start $(SOAK_START) --ticks $(TICKS) --jobs $$(nproc) $(SIM_FLAGS)
