//! `anomalies`: written by the keeper's anomaly watch only. It reads what the sources and the
//! risk stage mirrored (pool events, risk reports) of the pools it watches: those under a day old
//! and those with a held position. The trader reads the anomalies of its held positions (an exit,
//! when configured), the notifier and the API read them all.

use sqlx::SqlitePool;

use crate::{now_ms, Mode, Result};

/// A pool the anomaly watch looks at, with what changed since its last look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedPool {
    pub id: i64,
    pub chain: String,
    pub token_a: String,
    pub token_b: String,
    /// The side scored and traded (EVM); `None`: token_a.
    pub base_token: Option<String>,
}

/// The newest pool event and risk report ids: where the next look starts.
pub async fn cursors(db: &SqlitePool) -> Result<(i64, i64)> {
    let events =
        sqlx::query_scalar!(r#"SELECT COALESCE(MAX(id), 0) AS "n!: i64" FROM pool_events"#).fetch_one(db).await?;
    let reports =
        sqlx::query_scalar!(r#"SELECT COALESCE(MAX(id), 0) AS "n!: i64" FROM risk_reports"#).fetch_one(db).await?;
    Ok((events, reports))
}

/// The pools first seen at or after `young_since_ms`, or with a position opening, open, trapped
/// or closing, that have a pool event after `after_event` or a risk report after `after_report`.
/// Read from the new rows (their ids), so a look costs what changed, not every pool.
pub async fn changed(
    db: &SqlitePool,
    young_since_ms: i64,
    after_event: i64,
    after_report: i64,
) -> Result<Vec<WatchedPool>> {
    Ok(sqlx::query_as!(
        WatchedPool,
        r#"SELECT p.id AS "id!", p.chain, p.token_a, p.token_b, p.base_token FROM pools p
           WHERE p.id IN (SELECT q.id FROM pool_events e JOIN pools q ON q.chain = e.chain AND q.address = e.pool_address
                          WHERE e.id > ?2
                          UNION SELECT r.pool_id FROM risk_reports r WHERE r.id > ?3)
             AND (p.first_seen_at_ms >= ?1
                  OR EXISTS (SELECT 1 FROM positions o WHERE o.pool_id = p.id
                             AND o.status IN ('opening', 'open', 'trapped', 'closing')))
           ORDER BY p.id"#,
        young_since_ms,
        after_event,
        after_report
    )
    .fetch_all(db)
    .await?)
}

/// One pool event, as the detector reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesEvent {
    pub id: i64,
    pub slot: i64,
    pub kind: String,
    pub a_to_b: Option<bool>,
    pub amount_in: Option<String>,
    pub amount_out: Option<String>,
    pub reserve_a: Option<String>,
    pub reserve_b: Option<String>,
}

/// One risk report, as the detector reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesReport {
    pub id: i64,
    pub measured_slot: Option<i64>,
    pub created_at_ms: i64,
    /// JSON array of findings.
    pub findings: String,
}

/// The pool's newest `events` pool events and `reports` risk reports, oldest first.
pub async fn series(
    db: &SqlitePool,
    pool_id: i64,
    events: i64,
    reports: i64,
) -> Result<(Vec<SeriesEvent>, Vec<SeriesReport>)> {
    let mut e = sqlx::query_as!(
        SeriesEvent,
        r#"SELECT e.id AS "id!", e.slot, e.kind, e.a_to_b AS "a_to_b: bool", e.amount_in, e.amount_out,
                  e.reserve_a_after AS reserve_a, e.reserve_b_after AS reserve_b
           FROM pool_events e JOIN pools p ON p.chain = e.chain AND p.address = e.pool_address
           WHERE p.id = ? ORDER BY e.slot DESC, e.id DESC LIMIT ?"#,
        pool_id,
        events
    )
    .fetch_all(db)
    .await?;
    e.reverse();
    let mut r = sqlx::query_as!(
        SeriesReport,
        r#"SELECT id AS "id!", measured_slot, created_at_ms, findings FROM risk_reports
           WHERE pool_id = ? ORDER BY id DESC LIMIT ?"#,
        pool_id,
        reports
    )
    .fetch_all(db)
    .await?;
    r.reverse();
    Ok((e, r))
}

/// An anomaly to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAnomaly {
    pub chain: String,
    pub pool_id: i64,
    pub token: String,
    /// `liquidity_drop`, `sell_tax_jump`, `concentration_jump` or `volume_spike`.
    pub kind: String,
    pub severity: String,
    /// The finding JSON.
    pub finding: String,
    /// What it rests on, unique per pool and kind.
    pub evidence: String,
    pub slot: Option<i64>,
}

/// Records `a`; `None` when the same pool, kind and evidence are recorded already.
pub async fn insert(db: &SqlitePool, a: &NewAnomaly) -> Result<Option<i64>> {
    let now = now_ms();
    Ok(sqlx::query_scalar!(
        r#"INSERT INTO anomalies (chain, pool_id, token, kind, severity, finding, evidence, slot, created_at_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (pool_id, kind, evidence) DO NOTHING RETURNING id AS "id!""#,
        a.chain,
        a.pool_id,
        a.token,
        a.kind,
        a.severity,
        a.finding,
        a.evidence,
        a.slot,
        now
    )
    .fetch_optional(db)
    .await?)
}

/// A recorded anomaly.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AnomalyRow {
    pub id: i64,
    pub chain: String,
    pub pool_id: i64,
    pub pool_address: String,
    pub token: String,
    /// The token's symbol as the chain gave it (untrusted text).
    pub symbol: Option<String>,
    pub kind: String,
    pub severity: String,
    /// The finding JSON (check, severity, explanation, measured).
    pub finding: String,
    pub slot: Option<i64>,
    pub created_at_ms: i64,
}

/// A pool's anomalies, newest first.
pub async fn of_pool(db: &SqlitePool, pool_id: i64, limit: i64) -> Result<Vec<AnomalyRow>> {
    Ok(sqlx::query_as!(
        AnomalyRow,
        r#"SELECT a.id AS "id!", a.chain, a.pool_id, p.address AS pool_address, a.token, t.symbol, a.kind,
                  a.severity, a.finding, a.slot, a.created_at_ms
           FROM anomalies a JOIN pools p ON p.id = a.pool_id
           LEFT JOIN tokens t ON t.chain = a.chain AND t.address = a.token
           WHERE a.pool_id = ? ORDER BY a.id DESC LIMIT ?"#,
        pool_id,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// Anomalies after id `after`, oldest first (the notifier's scan).
pub async fn after(db: &SqlitePool, after: i64, limit: i64) -> Result<Vec<AnomalyRow>> {
    Ok(sqlx::query_as!(
        AnomalyRow,
        r#"SELECT a.id AS "id!", a.chain, a.pool_id, p.address AS pool_address, a.token, t.symbol, a.kind,
                  a.severity, a.finding, a.slot, a.created_at_ms
           FROM anomalies a JOIN pools p ON p.id = a.pool_id
           LEFT JOIN tokens t ON t.chain = a.chain AND t.address = a.token
           WHERE a.id > ? ORDER BY a.id LIMIT ?"#,
        after,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// The newest anomaly id (0: none).
pub async fn newest(db: &SqlitePool) -> Result<i64> {
    Ok(sqlx::query_scalar!(r#"SELECT COALESCE(MAX(id), 0) AS "n!: i64" FROM anomalies"#).fetch_one(db).await?)
}

/// Open or trapped positions of `mode` whose pool had an anomaly of one of `kinds` since the
/// position opened, with the first such anomaly's kind: the trader's anomaly exits.
pub async fn exits_due(db: &SqlitePool, mode: Mode, kinds: &[String]) -> Result<Vec<(i64, String)>> {
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let kinds = serde_json::to_string(kinds).unwrap_or_else(|_| "[]".into());
    Ok(sqlx::query!(
        r#"SELECT p.id AS "id!",
                  (SELECT a.kind FROM anomalies a WHERE a.pool_id = p.pool_id AND a.created_at_ms >= p.opened_at_ms
                     AND a.kind IN (SELECT value FROM json_each(?2)) ORDER BY a.id LIMIT 1) AS "kind?: String"
           FROM positions p WHERE p.mode = ?1 AND p.status IN ('open', 'trapped')"#,
        mode,
        kinds
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .filter_map(|r| r.kind.map(|k| (r.id, k)))
    .collect())
}

/// Anomalies recorded at or after `since_ms` on pools with a position opening, open, trapped or
/// closing, newest first: the overview's alerts.
pub async fn on_held(db: &SqlitePool, since_ms: i64, limit: i64) -> Result<Vec<AnomalyRow>> {
    Ok(sqlx::query_as!(
        AnomalyRow,
        r#"SELECT a.id AS "id!", a.chain, a.pool_id, p.address AS pool_address, a.token, t.symbol, a.kind,
                  a.severity, a.finding, a.slot, a.created_at_ms
           FROM anomalies a JOIN pools p ON p.id = a.pool_id
           LEFT JOIN tokens t ON t.chain = a.chain AND t.address = a.token
           WHERE a.created_at_ms >= ? AND EXISTS (SELECT 1 FROM positions o WHERE o.pool_id = a.pool_id
                 AND o.status IN ('opening', 'open', 'trapped', 'closing'))
           ORDER BY a.id DESC LIMIT ?"#,
        since_ms,
        limit
    )
    .fetch_all(db)
    .await?)
}
