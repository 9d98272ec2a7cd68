# tensord: the two commands a fresh Debian 12 machine needs are `make run` and `make test`.
BUILD_DIR ?= build
ASAN_DIR  ?= build-asan
TSAN_DIR  ?= build-tsan
FUZZ_DIR  ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TEST_SECONDS ?= 10
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build run demo test asan tsan fuzz fuzz-build fuzz-seeds bench format format-check clean help

all: build

help:
	@echo "make run          install build dependencies (not torch), build the server, start it on 127.0.0.1:50051 (ARGS='--flag=...')"
	@echo "make test         install dependencies, build, run every test (ctest)"
	@echo "make asan         the same tests under AddressSanitizer + UBSan"
	@echo "make tsan         the engine's threaded tests under ThreadSanitizer (server tests: see README)"
	@echo "make fuzz         each libFuzzer harness for FUZZ_SECONDS (default 60) over its corpus"
	@echo "make bench        benchmarks vs libtorch, raw gRPC and PyTorch RPC (bench/results/latest.md)"
	@echo "make format       clang-format the sources; make format-check verifies"

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The server in the foreground with its embedded defaults (127.0.0.1:50051); ARGS adds flags.
# Installs only what building needs (install-deps.sh --build-only: no PyTorch, no test tools) and
# builds only the server.
run:
	@scripts/install-deps.sh --build-only
	@test -f $(BUILD_DIR)/build.ninja || \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS) --target tensord
	$(BUILD_DIR)/server/tensord $(ARGS)

demo: build
	$(BUILD_DIR)/engine/tensord-engine-demo

# After CTest (which replays the fuzz corpus in the normal build: fuzz_replay_*), each libFuzzer
# harness runs FUZZ_TEST_SECONDS over its checked-in corpus in the clang fuzz preset (building it
# costs about 3 minutes on 2 cores; README "Fuzzing and sanitizers"). TENSORD_SKIP_FUZZ=1 skips
# that step.
test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)
	@if [ "$${TENSORD_SKIP_FUZZ:-0}" = 1 ]; then \
	  echo "SKIP: libFuzzer runs (TENSORD_SKIP_FUZZ=1)"; \
	else \
	  $(MAKE) --no-print-directory fuzz-build && \
	  tests/fuzz/run_fuzzers.sh --build-dir $(FUZZ_DIR) --seconds $(FUZZ_TEST_SECONDS); \
	fi

# The same tests under AddressSanitizer + UBSan (the `asan` preset of CMakePresets.json). The
# container test is skipped here: the image is built without sanitizers anyway.
asan: deps
	cmake --preset asan $(CMAKE_FLAGS)
	cmake --build --preset asan -j $(JOBS)
	TENSORD_SKIP_CONTAINER_TEST=1 ctest --preset asan -j $(JOBS)

# ThreadSanitizer (the `tsan` preset), stopping at the first report (halt_on_error): the engine's
# threaded tests (two contexts on two threads, cancellation from another thread). The server and
# client tests are not in it: Debian's gRPC and abseil are built without -fsanitize=thread, so TSan
# cannot see their synchronisation (absl::Mutex included) and reports races at every hand-off
# inside them (README "Fuzzing and sanitizers"). `make tsan TSAN_TESTS="server_service_test ..."`
# runs others. tests/tsan.supp may name third-party frames only.
TSAN_TESTS = engine_context_test engine_cancel_test
tsan: deps
	cmake --preset tsan $(CMAKE_FLAGS)
	cmake --build --preset tsan -j $(JOBS) --target tensord $(TSAN_TESTS)
	@fail=0; for t in $(TSAN_TESTS); do \
	  echo "== $$t (ThreadSanitizer)"; \
	  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp" \
	    $(TSAN_DIR)/tests/$$t --gtest_brief=1 || { echo "FAILED: $$t"; fail=1; }; \
	done; exit $$fail

# libFuzzer harnesses (tests/fuzz/): the `fuzz` preset builds them with clang 14, ASan and UBSan
# stopping at the first report; `make fuzz FUZZ_SECONDS=N` runs each for N seconds over its
# checked-in corpus (new inputs and crash artifacts go to $(FUZZ_DIR)/fuzz-work, not the corpus).
fuzz-build: deps
	cmake --preset fuzz $(CMAKE_FLAGS)
	cmake --build --preset fuzz -j $(JOBS)

fuzz: fuzz-build
	tests/fuzz/run_fuzzers.sh --build-dir $(FUZZ_DIR) --seconds $(FUZZ_SECONDS)

# Rewrites the hand-made seeds of tests/fuzz/corpus/ (tests/fuzz/seed_corpus.cc).
fuzz-seeds: build
	cmake --build $(BUILD_DIR) --target fuzz_seed_corpus
	$(BUILD_DIR)/tests/fuzz/fuzz_seed_corpus tests/fuzz/corpus

# Benchmarks side by side with their anchors (not part of `make test`): bench/results/latest.md.
bench: deps
	bench/run_all.sh

FORMAT_FILES = $(shell git ls-files '*.cc' '*.h')
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR) $(FUZZ_DIR)

# The container image (docker/Dockerfile) built and tested with podman: installs podman, runc and
# debootstrap if missing, makes the local debian:bookworm-slim base, runs the image and the
# tutorial example and the Python client suite against it (scripts/container-test.sh).
.PHONY: container-test scaleout-test
container-test: build
	scripts/container-test.sh --build-dir $(BUILD_DIR)

# Three replicas behind HAProxy (deploy/haproxy.cfg) on loopback: affinity, spread, failover,
# tensord-load through the proxy, and throughput with 1 vs 3 replicas (scripts/scaleout-test.sh).
scaleout-test: build
	scripts/scaleout-test.sh --build-dir $(BUILD_DIR) --measure
