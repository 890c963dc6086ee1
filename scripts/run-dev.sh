#!/usr/bin/env bash
# Run mcpd from source for development: make sure a Docker engine answers and the
# C build deps are installed, then `mcpd serve`. Arguments go to `mcpd serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/setup/docker.sh
bash tests/setup/apt-install.sh pkg-config libssl-dev
exec cargo run --release -- serve --data-dir "${MCPD_DATA_DIR:-./data}" "$@"
