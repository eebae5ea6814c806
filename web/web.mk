# The browser demo and its end-to-end tests (included by the top-level Makefile; paths are from
# the root).
#
#   make demo        (top-level) builds the package if stale, then runs web/server.mjs: one port
#                    on 127.0.0.1 (PORT=… to choose it), serving web/ and wasm/pkg/ and relaying
#                    WebRTC signaling (the npm package ws, from tools/node); prints its URL on a
#                    line of its own; Ctrl-C stops it
#   make web-pkg     builds wasm/pkg/ with `make wasm` when it is missing or older than its sources
#   make test-web    Debian's Chromium headless (playwright-core) on loopback: web/tests/*.test.mjs;
#                    last line "web: N passed, N failed"

WEB_PKG_SOURCES := $(shell find core/src tree/src wasm/src wasm/js -type f 2>/dev/null) core/Cargo.toml tree/Cargo.toml \
	wasm/Cargo.toml Cargo.lock

.PHONY: web-pkg web-demo test-web

web-pkg: wasm/pkg/zaxos_bg.wasm wasm/pkg/tree/zaxos_bg.wasm

# Both modules come out of one `make wasm` (a grouped target).
wasm/pkg/zaxos_bg.wasm wasm/pkg/tree/zaxos_bg.wasm &: $(WEB_PKG_SOURCES)
	@$(MAKE) --no-print-directory wasm

# The URL comes last, on a line of its own, after whatever the build printed.
web-demo: web-pkg
	@scripts/install.sh node 2>/dev/null
	@exec node web/server.mjs

# node --test prints TAP ("# pass N", "# fail N"); each test logs a "checked: …" line, gathered at
# the end; the last line sums them for scripts/test-all.sh.
test-web:
	@scripts/install.sh browser
	@$(MAKE) --no-print-directory web-pkg
	@rm -rf web/test-results && mkdir -p web/test-results target/test-web
	@set +e; \
	timeout 600 node --test --test-reporter=tap --test-concurrency=1 web/tests/*.test.mjs 2>&1 | tee target/test-web/tap.log; \
	status=$${PIPESTATUS[0]}; \
	set -e; \
	read -r p f <<<"$$(awk '/^# pass /{p=$$3} /^# fail /{f=$$3} END {print p+0, (p+f==0 ? 1 : f+0)}' target/test-web/tap.log)"; \
	[ $$status -ne 0 ] && [ $$f -eq 0 ] && f=1; \
	echo "what the web tests checked:"; \
	sed -n 's/^# checked: /  /p' target/test-web/tap.log; \
	echo "screenshots: $$(ls web/test-results/*.png 2>/dev/null | wc -l) in web/test-results/"; \
	echo "web: $$p passed, $$f failed"; \
	[ $$f -eq 0 ]
