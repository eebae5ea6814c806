# The npm package and its tests (included by the top-level Makefile; paths are from the root).
#
#   make wasm        builds wasm/pkg/ (package.json, index.js + zaxos.js ES modules, .d.ts, the
#                    optimised zaxos_bg.wasm with Node + Simulation, and tree/ with a second module,
#                    Node + Tree, entry "zaxos/tree") and prints the .wasm sizes, raw and gzipped
#   make test-wasm   node's test runner over wasm/tests/*.mjs against wasm/pkg/, and the in-wasm
#                    wasm-bindgen-test tests run by node; last line "wasm: N passed, N failed"
#
# The .wasm is built with the workspace's `wasm-release` profile (opt-level z, fat LTO, one
# codegen unit, panic=abort), so other crates' release builds keep their own settings.

WASM_TARGET := wasm32-unknown-unknown
WASM_PROFILE := wasm-release
WASM_OUT := target/$(WASM_TARGET)/$(WASM_PROFILE)/zaxos_wasm.wasm
WASM_PKG := wasm/pkg
WASM_WORK := target/wasm-pkg
WASM_OPT := tools/node/node_modules/.bin/wasm-opt
# The features rustc enables by default for wasm32-unknown-unknown; wasm-opt must accept them
# and add no others.
WASM_OPT_FLAGS := -Oz --converge --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
	--enable-mutable-globals --enable-reference-types --enable-multivalue --strip-debug --strip-producers
# Budgets of the package's .wasm modules, gzipped (a host loads one of them): the node
# class with the simulator (the main entry), and the node with the znode tree (entry zaxos/tree).
# 108 KiB since the handshake ids, the restart loader and the simulator's replay, forgery and
# promise checks (about 2.5 KiB in the node, 5 more in the simulator); 112 KiB since the
# discovery fetch and entries framed in runs (the node alone went from 54.8 to 59.1 KiB).
WASM_GZIP_BUDGET := 114688
WASM_TREE_GZIP_BUDGET := 114688

.PHONY: wasm test-wasm

# wasm-bindgen + wasm-opt on one cargo output: $(1) the .wasm from cargo, $(2) the output dir.
define wasm_bindgen_opt
	rm -rf $(2) && mkdir -p $(2)
	wasm-bindgen --target web --out-dir $(2) --out-name zaxos --remove-name-section --remove-producers-section $(1)
	$(WASM_OPT) $(WASM_OPT_FLAGS) $(2)/zaxos_bg.wasm -o $(2)/zaxos_bg.wasm
endef

# size NAME FILE: one line with the raw and gzipped (-9) size.
define wasm_size
	@raw=$$(wc -c <$(2)); gz=$$(gzip -9 -c $(2) | wc -c); \
	printf 'wasm size: %-28s %7d bytes raw, %6d bytes gzipped (%s KiB)\n' "$(1)" $$raw $$gz \
		"$$(awk -v b=$$gz 'BEGIN { printf "%.1f", b / 1024 }')"
endef

wasm:
	@scripts/install.sh wasm
	@# The node class alone, to measure it (the package ships the full build below).
	cargo build -q -p zaxos-wasm --target $(WASM_TARGET) --profile $(WASM_PROFILE) --no-default-features
	$(call wasm_bindgen_opt,$(WASM_OUT),$(WASM_WORK)/node-only)
	@# The second module, entry "zaxos/tree": the node and the znode tree.
	cargo build -q -p zaxos-wasm --target $(WASM_TARGET) --profile $(WASM_PROFILE) --no-default-features --features tree
	$(call wasm_bindgen_opt,$(WASM_OUT),$(WASM_WORK)/tree)
	cargo build -q -p zaxos-wasm --target $(WASM_TARGET) --profile $(WASM_PROFILE)
	$(call wasm_bindgen_opt,$(WASM_OUT),$(WASM_WORK)/full)
	rm -rf $(WASM_PKG) && mkdir -p $(WASM_PKG)/tree
	cp $(WASM_WORK)/full/zaxos.js $(WASM_WORK)/full/zaxos.d.ts $(WASM_WORK)/full/zaxos_bg.wasm \
		$(WASM_WORK)/full/zaxos_bg.wasm.d.ts wasm/js/index.js wasm/js/index.d.ts wasm/js/package.json \
		wasm/js/store.js wasm/js/store.d.ts \
		wasm/README.md $(WASM_PKG)/
	cp $(WASM_WORK)/tree/zaxos.js $(WASM_WORK)/tree/zaxos.d.ts $(WASM_WORK)/tree/zaxos_bg.wasm \
		$(WASM_WORK)/tree/zaxos_bg.wasm.d.ts wasm/js/index.js wasm/js/index.d.ts $(WASM_PKG)/tree/
	$(call wasm_size,cargo output (before wasm-opt),$(WASM_OUT))
	$(call wasm_size,Node only,$(WASM_WORK)/node-only/zaxos_bg.wasm)
	$(call wasm_size,Node + Simulation (package),$(WASM_PKG)/zaxos_bg.wasm)
	$(call wasm_size,Node + Tree (package tree/),$(WASM_PKG)/tree/zaxos_bg.wasm)
	@for pair in $(WASM_PKG)/zaxos_bg.wasm:$(WASM_GZIP_BUDGET) $(WASM_PKG)/tree/zaxos_bg.wasm:$(WASM_TREE_GZIP_BUDGET); do \
		f=$${pair%%:*}; budget=$${pair##*:}; gz=$$(gzip -9 -c $$f | wc -c); \
		if [ $$gz -gt $$budget ]; then \
			echo "wasm: $$f is $$gz bytes gzipped, over the budget of $$budget" >&2; exit 1; fi; \
	done

# node --test prints TAP ("# pass N", "# fail N"); the wasm-bindgen-test runner prints cargo's
# "test result:" line. Both are summed into the last line.
test-wasm: wasm
	@mkdir -p target/test-wasm
	@set +e; \
	node --test --test-reporter=tap wasm/tests/*.mjs 2>&1 | tee target/test-wasm/node.log; \
	node_status=$${PIPESTATUS[0]}; \
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
		cargo test -p zaxos-wasm --target $(WASM_TARGET) --features packed 2>&1 | tee target/test-wasm/in-wasm.log; \
	wasm_status=$${PIPESTATUS[0]}; \
	set -e; \
	read -r np nf <<<"$$(awk '/^# pass /{p=$$3} /^# fail /{f=$$3} END {print p+0, (p+f==0 ? 1 : f+0)}' target/test-wasm/node.log)"; \
	read -r wp wf <<<"$$(awk '/^test result: /{ for (i = 1; i < NF; i++) { if ($$(i+1) ~ /^passed;?$$/) p += $$i; if ($$(i+1) ~ /^failed;?$$/) f += $$i } n++ } END { print p+0, (n == 0 ? 1 : f+0) }' target/test-wasm/in-wasm.log)"; \
	[ $$node_status -ne 0 ] && [ $$nf -eq 0 ] && nf=1; \
	[ $$wasm_status -ne 0 ] && [ $$wf -eq 0 ] && wf=1; \
	echo "node tests: $$np passed, $$nf failed; in-wasm tests: $$wp passed, $$wf failed"; \
	echo "wasm: $$((np + wp)) passed, $$((nf + wf)) failed"; \
	[ $$((nf + wf)) -eq 0 ]
