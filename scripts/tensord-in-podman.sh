#!/usr/bin/env bash
# Runs the tensord container image as if it were the tensord binary: same flags, in the
# foreground, on the host network, SIGTERM/SIGINT forwarded (podman's sig-proxy), the server's
# exit status returned. scripts/container-test.sh points the Python suite's TENSORD_BINARY here.
#   TENSORD_IMAGE=tensord:test scripts/tensord-in-podman.sh --listen=127.0.0.1:50151 [flags]
# Files named by --tls_cert/--tls_key/--token_file are bind-mounted read-only at the same path;
# the container then runs as root, since such files are usually readable by their owner only.
# If this script is SIGKILLed, a watchdog removes the container (within ~0.5 s).
set -uo pipefail
IMAGE=${TENSORD_IMAGE:-tensord:test}
P=(podman --runtime runc)
name=tensord-w-$$-$RANDOM
mounts=()
user=()
for a in "$@"; do
  case "$a" in
    --tls_cert=* | --tls_key=* | --token_file=*)
      f=${a#*=}
      mounts+=(-v "$f:$f:ro")
      user=(--user 0:0)
      ;;
  esac
done
(
  trap '' TERM INT HUP
  while kill -0 $$ 2>/dev/null; do sleep 0.2; done
  "${P[@]}" rm -f -t 0 "$name" >/dev/null 2>&1
) </dev/null >/dev/null 2>&1 &
exec "${P[@]}" run --rm --name "$name" --network=host --read-only --health-interval=disable \
  --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "${user[@]}" "${mounts[@]}" "$IMAGE" "$@"
