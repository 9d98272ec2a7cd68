#!/usr/bin/env bash
# Installs tensord's build and test dependencies from Debian's archive.
# Idempotent: packages already present are skipped, and apt is not touched at all
# when nothing is missing.
# Usage: scripts/install-deps.sh [--build-only | --runtime]
#   (no option)   everything: build, developer tools and the test oracle (python3-torch, libtorch)
#   --build-only  only what building the C++ needs (no clang-format, benchmark, torch or pytest):
#                 the build stage of docker/Dockerfile
#   --runtime     nothing to build with: only the shared libraries tensord and tensorctl load
#                 (the runtime stage of docker/Dockerfile); --runtime-only is the same
set -euo pipefail

mode=all
case "${1:-}" in
  "") ;;
  --build-only) mode=build ;;
  --runtime | --runtime-only) mode=runtime ;;
  -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
  *) echo "install-deps: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev
  libopenblas-dev libopenblas0-pthread libcpp-httplib-dev nlohmann-json3-dev
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
)
# --build-only: BUILD_PKGS less the developer tools (clang-format, Google Benchmark, clang and
# libFuzzer for the fuzz preset), plus the python3 interpreter that configuring needs
# (find_package(Python3)). What `make run` installs: no PyTorch, no test tools.
BUILD_ONLY_PKGS=(
  build-essential cmake ninja-build pkg-config python3
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev libgtest-dev libgmock-dev
  libssl-dev
  libopenblas-dev libopenblas0-pthread libcpp-httplib-dev nlohmann-json3-dev
)
# --runtime: the shared libraries of the binaries (ldd build/server/tensord); apt pulls the rest
# (libgrpc29, libfmt9, libgfortran5, libssl3, libre2-9, libc-ares2 ...).
RUNTIME_PKGS=(
  libgrpc++1.51 libprotobuf32 libabsl20220623 libspdlog1.10 libopenblas0-pthread libcpp-httplib0.11
)
# The oracle used by the tests: PyTorch 1.13 from Debian, and the Python bits; Prometheus (the real
# server and promtool scrape and check the metrics endpoint in server_operator_test); Chromium
# (renders tensord-load's HTML report headless in the load_html test).
TEST_PKGS=(
  python3-torch libtorch-dev python3-pytest python3-grpcio python3-protobuf
  python3-numpy openssl python3-yaml graphviz
  prometheus chromium
)

case $mode in
  all) want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}") ;;
  build) want=("${BUILD_ONLY_PKGS[@]}") ;;
  runtime) want=("${RUNTIME_PKGS[@]}") ;;
esac

# Node.js for examples/node (the example_node test): Debian's nodejs and npm, unless a node and an
# npm are already on PATH (another distribution's nodejs bundles npm and conflicts with Debian's).
if [ "$mode" = all ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
