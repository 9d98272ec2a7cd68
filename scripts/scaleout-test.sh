#!/usr/bin/env bash
# Scale-out on one machine: three tensord replicas (--replica r1/r2/r3 on loopback ports) behind
# HAProxy with deploy/haproxy.cfg (only addresses and ports rewritten), then
#   - 60 sessions created through the proxy with the C++ client: each session's calls all reach
#     the replica that holds it (asked directly: ListSessions/DescribeSession/ServerInfo), and the
#     sessions spread over all three replicas (tests/deploy/scaleout_client.cc);
#   - tensord-load --scenario tutorial through the proxy with 0 errors (when tensord-load is built);
#   - with --measure: throughput through the proxy with 1 and with 3 replicas;
#   - killing one replica fails only its sessions (UNAVAILABLE / NOT_FOUND); the others keep
#     working, and new sessions land on the survivors.
#
#   scripts/scaleout-test.sh [--build-dir DIR] [--tensord BIN] [--client BIN] [--load BIN]
#                            [--measure] [--measure-seconds N] [--no-install]
# TENSORD_SCALEOUT_KEEP=1 keeps the logs and configurations (replicas, HAProxy) for a look.
# Exit status: 0 passed, 77 skipped (HAProxy missing and not installable), other: failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BUILD_DIR=build
TENSORD=""
CLIENT=""
LOAD=""
MEASURE=0
MEASURE_SECONDS=5
INSTALL=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --tensord) TENSORD=$2; shift 2 ;;
    --client) CLIENT=$2; shift 2 ;;
    --load) LOAD=$2; shift 2 ;;
    --measure) MEASURE=1; shift ;;
    --measure-seconds) MEASURE_SECONDS=$2; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "scaleout-test: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
TENSORD=${TENSORD:-$BUILD_DIR/server/tensord}
CLIENT=${CLIENT:-$BUILD_DIR/tests/tensord_scaleout_client}
if [ -z "$LOAD" ]; then
  LOAD=$(find "$BUILD_DIR" -name tensord-load -type f -perm -u+x 2>/dev/null | head -n 1)
fi
say() { echo "scaleout-test: $*"; }
die() { echo "FAIL: scaleout-test: $*" >&2; exit 1; }

for b in "$TENSORD" "$CLIENT"; do [ -x "$b" ] || die "$b is not built (cmake --build $BUILD_DIR)"; done

# ---- HAProxy ------------------------------------------------------------------------------------
have_haproxy() { haproxy -v >/dev/null 2>&1; }
if ! have_haproxy; then
  if [ $INSTALL = 1 ] && command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null; }; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    say "installing haproxy"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null
  fi
  if ! have_haproxy; then
    echo "SKIP: scaleout-test: haproxy not available (apt-get install haproxy)"
    exit 77
  fi
fi
say "$(haproxy -v | head -n 1)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tensord-scaleout.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ "${TENSORD_SCALEOUT_KEEP:-0}" = 1 ]; then echo "scaleout-test: logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---- three replicas -------------------------------------------------------------------------------
declare -A PORT PID
for r in r1 r2 r3; do
  "$TENSORD" --listen=127.0.0.1:0 --replica=$r --workers=2 >"$WORK/$r.log" 2>&1 &
  PID[$r]=$!
  PIDS+=("${PID[$r]}")
done
for r in r1 r2 r3; do
  for _ in $(seq 1 200); do
    PORT[$r]=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$WORK/$r.log" | head -n 1)
    [ -n "${PORT[$r]}" ] && break
    kill -0 "${PID[$r]}" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "${PORT[$r]}" ] || { cat "$WORK/$r.log" >&2; die "replica $r did not start"; }
done
say "replicas: r1=127.0.0.1:${PORT[r1]} r2=127.0.0.1:${PORT[r2]} r3=127.0.0.1:${PORT[r3]}"

# ---- HAProxy with deploy/haproxy.cfg, addresses rewritten -----------------------------------------
# make_cfg OUT PROXY_PORT STATS_PORT REPLICAS...: the servers not named are dropped.
make_cfg() {
  local out=$1 pport=$2 sport=$3
  shift 3
  local sed_args=(-e "s|^\(    bind \):50051 |\1127.0.0.1:$pport |" -e "s|^\(    bind \):8404\$|\1127.0.0.1:$sport|")
  for r in r1 r2 r3; do
    if [[ " $* " == *" $r "* ]]; then
      sed_args+=(-e "s|^\(    server $r \)tensord-$r:50051 |\1127.0.0.1:${PORT[$r]} |")
    else
      sed_args+=(-e "/^    server $r /d")
    fi
  done
  sed "${sed_args[@]}" "$ROOT/deploy/haproxy.cfg" >"$out"
  # The rewrite must have hit every line it meant to: fail loudly if haproxy.cfg changed shape.
  [ "$(grep -c "^    bind 127.0.0.1:" "$out")" = 2 ] || die "deploy/haproxy.cfg: the bind lines were not rewritten"
  [ "$(grep -c "^    server r[0-9] 127.0.0.1:" "$out")" = $# ] || die "deploy/haproxy.cfg: the server lines were not rewritten"
  haproxy -c -q -f "$out" || die "the rewritten configuration does not parse"
}

# start_proxy CFG STATS_PORT N: runs HAProxy, waits until N servers are UP; sets HAPID.
start_proxy() {
  local cfg=$1 sport=$2 want=$3
  haproxy -db -f "$cfg" >"$cfg.log" 2>&1 &
  HAPID=$!
  PIDS+=("$HAPID")
  python3 - "$sport" "$want" <<'EOF' || { tail -20 "$cfg.log" >&2; die "HAProxy did not see $want servers UP"; }
import sys, time, urllib.request
port, want = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 20
while time.time() < deadline:
    try:
        csv = urllib.request.urlopen(f"http://127.0.0.1:{port}/stats;csv", timeout=1).read().decode()
        up = [l for l in csv.splitlines() if l.startswith("tensord,r") and ",UP," in l]
        if len(up) >= want:
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
}

PROXY_PORT=$(free_port)
STATS_PORT=$(free_port)
make_cfg "$WORK/haproxy.cfg" "$PROXY_PORT" "$STATS_PORT" r1 r2 r3
start_proxy "$WORK/haproxy.cfg" "$STATS_PORT" 3
PROXY=127.0.0.1:$PROXY_PORT
say "HAProxy on $PROXY (stats: http://127.0.0.1:$STATS_PORT/stats), r1 r2 r3 UP by grpc health check"

fail=0
# ---- throughput with 3 and with 1 replica (--measure) ---------------------------------------------
# The same load through the 3-replica proxy, through a second HAProxy (same configuration) that
# has only r1, and straight to r1: tensord_scaleout_client --bench_seconds (12 sessions, each a
# pipelined mm/tanh/mul/sum/backward + item loop) and, when built, tensord-load --scenario tutorial.
rate() { sed -n "s/.*$1[=:] *\([0-9.]*\).*/\1/p" | head -n 1; }
ratio() { python3 -c "import sys; a, b = float(sys.argv[1] or 0), float(sys.argv[2] or 0); print(f'{a / b:.2f}x' if b else 'n/a')" "$1" "$2"; }
if [ $MEASURE = 1 ]; then
  THREADS=12
  P1_PORT=$(free_port)
  S1_PORT=$(free_port)
  make_cfg "$WORK/haproxy-1.cfg" "$P1_PORT" "$S1_PORT" r1
  start_proxy "$WORK/haproxy-1.cfg" "$S1_PORT" 1
  HAPID1=$HAPID
  declare -A TARGET=([3]=$PROXY [1]=127.0.0.1:$P1_PORT [direct]=127.0.0.1:${PORT[r1]})
  declare -A BENCH LOADRPS
  for k in 3 1 direct; do
    out=$("$CLIENT" --proxy="${TARGET[$k]}" --bench_seconds="$MEASURE_SECONDS" --bench_threads=$THREADS) || fail=1
    say "bench, $k: $out"
    BENCH[$k]=$(rate commands_per_s <<<"$out")
    if [ -n "$LOAD" ] && [ -x "$LOAD" ]; then
      "$LOAD" --scenario tutorial --concurrency 32 --duration "${MEASURE_SECONDS}s" --address "${TARGET[$k]}" \
        >"$WORK/load-$k.out" 2>&1 || fail=1
      LOADRPS[$k]=$(rate "Requests\/sec" <"$WORK/load-$k.out")
      say "tensord-load --scenario tutorial --concurrency 32, $k: ${LOADRPS[$k]} requests/s, $(grep -m1 'Errors:' "$WORK/load-$k.out" | xargs)"
    fi
  done
  say "MEASURED ($(nproc) cores, one machine): 3 vs 1 replicas through HAProxy:" \
      "bench ${BENCH[3]} / ${BENCH[1]} commands/s = $(ratio "${BENCH[3]}" "${BENCH[1]}")" \
      "(direct to one replica, no proxy: ${BENCH[direct]})"
  if [ -n "${LOADRPS[3]:-}" ]; then
    say "MEASURED: tensord-load tutorial: ${LOADRPS[3]} / ${LOADRPS[1]} requests/s = $(ratio "${LOADRPS[3]}" "${LOADRPS[1]}")" \
        "(direct: ${LOADRPS[direct]})"
  fi
  kill -TERM "$HAPID1" 2>/dev/null
fi

# ---- tensord-load through the proxy ------------------------------------------------------------
if [ -n "$LOAD" ] && [ -x "$LOAD" ]; then
  say "$LOAD --scenario tutorial --concurrency 32 --duration 5s --address $PROXY"
  if "$LOAD" --scenario tutorial --concurrency 32 --duration 5s --address "$PROXY" >"$WORK/load.out" 2>&1; then
    cat "$WORK/load.out"
    if grep -Eiq '(^|[^a-z_])errors?[=: ]+[1-9]' "$WORK/load.out"; then
      echo "FAIL: scaleout-test: tensord-load reported errors" >&2
      fail=1
    else
      say "PASS: tensord-load through the proxy, 0 errors"
    fi
  else
    cat "$WORK/load.out" >&2
    echo "FAIL: scaleout-test: tensord-load exited non-zero" >&2
    fail=1
  fi
else
  say "tensord-load is not built (target tensord-load): load run skipped"
fi

# ---- affinity, spread, failover ---------------------------------------------------------------
if "$CLIENT" --proxy="$PROXY" --replicas="r1=127.0.0.1:${PORT[r1]},r2=127.0.0.1:${PORT[r2]},r3=127.0.0.1:${PORT[r3]}" \
     --sessions=60 --victim=r2 --victim_pid="${PID[r2]}"; then
  say "PASS: affinity, spread and failover"
else
  echo "FAIL: scaleout-test: affinity, spread or failover (HAProxy log: last lines below)" >&2
  tail -20 "$WORK/haproxy.cfg.log" >&2
  fail=1
fi
wait "${PID[r2]}" 2>/dev/null

# Every surviving replica must still be healthy and stop cleanly.
for r in r1 r3; do
  kill -TERM "${PID[$r]}"
  wait "${PID[$r]}"
  rc=$?
  [ $rc = 0 ] || { echo "FAIL: scaleout-test: replica $r exited $rc after SIGTERM" >&2; tail -5 "$WORK/$r.log" >&2; fail=1; }
done
[ $fail = 0 ] && say "PASS" || echo "FAIL: scaleout-test" >&2
exit $fail
