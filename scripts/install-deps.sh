#!/usr/bin/env bash
# Installs tensord's build and test dependencies from Debian's archive.
# Idempotent: packages already present are skipped, and apt is not touched at all
# when nothing is missing. Usage: scripts/install-deps.sh [--runtime-only]
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas-dev libopenblas0-pthread
)
# The oracle used by the tests: PyTorch 1.13 from Debian, and the Python bits.
TEST_PKGS=(
  python3-torch libtorch-dev python3-pytest python3-grpcio python3-protobuf
  python3-numpy openssl graphviz
)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")

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
