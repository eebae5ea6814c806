# zaxos-tree: included from the top-level Makefile.
#   make test-tree       replay every recorded ZooKeeper trace, run the tree's tests, recipes and
#                        replicated runs in the kernel's simulator (feature sim);
#                        the last line is "tree: N passed, N failed" (cargo tests + traces)
#   make record-traces   re-record tests/traces/ from a real ZooKeeper 3.8, standalone and a
#                        3-server ensemble (needs Java, apt, pip; about 15 s a seed)
#   make bench-tree      operations/s and bytes per znode

TREE_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
TREE_TRACES := $(TREE_DIR)tests/traces

.PHONY: test-tree record-traces bench-tree

test-tree:
	@\
	out=$$(mktemp); \
	cargo test -p zaxos-tree --features sim 2>&1 | tee $$out | grep -E '^test |test result|panicked|error' || true; \
	cargo build -q -p zaxos-tree --no-default-features --target thumbv7em-none-eabihf 2>/dev/null \
	  || { rustup target add thumbv7em-none-eabihf wasm32-unknown-unknown >/dev/null 2>&1; \
	       cargo build -q -p zaxos-tree --no-default-features --target thumbv7em-none-eabihf; } \
	  && echo "no_std build (thumbv7em-none-eabihf): ok" || echo "no_std build (thumbv7em-none-eabihf): FAILED"; \
	cargo build -q -p zaxos-tree --no-default-features --target wasm32-unknown-unknown \
	  && echo "no_std build (wasm32-unknown-unknown): ok" || echo "no_std build (wasm32-unknown-unknown): FAILED"; \
	cargo run -q -p zaxos-tree -- check $(TREE_TRACES)/*.jsonl | tee -a $$out | tail -n 1 || true; \
	cp=$$(grep -E '^test result' $$out | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{s+=$$1} END {print s+0}'); \
	cf=$$(grep -E '^test result' $$out | sed -E 's/.* ([0-9]+) failed.*/\1/' | awk '{s+=$$1} END {print s+0}'); \
	if ! grep -q '^test result' $$out; then cf=$$((cf+1)); fi; \
	tp=$$(grep -E '^traces:' $$out | sed -E 's/traces: ([0-9]+) passed.*/\1/'); \
	tf=$$(grep -E '^traces:' $$out | sed -E 's/.* ([0-9]+) failed.*/\1/'); \
	rm -f $$out; \
	echo "tree: $$((cp + $${tp:-0})) passed, $$((cf + $${tf:-1})) failed"

record-traces:
	@command -v java >/dev/null || apt-get install -y default-jre-headless
	@test -f /usr/share/java/zookeeper.jar || apt-get install -y zookeeper
	@python3 -c 'import kazoo' 2>/dev/null || pip install kazoo
	python3 $(TREE_DIR)recorder/record.py --seeds 24 --ops 300 --out $(TREE_TRACES)
	python3 $(TREE_DIR)recorder/record.py --ensemble --first-seed 101 --seeds 2 --ops 300 --out $(TREE_TRACES)

bench-tree:
	cargo run -q --release -p zaxos-tree --example bench
	cargo run -q --release -p zaxos-tree --features sim --example cluster_bench
