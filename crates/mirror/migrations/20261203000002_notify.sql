-- The keeper's notifications: an outbox the notifier fills from the mirror (never from the
-- trading hot path), and the state it resumes from. Written by the keeper's notifier only.

-- One row per notification, built once; every channel delivers the rows after its own cursor.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('buy', 'sell', 'trapped', 'breaker', 'health', 'daily')),
    -- What it is about, so that a re-scan never builds it twice (e.g. `trade:12`).
    dedupe_key      TEXT NOT NULL UNIQUE,
    title           TEXT NOT NULL,            -- plain text; each channel escapes for its format
    body            TEXT NOT NULL,            -- plain text, one fact per line
    fields          TEXT NOT NULL,            -- JSON object of the values, for webhook templates
    profit          INTEGER CHECK (profit IN (-1, 0, 1)), -- a sale's PnL sign (Discord colour)
    created_at_ms   INTEGER NOT NULL
) STRICT;

-- Cursors and watermarks: `scan:trades`, `scan:position_events`, `channel:<name>` (the last
-- notification id delivered), `telegram:offset` (the next getUpdates offset), `breaker:<chain>:<mode>`,
-- `down:<task>`, `daily` (the last date summarised).
CREATE TABLE notify_state (
    key             TEXT PRIMARY KEY,
    value           TEXT NOT NULL,
    updated_at_ms   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
