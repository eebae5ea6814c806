# The model checker (model/): an exhaustive interleaving search over three real nodes.
#
#   make model DEPTH=N            search N actions deep past the setup (default 6); prints the
#                                 states explored and every violation with its trace, last line JSON
#   make model MODEL_FLAGS=...    other options of zaxos-model (--scenario fresh, --async,
#                                 --isolate 2, --bug quorum-of-one, --states-max N, --all, ...)

DEPTH ?= 6
MODEL_FLAGS ?=

.PHONY: model
model:
	@cargo run --release -q --manifest-path model/Cargo.toml -- --depth $(DEPTH) $(MODEL_FLAGS)
