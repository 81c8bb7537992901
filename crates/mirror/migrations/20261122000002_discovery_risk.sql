-- New-pair discovery on EVM chains (with reorg unwinding) and risk reports.

-- Where an EVM pool's creation was seen, so a reorg can unwind it, and who created it.
ALTER TABLE pools ADD COLUMN created_block_hash TEXT;
ALTER TABLE pools ADD COLUMN created_log_index INTEGER;
ALTER TABLE pools ADD COLUMN creator TEXT;
-- The side of the pair being evaluated: the token that is not the quote (wrapped native, USDC...).
ALTER TABLE pools ADD COLUMN base_token TEXT;
CREATE INDEX pools_by_chain_slot ON pools (chain, created_slot);

-- Recent block hashes each EVM discovery source has processed, to detect a reorg by a parent-hash
-- mismatch and find the common ancestor. Pruned below the chain's confirmation depth.
CREATE TABLE evm_blocks (
    chain       TEXT NOT NULL,
    number      INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (chain, number)
) STRICT, WITHOUT ROWID;

-- Every risk assessment ever made (history: a token can be re-scored). Reports of a pool that a
-- reorg unwinds go with it.
CREATE TABLE risk_reports (
    id              INTEGER PRIMARY KEY,
    pool_id         INTEGER NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    chain           TEXT NOT NULL,
    pool_address    TEXT NOT NULL,
    token           TEXT NOT NULL,
    score           INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    verdict         TEXT NOT NULL CHECK (verdict IN ('low', 'medium', 'high', 'critical')),
    tradeable       INTEGER NOT NULL CHECK (tradeable IN (0, 1)),
    summary         TEXT NOT NULL,
    findings        TEXT NOT NULL,            -- JSON array of {check, severity, explanation, measured}
    measured_slot   INTEGER,                  -- block / slot of the state measured
    discovered_at_ms INTEGER NOT NULL,        -- when the keeper first saw the pool
    created_at_ms   INTEGER NOT NULL,
    elapsed_us      INTEGER NOT NULL          -- time spent measuring and scoring
) STRICT;
CREATE INDEX risk_reports_by_token ON risk_reports (chain, token, id DESC);
CREATE INDEX risk_reports_by_pool ON risk_reports (pool_id, id DESC);
