#!/usr/bin/env bash
# Runs every test of the workspace, after installing what the tests need (idempotent).
#   scripts/test.sh            formatting, lints, then all tests
#   scripts/test.sh --fast     formatting, lints and the unit tests only (no chains, no servers)
#   scripts/test.sh -- ARGS    extra arguments for `cargo test` (e.g. a test name filter)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

fast=false
extra=()
case "${1:-}" in
  --fast) fast=true ;;
  --) shift; extra=("$@") ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--fast | -- CARGO_TEST_ARGS...]" >&2; exit 2 ;;
esac

ensure_toolchain
# The EVM artifacts are read at compile time (`sol!`), so even the fast run needs them.
ensure_node_tools
ensure_dashboard --test
$fast || ensure_python_tools
$fast || ensure_chromium
# Program-test logs every instruction at debug level unless told otherwise.
export RUST_LOG="${RUST_LOG:-error}"

log "cargo fmt --check"
cargo fmt --all --check

log "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

if $fast; then
  log "cargo test: unit tests (target dir: $CARGO_TARGET_DIR)"
  cargo test --workspace --locked --lib --bins
else
  log "cargo test (target dir: $CARGO_TARGET_DIR)"
  cargo test --workspace --locked -- "${extra[@]}"
fi
