-- The trading settings the keeper started with (JSON of mirror::KeeperSettings: exit levels,
-- risk and position limits, per-chain budgets), so that the dashboard can draw a position's
-- take-profit, stop-loss and trailing levels and show the budget used against its limit.
ALTER TABLE keeper_mode ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
