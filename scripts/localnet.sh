#!/usr/bin/env bash
# The main job: run the whole system on local chains until Ctrl-C.
#
#   - the Solana JSON-RPC localnet (AMM + SPL Token) on 127.0.0.1:8899 (websocket 8900)
#   - anvil with Uniswap V2 (factory, router, WETH9) on 127.0.0.1:8545
#   - a launch simulator: healthy, taxed, honeypot, blacklisting, mint-authority, whale and thin
#     tokens, and simulated traders swapping in the pools launched before
#   - the keeper over both chains: discovery, risk scoring, mirror, and LIVE trading with wallets
#     generated and funded by the localnet (local money only; keys in .localnet/*.key, mode 0600)
#   - app-api on http://127.0.0.1:8080 (docs at /api/v1/docs)
#
# State lives in .localnet/: the chains (anvil's state, the Solana accounts and ledger), the
# simulator's state, the keys and the keeper's mirror. Running it again resumes all of them where
# the last run stopped. `scripts/localnet.sh --fresh` starts new chains and a new mirror (the
# previous mirror is kept as .localnet/keeper.db.prev).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_toolchain
ensure_node_tools
profile="bench-fast" # release without LTO: optimised, and quick to rebuild
log "building keeper, app-api and the localnet (profile $profile, target dir $CARGO_TARGET_DIR)"
cargo build --locked --profile "$profile" -p keeper --bin keeper -p app-api --bin app-api -p tests --bin localnet
bin="$CARGO_TARGET_DIR/$profile"
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
RUST_LOG="${RUST_LOG:-error,alloy_rpc_client=off}" "$bin/localnet" "$dir" "${fresh[@]}" \
  > >(grep --line-buffered -v '^Instruction: ' | sed -u 's/^/[chains] /') 2>&1 &
pids+=($!)
for _ in $(seq 600); do
  [ -e "$dir/ready" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "the local chains stopped" >&2; exit 1; }
  sleep 0.2
done
[ -e "$dir/ready" ] || { echo "the local chains did not start" >&2; exit 1; }

"$bin/keeper" --config "$dir/keeper.toml" db migrate
KEEPER_LOG__FILTER="${KEEPER_LOG__FILTER:-keeper=info,warn}" "$bin/keeper" --config "$dir/keeper.toml" run \
  > >(sed -u 's/^/[keeper] /') 2>&1 &
pids+=($!)
"$bin/app-api" --db "$dir/keeper.db" --listen 127.0.0.1:8080 > >(sed -u 's/^/[api]    /') 2>&1 &
pids+=($!)

printf '\n  Solana RPC  http://127.0.0.1:8899   (websocket ws://127.0.0.1:8900)\n'
printf '  anvil       http://127.0.0.1:8545\n'
printf '  API         http://127.0.0.1:8080/api/v1/discoveries\n'
printf '  API docs    http://127.0.0.1:8080/api/v1/docs\n'
printf '  metrics     http://127.0.0.1:9464/metrics (keeper), http://127.0.0.1:8080/api/v1/metrics (API)\n'
printf '\n  Ctrl-C stops everything.\n\n'
wait -n "${pids[@]}" || true
