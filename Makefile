# Top-level convenience targets. `make demo` and `make test` install what is missing first.
# SPDX-License-Identifier: Apache-2.0
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
FUZZ_SECONDS ?= 60

.PHONY: all deps build build-asan test test-tsan demo demo-build serve bench bench-attest bench-batch bench-engine fuzz fuzz-short clean node-deps

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@ninja -C $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOCOON_SANITIZE=ON >/dev/null
	@ninja -C $(ASAN_BUILD) -j $(JOBS)

# Every test (unit, fuzz-corpus replay, integration) under ASan+UBSan, then a short fuzz run.
# The optimised build is compiled too: some warnings (errors here) only appear at -O2.
test: build-asan build node-deps
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory fuzz-short

# The threaded parts (the ledger's writer thread, the engine's thread pool) under ThreadSanitizer.
test-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOCOON_TSAN=ON >/dev/null
	@ninja -C $(TSAN_BUILD) -j $(JOBS) test_ledger test_settle test_model test_sched test_loop
	@cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --output-on-failure \
	  -R 'unit/(test_ledger|test_settle|test_model|test_sched|test_loop)$$' 

# The demo needs only the binary and the test backend.
demo-build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@ninja -C $(BUILD) -j $(JOBS) cocoon cocoon-testbackend

# The oracles', the contracts' and the local TON's npm packages (pinned by package-lock.json),
# installed once before the tests run.
node-deps: deps
	@if [ ! -d tests/ton/node_modules ]; then echo "npm ci in tests/ton"; \
	  (cd tests/ton && npm ci --no-audit --no-fund >/dev/null) || exit 1; fi
	@if [ ! -d tools/localton/node_modules ]; then echo "npm ci in tools/localton"; \
	  (cd tools/localton && npm ci --no-audit --no-fund >/dev/null) || exit 1; fi
	@if [ ! -d tests/engine/node_modules ]; then echo "npm ci in tests/engine"; \
	  (cd tests/engine && npm ci --omit=optional --no-audit --no-fund >/dev/null) || exit 1; fi
	@if [ ! -d contracts/node_modules ]; then echo "npm ci in contracts"; \
	  (cd contracts && npm ci --no-audit --no-fund >/dev/null) || exit 1; fi

# The built-in engine on a tiny generated model, or on yours: `MODEL=path/to/model.gguf make demo`.
demo: demo-build
	@$(BUILD)/cocoon demo $(if $(MODEL),--model "$(MODEL)")

serve: demo-build
	@$(BUILD)/cocoon demo --serve $(if $(MODEL),--model "$(MODEL)")

# Continuous batching: decode tok/s of 8 concurrent sequences vs one (BATCH_PRESET=tiny for a quick run).
bench-batch: demo-build
	@ninja -C $(BUILD) -j $(JOBS) cocoon-bench-batch
	@bench/batch.sh $(BUILD)

bench: build
	@scripts/install-deps.sh wrk
	@bench/forward.sh $(BUILD)

bench-attest: build
	@bench/attest.sh $(BUILD)

# The built-in engine against llama.cpp (node-llama-cpp) on generated models with real shapes.
bench-engine: build node-deps
	@bench/engine.sh $(BUILD)

# Fuzzing campaigns with libFuzzer (clang): `make fuzz FUZZ_SECONDS=600`.
fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_C_COMPILER=clang -DCOCOON_FUZZ=ON -DCOCOON_WERROR=OFF >/dev/null
	@ninja -C $(FUZZ_BUILD) -j $(JOBS)
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The bounded version CI runs: a few seconds per harness.
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$${FUZZ_SHORT_SECONDS:-10}

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
