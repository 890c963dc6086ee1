#!/usr/bin/env bash
# Install the network-device simulators' Python side in a virtualenv: PyPI
# fake-switches (a Cisco IOS-like SSH shell and a Juniper NETCONF server, launched by
# tests/netsim/fake_switches.py) and the field's own clients that check the simulators
# (netmiko, ncclient; tests/netsim/check_clients.py). Idempotent: the venv is kept in
# the cache dir and rebuilt only when the lock file changes. Then tests/setup/sshd.sh
# (OpenSSH server, sshpass, the `netsim` user) for the scripted device shell.
#
# fake-switches.lock.txt pins every package. fake-switches 1.5.0 runs on Python 3.11
# only with --no-deps and Twisted[conch] 24.11.0, cryptography 44.0.3, lxml 6.1.3,
# netaddr 1.3.0, tftpy 0.8.7. To move a version: install the new set in a scratch venv,
# `pip freeze` it into the lock file (keeping its header).
#
#   venv: ${MCPD_TEST_CACHE:-$HOME/.cache/mcpd-test}/fake-switches  (bin/python)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
lock=$here/fake-switches.lock.txt
cache=${MCPD_TEST_CACHE:-${HOME:-/root}/.cache/mcpd-test}
venv=$cache/fake-switches
stamp=$venv/.mcpd-recipe
recipe="lock $(sha256sum "$lock" | cut -c1-16)"

say() { printf '[fake-switches.sh] %s\n' "$*" >&2; }

bash "$here/sshd.sh"

if [[ -x $venv/bin/python && $(cat "$stamp" 2>/dev/null) == "$recipe" ]]; then
  exit 0
fi

# A fresh Debian 12 has no Python venv module unless asked for.
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  bash "$here/apt-install.sh" python3 python3-venv
fi

say "creating $venv with $recipe"
rm -rf "$venv"
mkdir -p "$cache"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$lock"
# `pip check` proves the set complete and consistent, except for the one requirement
# fake-switches declares and the pins deliberately break.
tolerated='^fake-switches 1\.5\.0 has requirement Twisted\[conch\]<17\.0,>=16\.6\.0, but you have twisted 24\.11\.0\.$'
problems=$("$venv/bin/python" -m pip check 2>&1 | grep -Ev "$tolerated|^No broken requirements found\.$" || true)
if [[ -n $problems ]]; then
  printf '%s\n' "$problems" >&2
  exit 1
fi
# What the launcher and the checks import.
"$venv/bin/python" -c 'import fake_switches.switch_factory, twisted.conch.ssh.keys, netmiko, ncclient'
echo "$recipe" >"$stamp"
say "installed fake-switches $("$venv/bin/python" -m pip show fake-switches | sed -n 's/^Version: //p')"
