-- What the third-party services add: DexScreener's market of every discovered token, USD values
-- of positions (CoinGecko prices of their quote token) and aggregator quotes compared with the
-- keeper's own on EVM buys. USD figures are exact decimal TEXT (e.g. '1234.5', '-0.25'), never
-- floats.

-- The token's deepest DexScreener pair when the keeper looked (`listed` = 0: DexScreener had none).
CREATE TABLE token_markets (
    chain               TEXT NOT NULL,
    token               TEXT NOT NULL,
    listed              INTEGER NOT NULL CHECK (listed IN (0, 1)),
    dex                 TEXT,
    pair_address        TEXT,
    url                 TEXT,
    price_usd           TEXT,
    liquidity_usd       TEXT,
    fdv_usd             TEXT,
    market_cap_usd      TEXT,
    pair_created_at_ms  INTEGER,
    websites            TEXT NOT NULL DEFAULT '[]',   -- JSON array of URLs
    socials             TEXT NOT NULL DEFAULT '[]',   -- JSON array of "platform:handle"
    fetched_at_ms       INTEGER NOT NULL,
    PRIMARY KEY (chain, token)
) STRICT, WITHOUT ROWID;

-- USD view of a position: the quote token's CoinGecko price at entry, at exit and now, and the
-- cost, proceeds, current value and PnL it gives. NULL while no price is known.
ALTER TABLE positions ADD COLUMN entry_quote_usd TEXT;
ALTER TABLE positions ADD COLUMN exit_quote_usd TEXT;
ALTER TABLE positions ADD COLUMN quote_usd TEXT;
ALTER TABLE positions ADD COLUMN cost_usd TEXT;
ALTER TABLE positions ADD COLUMN proceeds_usd TEXT;
ALTER TABLE positions ADD COLUMN value_usd TEXT;
ALTER TABLE positions ADD COLUMN pnl_usd TEXT;
ALTER TABLE positions ADD COLUMN usd_at_ms INTEGER;

-- On EVM buys: what 0x and 1inch quoted for the same input, against the keeper's exact pair quote
-- (`our_out`). `diff_bps` = (theirs - ours) * 10000 / ours: positive when the aggregator would
-- have delivered more.
CREATE TABLE aggregator_quotes (
    id              INTEGER PRIMARY KEY,
    trade_id        INTEGER NOT NULL REFERENCES trades (id),
    chain           TEXT NOT NULL,
    service         TEXT NOT NULL CHECK (service IN ('zeroex', 'oneinch')),
    our_out         TEXT NOT NULL CHECK (our_out GLOB '[0-9]*'),
    their_out       TEXT CHECK (their_out GLOB '[0-9]*'),
    diff_bps        INTEGER,
    error           TEXT,
    created_at_ms   INTEGER NOT NULL,
    UNIQUE (trade_id, service)
) STRICT;
CREATE INDEX aggregator_quotes_by_chain ON aggregator_quotes (chain, id DESC);
