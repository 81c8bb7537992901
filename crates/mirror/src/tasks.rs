//! `keeper_tasks`: written by the keeper's task set only; what `keeper status` and the API's
//! health show about the daemon's tasks.

use sqlx::SqlitePool;

use crate::{now_ms, Result};

/// One of the keeper's long-running tasks, as its task set last recorded it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskRow {
    pub name: String,
    /// running, restarting, stopped or failed.
    pub state: String,
    /// A critical task that keeps failing stops the keeper.
    pub critical: bool,
    pub restarts: i64,
    pub last_error: Option<String>,
    pub updated_at_ms: i64,
}

/// Records a task's state.
pub async fn record(
    db: &SqlitePool,
    name: &str,
    state: &str,
    critical: bool,
    restarts: u32,
    last_error: Option<&str>,
) -> Result<()> {
    let now = now_ms();
    let restarts = i64::from(restarts);
    sqlx::query!(
        "INSERT INTO keeper_tasks (name, state, critical, restarts, last_error, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET state = excluded.state, critical = excluded.critical,
            restarts = excluded.restarts, last_error = COALESCE(excluded.last_error, last_error),
            updated_at_ms = excluded.updated_at_ms",
        name,
        state,
        critical,
        restarts,
        last_error,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets the tasks of an earlier run (at start).
pub async fn clear(db: &SqlitePool) -> Result<()> {
    sqlx::query!("DELETE FROM keeper_tasks").execute(db).await?;
    Ok(())
}

/// Every task, by name.
pub async fn all(db: &SqlitePool) -> Result<Vec<TaskRow>> {
    Ok(sqlx::query_as!(
        TaskRow,
        r#"SELECT name, state, critical AS "critical: bool", restarts, last_error, updated_at_ms
           FROM keeper_tasks ORDER BY name"#
    )
    .fetch_all(db)
    .await?)
}

/// How the keeper runs, as it recorded when it started.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeeperMode {
    /// Whether the trader runs at all.
    pub trading: bool,
    /// `live` (real transactions) or `dry_run` (paper trades).
    pub mode: String,
    pub started_at_ms: i64,
    /// The trading settings it started with (operators' limits, set through the API, override
    /// the risk and budget ones at each decision).
    pub settings: KeeperSettings,
}

/// The keeper's trading settings as configured at start: exit levels, limits and budgets.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct KeeperSettings {
    /// Sell all when a position's value is this much above its cost (basis points).
    pub take_profit_bps: u32,
    /// Sell all when it is this much below its cost.
    pub stop_loss_bps: u32,
    /// Sell all when it falls this much from its peak value (0: off).
    pub trailing_stop_bps: u32,
    /// Sell all after this long (seconds; 0: never).
    pub max_hold_secs: u64,
    pub max_risk_score: u8,
    pub max_open_positions: u32,
    /// Per chain, in base units of its quote token (decimal strings).
    pub budgets: std::collections::BTreeMap<String, ChainSettings>,
}

/// One chain's configured budget (decimal strings of base units).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ChainSettings {
    pub buy_amount: String,
    pub max_buy: String,
    pub daily_budget: String,
}

/// Records how the keeper runs (at start).
pub async fn record_mode(db: &SqlitePool, trading: bool, live: bool, settings: &KeeperSettings) -> Result<()> {
    let (now, mode) = (now_ms(), if live { "live" } else { "dry_run" });
    // Plain fields and string-keyed maps: serialising cannot fail.
    let settings = serde_json::to_string(settings).unwrap_or_else(|_| "{}".into());
    sqlx::query!(
        "INSERT INTO keeper_mode (id, trading, mode, started_at_ms, settings) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET trading = excluded.trading, mode = excluded.mode,
            started_at_ms = excluded.started_at_ms, settings = excluded.settings",
        trading,
        mode,
        now,
        settings
    )
    .execute(db)
    .await?;
    Ok(())
}

/// How the keeper last started, if one has run on this mirror.
pub async fn mode(db: &SqlitePool) -> Result<Option<KeeperMode>> {
    let row = sqlx::query!(
        r#"SELECT trading AS "trading: bool", mode, started_at_ms, settings FROM keeper_mode WHERE id = 1"#
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| KeeperMode {
        trading: r.trading,
        mode: r.mode,
        started_at_ms: r.started_at_ms,
        // Settings of an older keeper (or none): defaults, never a failed health read.
        settings: serde_json::from_str(&r.settings).unwrap_or_default(),
    }))
}
