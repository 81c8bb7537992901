-- app-api: operator accounts, sessions, the audit log, and the keeper controls operators set.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,            -- argon2id PHC string
    role            TEXT NOT NULL DEFAULT 'viewer' CHECK (role IN ('viewer', 'operator')),
    created_at_ms   INTEGER NOT NULL
) STRICT;

-- Only the SHA-256 of a session token is stored; the token itself is shown once, at login.
CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY NOT NULL,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at_ms   INTEGER NOT NULL,
    expires_at_ms   INTEGER NOT NULL,
    revoked_at_ms   INTEGER,
    ip              TEXT
) STRICT;
CREATE INDEX sessions_by_expiry ON sessions (expires_at_ms);

-- Every auth event and operator action, with who, from where and when.
CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    at_ms           INTEGER NOT NULL,
    user_id         INTEGER,
    username        TEXT,
    ip              TEXT,
    action          TEXT NOT NULL,            -- register, login, login_failed, logout, keeper_pause, ...
    detail          TEXT                      -- JSON
) STRICT;

-- What the keeper obeys (one row): operators pause/resume trading and set its limits here.
CREATE TABLE keeper_controls (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    paused          INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    limits          TEXT NOT NULL DEFAULT '{}', -- JSON, see app-api's KeeperLimits
    updated_at_ms   INTEGER NOT NULL DEFAULT 0,
    updated_by      TEXT
) STRICT;
INSERT INTO keeper_controls (id) VALUES (1);
