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
exec bash "$(dirname "$0")/python-venv.sh" python-openapi 'openapi_spec_validator, schemathesis' schemathesis
