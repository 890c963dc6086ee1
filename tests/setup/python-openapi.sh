#!/usr/bin/env bash
# Install the OpenAPI tools the contract tests use, in a virtualenv of their own (their
# dependencies would clash with the MCP SDK's): openapi-spec-validator, which checks the
# document mcpd serves against the OpenAPI 3.1 schema, and schemathesis, which generates
# requests from that document against a live daemon and checks every answer against it.
# Idempotent: the venv is kept in the cache dir and rebuilt only when the lock changes.
#
# python-openapi.lock.txt pins both and everything they pull in. To move to newer
# versions: install them in a scratch venv and `pip freeze` it into the lock file.
#
#   venv: ${MCPD_TEST_CACHE:-$HOME/.cache/mcpd-test}/python-openapi  (bin/python, bin/schemathesis)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
lock=$here/python-openapi.lock.txt
cache=${MCPD_TEST_CACHE:-${HOME:-/root}/.cache/mcpd-test}
venv=$cache/python-openapi
stamp=$venv/.mcpd-recipe
recipe="lock $(sha256sum "$lock" | cut -c1-16)"

say() { printf '[python-openapi.sh] %s\n' "$*" >&2; }

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
"$venv/bin/python" -c 'import openapi_spec_validator, schemathesis' # the tools the tests use
echo "$recipe" >"$stamp"
say "installed $("$venv/bin/python" -m pip show schemathesis | sed -n 's/^Version: //p')"
