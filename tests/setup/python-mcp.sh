#!/usr/bin/env bash
# Install the Python MCP SDK (PyPI `mcp`) in a virtualenv, the independent MCP client
# that tests/gateway.rs drives against mcpd's /mcp endpoint, with the Prometheus text
# parser (prometheus_client) and the WebSocket client (websockets) the observability
# tests check mcpd with. Idempotent: the venv is
# kept in the cache dir and rebuilt only when the lock file changes.
#
# python-mcp.lock.txt pins the SDK and every package it pulls in. To move to a newer
# SDK: install `mcp==<version>` in a scratch venv, `pip freeze` it into the lock file.
#
#   venv: ${MCPD_TEST_CACHE:-$HOME/.cache/mcpd-test}/python-mcp  (bin/python)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
lock=$here/python-mcp.lock.txt
cache=${MCPD_TEST_CACHE:-${HOME:-/root}/.cache/mcpd-test}
venv=$cache/python-mcp
stamp=$venv/.mcpd-recipe
recipe="lock $(sha256sum "$lock" | cut -c1-16)"

say() { printf '[python-mcp.sh] %s\n' "$*" >&2; }

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
# --no-deps: exactly the locked set, nothing resolved afresh; `pip check` proves the
# set is complete and consistent.
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$lock"
"$venv/bin/python" -m pip check
"$venv/bin/python" -c 'import mcp.client.streamable_http, prometheus_client.parser, websockets' # the clients the tests use
echo "$recipe" >"$stamp"
say "installed $("$venv/bin/python" -m pip show mcp | sed -n 's/^Version: //p')"
