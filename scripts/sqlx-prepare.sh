#!/usr/bin/env bash
# Regenerates the committed sqlx offline query data (.sqlx/) after a query or migration changes.
# Needs sqlx-cli 0.8 (installed here on first use); the normal build never needs a database.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_toolchain
command -v cargo-sqlx >/dev/null || cargo install sqlx-cli --version "^0.8" --no-default-features --features sqlite --locked
db="$(mktemp -d)/prepare.db"
export DATABASE_URL="sqlite://$db"
sqlx database create
sqlx migrate run --source migrations
SQLX_OFFLINE=false cargo sqlx prepare --workspace -- --all-targets
rm -f "$db"*
