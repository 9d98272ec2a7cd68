#!/usr/bin/env bash
# Configures the project with -DTENSORD_BUILD_TESTS=OFF while GTest and Torch cannot be found: the
# configuration must succeed, have the server, tools, client and Python targets, and no test.
# Usage: configure_without_tests.sh SOURCE_DIR
set -euo pipefail
src=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S "$src" -B "$work" -G Ninja -DTENSORD_BUILD_TESTS=OFF \
  -DCMAKE_DISABLE_FIND_PACKAGE_GTest=TRUE -DCMAKE_DISABLE_FIND_PACKAGE_Torch=TRUE >"$work/configure.log" 2>&1 \
  || { cat "$work/configure.log" >&2; echo "configure_without_tests: configuring failed" >&2; exit 1; }
targets=$(cmake --build "$work" --target help)
for t in tensord tensorctl tensord-load tensord_client tensord_python install; do
  grep -q "^$t:" <<<"$targets" || { echo "configure_without_tests: no target $t" >&2; exit 1; }
done
if grep -q "_test:" <<<"$targets"; then
  echo "configure_without_tests: test targets configured with TENSORD_BUILD_TESTS=OFF" >&2
  exit 1
fi
echo "configured without tests, GTest and Torch unavailable"
