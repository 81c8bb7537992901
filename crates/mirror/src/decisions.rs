//! `decisions`: written by the trader only, one row per risk report it was handed.

use sqlx::SqlitePool;

use crate::{Action, Mode, Result};

/// A decision as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct DecisionRow {
    pub id: i64,
    pub report_id: i64,
    pub pool_id: i64,
    pub chain: String,
    pub token: String,
    pub mode: Mode,
    pub action: Action,
    pub reason: Option<String>,
    pub detail: String,
    pub position_id: Option<i64>,
    pub trade_id: Option<i64>,
    pub decided_at_ms: i64,
}

/// Appends a decision (its `id` is ignored) and returns its id; on the pool, or inside the
/// transaction that opens a position (a buy's decision is recorded with the position it opens).
pub async fn insert<'e>(db: impl sqlx::SqliteExecutor<'e>, d: &DecisionRow) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO decisions (report_id, pool_id, chain, token, mode, action, reason, detail, position_id, trade_id,
            decided_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id AS \"id!\"",
        d.report_id,
        d.pool_id,
        d.chain,
        d.token,
        d.mode,
        d.action,
        d.reason,
        d.detail,
        d.position_id,
        d.trade_id,
        d.decided_at_ms
    )
    .fetch_one(db)
    .await?)
}

/// Replaces a decision's detail (a buy's outcome, once it settles).
pub async fn set_detail(db: &SqlitePool, id: i64, detail: &str) -> Result<()> {
    sqlx::query!("UPDATE decisions SET detail = ? WHERE id = ?", detail, id).execute(db).await?;
    Ok(())
}

/// The decision on the report `report_id`, if there is one yet.
pub async fn of_report(db: &SqlitePool, report_id: i64) -> Result<Option<DecisionRow>> {
    Ok(sqlx::query_as!(
        DecisionRow,
        r#"SELECT id AS "id!", report_id, pool_id, chain, token, mode AS "mode: Mode", action AS "action: Action", reason,
                  detail, position_id, trade_id, decided_at_ms
           FROM decisions WHERE report_id = ? ORDER BY id LIMIT 1"#,
        report_id
    )
    .fetch_optional(db)
    .await?)
}

/// Every decision about `token` on `chain`, oldest first.
pub async fn for_token(db: &SqlitePool, chain: &str, token: &str) -> Result<Vec<DecisionRow>> {
    Ok(sqlx::query_as!(
        DecisionRow,
        r#"SELECT id AS "id!", report_id, pool_id, chain, token, mode AS "mode: Mode", action AS "action: Action", reason,
                  detail, position_id, trade_id, decided_at_ms
           FROM decisions WHERE chain = ? AND token = ? ORDER BY id"#,
        chain,
        token
    )
    .fetch_all(db)
    .await?)
}
