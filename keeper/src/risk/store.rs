//! Risk reports in the mirror: append-only history per token and pool.

use sqlx::{FromRow, SqlitePool};

use super::Assessment;

/// A pool as the risk worker and the trader read it: waiting for (or given) a risk report.
#[derive(Debug, Clone, FromRow)]
pub struct PendingPool {
    pub id: i64,
    pub chain: String,
    pub venue: String,
    pub address: String,
    pub token_a: String,
    pub token_b: String,
    pub base_token: Option<String>,
    pub created_slot: Option<i64>,
    pub created_tx: Option<String>,
    /// Unix seconds of the creating block, when known (Solana indexer).
    pub created_block_time: Option<i64>,
    pub first_seen_at_ms: i64,
}

/// The columns of [`PendingPool`].
pub(crate) const PENDING_COLUMNS: &str =
    "id, chain, venue, address, token_a, token_b, base_token, created_slot, created_tx, created_block_time, first_seen_at_ms";

/// Pools on `chains` that have no report yet, oldest first: what a restarted keeper (or the
/// Solana side, which discovers pools through the indexer) still has to score.
pub async fn unscored(db: &SqlitePool, chains: &[String], limit: i64) -> sqlx::Result<Vec<PendingPool>> {
    let mut out = Vec::new();
    for chain in chains {
        let rows: Vec<PendingPool> = sqlx::query_as(&format!(
            "SELECT {PENDING_COLUMNS} FROM pools p WHERE chain = ? AND NOT EXISTS (SELECT 1 FROM risk_reports r WHERE r.pool_id = p.id)
             ORDER BY id LIMIT ?"
        ))
        .bind(chain)
        .bind(limit)
        .fetch_all(db)
        .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// EVM pools still empty in the mirror, discovered less than `max_age_ms` ago, whose latest
/// report is older than `after_ms` or a quarter of the pool's age, whichever is longer (so a pair
/// that never gets funded costs a few dozen evaluations, not one every sweep): pairs created
/// first and funded later.
pub async fn empty_and_due(
    db: &SqlitePool,
    chains: &[String],
    after_ms: i64,
    max_age_ms: i64,
    limit: i64,
) -> sqlx::Result<Vec<PendingPool>> {
    let now = crate::mirror::now_ms();
    let mut out = Vec::new();
    for chain in chains {
        let rows: Vec<PendingPool> = sqlx::query_as(&format!(
            "SELECT {PENDING_COLUMNS} FROM pools p WHERE chain = ?5 AND reserve_a = '0' AND reserve_b = '0' AND first_seen_at_ms > ?3
               AND (SELECT max(created_at_ms) FROM risk_reports r WHERE r.pool_id = p.id)
                   < ?1 - max(?2, (?1 - first_seen_at_ms) / 4)
             ORDER BY id LIMIT ?4"
        ))
        .bind(now)
        .bind(after_ms)
        .bind(now.saturating_sub(max_age_ms))
        .bind(limit)
        .bind(chain)
        .fetch_all(db)
        .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Appends a report. Fails (foreign key) if a reorg removed the pool meanwhile.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    db: &SqlitePool,
    pool: &PendingPool,
    token: &str,
    assessment: &Assessment,
    measured_slot: Option<u64>,
    elapsed_us: u64,
) -> sqlx::Result<i64> {
    let findings = serde_json::to_string(&assessment.findings).unwrap_or_else(|_| "[]".into());
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO risk_reports (pool_id, chain, pool_address, token, score, verdict, tradeable, summary, findings,
            measured_slot, discovered_at_ms, created_at_ms, elapsed_us)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(pool.id)
    .bind(&pool.chain)
    .bind(&pool.address)
    .bind(token)
    .bind(i64::from(assessment.score))
    .bind(assessment.verdict.as_str())
    .bind(assessment.tradeable)
    .bind(&assessment.summary)
    .bind(findings)
    .bind(measured_slot.map(|s| i64::try_from(s).unwrap_or(i64::MAX)))
    .bind(pool.first_seen_at_ms)
    .bind(crate::mirror::now_ms())
    .bind(i64::try_from(elapsed_us).unwrap_or(i64::MAX))
    .fetch_one(db)
    .await?;
    Ok(id)
}
