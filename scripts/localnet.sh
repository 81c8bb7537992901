#!/usr/bin/env bash
# The main job: run the whole system on local chains.
#
# What exists today: the AMM program, tested natively on a solana-program-test bank. The keeper,
# the API, the Solana JSON-RPC localnet and anvil with Uniswap V2 arrive with their issues; until
# then this script builds everything in release and says what it will start.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_toolchain
log "building the workspace in release (target dir: $CARGO_TARGET_DIR)"
cargo build --workspace --release --locked

cat <<'PLAN'

localnet will start (each piece lands with its issue):
  - anvil with Uniswap V2 (factory, router, WETH9) on 127.0.0.1:8545
  - the Solana JSON-RPC localnet with the AMM program and SPL Token on 127.0.0.1:8899
  - the keeper, live-trading local money only, over both chains
  - app-api on http://127.0.0.1:8080 (docs at /api/v1/docs)
  - a launch simulator: healthy, taxed, honeypot, blacklisting, mint-authority and thin tokens

Today only the program and its native tests exist: run scripts/test.sh to see them pass.
PLAN
