# tensord: the two commands a fresh Debian 12 machine needs are `make run` and `make test`.
BUILD_DIR ?= build
ASAN_DIR  ?= build-asan
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build run demo test asan bench format format-check clean help

all: build

help:
	@echo "make run          install dependencies, build, start tensord on 127.0.0.1:50051 (ARGS='--flag=...')"
	@echo "make test         install dependencies, build, run every test (ctest)"
	@echo "make asan         the same tests under AddressSanitizer + UBSan"
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
run: build
	$(BUILD_DIR)/server/tensord $(ARGS)

demo: build
	$(BUILD_DIR)/engine/tensord-engine-demo

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

# The same tests under AddressSanitizer + UBSan (the `asan` preset of CMakePresets.json). The
# container test is skipped here: the image is built without sanitizers anyway.
asan: deps
	cmake --preset asan $(CMAKE_FLAGS)
	cmake --build --preset asan -j $(JOBS)
	TENSORD_SKIP_CONTAINER_TEST=1 ctest --preset asan -j $(JOBS)

# Benchmarks side by side with their anchors (not part of `make test`): bench/results/latest.md.
bench: deps
	bench/run_all.sh

FORMAT_FILES = $(shell git ls-files '*.cc' '*.h')
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)

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
