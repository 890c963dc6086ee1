#!/usr/bin/env bash
# Packaging tools for packaging/build.sh and the install test (idempotent):
# rpm (to query and scratch-install the .rpm), debootstrap (the Debian 12 rootfs for
# the systemd install test), cargo-deb and cargo-generate-rpm at pinned versions.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# Pinned so packages build the same way everywhere; bump deliberately.
CARGO_DEB_VERSION=${CARGO_DEB_VERSION:-3.8.0}
CARGO_GENERATE_RPM_VERSION=${CARGO_GENERATE_RPM_VERSION:-0.21.0}

say() { printf '[packaging.sh] %s\n' "$*" >&2; }

bash "$here/apt-install.sh" rpm debootstrap systemd

# `cargo install` of the exact version; skipped when that version is already there.
install_tool() {
  local crate=$1 version=$2 bin=$3
  if command -v "$bin" >/dev/null 2>&1 && "$bin" --version 2>/dev/null | grep -qF "$version"; then
    return 0
  fi
  say "installing $crate $version"
  cargo install --locked --quiet "$crate" --version "=$version"
}
install_tool cargo-deb "$CARGO_DEB_VERSION" cargo-deb
install_tool cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION" cargo-generate-rpm
say "tools: $(cargo-deb --version 2>&1 | head -1), $(cargo-generate-rpm --version 2>&1 | head -1), rpm $(rpm --version | awk '{print $3}')"
