#!/usr/bin/env bash
# cmake --install the build into a temporary prefix, build tests/client/consumer against it
# with find_package(tensord CONFIG), and run it against a real server.
# Usage: install_consumer.sh BUILD_DIR SOURCE_DIR TENSORD_BINARY
set -euo pipefail
build=$1
src=$2
tensord=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/tensord/client.h"
test -f "$work/prefix/lib/cmake/tensord/tensordConfig.cmake"
cmake -S "$src/tests/client/consumer" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
"$src/tests/examples/with_server.sh" "$tensord" "$work/build/consumer"
