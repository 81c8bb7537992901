#!/usr/bin/env bash
# The main job: run the whole system on local chains until Ctrl-C.
#
#   - the Solana JSON-RPC localnet (AMM + SPL Token) on 127.0.0.1:8899 (websocket 8900)
#   - anvil with Uniswap V2 (factory, router, WETH9) on 127.0.0.1:8545
#   - a launch simulator: healthy, taxed, honeypot, blacklisting, mint-authority, whale and thin
#     tokens, and simulated traders swapping in the pools launched before
#   - the keeper over both chains: discovery, risk scoring, mirror, and LIVE trading with wallets
#     generated and funded by the localnet (local money only; keys in .localnet/*.key, mode 0600)
#   - app-api on http://127.0.0.1:8080 (the dashboard at /, docs at /api/v1/docs), building wallet transactions for
#     both chains (Solana swaps, liquidity, transfers and Actions; Uniswap V2 calldata on anvil)
#
# State lives in .localnet/: the chains (anvil's state, the Solana accounts and ledger), the
# simulator's state, the keys and the keeper's mirror. Running it again resumes all of them where
# the last run stopped. `scripts/localnet.sh --fresh` starts new chains and a new mirror (the
# previous mirror is kept as .localnet/keeper.db.prev).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_toolchain
ensure_node_tools
ensure_dashboard
# The same build as scripts/test.sh (same profile, same features): right after the tests this
# compiles nothing. The binaries are the ones the end-to-end test runs.
log "building keeper, app-api and the localnet (the test build, target dir $CARGO_TARGET_DIR)"
cargo test --workspace --locked --no-run 2>&1 | sed -u '/^  Executable /d' 
bin="$CARGO_TARGET_DIR/debug"
dir="$ROOT/.localnet"
mkdir -p "$dir"
fresh=()
case "${1:-}" in
  --fresh) fresh=(--fresh) ;;
  "") ;;
  *) echo "usage: scripts/localnet.sh [--fresh]" >&2; exit 2 ;;
esac
# A mirror only makes sense with the chains it mirrors: new chains get a new mirror.
if [ ${#fresh[@]} -gt 0 ] || [ ! -e "$dir/localnet.json" ]; then
  for f in keeper.db keeper.db-wal keeper.db-shm; do
    if [ -e "$dir/$f" ]; then mv -f "$dir/$f" "$dir/$f.prev"; fi
  done
fi
rm -f "$dir/ready"

pids=()
cleanup() {
  trap - EXIT INT TERM
  log "stopping"
  # The API and the keeper first, then the chains (which save their state as they stop).
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

# (The AMM runs natively here, so its msg! lines reach stdout: "Instruction: …" is dropped.)
# The chains run in their own session: Ctrl-C reaches the keeper and the API, never anvil, so
# the chains stop last, when this script tells them to, and save their state. The log filters
# ignore Ctrl-C, so every process can still print how it stopped.
RUST_LOG="${RUST_LOG:-error,alloy_rpc_client=off}" setsid "$bin/localnet" "$dir" "${fresh[@]}" \
  > >(trap '' INT; grep --line-buffered -v '^Instruction: ' | sed -u 's/^/[chains] /') 2>&1 &
pids+=($!)
for _ in $(seq 600); do
  [ -e "$dir/ready" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "the local chains stopped" >&2; exit 1; }
  sleep 0.2
done
[ -e "$dir/ready" ] || { echo "the local chains did not start" >&2; exit 1; }

"$bin/keeper" --config "$dir/keeper.toml" db migrate
KEEPER_LOG__FILTER="${KEEPER_LOG__FILTER:-keeper=info,warn}" "$bin/keeper" --config "$dir/keeper.toml" run \
  > >(trap '' INT; sed -u 's/^/[keeper] /') 2>&1 &
pids+=($!)
# The chains tell the API where they are (Solana RPC, anvil and its Uniswap V2 router).
set -a; source "$dir/app-api.env"; set +a
"$bin/app-api" --db "$dir/keeper.db" --listen 127.0.0.1:8080 --dashboard "$ROOT/dashboard/dist" \
  > >(trap '' INT; sed -u 's/^/[api]    /') 2>&1 &
pids+=($!)

printf '\n  Solana RPC  http://127.0.0.1:8899   (websocket ws://127.0.0.1:8900)\n'
printf '  anvil       http://127.0.0.1:8545\n'
printf '  dashboard   http://127.0.0.1:8080/\n'
printf '  API         http://127.0.0.1:8080/api/v1/discoveries\n'
printf '  API docs    http://127.0.0.1:8080/api/v1/docs\n'
printf '  metrics     http://127.0.0.1:9464/metrics (keeper), http://127.0.0.1:8080/api/v1/metrics (API)\n'
printf '\n  Ctrl-C stops everything.\n\n'
wait -n "${pids[@]}" || true
