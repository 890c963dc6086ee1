#!/usr/bin/env bash
# The static checks CI runs before the test suite: formatting, clippy with the [lints] of
# Cargo.toml as errors, no import cycle over two files, and the size rules (files ≤ 600
# lines, functions ≤ 80, handlers ≤ 30). Each prints what breaks its rule.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n===== %s =====\n' "$*"; }

section "cargo fmt --check"
cargo fmt --all --check

section "cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings

section "import cycles"
python3 scripts/import-cycles.py --quiet

section "sizes"
python3 scripts/sizes.py
