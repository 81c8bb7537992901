-- How the keeper runs (one row, written by the keeper's task set when it starts): whether it
-- trades at all, and live or dry-run, so that the API and the dashboard can say so plainly.
CREATE TABLE keeper_mode (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    trading         INTEGER NOT NULL CHECK (trading IN (0, 1)),
    mode            TEXT NOT NULL CHECK (mode IN ('dry_run', 'live')),
    started_at_ms   INTEGER NOT NULL
) STRICT;
