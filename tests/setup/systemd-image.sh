#!/usr/bin/env bash
# Build the Docker image the install test boots with systemd as PID 1:
# a Debian 12 (bookworm) minbase rootfs from debootstrap, imported offline with
# `docker import`. Made once and reused (the tag is kept across test runs); set
# MCPD_REBUILD_SYSTEMD_IMAGE=1 to rebuild it. Needs root (or sudo) for debootstrap.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

tag=${MCPD_SYSTEMD_IMAGE:-mcpd-test/debian-systemd:12}
say() { printf '[systemd-image.sh] %s\n' "$*" >&2; }

if [[ -z ${MCPD_REBUILD_SYSTEMD_IMAGE:-} ]] && docker image inspect "$tag" >/dev/null 2>&1; then
  say "$tag already present"
  exit 0
fi

bash "$here/apt-install.sh" debootstrap
sudo_=()
((EUID == 0)) || sudo_=(sudo)

# The mirror apt already uses on this machine (deb822 or one-line sources).
mirror=$(grep -hoE '(URIs:[[:space:]]*|^deb[[:space:]]+)https?://[^[:space:]]+/debian/?' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
  grep -oE 'https?://[^[:space:]]+' | grep -v -- '-security' | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

root=$(mktemp -d /tmp/mcpd-rootfs.XXXXXX)
trap '"${sudo_[@]}" rm -rf "$root"' EXIT
say "debootstrap bookworm from $mirror into $root"
# procps: /bin/kill for ExecReload; curl + ca-certificates for the health check.
"${sudo_[@]}" debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,ca-certificates,curl,procps \
  bookworm "$root" "$mirror" >/dev/null
# No getty on a container console; apt inside must not try the network.
"${sudo_[@]}" rm -f "$root"/etc/systemd/system/getty.target.wants/* || true
"${sudo_[@]}" tar -C "$root" -c . | docker import -c 'CMD ["/sbin/init"]' - "$tag" >/dev/null
say "imported $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
