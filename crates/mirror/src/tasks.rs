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
}

/// Records how the keeper runs (at start).
pub async fn record_mode(db: &SqlitePool, trading: bool, live: bool) -> Result<()> {
    let (now, mode) = (now_ms(), if live { "live" } else { "dry_run" });
    sqlx::query!(
        "INSERT INTO keeper_mode (id, trading, mode, started_at_ms) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET trading = excluded.trading, mode = excluded.mode,
            started_at_ms = excluded.started_at_ms",
        trading,
        mode,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// How the keeper last started, if one has run on this mirror.
pub async fn mode(db: &SqlitePool) -> Result<Option<KeeperMode>> {
    Ok(sqlx::query_as!(
        KeeperMode,
        r#"SELECT trading AS "trading: bool", mode, started_at_ms FROM keeper_mode WHERE id = 1"#
    )
    .fetch_optional(db)
    .await?)
}
