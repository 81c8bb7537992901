//! `backtests`, written by `keeper backtest` and `keeper hyperopt`, read by the API;
//! `hyperopt_studies` and `hyperopt_trials`, written and read by `keeper hyperopt` only.

use sqlx::SqlitePool;

use crate::{now_ms, Result};

/// A run to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBacktest {
    /// `backtest` or `hyperopt`.
    pub kind: String,
    pub study: Option<String>,
    pub chain: Option<String>,
    pub from_ms: i64,
    pub to_ms: i64,
    pub trades: i64,
    /// Signed decimal string.
    pub total_profit: String,
    /// JSON.
    pub settings: String,
    /// JSON.
    pub report: String,
}

pub async fn insert(db: &SqlitePool, b: &NewBacktest) -> Result<i64> {
    let now = now_ms();
    Ok(sqlx::query_scalar!(
        r#"INSERT INTO backtests (kind, study, chain, from_ms, to_ms, trades, total_profit, settings, report, created_at_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id AS "id!""#,
        b.kind,
        b.study,
        b.chain,
        b.from_ms,
        b.to_ms,
        b.trades,
        b.total_profit,
        b.settings,
        b.report,
        now
    )
    .fetch_one(db)
    .await?)
}

/// A stored run, without its report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BacktestSummary {
    pub id: i64,
    /// `backtest` or `hyperopt` (the best parameters of a study, out of sample).
    pub kind: String,
    pub study: Option<String>,
    /// `null`: every chain.
    pub chain: Option<String>,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Closed trades.
    pub trades: i64,
    /// Signed decimal string, base units of the quote token.
    pub total_profit: String,
    pub created_at_ms: i64,
}

/// Stored runs, newest first, below id `before` when given.
pub async fn list(db: &SqlitePool, before: Option<i64>, limit: i64) -> Result<Vec<BacktestSummary>> {
    Ok(sqlx::query_as!(
        BacktestSummary,
        r#"SELECT id AS "id!", kind, study, chain, from_ms, to_ms, trades, total_profit, created_at_ms
           FROM backtests WHERE (?1 IS NULL OR id < ?1) ORDER BY id DESC LIMIT ?2"#,
        before,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// One stored run: its summary, settings JSON and report JSON.
pub async fn get(db: &SqlitePool, id: i64) -> Result<Option<(BacktestSummary, String, String)>> {
    Ok(sqlx::query!(
        r#"SELECT id AS "id!", kind, study, chain, from_ms, to_ms, trades, total_profit, created_at_ms,
                  settings, report FROM backtests WHERE id = ?"#,
        id
    )
    .fetch_optional(db)
    .await?
    .map(|r| {
        let s = BacktestSummary {
            id: r.id,
            kind: r.kind,
            study: r.study,
            chain: r.chain,
            from_ms: r.from_ms,
            to_ms: r.to_ms,
            trades: r.trades,
            total_profit: r.total_profit,
            created_at_ms: r.created_at_ms,
        };
        (s, r.settings, r.report)
    }))
}

/// The study named `name`: its id and settings JSON.
pub async fn study(db: &SqlitePool, name: &str) -> Result<Option<(i64, String)>> {
    Ok(sqlx::query!(r#"SELECT id AS "id!", settings FROM hyperopt_studies WHERE name = ?"#, name)
        .fetch_optional(db)
        .await?
        .map(|r| (r.id, r.settings)))
}

pub async fn create_study(db: &SqlitePool, name: &str, settings: &str) -> Result<i64> {
    let now = now_ms();
    Ok(sqlx::query_scalar!(
        r#"INSERT INTO hyperopt_studies (name, settings, created_at_ms) VALUES (?, ?, ?) RETURNING id AS "id!""#,
        name,
        settings,
        now
    )
    .fetch_one(db)
    .await?)
}

/// One finished trial.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRow {
    pub fold: i64,
    pub number: i64,
    /// JSON.
    pub params: String,
    pub loss: f64,
    /// JSON.
    pub metrics: String,
}

/// A study's trials, by fold and number.
pub async fn trials(db: &SqlitePool, study_id: i64) -> Result<Vec<TrialRow>> {
    Ok(sqlx::query_as!(
        TrialRow,
        r#"SELECT fold, number, params, loss, metrics FROM hyperopt_trials WHERE study_id = ? ORDER BY fold, number"#,
        study_id
    )
    .fetch_all(db)
    .await?)
}

/// Records a trial; recording the same fold and number again changes nothing.
pub async fn insert_trial(db: &SqlitePool, study_id: i64, t: &TrialRow) -> Result<()> {
    let now = now_ms();
    sqlx::query!(
        "INSERT INTO hyperopt_trials (study_id, fold, number, params, loss, metrics, created_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        study_id,
        t.fold,
        t.number,
        t.params,
        t.loss,
        t.metrics,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}
