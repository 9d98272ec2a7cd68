#!/usr/bin/env bash
# Runs examples/node/tutorial.js against a real tensord (make test: the example_node test).
# Needs node and npm; installs @grpc/grpc-js and @grpc/proto-loader from the npm registry into
# WORK_DIR (kept between runs, so later runs work offline from npm's cache). Exits 77 (SKIP) when
# node or npm is missing or the packages cannot be installed (registry unreachable, no cache).
# Usage: run.sh TENSORD_BINARY WORK_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tensord=$1
work=$2
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node/npm not installed (Debian's nodejs and npm; scripts/install-deps.sh installs them)"
  exit 77
fi
mkdir -p "$work"
cp "$here/package.json" "$here/tutorial.js" "$work/"
if [ ! -d "$work/node_modules/@grpc/grpc-js" ] || [ ! -d "$work/node_modules/@grpc/proto-loader" ]; then
  if ! (cd "$work" && timeout 180 npm install --prefer-offline --no-audit --no-fund --loglevel=error); then
    echo "SKIP: npm install of @grpc/grpc-js and @grpc/proto-loader failed (registry unreachable and nothing cached)"
    exit 77
  fi
fi
exec "$here/../../tests/examples/with_server.sh" "$tensord" node "$work/tutorial.js" \
  --proto="$here/../../proto"
