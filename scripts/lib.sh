# Shared setup for the scripts: sourced, not run.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# One target directory outside the clone, shared by every checkout and CI run on this machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/amm-sniper/target}"
mkdir -p "$CARGO_TARGET_DIR"

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# rust-toolchain.toml pins 1.95.0. Machines here ship it as `stable`; make sure rustup knows it
# by its version so it never tries to download it (no network beyond the package registries).
ensure_toolchain() {
  local want="1.95.0"
  command -v rustup >/dev/null 2>&1 || { command -v cargo >/dev/null || { echo "cargo not found: install Rust $want" >&2; exit 1; }; return; }
  if ! rustup toolchain list | grep -q "^$want"; then
    local stable_dir
    stable_dir="$(rustup toolchain list -v | awk '/^stable/ {print $NF}' | head -n1)"
    if [ -n "$stable_dir" ] && RUSTUP_TOOLCHAIN=stable rustc --version | grep -q " $want "; then
      log "linking the installed stable toolchain as $want"
      rustup toolchain link "$want-x86_64-unknown-linux-gnu" "$stable_dir"
    else
      log "installing Rust $want"
      rustup toolchain install "$want" --profile minimal --component rustfmt,clippy
    fi
  fi
}

# Node tools (package.json / package-lock.json, exact pins): the anvil node, the
# Uniswap V2 build artifacts, solc-js, and the Solana clients the wallet tests drive the localnet
# with (web3.js, spl-token, Anchor TS). Reinstalled only when the lockfile changes.
ensure_node_tools() {
  if ! command -v npm >/dev/null 2>&1; then
    log "installing node and npm (Debian packages)"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq nodejs npm >/dev/null
  fi
  local stamp="node_modules/.lock-sha256" want
  want="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [ ! -x node_modules/.bin/anvil ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "npm ci (anvil, Uniswap V2 artifacts, solc-js, the Solana clients)"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
  log "compiling the Solidity test tokens (solc-js)"
  node scripts/evm/compile.mjs
}

# The dashboard (dashboard/package.json and its lockfile, exact pins): npm ci when the lockfile
# changes, then the type check, the unit tests (vitest) when asked, and the build into
# dashboard/dist, which app-api serves at /.
ensure_dashboard() {
  local stamp="dashboard/node_modules/.lock-sha256" want
  want="$(sha256sum dashboard/package-lock.json | cut -d' ' -f1)"
  if [ ! -d dashboard/node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "npm ci (the dashboard: React, Vite, lightweight-charts, vitest, playwright-core)"
    (cd dashboard && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
  if [ "${1:-}" = "--test" ]; then
    log "dashboard unit tests (vitest)"
    (cd dashboard && npx vitest run)
  fi
  log "building the dashboard (type check, vite build)"
  (cd dashboard && npm run --silent build >/dev/null)
}

# Debian's Chromium, for the dashboard's end-to-end test (Playwright drives it through
# executablePath: no browser can be downloaded). CHROMIUM names another binary.
ensure_chromium() {
  export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
  [ -x "$CHROMIUM" ] && return 0
  log "installing Debian's chromium (the dashboard's end-to-end test)"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq chromium >/dev/null; }
  [ -x "$CHROMIUM" ] || { echo "chromium did not install at $CHROMIUM" >&2; return 1; }
}

# Python tools (scripts/requirements-dev.txt) in a venv next to the shared target directory.
ensure_python_tools() {
  local venv="${XDG_CACHE_HOME:-$HOME/.cache}/amm-sniper/venv"
  local stamp="$venv/.requirements-sha256" want
  want="$(sha256sum scripts/requirements-dev.txt | cut -d' ' -f1)"
  if [ ! -x "$venv/bin/schemathesis" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Python test tools (schemathesis, aiosmtpd) into $venv"
    command -v python3 >/dev/null 2>&1 || { local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"; $sudo apt-get install -y -qq python3 python3-venv >/dev/null; }
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-dev.txt
    echo "$want" > "$stamp"
  fi
  export SCHEMATHESIS="$venv/bin/schemathesis"
  # A real SMTP server for the notifier's email tests.
  export AIOSMTPD="$venv/bin/aiosmtpd"
}
