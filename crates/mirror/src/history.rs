//! What the mirror recorded, read back in order for `keeper backtest`: the pools discovered in a
//! period, their reserves after every event, and their risk reports. Reads only; every table here
//! is owned by the stage that writes it (sources, risk).

use sqlx::SqlitePool;

use crate::Result;

/// A pool discovered in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPool {
    pub id: i64,
    pub chain: String,
    pub venue: String,
    pub address: String,
    pub token_a: String,
    pub token_b: String,
    /// The side scored and traded (EVM); `None`: token_a.
    pub base_token: Option<String>,
    pub fee_bps: Option<i64>,
    pub created_slot: Option<i64>,
    pub first_seen_at_ms: i64,
}

/// A pool's reserves after one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEvent {
    pub id: i64,
    pub pool_id: i64,
    pub slot: i64,
    /// When the keeper stored the event (unix ms): the keeper's clock, the one its reports
    /// carry, so that the replay knows each event when the live trader did.
    pub at_ms: i64,
    pub reserve_a: String,
    pub reserve_b: String,
}

/// A risk report, as the trader received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryReport {
    pub id: i64,
    pub pool_id: i64,
    pub token: String,
    pub score: i64,
    pub tradeable: bool,
    /// JSON array of findings.
    pub findings: String,
    pub measured_slot: Option<i64>,
    pub created_at_ms: i64,
}

/// Pools first seen in `[from_ms, to_ms)` (of `chain` when given), oldest first.
pub async fn pools(db: &SqlitePool, chain: Option<&str>, from_ms: i64, to_ms: i64) -> Result<Vec<HistoryPool>> {
    Ok(sqlx::query_as!(
        HistoryPool,
        r#"SELECT id AS "id!", chain, venue, address, token_a, token_b, base_token, fee_bps, created_slot,
                  first_seen_at_ms
           FROM pools WHERE first_seen_at_ms >= ?1 AND first_seen_at_ms < ?2 AND (?3 IS NULL OR chain = ?3)
           ORDER BY first_seen_at_ms, id"#,
        from_ms,
        to_ms,
        chain
    )
    .fetch_all(db)
    .await?)
}

/// The reserve changes of those pools before `to_ms`, in chain order per pool.
pub async fn events(db: &SqlitePool, chain: Option<&str>, from_ms: i64, to_ms: i64) -> Result<Vec<HistoryEvent>> {
    Ok(sqlx::query_as!(
        HistoryEvent,
        r#"SELECT e.id AS "id!", p.id AS "pool_id!", e.slot,
                  e.ingested_at_ms AS "at_ms!: i64",
                  e.reserve_a_after AS "reserve_a!", e.reserve_b_after AS "reserve_b!"
           FROM pool_events e JOIN pools p ON p.chain = e.chain AND p.address = e.pool_address
           WHERE p.first_seen_at_ms >= ?1 AND p.first_seen_at_ms < ?2 AND (?3 IS NULL OR p.chain = ?3)
             AND e.reserve_a_after IS NOT NULL AND e.reserve_b_after IS NOT NULL
             AND e.ingested_at_ms < ?2
           ORDER BY p.id, e.slot, e.id"#,
        from_ms,
        to_ms,
        chain
    )
    .fetch_all(db)
    .await?)
}

/// The risk reports of those pools made before `to_ms`, oldest first.
pub async fn reports(db: &SqlitePool, chain: Option<&str>, from_ms: i64, to_ms: i64) -> Result<Vec<HistoryReport>> {
    Ok(sqlx::query_as!(
        HistoryReport,
        r#"SELECT r.id AS "id!", r.pool_id, r.token, r.score, r.tradeable AS "tradeable: bool", r.findings,
                  r.measured_slot, r.created_at_ms
           FROM risk_reports r JOIN pools p ON p.id = r.pool_id
           WHERE p.first_seen_at_ms >= ?1 AND p.first_seen_at_ms < ?2 AND (?3 IS NULL OR p.chain = ?3)
             AND r.created_at_ms < ?2
           ORDER BY r.created_at_ms, r.id"#,
        from_ms,
        to_ms,
        chain
    )
    .fetch_all(db)
    .await?)
}
