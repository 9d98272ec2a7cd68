#!/usr/bin/env bash
# Starts a real tensord on a free loopback port, runs a command with --address=127.0.0.1:PORT
# appended, stops the server (SIGTERM) and returns the command's exit status.
# Usage: with_server.sh TENSORD_BINARY COMMAND [ARGS...]
set -uo pipefail
tensord=$1
shift
log=$(mktemp)
"$tensord" --listen=127.0.0.1:0 --workers=2 >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
if [ -z "$port" ]; then
  echo "with_server: tensord did not start:" >&2
  cat "$log" >&2
  exit 1
fi
"$@" --address=127.0.0.1:"$port"
rc=$?
if [ $rc -ne 0 ]; then
  echo "with_server: '$*' exited $rc; server log:" >&2
  tail -20 "$log" >&2
fi
exit $rc
