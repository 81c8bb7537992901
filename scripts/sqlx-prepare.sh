#!/usr/bin/env bash
# Regenerates the committed sqlx offline query data (.sqlx/) after a query or migration changes.
# The normal build never needs a database: it checks every query against .sqlx/.
#
# How: the migrations are applied to a scratch SQLite file, then the workspace is checked with
# the query macros online against it; with SQLX_OFFLINE_DIR set they write their data there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_toolchain
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python3 - "$scratch/prepare.db" crates/mirror/migrations <<'PY'
import pathlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for f in sorted(pathlib.Path(sys.argv[2]).glob("*.sql")):
    db.executescript(f.read_text())
db.commit()
PY
rm -rf .sqlx && mkdir -p .sqlx
# Every crate with queries must be expanded again: touch their sources.
find crates keeper app-api -name '*.rs' -exec touch {} +
SQLX_OFFLINE=false DATABASE_URL="sqlite://$scratch/prepare.db" SQLX_OFFLINE_DIR="$ROOT/.sqlx" \
  cargo check --workspace --all-targets --locked "$@"
echo "wrote $(ls .sqlx | wc -l) queries to .sqlx/"
