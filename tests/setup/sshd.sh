#!/usr/bin/env bash
# What tests/common/netsim.rs `Sshd` needs (idempotent): Debian's OpenSSH server
# (/usr/sbin/sshd, run by the tests on a loopback port with their own config; this
# script starts no service), ssh-keygen, sshpass, Debian's python3 (it runs
# tests/netsim/device_shell.py as the ForceCommand), sshd's privilege-separation dir,
# and the local user `netsim` whose login the tests' sshd accepts, by public key or by
# the password below (netsim.rs NETSIM_PASSWORD). Its shell is /bin/sh: sshd runs
# the ForceCommand through it; the user has no other use.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
user=netsim
password=netsim-password-for-tests

bash "$here/apt-install.sh" openssh-server openssh-client sshpass python3 passwd

# /run is a tmpfs: sshd refuses to start without this directory.
install -d -m 0755 /run/sshd

if ! id -u "$user" >/dev/null 2>&1; then
  echo "[sshd.sh] creating user $user" >&2
  useradd --system --create-home --home-dir /var/lib/$user --shell /bin/sh \
    --comment "mcpd test network device" "$user"
fi
# Cheap and idempotent; keeps the password right if someone changed it.
echo "$user:$password" | chpasswd
