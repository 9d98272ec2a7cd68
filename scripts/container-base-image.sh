#!/usr/bin/env bash
# Makes the local stand-in for debian:bookworm-slim that docker/Dockerfile starts FROM, when no
# registry can be reached (see docs: podman + debootstrap). Does nothing when the image exists.
#   scripts/container-base-image.sh [--force]
# Env: TENSORD_DEBIAN_MIRROR (default http://deb.debian.org/debian), TENSORD_DEBIAN_SECURITY_MIRROR
# (default http://deb.debian.org/debian-security), PODMAN (default "podman --runtime runc").
set -euo pipefail
BASE=docker.io/library/debian:bookworm-slim
MIRROR=${TENSORD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${TENSORD_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
read -r -a P <<<"${PODMAN:-podman --runtime runc}"

if [ "${1:-}" != "--force" ] && "${P[@]}" image exists "$BASE"; then
  echo "container-base-image: $BASE present"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "container-base-image: debootstrap is not installed" >&2; exit 1; }
rootfs=$(mktemp -d /tmp/tensord-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "container-base-image: debootstrap --variant=minbase bookworm ($MIRROR)"
start=$(date +%s)
debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 || {
  tail -20 "$rootfs.log" >&2
  rm -f "$rootfs.log"
  exit 1
}
rm -f "$rootfs.log"
# What the real slim image also has: the updates and security suites next to main, no apt caches.
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY bookworm-security main
SOURCES
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | "${P[@]}" import - "$BASE" >/dev/null
echo "container-base-image: imported $BASE in $(( $(date +%s) - start ))s"
