//! The notifier's tables, written by the keeper's notifier only: the `notifications` outbox and
//! `notify_state` (its cursors and watermarks); plus the reads it builds notifications from.

use sqlx::SqlitePool;

use crate::{now_ms, Result};

/// One notification to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub id: i64,
    pub kind: String,
    pub dedupe_key: String,
    pub title: String,
    pub body: String,
    pub fields: String,
    pub profit: Option<i64>,
    pub created_at_ms: i64,
}

/// A notification to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub kind: &'static str,
    pub dedupe_key: String,
    pub title: String,
    pub body: String,
    pub fields: String,
    pub profit: Option<i64>,
}

/// Stores a notification once: `false` when one with the same key exists already.
pub async fn insert(db: &SqlitePool, n: &NewNotification) -> Result<bool> {
    let now = now_ms();
    let done = sqlx::query!(
        "INSERT INTO notifications (kind, dedupe_key, title, body, fields, profit, created_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
        n.kind,
        n.dedupe_key,
        n.title,
        n.body,
        n.fields,
        n.profit,
        now
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Notifications after `after`, oldest first.
pub async fn after(db: &SqlitePool, after: i64, limit: i64) -> Result<Vec<NotificationRow>> {
    Ok(sqlx::query_as!(
        NotificationRow,
        r#"SELECT id AS "id!", kind, dedupe_key, title, body, fields, profit, created_at_ms
           FROM notifications WHERE id > ? ORDER BY id LIMIT ?"#,
        after,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// The newest notification's id (0 without any).
pub async fn newest(db: &SqlitePool) -> Result<i64> {
    Ok(sqlx::query_scalar!(r#"SELECT COALESCE(max(id), 0) AS "id!: i64" FROM notifications"#).fetch_one(db).await?)
}

pub async fn state(db: &SqlitePool, key: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar!("SELECT value FROM notify_state WHERE key = ?", key).fetch_optional(db).await?)
}

pub async fn set_state(db: &SqlitePool, key: &str, value: &str) -> Result<()> {
    let now = now_ms();
    sqlx::query!(
        "INSERT INTO notify_state (key, value, updated_at_ms) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms",
        key,
        value,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn clear_state(db: &SqlitePool, key: &str) -> Result<()> {
    sqlx::query!("DELETE FROM notify_state WHERE key = ?", key).execute(db).await?;
    Ok(())
}

/// A confirmed trade, with what a notification says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeNote {
    pub id: i64,
    pub position_id: i64,
    pub chain: String,
    pub mode: String,
    pub side: String,
    pub reason: String,
    pub token: String,
    pub amount_in: String,
    pub amount_out: Option<String>,
    pub tx_id: Option<String>,
    pub quote_token: String,
    pub cost: String,
    pub proceeds: String,
    pub pnl_usd: Option<String>,
    pub symbol: Option<String>,
    pub decimals: Option<i64>,
    pub quote_symbol: Option<String>,
    pub quote_decimals: Option<i64>,
    /// The pool's latest risk report.
    pub score: Option<i64>,
    pub verdict: Option<String>,
    pub findings: Option<String>,
}

/// Confirmed trades after `after`, oldest first.
pub async fn confirmed_trades(db: &SqlitePool, after: i64, limit: i64) -> Result<Vec<TradeNote>> {
    Ok(sqlx::query_as!(
        TradeNote,
        r#"SELECT t.id AS "id!", t.position_id, t.chain, t.mode, t.side, t.reason, t.token, t.amount_in, t.amount_out,
                  t.tx_id, p.quote_token, p.cost, p.proceeds, p.pnl_usd,
                  tk.symbol AS "symbol?", tk.decimals AS "decimals?: i64",
                  q.symbol AS "quote_symbol?", q.decimals AS "quote_decimals?: i64",
                  r.score AS "score?: i64", r.verdict AS "verdict?", r.findings AS "findings?"
           FROM trades t
           JOIN positions p ON p.id = t.position_id
           LEFT JOIN tokens tk ON tk.chain = t.chain AND tk.address = t.token
           LEFT JOIN tokens q ON q.chain = t.chain AND q.address = p.quote_token
           LEFT JOIN risk_reports r ON r.id = (SELECT max(id) FROM risk_reports WHERE pool_id = p.pool_id)
           WHERE t.id > ? AND t.status = 'confirmed' ORDER BY t.id LIMIT ?"#,
        after,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// The first trade after `after` not settled yet: the trade scan's cursor stays below it.
pub async fn first_unsettled_trade(db: &SqlitePool, after: i64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT min(id) AS "id?: i64" FROM trades WHERE id > ? AND status IN ('intent', 'sent')"#,
        after
    )
    .fetch_one(db)
    .await?)
}

/// A position becoming trapped, or sellable again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthNote {
    pub id: i64,
    pub position_id: i64,
    pub kind: String,
    pub block: Option<i64>,
    pub finding: String,
    pub chain: String,
    pub mode: String,
    pub token: String,
    pub size: String,
    pub cost: String,
    pub symbol: Option<String>,
}

/// `trapped` and `recovered` events after `after`, oldest first.
pub async fn health_events(db: &SqlitePool, after: i64, limit: i64) -> Result<Vec<HealthNote>> {
    Ok(sqlx::query_as!(
        HealthNote,
        r#"SELECT e.id AS "id!", e.position_id, e.kind, e.block, e.finding, p.chain, p.mode, p.token, p.size, p.cost,
                  tk.symbol AS "symbol?"
           FROM position_events e
           JOIN positions p ON p.id = e.position_id
           LEFT JOIN tokens tk ON tk.chain = p.chain AND tk.address = p.token
           WHERE e.id > ? AND e.kind IN ('trapped', 'recovered') ORDER BY e.id LIMIT ?"#,
        after,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// The newest event id of `position_events` (0 without any).
pub async fn newest_health_event(db: &SqlitePool) -> Result<i64> {
    Ok(sqlx::query_scalar!(r#"SELECT COALESCE(max(id), 0) AS "id!: i64" FROM position_events"#).fetch_one(db).await?)
}

/// Every chain's breaker: (chain, mode, consecutive failures, open until, unix ms).
pub async fn breakers(db: &SqlitePool) -> Result<Vec<(String, String, i64, i64)>> {
    let rows = sqlx::query!(
        "SELECT chain, mode, consecutive_failures, breaker_open_until_ms FROM trading_state ORDER BY chain, mode"
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.chain, r.mode, r.consecutive_failures, r.breaker_open_until_ms)).collect())
}

/// A position closed since some time, for summaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedNote {
    pub chain: String,
    pub mode: String,
    pub quote_token: String,
    pub cost: String,
    pub proceeds: String,
    pub pnl_usd: Option<String>,
    pub closed_at_ms: i64,
}

/// Positions closed at or after `since_ms`.
pub async fn closed_since(db: &SqlitePool, since_ms: i64) -> Result<Vec<ClosedNote>> {
    Ok(sqlx::query_as!(
        ClosedNote,
        r#"SELECT chain, mode, quote_token, cost, proceeds, pnl_usd, closed_at_ms AS "closed_at_ms!"
           FROM positions WHERE status = 'closed' AND closed_at_ms >= ? ORDER BY closed_at_ms"#,
        since_ms
    )
    .fetch_all(db)
    .await?)
}

/// Quote spent on buys (not failed) on a chain in a mode since `since_ms`: the amounts, summed
/// by the caller (they are U256 decimals).
pub async fn spent_since(db: &SqlitePool, chain: &str, mode: &str, since_ms: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar!(
        "SELECT amount_in FROM trades WHERE chain = ? AND mode = ? AND side = 'buy' AND status != 'failed'
         AND created_at_ms >= ?",
        chain,
        mode,
        since_ms
    )
    .fetch_all(db)
    .await?)
}

/// Positions not closed or failed (open, trapped, opening, closing).
pub async fn open_positions(db: &SqlitePool) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!: i64" FROM positions WHERE status IN ('opening', 'open', 'trapped', 'closing')"#
    )
    .fetch_one(db)
    .await?)
}

/// A position's status, chain, token and size, for the bot's confirmations.
pub async fn position_brief(db: &SqlitePool, id: i64) -> Result<Option<(String, String, String, String)>> {
    let row =
        sqlx::query!("SELECT status, chain, token, size FROM positions WHERE id = ?", id).fetch_optional(db).await?;
    Ok(row.map(|r| (r.status, r.chain, r.token, r.size)))
}
