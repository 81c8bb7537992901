#!/usr/bin/env bash
# API benchmark: wrk against GET /api/v1/pools?limit=50 with 10,000 pools in the mirror, and
# GET /api/v1/health in the same run as the baseline. Prints requests/s, p99 and the ratio.
#   scripts/bench-api.sh [CONNECTIONS] [SECONDS]     (defaults 64, 10)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_toolchain
command -v wrk >/dev/null 2>&1 || {
  log "installing wrk (Debian package)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq wrk >/dev/null
}
conns="${1:-64}"; secs="${2:-10}"
log "building app-api (profile bench-fast)"
cargo build -q --profile bench-fast -p app-api
bin="$CARGO_TARGET_DIR/bench-fast/app-api"
dir="$(mktemp -d)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"; port_nc="$(free_port)"
# No rate limit for a load test from one address. A second server runs without the micro-cache.
"$bin" --db "$dir/keeper.db" --listen "127.0.0.1:$port" --rate-per-minute 4000000000 >"$dir/api.log" 2>&1 &
pid=$!
sleep 0.5
"$bin" --db "$dir/keeper.db" --listen "127.0.0.1:$port_nc" --rate-per-minute 4000000000 --cache-ms 0 >"$dir/api-nc.log" 2>&1 &
pid_nc=$!
trap 'kill "$pid" "$pid_nc" 2>/dev/null || true; rm -rf "$dir"' EXIT
for p in "$port" "$port_nc"; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/api/v1/health" >/dev/null && break; sleep 0.1; done
done
python3 - "$dir/keeper.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = []
for i in range(10_000):
    chain = ("solana", "ethereum", "bsc", "polygon")[i % 4]
    rows.append((chain, "amm" if chain == "solana" else "uniswap_v2", f"Pool{i:05d}", f"MintA{i % 97}", "MintB",
                 str(10**9 + i * 7919), str(10**6 + i * 104729), 30, i, 1_700_000_000_000 + i))
db.executemany("""INSERT INTO pools (chain, venue, address, token_a, token_b, reserve_a, reserve_b, fee_bps,
                  created_slot, first_seen_at_ms) VALUES (?,?,?,?,?,?,?,?,?,?)""", rows)
db.commit()
print(f"seeded {db.execute('select count(*) from pools').fetchone()[0]} pools")
PY
run() { # url -> "req/s p99_ms"
  wrk -t2 -c"$conns" -d"${secs}s" --latency "$1" | awk '
    /Requests\/sec/ { rps = $2 }
    /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }; p99 = v }
    END { printf "%s %s\n", rps, p99 }'
}
log "wrk: $conns connections, ${secs}s each, 2 threads"
read -r h_rps h_p99 < <(run "http://127.0.0.1:$port/api/v1/health")
read -r p_rps p_p99 < <(run "http://127.0.0.1:$port/api/v1/pools?limit=50")
read -r n_rps n_p99 < <(run "http://127.0.0.1:$port_nc/api/v1/pools?limit=50")
printf '%-44s %12s %10s %8s\n' endpoint "requests/s" "p99 (ms)" "ratio"
printf '%-44s %12.0f %10.2f %8s\n' "GET /api/v1/health (baseline)" "$h_rps" "$h_p99" "1.00"
printf '%-44s %12.0f %10.2f %8.2f\n' "GET /api/v1/pools?limit=50 (250 ms cache)" "$p_rps" "$p_p99" "$(awk -v a="$p_rps" -v b="$h_rps" 'BEGIN{print a/b}')"
printf '%-44s %12.0f %10.2f %8.2f\n' "GET /api/v1/pools?limit=50 (no cache)" "$n_rps" "$n_p99" "$(awk -v a="$n_rps" -v b="$h_rps" 'BEGIN{print a/b}')"
