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
exec bash "$(dirname "$0")/python-venv.sh" python-mcp 'mcp.client.streamable_http, prometheus_client.parser, websockets' mcp
