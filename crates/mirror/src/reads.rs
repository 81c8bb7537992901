//! Reads app-api serves, each one statement (the hot list reads of pools and discoveries are
//! in app-api's direct reader; see the known gaps).

use serde::Serialize;
use sqlx::SqlitePool;

use crate::Result;

/// The newest ids of pools, pool events and trades: where a follower starts.
pub async fn newest_ids(db: &SqlitePool) -> Result<(i64, i64, i64)> {
    let r = sqlx::query!(
        r#"SELECT (SELECT COALESCE(max(id), 0) FROM pools) AS "pools!: i64",
                  (SELECT COALESCE(max(id), 0) FROM pool_events) AS "events!: i64",
                  (SELECT COALESCE(max(id), 0) FROM trades) AS "trades!: i64""#
    )
    .fetch_one(db)
    .await?;
    Ok((r.pools, r.events, r.trades))
}

/// A pool as the stream announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPool {
    pub id: i64,
    pub chain: String,
    pub venue: String,
    pub address: String,
    pub token_a: String,
    pub token_b: String,
    pub first_seen_at_ms: i64,
}

pub async fn pools_after(db: &SqlitePool, after_id: i64) -> Result<Vec<StreamPool>> {
    Ok(sqlx::query_as!(
        StreamPool,
        r#"SELECT id AS "id!", chain, venue, address, token_a, token_b, first_seen_at_ms FROM pools
           WHERE id > ? ORDER BY id LIMIT 500"#,
        after_id
    )
    .fetch_all(db)
    .await?)
}

/// A pool event as the stream announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    pub id: i64,
    pub chain: String,
    pub pool_address: Option<String>,
    pub tx_id: String,
    pub slot: i64,
    pub kind: String,
    pub a_to_b: Option<bool>,
    pub amount_in: Option<String>,
    pub amount_out: Option<String>,
}

pub async fn events_after(db: &SqlitePool, after_id: i64) -> Result<Vec<StreamEvent>> {
    Ok(sqlx::query_as!(
        StreamEvent,
        r#"SELECT id AS "id!", chain, pool_address, tx_id, slot, kind, a_to_b AS "a_to_b: bool", amount_in, amount_out
           FROM pool_events WHERE id > ? ORDER BY id LIMIT 500"#,
        after_id
    )
    .fetch_all(db)
    .await?)
}

/// A trade as the stream sends it: each status it reaches once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamTrade {
    pub id: i64,
    pub chain: String,
    pub mode: String,
    pub side: String,
    pub reason: String,
    pub status: String,
    pub token: String,
    pub position_id: i64,
    pub amount_in: String,
    pub min_out: String,
    pub amount_out: Option<String>,
    pub tx_id: Option<String>,
    pub block: Option<i64>,
    pub error: Option<String>,
}

/// Trades in flight (intent or sent): (id, status).
pub async fn trades_in_flight(db: &SqlitePool) -> Result<Vec<(i64, String)>> {
    let rows = sqlx::query!(r#"SELECT id AS "id!", status FROM trades WHERE status IN ('intent', 'sent')"#)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.status)).collect())
}

/// Trades after `after_id`, and those of `ids` (a JSON array) whatever their id.
pub async fn trades_after_or_in(db: &SqlitePool, after_id: i64, ids_json: &str) -> Result<Vec<StreamTrade>> {
    Ok(sqlx::query_as!(
        StreamTrade,
        r#"SELECT id AS "id!", chain, mode, side, reason, status, token, position_id, amount_in, min_out, amount_out,
                  tx_id, block, error
           FROM trades WHERE id > ? OR id IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT 500"#,
        after_id,
        ids_json
    )
    .fetch_all(db)
    .await?)
}

/// An AMM pool's tokens, reserves, fee, the slot its reserves are from, and its config account
/// (from its indexed creation event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmmPool {
    pub token_a: String,
    pub token_b: String,
    pub reserve_a: String,
    pub reserve_b: String,
    pub fee_bps: Option<i64>,
    pub reserves_slot: i64,
    pub config: Option<String>,
}

pub async fn amm_pool(db: &SqlitePool, chain: &str, address: &str) -> Result<Option<AmmPool>> {
    Ok(sqlx::query_as!(
        AmmPool,
        r#"SELECT p.token_a, p.token_b, p.reserve_a, p.reserve_b, p.fee_bps, p.reserves_slot,
              (SELECT json_extract(e.data, '$.config') FROM pool_events e
               WHERE e.chain = p.chain AND e.pool_address = p.address AND e.kind = 'pool_created' LIMIT 1)
                  AS "config: String"
           FROM pools p WHERE p.chain = ? AND p.address = ? AND p.venue = 'amm'"#,
        chain,
        address
    )
    .fetch_optional(db)
    .await?)
}

/// A token as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRow {
    pub chain: String,
    pub address: String,
    pub symbol: Option<String>,
    pub name: Option<String>,
    pub decimals: Option<i64>,
    /// Base units, exact decimal string.
    pub total_supply: Option<String>,
    pub first_seen_at_ms: i64,
}

pub async fn token(db: &SqlitePool, chain: &str, address: &str) -> Result<Option<TokenRow>> {
    Ok(sqlx::query_as!(
        TokenRow,
        "SELECT chain, address, symbol, name, decimals, total_supply, first_seen_at_ms FROM tokens
         WHERE chain = ? AND address = ?",
        chain,
        address
    )
    .fetch_optional(db)
    .await?)
}

/// Tokens newest first, optionally of one chain, after the cursor `(first_seen_at_ms, chain,
/// address)`; at most `limit`.
pub async fn tokens_page(
    db: &SqlitePool,
    chain: Option<&str>,
    after: Option<(i64, &str, &str)>,
    limit: i64,
) -> Result<Vec<TokenRow>> {
    let (seen, after_chain, after_address) = match after {
        Some((s, c, a)) => (Some(s), Some(c), Some(a)),
        None => (None, None, None),
    };
    Ok(sqlx::query_as!(
        TokenRow,
        "SELECT chain, address, symbol, name, decimals, total_supply, first_seen_at_ms FROM tokens
         WHERE (?1 IS NULL OR chain = ?1)
           AND (?2 IS NULL OR (first_seen_at_ms, chain, address) < (?2, ?3, ?4))
         ORDER BY first_seen_at_ms DESC, chain DESC, address DESC LIMIT ?5",
        chain,
        seen,
        after_chain,
        after_address,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// A token's latest risk report, and how many it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestReport {
    pub id: i64,
    pub pool_address: String,
    pub score: i64,
    pub verdict: String,
    pub tradeable: bool,
    pub summary: String,
    /// JSON array of findings.
    pub findings: String,
    pub measured_slot: Option<i64>,
    pub created_at_ms: i64,
}

pub async fn latest_report(db: &SqlitePool, chain: &str, token: &str) -> Result<(Option<LatestReport>, i64)> {
    let latest = sqlx::query_as!(
        LatestReport,
        r#"SELECT id AS "id!", pool_address, score, verdict, tradeable AS "tradeable: bool", summary, findings,
                  measured_slot, created_at_ms
           FROM risk_reports WHERE chain = ? AND token = ? ORDER BY id DESC LIMIT 1"#,
        chain,
        token
    )
    .fetch_optional(db)
    .await?;
    let count = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!: i64" FROM risk_reports WHERE chain = ? AND token = ?"#,
        chain,
        token
    )
    .fetch_one(db)
    .await?;
    Ok((latest, count))
}

/// A token's risk reports, newest first (at most `limit`): its report history.
pub async fn report_history(db: &SqlitePool, chain: &str, token: &str, limit: i64) -> Result<Vec<LatestReport>> {
    Ok(sqlx::query_as!(
        LatestReport,
        r#"SELECT id AS "id!", pool_address, score, verdict, tradeable AS "tradeable: bool", summary, findings,
                  measured_slot, created_at_ms
           FROM risk_reports WHERE chain = ? AND token = ? ORDER BY id DESC LIMIT ?"#,
        chain,
        token,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// A trade as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TradeListRow {
    pub id: i64,
    pub position_id: i64,
    pub chain: String,
    pub mode: String,
    pub side: String,
    pub reason: String,
    pub status: String,
    pub token: String,
    pub amount_in: String,
    pub quoted_out: String,
    pub min_out: String,
    pub amount_out: Option<String>,
    pub tx_id: Option<String>,
    pub block: Option<i64>,
    pub fee_paid: Option<String>,
    pub error: Option<String>,
    pub attempts: i64,
    /// The venue and pool it went through when not its position's own (a trapped position's
    /// exit through another route); `null`: the position's.
    pub venue: Option<String>,
    pub pool_address: Option<String>,
    pub created_at_ms: i64,
    pub settled_at_ms: Option<i64>,
}

/// Filters of the trade and position lists (`None`: any).
#[derive(Debug, Clone, Copy, Default)]
pub struct TradeFilter<'a> {
    pub chain: Option<&'a str>,
    pub mode: Option<&'a str>,
    /// Trades only.
    pub side: Option<&'a str>,
    pub status: Option<&'a str>,
    /// Only ids below this (the cursor).
    pub before_id: Option<i64>,
    /// Only positions in this pool, and their trades.
    pub pool: Option<&'a str>,
}

/// Trades newest first.
pub async fn trades_page(db: &SqlitePool, f: &TradeFilter<'_>, limit: i64) -> Result<Vec<TradeListRow>> {
    Ok(sqlx::query_as!(
        TradeListRow,
        r#"SELECT id AS "id!", position_id, chain, mode, side, reason, status, token, amount_in, quoted_out, min_out,
                  amount_out, tx_id, block, fee_paid, error, attempts, venue, pool_address, created_at_ms,
                  settled_at_ms
           FROM trades
           WHERE (?1 IS NULL OR chain = ?1) AND (?2 IS NULL OR mode = ?2) AND (?3 IS NULL OR side = ?3)
             AND (?4 IS NULL OR status = ?4) AND (?5 IS NULL OR id < ?5)
             AND (?7 IS NULL OR position_id IN (SELECT id FROM positions WHERE pool_address = ?7))
           ORDER BY id DESC LIMIT ?6"#,
        f.chain,
        f.mode,
        f.side,
        f.status,
        f.before_id,
        limit,
        f.pool
    )
    .fetch_all(db)
    .await?)
}

/// An aggregator's quote for one of our buys, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AggregatorQuoteRow {
    #[serde(skip)]
    pub trade_id: i64,
    pub service: String,
    pub their_out: Option<String>,
    pub diff_bps: Option<i64>,
    pub error: Option<String>,
    pub created_at_ms: i64,
}

/// The aggregator quotes of trades `first..=last` by id.
pub async fn aggregator_quotes(db: &SqlitePool, first: i64, last: i64) -> Result<Vec<AggregatorQuoteRow>> {
    Ok(sqlx::query_as!(
        AggregatorQuoteRow,
        "SELECT trade_id, service, their_out, diff_bps, error, created_at_ms FROM aggregator_quotes
         WHERE trade_id BETWEEN ? AND ? ORDER BY trade_id, service",
        first,
        last
    )
    .fetch_all(db)
    .await?)
}

/// A position as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PositionListRow {
    pub id: i64,
    pub chain: String,
    pub mode: String,
    /// opening, open, trapped, closing, closed or failed.
    pub status: String,
    pub pool_address: String,
    /// Where it trades: amm (ours), a V2 venue, or a Solana venue reached through Jupiter.
    pub venue: String,
    pub token: String,
    pub quote_token: String,
    /// Tokens held, quote paid, quote received from sells (base units).
    pub size: String,
    pub cost: String,
    pub proceeds: String,
    /// What the whole size would sell for at the last valuation, after the sell tax.
    pub last_value: Option<String>,
    pub peak_value: Option<String>,
    pub exit_reason: Option<String>,
    pub opened_at_ms: i64,
    pub closed_at_ms: Option<i64>,
    /// USD (exact decimal strings, from CoinGecko prices of the quote token; none until priced):
    /// the quote token's price now, cost at the entry price, proceeds at the exit price, the
    /// open size's value now, and PnL (realized once closed, unrealized while open).
    pub quote_usd: Option<String>,
    pub cost_usd: Option<String>,
    pub proceeds_usd: Option<String>,
    pub value_usd: Option<String>,
    pub pnl_usd: Option<String>,
    pub usd_at_ms: Option<i64>,
    /// Since when, and why, the position is trapped (while it is).
    pub trapped_at_ms: Option<i64>,
    pub trapped_reason: Option<String>,
    /// The buy's latency funnel: the pool seen, the decision to buy (the buy's intent recorded),
    /// the buy sent and included (unix ms), the block (slot) of the launch and of the buy, and
    /// pool seen to first broadcast in microseconds.
    pub seen_at_ms: Option<i64>,
    pub decided_at_ms: Option<i64>,
    pub sent_at_ms: Option<i64>,
    pub included_at_ms: Option<i64>,
    pub launch_block: Option<i64>,
    pub buy_block: Option<i64>,
    pub latency_us: Option<i64>,
}

/// Positions newest first (`side` is ignored).
pub async fn positions_page(db: &SqlitePool, f: &TradeFilter<'_>, limit: i64) -> Result<Vec<PositionListRow>> {
    Ok(sqlx::query_as!(
        PositionListRow,
        r#"SELECT positions.id AS "id!", positions.chain AS chain, positions.mode AS mode,
                  positions.status AS status, positions.pool_address AS pool_address, positions.venue AS venue,
                  positions.token AS token, positions.quote_token AS quote_token, positions.size AS size,
                  positions.cost AS cost, positions.proceeds AS proceeds, positions.last_value AS last_value,
                  positions.peak_value AS peak_value, positions.exit_reason AS exit_reason,
                  positions.opened_at_ms AS opened_at_ms, positions.closed_at_ms AS closed_at_ms,
                  positions.quote_usd AS quote_usd, positions.cost_usd AS cost_usd,
                  positions.proceeds_usd AS proceeds_usd, positions.value_usd AS value_usd,
                  positions.pnl_usd AS pnl_usd, positions.usd_at_ms AS usd_at_ms,
                  positions.trapped_at_ms AS trapped_at_ms, positions.trapped_reason AS trapped_reason,
                  (SELECT first_seen_at_ms FROM pools WHERE pools.id = positions.pool_id) AS "seen_at_ms?: i64",
                  b.created_at_ms AS "decided_at_ms?: i64",
                  b.sent_at_ms AS "sent_at_ms?: i64", b.settled_at_ms AS "included_at_ms?: i64",
                  (SELECT created_slot FROM pools WHERE pools.id = positions.pool_id) AS "launch_block?: i64",
                  b.block AS "buy_block?: i64", b.latency_us AS "latency_us?: i64"
           FROM positions
           LEFT JOIN trades b ON b.id = (SELECT min(id) FROM trades WHERE trades.position_id = positions.id
                                             AND trades.side = 'buy')
           WHERE (?1 IS NULL OR positions.chain = ?1) AND (?2 IS NULL OR positions.mode = ?2)
             AND (?3 IS NULL OR positions.status = ?3) AND (?4 IS NULL OR positions.id < ?4)
             AND (?6 IS NULL OR positions.pool_address = ?6)
           ORDER BY positions.id DESC LIMIT ?5"#,
        f.chain,
        f.mode,
        f.status,
        f.before_id,
        limit,
        f.pool
    )
    .fetch_all(db)
    .await?)
}

/// One event of a position's health history.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PositionEventRow {
    pub id: i64,
    pub position_id: i64,
    /// trapped, recovered or exit_blocked.
    pub kind: String,
    pub block: Option<i64>,
    /// The finding, shaped as in risk reports: check, severity, explanation, measured.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub finding: serde_json::Value,
    pub created_at_ms: i64,
}

/// A position's health history, oldest first (`None` when there is no such position).
pub async fn position_events(db: &SqlitePool, position_id: i64) -> Result<Option<Vec<PositionEventRow>>> {
    let exists = sqlx::query_scalar!("SELECT id FROM positions WHERE id = ?", position_id).fetch_optional(db).await?;
    if exists.is_none() {
        return Ok(None);
    }
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", position_id, kind, block, finding, created_at_ms FROM position_events
           WHERE position_id = ? ORDER BY id"#,
        position_id
    )
    .fetch_all(db)
    .await?;
    Ok(Some(
        rows.into_iter()
            .map(|r| PositionEventRow {
                id: r.id,
                position_id: r.position_id,
                kind: r.kind,
                block: r.block,
                finding: serde_json::from_str(&r.finding).unwrap_or(serde_json::Value::Null),
                created_at_ms: r.created_at_ms,
            })
            .collect(),
    ))
}

/// A pool's reserves after one event that changed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReservePoint {
    pub slot: i64,
    /// The block's time (unix seconds) when the chain gave it, and when the keeper stored the
    /// event (unix ms): a time axis for chains and dry runs whose events carry no block time.
    pub block_time: Option<i64>,
    pub ingested_at_ms: i64,
    pub kind: String,
    pub reserve_a: String,
    pub reserve_b: String,
}

/// The latest 500 reserve changes of a pool, oldest first.
pub async fn reserve_history(db: &SqlitePool, chain: &str, pool: &str) -> Result<Vec<ReservePoint>> {
    let mut points = sqlx::query_as!(
        ReservePoint,
        r#"SELECT slot, block_time, ingested_at_ms, kind, reserve_a_after AS "reserve_a!", reserve_b_after AS "reserve_b!"
           FROM pool_events
           WHERE chain = ? AND pool_address = ? AND reserve_a_after IS NOT NULL AND reserve_b_after IS NOT NULL
           ORDER BY slot DESC, id DESC LIMIT 500"#,
        chain,
        pool
    )
    .fetch_all(db)
    .await?;
    points.reverse();
    Ok(points)
}

/// A pool event as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PoolEventListRow {
    pub id: i64,
    pub chain: String,
    pub pool_address: Option<String>,
    pub tx_id: String,
    pub slot: i64,
    pub block_time: Option<i64>,
    /// pool_created, liquidity_added, liquidity_removed, swap, status_changed, fees_collected...
    pub kind: String,
    pub actor: Option<String>,
    pub a_to_b: Option<bool>,
    pub amount_in: Option<String>,
    pub amount_out: Option<String>,
    pub amount_a: Option<String>,
    pub amount_b: Option<String>,
    pub lp_amount: Option<String>,
    pub reserve_a_after: Option<String>,
    pub reserve_b_after: Option<String>,
}

/// A pool's events newest first, optionally of one kind, below the cursor id.
pub async fn pool_events_page(
    db: &SqlitePool,
    chain: &str,
    pool: &str,
    kind: Option<&str>,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<PoolEventListRow>> {
    Ok(sqlx::query_as!(
        PoolEventListRow,
        r#"SELECT id AS "id!", chain, pool_address, tx_id, slot, block_time, kind, actor, a_to_b AS "a_to_b: bool",
                  amount_in, amount_out, amount_a, amount_b, lp_amount, reserve_a_after, reserve_b_after
           FROM pool_events
           WHERE chain = ?1 AND pool_address = ?2 AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR id < ?4)
           ORDER BY id DESC LIMIT ?5"#,
        chain,
        pool,
        kind,
        before_id,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// A closed position's result, for the performance figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedPosition {
    pub id: i64,
    pub chain: String,
    pub mode: String,
    pub quote_token: String,
    pub cost: String,
    pub proceeds: String,
    pub exit_reason: Option<String>,
    pub closed_at_ms: i64,
}

/// Every closed position, in the order they closed.
pub async fn closed_positions(db: &SqlitePool, chain: Option<&str>, mode: Option<&str>) -> Result<Vec<ClosedPosition>> {
    Ok(sqlx::query_as!(
        ClosedPosition,
        r#"SELECT id AS "id!", chain, mode, quote_token, cost, proceeds, exit_reason,
                  closed_at_ms AS "closed_at_ms!: i64"
           FROM positions
           WHERE status = 'closed' AND closed_at_ms IS NOT NULL
             AND (?1 IS NULL OR chain = ?1) AND (?2 IS NULL OR mode = ?2)
           ORDER BY closed_at_ms, id"#,
        chain,
        mode
    )
    .fetch_all(db)
    .await?)
}

/// One chain's trading in one mode now: positions held, and its breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainActivity {
    pub chain: String,
    pub mode: String,
    /// Opening, open or closing; and trapped.
    pub open_positions: i64,
    pub trapped_positions: i64,
    pub consecutive_failures: i64,
    pub breaker_open_until_ms: i64,
}

/// Every (chain, mode) that holds a position or has a breaker state.
pub async fn chain_activity(db: &SqlitePool) -> Result<Vec<ChainActivity>> {
    Ok(sqlx::query_as!(
        ChainActivity,
        r#"SELECT k.chain AS "chain!", k.mode AS "mode!",
                  (SELECT count(*) FROM positions p WHERE p.chain = k.chain AND p.mode = k.mode
                     AND p.status IN ('opening', 'open', 'closing')) AS "open_positions!: i64",
                  (SELECT count(*) FROM positions p WHERE p.chain = k.chain AND p.mode = k.mode
                     AND p.status = 'trapped') AS "trapped_positions!: i64",
                  COALESCE(s.consecutive_failures, 0) AS "consecutive_failures!: i64",
                  COALESCE(s.breaker_open_until_ms, 0) AS "breaker_open_until_ms!: i64"
           FROM (SELECT chain, mode FROM positions UNION SELECT chain, mode FROM trading_state) k
           LEFT JOIN trading_state s ON s.chain = k.chain AND s.mode = k.mode
           ORDER BY k.chain, k.mode"#
    )
    .fetch_all(db)
    .await?)
}

/// What each buy since `since_ms` spent (failed buys left out): (chain, mode, amount_in).
pub async fn buys_since(db: &SqlitePool, since_ms: i64) -> Result<Vec<(String, String, String)>> {
    Ok(sqlx::query!(
        "SELECT chain, mode, amount_in FROM trades WHERE side = 'buy' AND status != 'failed' AND created_at_ms >= ?",
        since_ms
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.chain, r.mode, r.amount_in))
    .collect())
}

/// Addresses of `chain`'s pools on one of `venues` first seen at or after `since_ms` (an EVM
/// source's pairs whose reserve changes it mirrors).
pub async fn young_pools(db: &SqlitePool, chain: &str, venues: &[String], since_ms: i64) -> Result<Vec<String>> {
    let venues = serde_json::to_string(venues).unwrap_or_else(|_| "[]".into());
    Ok(sqlx::query_scalar!(
        "SELECT address FROM pools WHERE chain = ? AND first_seen_at_ms >= ?
           AND venue IN (SELECT value FROM json_each(?)) ORDER BY id",
        chain,
        since_ms,
        venues
    )
    .fetch_all(db)
    .await?)
}
