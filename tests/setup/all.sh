#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian 12 machine (idempotent):
# the C build deps, a Docker engine that answers, the offline-built test images, and the
# Python MCP SDK (an independent MCP client for the /mcp gateway tests), and the OpenAPI
# validator and fuzzer (schemathesis) the contract tests run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# openssl-sys (pulled in by ssh2) needs pkg-config and the OpenSSL headers.
bash "$here/apt-install.sh" pkg-config libssl-dev
bash "$here/docker.sh"
bash "$here/images.sh"
# .deb/.rpm tools and the Debian 12 systemd image for tests/install.rs (image cached by tag).
bash "$here/packaging.sh"
bash "$here/systemd-image.sh"
bash "$here/python-mcp.sh"
bash "$here/python-openapi.sh"
bash "$here/fake-switches.sh"
