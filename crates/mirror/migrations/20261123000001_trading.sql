-- Guarded execution: positions, every trade (intent before it is sent), per-chain breaker state.
-- Amounts are canonical decimal TEXT in the base units of the token named (see the first migration).

-- One position per bought token: what was paid (`cost`, quote token), what is held (`size`, token),
-- what sells returned (`proceeds`), and the latest valuation for unrealized PnL and trailing stops.
CREATE TABLE positions (
    id              INTEGER PRIMARY KEY,
    chain           TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('dry_run', 'live')),
    status          TEXT NOT NULL CHECK (status IN ('opening', 'open', 'closing', 'closed', 'failed')),
    pool_id         INTEGER NOT NULL,
    pool_address    TEXT NOT NULL,
    venue           TEXT NOT NULL,
    token           TEXT NOT NULL,
    quote_token     TEXT NOT NULL,
    size            TEXT NOT NULL DEFAULT '0' CHECK (size GLOB '[0-9]*'),
    cost            TEXT NOT NULL DEFAULT '0' CHECK (cost GLOB '[0-9]*'),
    proceeds        TEXT NOT NULL DEFAULT '0' CHECK (proceeds GLOB '[0-9]*'),
    -- What the whole size would sell for now (after the measured sell tax), and the highest such
    -- value since entry (trailing stop).
    last_value      TEXT CHECK (last_value GLOB '[0-9]*'),
    peak_value      TEXT CHECK (peak_value GLOB '[0-9]*'),
    buy_tax_bps     INTEGER NOT NULL DEFAULT 0,
    sell_tax_bps    INTEGER NOT NULL DEFAULT 0,
    exit_reason     TEXT CHECK (exit_reason IN ('take_profit', 'stop_loss', 'trailing_stop', 'max_hold')),
    exit_attempts   INTEGER NOT NULL DEFAULT 0,
    next_exit_at_ms INTEGER NOT NULL DEFAULT 0,
    opened_at_ms    INTEGER NOT NULL,
    entry_at_ms     INTEGER,
    valued_at_ms    INTEGER,
    closed_at_ms    INTEGER,
    error           TEXT
) STRICT;
-- The database itself refuses a second live position in a token: no retry or crash can buy twice.
CREATE UNIQUE INDEX positions_one_active_per_token ON positions (chain, token, mode)
    WHERE status IN ('opening', 'open', 'closing');
CREATE INDEX positions_by_status ON positions (status, id);
CREATE INDEX positions_by_token ON positions (chain, token, opened_at_ms);

-- Every buy and sell. A row is written as an `intent` before anything is signed; each signed
-- transaction (EVM hash at its nonce, Solana signature with its blockhash expiry) is appended to
-- `tx_ids` before it is broadcast, so a restart reconciles it from the chain.
CREATE TABLE trades (
    id              INTEGER PRIMARY KEY,
    position_id     INTEGER NOT NULL REFERENCES positions (id),
    chain           TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('dry_run', 'live')),
    side            TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    reason          TEXT NOT NULL,            -- snipe, take_profit, stop_loss, trailing_stop, max_hold
    status          TEXT NOT NULL CHECK (status IN ('intent', 'sent', 'confirmed', 'failed')),
    token           TEXT NOT NULL,
    amount_in       TEXT NOT NULL CHECK (amount_in GLOB '[0-9]*'),
    quoted_out      TEXT NOT NULL CHECK (quoted_out GLOB '[0-9]*'),
    min_out         TEXT NOT NULL CHECK (min_out GLOB '[0-9]*'),
    amount_out      TEXT CHECK (amount_out GLOB '[0-9]*'),
    tx_ids          TEXT NOT NULL DEFAULT '[]', -- JSON array, oldest first
    tx_id           TEXT,                     -- the transaction that landed
    raw_tx          TEXT,                     -- the last signed transaction, for rebroadcast
    request         TEXT,                     -- what to sign again (EVM call / Solana accounts), JSON
    nonce           INTEGER,
    valid_until     INTEGER,                  -- Solana: last valid block height of the last signature
    block           INTEGER,
    fee_paid        TEXT CHECK (fee_paid GLOB '[0-9]*'), -- gas or lamports
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    latency_us      INTEGER,                  -- pool creation seen -> first broadcast (buys)
    created_at_ms   INTEGER NOT NULL,
    sent_at_ms      INTEGER,
    settled_at_ms   INTEGER
) STRICT;
CREATE UNIQUE INDEX trades_one_open_per_side ON trades (position_id, side) WHERE status IN ('intent', 'sent');
CREATE INDEX trades_by_chain_time ON trades (chain, mode, side, created_at_ms);
CREATE INDEX trades_unsettled ON trades (status) WHERE status IN ('intent', 'sent');

-- The circuit breaker of each chain, persisted so a restart does not reset it.
CREATE TABLE trading_state (
    chain                   TEXT NOT NULL,
    mode                    TEXT NOT NULL CHECK (mode IN ('dry_run', 'live')),
    consecutive_failures    INTEGER NOT NULL DEFAULT 0,
    breaker_open_until_ms   INTEGER NOT NULL DEFAULT 0,
    updated_at_ms           INTEGER NOT NULL,
    PRIMARY KEY (chain, mode)
) STRICT, WITHOUT ROWID;
