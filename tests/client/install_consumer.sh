#!/usr/bin/env bash
# cmake --install the build into a temporary prefix: the server, the tools, the client library
# (built against with find_package(tensord CONFIG) by tests/client/consumer), the .proto files and
# the Python package are all there, and everything runs from the prefix: the installed tensord
# serves the consumer, the installed tensorctl and the installed Python package.
# Usage: install_consumer.sh BUILD_DIR SOURCE_DIR TENSORD_BINARY
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/tensord bin/tensorctl bin/tensord-load include/tensord/client.h \
         lib/cmake/tensord/tensordConfig.cmake \
         share/tensord/proto/tensord/v1/tensord.proto share/tensord/proto/grpc/health/v1/health.proto; do
  test -e "$prefix/$f" || { echo "install_consumer: $f is not installed" >&2; exit 1; }
done
pydir=$(ls -d "$prefix"/lib/python3.*/dist-packages)
test -f "$pydir/tensord/__init__.py" -a -f "$pydir/tensord/v1/tensord_pb2.py" \
  || { echo "install_consumer: the Python package is not installed" >&2; exit 1; }
"$prefix/bin/tensord" --version | grep -q "^tensord "
cmake -S "$src/tests/client/consumer" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/build" >/dev/null
# The installed server, the installed consumer, the installed tensorctl, the installed package.
"$src/tests/examples/with_server.sh" "$prefix/bin/tensord" "$work/build/consumer"
"$src/tests/examples/with_server.sh" "$prefix/bin/tensord" "$prefix/bin/tensorctl" stats >/dev/null
cat > "$work/use_package.py" <<'PY'
import sys
import tensord
address = sys.argv[-1].split("=", 1)[1]
with tensord.connect(address) as t:
    x = t.ones(3, requires_grad=True)
    y = (x * 2).sum()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0], x.grad
print("installed package ok")
PY
(cd "$work" && PYTHONPATH="$pydir" "$src/tests/examples/with_server.sh" "$prefix/bin/tensord" \
  /usr/bin/python3 "$work/use_package.py")
