#!/usr/bin/env bash
# Runs every test of the workspace, after installing what the tests need (idempotent).
#   scripts/test.sh            formatting, lints, then all tests
#   scripts/test.sh -- ARGS    extra arguments for `cargo test` (e.g. a test name filter)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_toolchain
ensure_node_tools
ensure_python_tools
# Program-test logs every instruction at debug level unless told otherwise.
export RUST_LOG="${RUST_LOG:-error}"

extra=()
if [ "${1:-}" = "--" ]; then shift; extra=("$@"); fi

log "cargo fmt --check"
cargo fmt --all --check

log "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test (target dir: $CARGO_TARGET_DIR)"
cargo test --workspace --locked -- "${extra[@]}"
