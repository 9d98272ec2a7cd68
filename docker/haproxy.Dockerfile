# HAProxy 2.6 from Debian 12 for deploy/compose.yaml (the version deploy/haproxy.cfg is tested
# with; an upstream haproxy:2.6 image works as well). The configuration is mounted at
# /usr/local/etc/haproxy/haproxy.cfg.
FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /usr/local/etc/haproxy
USER haproxy
EXPOSE 50051 8404
STOPSIGNAL SIGUSR1
ENTRYPOINT ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
