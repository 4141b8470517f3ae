# The entry points a newcomer uses; see README.md.
# Quiet nested builds: cmake --build runs make again.
MAKEFLAGS += --no-print-directory
NPROC := $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 300
FUZZ_SHORT_SECONDS ?= 15
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all build run test deb bench fuzz fuzz-build fuzz-short clean bootstrap bootstrap-test node-modules web screenshots

all: build

bootstrap:
	@bash scripts/bootstrap.sh

bootstrap-test:
	@bash scripts/bootstrap.sh --test

build:
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j$(NPROC)

# The web desk's npm packages (not committed), pinned by its package-lock.json.
examples/web/node_modules/.installed: examples/web/package.json examples/web/package-lock.json
	@cd examples/web && npm ci --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

# The client package built from clients/js into the web root: its ES
# modules in examples/web/chatd-client/, which the pages import, and the
# support widget (tsc + @stomp/stompjs in one file), served as /widget.js.
examples/web/widget.js examples/web/chatd-client/index.js &: clients/js/node_modules/.installed clients/js/widget/widget.ts \
    clients/js/scripts/build.mjs clients/js/scripts/gen-events.mjs docs/events.schema.json $(wildcard clients/js/src/*.ts)
	@cd clients/js && node scripts/build.mjs >/dev/null

web: bootstrap examples/web/node_modules/.installed examples/web/widget.js examples/web/chatd-client/index.js

run: bootstrap web build
	./build/core/chatd -c etc/chat.ini

# The Debian package: build-deb/chatd_VERSION_ARCH.deb (docs/operations.md).
deb: web
	@cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
	       -DBUILD_TESTING=OFF -DBUILD_EXAMPLES=OFF -DCHATD_PACKAGE=ON >/dev/null
	@cmake --build build-deb -j$(NPROC)
	@cd build-deb && cpack -G DEB >/dev/null
	@ls build-deb/chatd_*.deb

# The JavaScript clients the conformance tests use, pinned by package-lock.json.
tests/node_modules/.installed: tests/package.json tests/package-lock.json
	@cd tests && npm ci --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

# The JavaScript client package's npm packages (stompjs, typescript, ws),
# pinned by its package-lock.json; ctest builds it (clients.js.build).
clients/js/node_modules/.installed: clients/js/package.json clients/js/package-lock.json
	@cd clients/js && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

node-modules: bootstrap-test tests/node_modules/.installed clients/js/node_modules/.installed

test: bootstrap-test web node-modules build deb fuzz-short
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCHATD_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(NPROC)
	@echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
	@$(ASAN_ENV) ctest --test-dir build-asan --output-on-failure -j2
	@echo "== tests (build/)"
	@ctest --test-dir build --output-on-failure -j2

fuzz-build:
	@CC=clang cmake -S . -B build-fuzz -DCHATD_FUZZ=ON -DBUILD_TESTING=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build-fuzz -j$(NPROC) --target stomp_frame_fuzz config_fuzz query_fuzz jwt_fuzz jwks_fuzz presence_fuzz redis_reply_fuzz \
	  message_body_fuzz sockjs_fuzz bench_sockjs_fuzz client_addr_fuzz proxy_header_fuzz visitor_token_fuzz \
	  reaction_emoji_fuzz search_fuzz canned_shortcut_fuzz tls_peer_fuzz file_upload_fuzz bench_http_response_fuzz \
	  bench_stomp_frames_fuzz support_skills_fuzz wait_news_fuzz mysql_room_columns_fuzz

# Each target over its seed corpus (kept read-only: new inputs go to a
# scratch dir); a crasher lands in build-fuzz/ and fails the run. Keep it
# as tests/fuzz/corpus/<target>/regress-<what> once fixed.
define run_fuzzers
	@for t in build-fuzz/tests/fuzz/*_fuzz; do \
	  name=$$(basename $$t _fuzz); scratch=$$(mktemp -d); \
	  echo "== fuzz $$name for $(1)s"; \
	  $$t -max_total_time=$(1) -print_final_stats=0 -artifact_prefix=build-fuzz/ \
	    $$scratch tests/fuzz/corpus/$$name >build-fuzz/$$name.log 2>&1 \
	    || { tail -40 build-fuzz/$$name.log; rm -rf $$scratch; exit 1; }; \
	  rm -rf $$scratch; \
	done
endef

fuzz-short: fuzz-build
	$(call run_fuzzers,$(FUZZ_SHORT_SECONDS))

fuzz: bootstrap-test fuzz-build
	$(call run_fuzzers,$(FUZZ_SECONDS))

# chatd against RabbitMQ Web-STOMP on this machine: writes bench/RESULTS.md
# (bench/README.md). Needs root: RabbitMQ runs as its own user.
bench:
	@bash scripts/bootstrap.sh --bench
	@bench/compare.sh

screenshots: test
	@cp build/screenshots/*.png docs/screenshots/

clean:
	rm -rf build build-asan build-fuzz build-bench
