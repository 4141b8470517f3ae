# The entry points a newcomer uses; see README.md.
NPROC := $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 300
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all build run test fuzz clean bootstrap bootstrap-test

all: build

bootstrap:
	@bash scripts/bootstrap.sh

bootstrap-test:
	@bash scripts/bootstrap.sh --test

build:
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j$(NPROC)

run: bootstrap build
	./build/core/chatd -c etc/chat.ini

test: bootstrap-test build
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCHATD_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(NPROC)
	@echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
	@$(ASAN_ENV) ctest --test-dir build-asan --output-on-failure -j2
	@echo "== tests (build/)"
	@ctest --test-dir build --output-on-failure -j2

fuzz: bootstrap-test
	@CC=clang cmake -S . -B build-fuzz -DCHATD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build-fuzz -j$(NPROC)
	@for t in build-fuzz/tests/fuzz/*_fuzz; do \
	  name=$$(basename $$t _fuzz); \
	  echo "== $$name for $(FUZZ_SECONDS)s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) tests/fuzz/corpus/$$name || exit 1; \
	done

clean:
	rm -rf build build-asan build-fuzz
