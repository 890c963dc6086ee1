#!/usr/bin/env bash
# THE test command: set up what the tests need (tests/setup/all.sh), then run the whole
# Rust test suite. Arguments go to `cargo test`; those after a `--` go to the test
# binaries, e.g. `scripts/test.sh docker -- --nocapture`.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_TEST_ARGS=(--locked --all-targets)
TEST_BINARY_ARGS=(--test-threads="${MCPD_TEST_THREADS:-4}")

# Split "$@" at the first `--` so both halves join ours (a second `--` would turn
# --test-threads into a test-name filter).
for ((i = 1; i <= $#; i++)); do
  if [[ ${!i} == -- ]]; then
    TEST_BINARY_ARGS+=("${@:i+1}")
    set -- "${@:1:i-1}"
    break
  fi
done

section() { printf '\n===== %s =====\n' "$*"; }

section "setup: tests/setup/all.sh"
t=$SECONDS
bash tests/setup/all.sh </dev/null
echo "setup took $((SECONDS - t))s"

section "cargo test ${CARGO_TEST_ARGS[*]} ${*:+$* }-- ${TEST_BINARY_ARGS[*]}"
exec cargo test "${CARGO_TEST_ARGS[@]}" "$@" -- "${TEST_BINARY_ARGS[@]}" </dev/null
