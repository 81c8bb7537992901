// The SQL of the API's hot pool reads (see `direct.rs`), composed from a small, closed set of
// shapes. Plain `std` only: `build.rs` includes this file too, prepares every shape against
// the migrated schema and checks the columns, so a statement that does not fit the schema
// fails the build, like a `sqlx::query!` does.

/// How a pool page is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolSort {
    /// Newest first (`first_seen_at_ms`, then id).
    Age,
    /// Largest quote-side reserve first (by digit count, then digits: reserves are decimal
    /// strings), then id.
    Liquidity,
}

/// Which filters and cursor a pool statement has: every combination is one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolShape {
    pub chain: bool,
    pub venue: bool,
    pub token: bool,
    pub sort: PoolSort,
    pub after: bool,
}

/// Every pool-list shape (32).
pub fn every_shape() -> Vec<PoolShape> {
    let mut out = Vec::new();
    for bits in 0u8..16 {
        for sort in [PoolSort::Age, PoolSort::Liquidity] {
            out.push(PoolShape {
                chain: bits & 1 != 0,
                venue: bits & 2 != 0,
                token: bits & 4 != 0,
                after: bits & 8 != 0,
                sort,
            });
        }
    }
    out
}

/// The quote-side reserve: the side that is not `base_token` (reserve_b when unknown).
const QUOTE_RESERVE: &str =
    "CASE WHEN p.base_token = p.token_a THEN p.reserve_b WHEN p.base_token = p.token_b THEN p.reserve_a ELSE p.reserve_b END";

/// The columns every pool statement returns, in order (`direct::Pool` reads them by
/// position; the build checks the names).
pub const POOL_COLUMNS: [&str; 39] = [
    "id",
    "chain",
    "venue",
    "address",
    "token_a",
    "token_b",
    "reserve_a",
    "reserve_b",
    "lp_supply",
    "fee_bps",
    "created_slot",
    "created_tx",
    "created_block_time",
    "first_seen_at_ms",
    "base_token",
    "creator",
    "risk_id",
    "score",
    "verdict",
    "tradeable",
    "summary",
    "risk_created_at_ms",
    "quote_reserve",
    "listed",
    "dex",
    "pair_address",
    "url",
    "price_usd",
    "liquidity_usd",
    "fdv_usd",
    "market_cap_usd",
    "pair_created_at_ms",
    "websites",
    "socials",
    "fetched_at_ms",
    "base_symbol",
    "base_name",
    "base_decimals",
    "quote_decimals",
];

fn select() -> String {
    format!(
        "SELECT p.id, p.chain, p.venue, p.address, p.token_a, p.token_b, p.reserve_a, p.reserve_b, p.lp_supply,
            p.fee_bps, p.created_slot, p.created_tx, p.created_block_time, p.first_seen_at_ms, p.base_token,
            p.creator, r.id AS risk_id, r.score, r.verdict, r.tradeable, r.summary,
            r.created_at_ms AS risk_created_at_ms, {QUOTE_RESERVE} AS quote_reserve,
            m.listed, m.dex, m.pair_address, m.url, m.price_usd, m.liquidity_usd, m.fdv_usd, m.market_cap_usd,
            m.pair_created_at_ms, m.websites, m.socials, m.fetched_at_ms,
            bt.symbol AS base_symbol, bt.name AS base_name, bt.decimals AS base_decimals,
            qt.decimals AS quote_decimals
         FROM pools p
         LEFT JOIN risk_reports r ON r.id = (SELECT max(id) FROM risk_reports WHERE pool_id = p.id)
         LEFT JOIN token_markets m ON m.chain = p.chain AND m.token = COALESCE(p.base_token, p.token_a)
         LEFT JOIN tokens bt ON bt.chain = p.chain AND bt.address = COALESCE(p.base_token, p.token_a)
         LEFT JOIN tokens qt ON qt.chain = p.chain
            AND qt.address = CASE WHEN p.base_token = p.token_b THEN p.token_a ELSE p.token_b END
         WHERE 1 = 1"
    )
}

/// A page of pools. Parameters, in order: chain, venue, token (twice), the cursor (age: seen,
/// id; liquidity: digit count, reserve, id), then the row limit; each only when the shape has it.
pub fn pool_list(s: PoolShape) -> String {
    let mut sql = select();
    if s.chain {
        sql.push_str(" AND p.chain = ?");
    }
    if s.venue {
        sql.push_str(" AND p.venue = ?");
    }
    if s.token {
        sql.push_str(" AND (p.token_a = ? OR p.token_b = ?)");
    }
    match s.sort {
        PoolSort::Age => {
            if s.after {
                sql.push_str(" AND (p.first_seen_at_ms, p.id) < (?, ?)");
            }
            sql.push_str(" ORDER BY p.first_seen_at_ms DESC, p.id DESC");
        }
        PoolSort::Liquidity => {
            if s.after {
                sql.push_str(&format!(" AND (length({QUOTE_RESERVE}), {QUOTE_RESERVE}, p.id) < (?, ?, ?)"));
            }
            sql.push_str(&format!(" ORDER BY length({QUOTE_RESERVE}) DESC, {QUOTE_RESERVE} DESC, p.id DESC"));
        }
    }
    sql.push_str(" LIMIT ?");
    sql
}

/// How many parameters [`pool_list`] of `s` takes.
pub fn pool_list_params(s: PoolShape) -> usize {
    let cursor = match (s.after, s.sort) {
        (false, _) => 0,
        (true, PoolSort::Age) => 2,
        (true, PoolSort::Liquidity) => 3,
    };
    usize::from(s.chain) + usize::from(s.venue) + 2 * usize::from(s.token) + cursor + 1
}

/// One pool by chain and address (parameters: chain, address).
pub fn pool_by_address() -> String {
    format!("{} AND p.chain = ? AND p.address = ?", select())
}
