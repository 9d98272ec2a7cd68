#!/usr/bin/env bash
# deploy/compose.yaml for real, with podman-compose: three tensord containers and the HAProxy
# container on a compose network (container DNS, HAProxy's resolvers and grpc health checks),
# one published port; the tutorial example and 12 concurrent sessions through it, then each
# replica's counters (tensorctl stats inside the containers) show that all three served calls.
#
#   scripts/compose-test.sh [--build-dir DIR] [--no-install]
#
# Uses the image scripts/container-test.sh builds (tensord:test, tagged tensord:latest) and
# builds docker/haproxy.Dockerfile. Local adaptations only, in files outside the repository:
# a containers.conf (runtime runc, ulimits within this machine's limits) and a compose override
# (nofile limit); deploy/compose.yaml itself is used unchanged.
# Exit status: 0 passed, 77 skipped (podman / podman-compose not available), other: failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=build
INSTALL=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "compose-test: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
say() { echo "compose-test: $*"; }
die() { echo "FAIL: compose-test: $*" >&2; exit 1; }

if ! command -v podman-compose >/dev/null || ! command -v podman >/dev/null; then
  if [ $INSTALL = 1 ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman podman-compose runc debootstrap >/dev/null
  fi
  command -v podman-compose >/dev/null || { echo "SKIP: compose-test: podman-compose not available"; exit 77; }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tensord-compose.XXXXXX")
cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
EOF
cat >"$WORK/override.yaml" <<'EOF'
services:
  tensord-r1: {ulimits: {nofile: {soft: 1024, hard: 1024}, nproc: {soft: 1024, hard: 1024}}}
  tensord-r2: {ulimits: {nofile: {soft: 1024, hard: 1024}, nproc: {soft: 1024, hard: 1024}}}
  tensord-r3: {ulimits: {nofile: {soft: 1024, hard: 1024}, nproc: {soft: 1024, hard: 1024}}}
EOF
export CONTAINERS_CONF=$WORK/containers.conf
TENSORD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export TENSORD_PORT
PROJECT=tensord-ct$$
PC=(podman-compose -p "$PROJECT" -f "$ROOT/deploy/compose.yaml" -f "$WORK/override.yaml")
cleanup() {
  "${PC[@]}" down -t 15 >"$WORK/down.log" 2>&1
  podman network rm "${PROJECT}_default" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

# The images: tensord from container-test's build (same Dockerfile), HAProxy from Debian.
podman image exists tensord:test || scripts/container-test.sh --skip-python >/dev/null || die "no tensord image"
podman tag tensord:test tensord:latest
podman build --format docker --network=host -t tensord-haproxy:2.6 -f docker/haproxy.Dockerfile . \
  >"$WORK/haproxy-build.log" 2>&1 || { tail -20 "$WORK/haproxy-build.log" >&2; die "haproxy image"; }

say "podman-compose up (project $PROJECT, published port $TENSORD_PORT)"
"${PC[@]}" up -d >"$WORK/up.log" 2>&1 || { tail -30 "$WORK/up.log" >&2; die "podman-compose up"; }

ok=0
for _ in $(seq 1 60); do
  if "$BUILD_DIR/examples/autograd_tour" --address=127.0.0.1:"$TENSORD_PORT" >"$WORK/tour.log" 2>&1; then ok=1; break; fi
  sleep 1
done
if [ $ok != 1 ]; then
  tail -5 "$WORK/tour.log" >&2
  podman logs "${PROJECT}_haproxy_1" 2>&1 | tail -20 >&2
  die "autograd_tour through the compose proxy"
fi
say "PASS: autograd_tour through HAProxy on 127.0.0.1:$TENSORD_PORT"

fail=0
if ! bench=$("$BUILD_DIR/tests/tensord_scaleout_client" --proxy=127.0.0.1:"$TENSORD_PORT" --bench_seconds=2 --bench_threads=12); then
  fail=1
fi
say "12 sessions for 2s: $bench"
for r in r1 r2 r3; do
  c=${PROJECT}_tensord-${r}_1
  # No systemd here to run the health timer: run the container's health check once.
  health=$(podman healthcheck run "$c" 2>/dev/null && echo healthy || echo unhealthy)
  stats=$(podman exec "$c" tensorctl stats --format json 2>&1 | tr -d '\n ')
  say "$c: health=$health $stats"
  served=$(sed -n 's/.*"commands_served":\([0-9]*\).*/\1/p' <<<"$stats")
  [ "${served:-0}" -gt 0 ] || { echo "FAIL: compose-test: $r served no commands" >&2; fail=1; }
done
hc=$(podman logs "${PROJECT}_haproxy_1" 2>&1 | grep -c "tensord/r[123]")
say "HAProxy logged $hc calls routed to tensord/r1..r3"
[ $fail = 0 ] && say "PASS" || echo "FAIL: compose-test" >&2
exit $fail
