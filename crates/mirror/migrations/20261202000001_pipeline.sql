-- The trader's decision on every risk report: a buy (with its position and trade) or a skip
-- with its reason. Append-only; a report replayed to the trader gets another row.
CREATE TABLE decisions (
    id              INTEGER PRIMARY KEY,
    report_id       INTEGER NOT NULL REFERENCES risk_reports (id) ON DELETE CASCADE,
    pool_id         INTEGER NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    chain           TEXT NOT NULL,
    token           TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('dry_run', 'live')),
    action          TEXT NOT NULL CHECK (action IN ('buy', 'skip')),
    reason          TEXT,                     -- a stable label for skips: score, paused, daily_budget, ...
    detail          TEXT NOT NULL,            -- in plain words, with the numbers
    position_id     INTEGER,
    trade_id        INTEGER,
    decided_at_ms   INTEGER NOT NULL,
    CHECK ((action = 'buy') = (position_id IS NOT NULL))
) STRICT;
CREATE INDEX decisions_by_report ON decisions (report_id);
CREATE INDEX decisions_by_token ON decisions (chain, token, id DESC);

-- The keeper's long-running tasks as its task set last saw them (health output).
CREATE TABLE keeper_tasks (
    name            TEXT PRIMARY KEY,
    state           TEXT NOT NULL CHECK (state IN ('running', 'restarting', 'stopped', 'failed')),
    critical        INTEGER NOT NULL CHECK (critical IN (0, 1)),
    restarts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    updated_at_ms   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
