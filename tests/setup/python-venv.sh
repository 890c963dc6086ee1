#!/usr/bin/env bash
# A Python virtualenv holding exactly a lock file's packages, in the test cache dir;
# rebuilt only when the lock file changes. Used by python-mcp.sh and python-openapi.sh.
#
#   python-venv.sh NAME IMPORTS PACKAGE
#     NAME     venv dir under ${MCPD_TEST_CACHE:-$HOME/.cache/mcpd-test}, lock file
#              tests/setup/NAME.lock.txt
#     IMPORTS  Python modules the tests use, imported once to prove the set works
#     PACKAGE  the package whose version is reported
set -euo pipefail

name=$1 imports=$2 package=$3
here=$(cd "$(dirname "$0")" && pwd)
lock=$here/$name.lock.txt
cache=${MCPD_TEST_CACHE:-${HOME:-/root}/.cache/mcpd-test}
venv=$cache/$name
stamp=$venv/.mcpd-recipe
recipe="lock $(sha256sum "$lock" | cut -c1-16)"

say() { printf '[%s.sh] %s\n' "$name" "$*" >&2; }

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
"$venv/bin/python" -c "import $imports"
echo "$recipe" >"$stamp"
say "installed $package $("$venv/bin/python" -m pip show "$package" | sed -n 's/^Version: //p')"
