-- The route a trade takes when it is not its position's own pool: a trapped position's exit
-- through another venue that pairs the same token with the same quote token. NULL on both: the
-- position's own venue and pool.
ALTER TABLE trades ADD COLUMN venue TEXT;
ALTER TABLE trades ADD COLUMN pool_address TEXT;
