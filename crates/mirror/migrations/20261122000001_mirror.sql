-- The keeper's mirror of on-chain state: tokens, pools, pool events and per-source checkpoints.
--
-- Conventions (the contract between keeper and app-api):
--  * `chain` is a configured chain name: ethereum, bsc, polygon, solana, or a local chain's name.
--  * Addresses are text: base58 on Solana, 0x-prefixed lowercase hex on EVM chains.
--  * Token amounts are exact non-negative integers stored as canonical decimal TEXT (no sign, no
--    leading zeros): u64 and U256 both overflow SQLite's INTEGER. Canonical decimals compare
--    numerically by (length(x), x), which the indexes below use for sorting by liquidity.
--  * `slot` is the Solana slot or the EVM block number. Times are unix seconds (block time) or
--    unix milliseconds (`*_at_ms`, the keeper's own clock).

CREATE TABLE chains (
    name        TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('evm', 'solana')),
    chain_id    INTEGER
) STRICT;

CREATE TABLE tokens (
    chain           TEXT NOT NULL,
    address         TEXT NOT NULL,
    symbol          TEXT,
    name            TEXT,
    decimals        INTEGER CHECK (decimals BETWEEN 0 AND 255),
    total_supply    TEXT CHECK (total_supply GLOB '[0-9]*'),
    first_seen_at_ms INTEGER NOT NULL,
    PRIMARY KEY (chain, address)
) STRICT, WITHOUT ROWID;

CREATE TABLE pools (
    id              INTEGER PRIMARY KEY,
    chain           TEXT NOT NULL,
    venue           TEXT NOT NULL,           -- e.g. amm (ours), uniswap_v2, pancakeswap_v2, uniswap_v3
    address         TEXT NOT NULL,
    token_a         TEXT NOT NULL,
    token_b         TEXT NOT NULL,
    reserve_a       TEXT NOT NULL DEFAULT '0' CHECK (reserve_a GLOB '[0-9]*'),
    reserve_b       TEXT NOT NULL DEFAULT '0' CHECK (reserve_b GLOB '[0-9]*'),
    lp_supply       TEXT CHECK (lp_supply GLOB '[0-9]*'),
    fee_bps         INTEGER,
    created_slot    INTEGER,
    created_tx      TEXT,
    created_block_time INTEGER,
    first_seen_at_ms INTEGER NOT NULL,
    -- Slot of the state the reserves reflect; updates from older slots are ignored.
    reserves_slot   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (chain, address)
) STRICT;
CREATE INDEX pools_by_token_a ON pools (chain, token_a);
CREATE INDEX pools_by_token_b ON pools (chain, token_b);
CREATE INDEX pools_by_age ON pools (first_seen_at_ms DESC, id DESC);

CREATE TABLE pool_events (
    id              INTEGER PRIMARY KEY,
    chain           TEXT NOT NULL,
    pool_address    TEXT,                     -- NULL for config events
    -- Natural key: transaction id + instruction (Solana) or log (EVM) index + event index within it.
    tx_id           TEXT NOT NULL,
    ix_index        INTEGER NOT NULL,
    event_index     INTEGER NOT NULL,
    slot            INTEGER NOT NULL,
    block_time      INTEGER,
    kind            TEXT NOT NULL CHECK (kind IN (
                        'config_created', 'config_updated', 'pool_created', 'liquidity_added',
                        'liquidity_removed', 'swap', 'status_changed', 'fees_collected')),
    actor           TEXT,                     -- trader, depositor or admin
    a_to_b          INTEGER CHECK (a_to_b IN (0, 1)),
    amount_in       TEXT CHECK (amount_in GLOB '[0-9]*'),
    amount_out      TEXT CHECK (amount_out GLOB '[0-9]*'),
    amount_a        TEXT CHECK (amount_a GLOB '[0-9]*'),
    amount_b        TEXT CHECK (amount_b GLOB '[0-9]*'),
    lp_amount       TEXT CHECK (lp_amount GLOB '[0-9]*'),
    reserve_a_after TEXT CHECK (reserve_a_after GLOB '[0-9]*'),
    reserve_b_after TEXT CHECK (reserve_b_after GLOB '[0-9]*'),
    lp_supply_after TEXT CHECK (lp_supply_after GLOB '[0-9]*'),
    data            TEXT NOT NULL,            -- the whole decoded event as JSON
    ingested_at_ms  INTEGER NOT NULL,
    UNIQUE (chain, tx_id, ix_index, event_index)
) STRICT;
CREATE INDEX pool_events_by_pool ON pool_events (chain, pool_address, slot, id);
CREATE INDEX pool_events_by_kind ON pool_events (kind, id);

-- One row per source (e.g. `solana:amm`): how far it has durably processed its chain. A source's
-- checkpoint advances in the same transaction as the rows it covers.
CREATE TABLE checkpoints (
    source          TEXT PRIMARY KEY NOT NULL,
    chain           TEXT NOT NULL,
    slot            INTEGER NOT NULL,          -- last fully processed slot / block
    cursor          TEXT,                      -- source-specific position (e.g. newest signature)
    head_slot       INTEGER,                   -- latest head the source has seen, for lag
    updated_at_ms   INTEGER NOT NULL
) STRICT;
