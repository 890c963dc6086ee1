#!/usr/bin/env bash
# apt-install.sh PKG...: install the Debian packages among PKG that are not installed.
# Shared by the setup scripts. Runs `apt-get update` before the first install of a
# setup run (a stamp under $MCPD_TEST_STATE, younger than an hour, says it was done).
# The lock timeout waits for another apt/dpkg that is running instead of failing.
set -euo pipefail

missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
((${#missing[@]})) || exit 0

state=${MCPD_TEST_STATE:-/tmp/mcpd-test}
stamp=$state/apt-updated
apt=(apt-get -o DPkg::Lock::Timeout=300 -q)
((EUID == 0)) || apt=(sudo "${apt[@]}")
export DEBIAN_FRONTEND=noninteractive

mkdir -p "$state"
if [[ -z $(find "$stamp" -mmin -60 2>/dev/null) ]]; then
  "${apt[@]}" update
  touch "$stamp"
fi
echo "[apt-install.sh] installing: ${missing[*]}" >&2
"${apt[@]}" install -y "${missing[@]}"
