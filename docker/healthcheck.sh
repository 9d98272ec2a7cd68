#!/bin/sh
# The image's HEALTHCHECK: grpc.health.v1 Check (tensorctl health) against the running tensord.
# The address comes from tensord's own command line (the last --listen wins, as in tensord), so
# `docker run tensord --listen=0.0.0.0:6000` is checked on 127.0.0.1:6000 with no extra setting.
#   TENSORD_HEALTH_ADDRESS  host:port to check instead
#   TENSORD_HEALTH_ARGS     extra tensorctl flags (e.g. "--tls --ca_cert=/certs/ca.pem")
# Exit 0 only when the server answers SERVING (draining or unreachable: 1).
set -eu

listen=""
tls_cert=""
for cmdline in /proc/1/cmdline /proc/[0-9]*/cmdline; do
  [ -r "$cmdline" ] || continue
  argv0=$(tr '\0' '\n' <"$cmdline" 2>/dev/null | head -n 1) || continue
  case "$argv0" in
    tensord | */tensord) ;;
    *) continue ;;
  esac
  prev=""
  for arg in $(tr '\0' '\n' <"$cmdline"); do
    case "$prev" in
      --listen | -listen) listen=$arg ;;
      --tls_cert | -tls_cert) tls_cert=$arg ;;
    esac
    case "$arg" in
      --listen=* | -listen=*) listen=${arg#*=} ;;
      --tls_cert=* | -tls_cert=*) tls_cert=${arg#*=} ;;
    esac
    prev=$arg
  done
  break
done

address=${TENSORD_HEALTH_ADDRESS:-}
if [ -z "$address" ]; then
  [ -n "$listen" ] || listen="127.0.0.1:50051"  # tensord's own default
  port=${listen##*:}
  host=${listen%:*}
  case "$host" in
    "" | 0.0.0.0 | "[::]" | "::" | "[::0]") host=127.0.0.1 ;;
  esac
  address="$host:$port"
fi

extra=${TENSORD_HEALTH_ARGS:-}
if [ -z "$extra" ] && [ -n "$tls_cert" ]; then
  # A self-signed certificate (the usual case in a cluster) is its own CA. For a certificate that
  # does not name 127.0.0.1/localhost, set TENSORD_HEALTH_ARGS (and TENSORD_HEALTH_ADDRESS).
  extra="--ca_cert=$tls_cert"
fi

# shellcheck disable=SC2086 # $extra is a list of flags
exec tensorctl health --address="$address" --timeout=3s $extra
