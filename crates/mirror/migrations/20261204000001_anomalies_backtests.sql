-- Anomalies and backtests (the backtest issue).
--
-- `anomalies`, owned by the keeper's anomaly watch: what it flagged on live data of pools under
-- a day old and of held positions (quote liquidity dropping, the sell tax or the holder
-- concentration jumping between two risk reports, a volume spike against the pool's own
-- history). One row per pool, kind and evidence: a repeated scan (after a restart) adds nothing.
--
-- `backtests`, owned by `keeper backtest` and `keeper hyperopt`: each run's settings and report,
-- served by the API. `hyperopt_studies` and `hyperopt_trials`, owned by `keeper hyperopt`: a
-- study is resumed by name, its trials replayed from the mirror instead of run again.
--
-- An anomaly can trigger an exit (configurably, off by default): the exit reason `anomaly`
-- needs a new CHECK on positions.exit_reason, so positions is rebuilt with its dependants as
-- 20261203000006 did.

CREATE TABLE anomalies (
    id              INTEGER PRIMARY KEY,
    chain           TEXT NOT NULL,
    -- A reorged-out pool takes its anomalies with it.
    pool_id         INTEGER NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    token           TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('liquidity_drop', 'sell_tax_jump', 'concentration_jump',
                                                   'volume_spike')),
    severity        TEXT NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    -- The finding, as risk reports carry them: check, severity, explanation, measured.
    finding         TEXT NOT NULL CHECK (json_valid(finding)),
    -- What it rests on (the event or report ids), unique per pool and kind.
    evidence        TEXT NOT NULL,
    slot            INTEGER,
    created_at_ms   INTEGER NOT NULL,
    UNIQUE (pool_id, kind, evidence)
) STRICT;
CREATE INDEX anomalies_by_pool ON anomalies (pool_id, id);
CREATE INDEX anomalies_by_time ON anomalies (created_at_ms, id);

CREATE TABLE backtests (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('backtest', 'hyperopt')),
    -- The hyperopt study it belongs to (its best parameters, out of sample).
    study           TEXT,
    chain           TEXT,
    from_ms         INTEGER NOT NULL,
    to_ms           INTEGER NOT NULL,
    trades          INTEGER NOT NULL,
    total_profit    TEXT NOT NULL CHECK (total_profit GLOB '-[0-9]*' OR total_profit GLOB '[0-9]*'),
    settings        TEXT NOT NULL CHECK (json_valid(settings)),
    report          TEXT NOT NULL CHECK (json_valid(report)),
    created_at_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX backtests_by_time ON backtests (created_at_ms DESC, id DESC);

CREATE TABLE hyperopt_studies (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    -- Period, chain, loss, windows, seed, search space: a resumed study must match them.
    settings        TEXT NOT NULL CHECK (json_valid(settings)),
    created_at_ms   INTEGER NOT NULL
) STRICT;

CREATE TABLE hyperopt_trials (
    study_id        INTEGER NOT NULL REFERENCES hyperopt_studies (id),
    fold            INTEGER NOT NULL,
    number          INTEGER NOT NULL,
    params          TEXT NOT NULL CHECK (json_valid(params)),
    -- Lower is better; a statistic for ranking, never an amount (the amounts are in metrics).
    loss            REAL NOT NULL,
    metrics         TEXT NOT NULL CHECK (json_valid(metrics)),
    created_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (study_id, fold, number)
) STRICT;

CREATE TABLE positions_new (
    id              INTEGER PRIMARY KEY,
    chain           TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('dry_run', 'live')),
    status          TEXT NOT NULL CHECK (status IN ('opening', 'open', 'trapped', 'closing', 'closed', 'failed')),
    pool_id         INTEGER NOT NULL,
    pool_address    TEXT NOT NULL,
    venue           TEXT NOT NULL,
    token           TEXT NOT NULL,
    quote_token     TEXT NOT NULL,
    size            TEXT NOT NULL DEFAULT '0' CHECK (size GLOB '[0-9]*'),
    cost            TEXT NOT NULL DEFAULT '0' CHECK (cost GLOB '[0-9]*'),
    proceeds        TEXT NOT NULL DEFAULT '0' CHECK (proceeds GLOB '[0-9]*'),
    -- What the whole size would return now: the simulated sale's proceeds (0 while a sale
    -- reverts), or the quote less the measured sell tax where no simulation runs; and the
    -- highest such value since entry (trailing stop).
    last_value      TEXT CHECK (last_value GLOB '[0-9]*'),
    peak_value      TEXT CHECK (peak_value GLOB '[0-9]*'),
    buy_tax_bps     INTEGER NOT NULL DEFAULT 0,
    sell_tax_bps    INTEGER NOT NULL DEFAULT 0,
    exit_reason     TEXT CHECK (exit_reason IN ('take_profit', 'stop_loss', 'trailing_stop', 'max_hold', 'trapped',
                                                'operator', 'front_ran_rug', 'anomaly')),
    exit_attempts   INTEGER NOT NULL DEFAULT 0,
    next_exit_at_ms INTEGER NOT NULL DEFAULT 0,
    opened_at_ms    INTEGER NOT NULL,
    entry_at_ms     INTEGER,
    valued_at_ms    INTEGER,
    closed_at_ms    INTEGER,
    error           TEXT,
    entry_quote_usd TEXT,
    exit_quote_usd  TEXT,
    quote_usd       TEXT,
    cost_usd        TEXT,
    proceeds_usd    TEXT,
    value_usd       TEXT,
    pnl_usd         TEXT,
    usd_at_ms       INTEGER,
    -- Set while the position is trapped (also while a sale of it is in flight).
    trapped_at_ms   INTEGER,
    trapped_reason  TEXT,
    CHECK ((status = 'trapped') <= (trapped_at_ms IS NOT NULL))
) STRICT;
INSERT INTO positions_new (id, chain, mode, status, pool_id, pool_address, venue, token, quote_token, size, cost, proceeds, last_value, peak_value, buy_tax_bps, sell_tax_bps, exit_reason, exit_attempts, next_exit_at_ms, opened_at_ms, entry_at_ms, valued_at_ms, closed_at_ms, error, entry_quote_usd, exit_quote_usd, quote_usd, cost_usd, proceeds_usd, value_usd, pnl_usd, usd_at_ms, trapped_at_ms, trapped_reason)
    SELECT id, chain, mode, status, pool_id, pool_address, venue, token, quote_token, size, cost, proceeds, last_value, peak_value, buy_tax_bps, sell_tax_bps, exit_reason, exit_attempts, next_exit_at_ms, opened_at_ms, entry_at_ms, valued_at_ms, closed_at_ms, error, entry_quote_usd, exit_quote_usd, quote_usd, cost_usd, proceeds_usd, value_usd, pnl_usd, usd_at_ms, trapped_at_ms, trapped_reason FROM positions;

CREATE TEMP TABLE trades_copy AS SELECT * FROM trades;
CREATE TEMP TABLE aggregator_quotes_copy AS SELECT * FROM aggregator_quotes;
CREATE TEMP TABLE position_events_copy AS SELECT * FROM position_events;
CREATE TEMP TABLE exit_requests_copy AS SELECT * FROM exit_requests;
DROP TABLE exit_requests;
DROP TABLE aggregator_quotes;
DROP TABLE position_events;
DROP TABLE trades;
DROP TABLE positions;
ALTER TABLE positions_new RENAME TO positions;
CREATE UNIQUE INDEX positions_one_active_per_token ON positions (chain, token, mode)
    WHERE status IN ('opening', 'open', 'trapped', 'closing');
CREATE INDEX positions_by_status ON positions (status, id);
CREATE INDEX positions_by_token ON positions (chain, token, opened_at_ms);

CREATE TABLE trades (
    id              INTEGER PRIMARY KEY,
    position_id     INTEGER NOT NULL REFERENCES positions (id),
    chain           TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('dry_run', 'live')),
    side            TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    reason          TEXT NOT NULL,            -- snipe, take_profit, stop_loss, trailing_stop, max_hold, trapped
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
, venue TEXT, pool_address TEXT) STRICT;
CREATE UNIQUE INDEX trades_one_open_per_side ON trades (position_id, side) WHERE status IN ('intent', 'sent');
CREATE INDEX trades_by_chain_time ON trades (chain, mode, side, created_at_ms);
CREATE INDEX trades_unsettled ON trades (status) WHERE status IN ('intent', 'sent');
INSERT INTO trades (id, position_id, chain, mode, side, reason, status, token, amount_in, quoted_out, min_out, amount_out, tx_ids, tx_id, raw_tx, request, nonce, valid_until, block, fee_paid, error, attempts, latency_us, created_at_ms, sent_at_ms, settled_at_ms, venue, pool_address)
    SELECT id, position_id, chain, mode, side, reason, status, token, amount_in, quoted_out, min_out, amount_out, tx_ids, tx_id, raw_tx, request, nonce, valid_until, block, fee_paid, error, attempts, latency_us, created_at_ms, sent_at_ms, settled_at_ms, venue, pool_address FROM trades_copy;
DROP TABLE trades_copy;

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
INSERT INTO aggregator_quotes (id, trade_id, chain, service, our_out, their_out, diff_bps, error, created_at_ms)
    SELECT id, trade_id, chain, service, our_out, their_out, diff_bps, error, created_at_ms FROM aggregator_quotes_copy;
DROP TABLE aggregator_quotes_copy;

CREATE TABLE position_events (
    id              INTEGER PRIMARY KEY,
    position_id     INTEGER NOT NULL REFERENCES positions (id),
    kind            TEXT NOT NULL CHECK (kind IN ('trapped', 'recovered', 'exit_blocked')),
    block           INTEGER,
    finding         TEXT NOT NULL CHECK (json_valid(finding)),
    created_at_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX position_events_by_position ON position_events (position_id, id);
INSERT INTO position_events (id, position_id, kind, block, finding, created_at_ms)
    SELECT id, position_id, kind, block, finding, created_at_ms FROM position_events_copy;
DROP TABLE position_events_copy;

-- One request per position; asking again changes nothing. The trader acts on a request while
-- its position is open or trapped; a failed sell goes back and is retried like any exit.
CREATE TABLE exit_requests (
    position_id     INTEGER PRIMARY KEY REFERENCES positions (id),
    requested_at_ms INTEGER NOT NULL,
    requested_by    TEXT NOT NULL           -- `api:<user>` or `telegram:<chat id>`
) STRICT;
INSERT INTO exit_requests (position_id, requested_at_ms, requested_by)
    SELECT position_id, requested_at_ms, requested_by FROM exit_requests_copy;
DROP TABLE exit_requests_copy;

-- Anomalies are a notification kind of their own (channels choose their level for it).
CREATE TABLE notifications_new (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('buy', 'sell', 'trapped', 'breaker', 'health', 'daily', 'anomaly')),
    -- What it is about, so that a re-scan never builds it twice (e.g. `trade:12`).
    dedupe_key      TEXT NOT NULL UNIQUE,
    title           TEXT NOT NULL,            -- plain text; each channel escapes for its format
    body            TEXT NOT NULL,            -- plain text, one fact per line
    fields          TEXT NOT NULL,            -- JSON object of the values, for webhook templates
    profit          INTEGER CHECK (profit IN (-1, 0, 1)), -- a sale's PnL sign (Discord colour)
    created_at_ms   INTEGER NOT NULL
) STRICT;
INSERT INTO notifications_new (id, kind, dedupe_key, title, body, fields, profit, created_at_ms)
    SELECT id, kind, dedupe_key, title, body, fields, profit, created_at_ms FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
