//! The operators' tables: `users` and `sessions` (app-api), and what operators set through
//! app-api or the keeper's Telegram bot, by these functions only: `audit_log`,
//! `keeper_controls` and `exit_requests`; plus the small reads of the API's health and metrics.

use sqlx::SqlitePool;

use crate::{now_ms, Result};

/// Appends to the audit log.
pub async fn audit(db: &SqlitePool, user: Option<(i64, &str)>, ip: &str, action: &str, detail: &str) -> Result<()> {
    let (now, user_id, username) = (now_ms(), user.map(|u| u.0), user.map(|u| u.1));
    sqlx::query!(
        "INSERT INTO audit_log (at_ms, user_id, username, ip, action, detail) VALUES (?, ?, ?, ?, ?, ?)",
        now,
        user_id,
        username,
        ip,
        action,
        detail
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Makes a registered user an operator; false when there is no such user.
pub async fn make_operator(db: &SqlitePool, username: &str) -> Result<bool> {
    Ok(sqlx::query!("UPDATE users SET role = 'operator' WHERE username = ?", username)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}

/// A new viewer; `Ok(None)` when the username is taken.
pub async fn register(db: &SqlitePool, username: &str, password_hash: &str) -> Result<Option<i64>> {
    let now = now_ms();
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO users (username, password_hash, role, created_at_ms) VALUES (?, ?, 'viewer', ?)
           RETURNING id AS "id!""#,
        username,
        password_hash,
        now
    )
    .fetch_one(db)
    .await;
    match inserted {
        Ok(id) => Ok(Some(id)),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A user's (id, password hash, role).
pub async fn credentials(db: &SqlitePool, username: &str) -> Result<Option<(i64, String, String)>> {
    Ok(sqlx::query!(r#"SELECT id AS "id!", password_hash, role FROM users WHERE username = ?"#, username)
        .fetch_optional(db)
        .await?
        .map(|r| (r.id, r.password_hash, r.role)))
}

/// Opens a session (dropping expired ones on the way).
pub async fn open_session(db: &SqlitePool, token_hash: &str, user_id: i64, expires_at_ms: i64, ip: &str) -> Result<()> {
    let now = now_ms();
    sqlx::query!("DELETE FROM sessions WHERE expires_at_ms <= ?", now).execute(db).await?;
    sqlx::query!(
        "INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms, ip) VALUES (?, ?, ?, ?, ?)",
        token_hash,
        user_id,
        now,
        expires_at_ms,
        ip
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn revoke_session(db: &SqlitePool, token_hash: &str) -> Result<()> {
    let now = now_ms();
    sqlx::query!("UPDATE sessions SET revoked_at_ms = ? WHERE token_hash = ?", now, token_hash).execute(db).await?;
    Ok(())
}

/// The (id, username, role) of a live session's user.
pub async fn session_user(db: &SqlitePool, token_hash: &str) -> Result<Option<(i64, String, String)>> {
    let now = now_ms();
    Ok(sqlx::query!(
        r#"SELECT u.id AS "id!", u.username, u.role FROM sessions s JOIN users u ON u.id = s.user_id
           WHERE s.token_hash = ? AND s.revoked_at_ms IS NULL AND s.expires_at_ms > ?"#,
        token_hash,
        now
    )
    .fetch_optional(db)
    .await?
    .map(|r| (r.id, r.username, r.role)))
}

/// Live sessions.
pub async fn active_sessions(db: &SqlitePool) -> Result<i64> {
    let now = now_ms();
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!: i64" FROM sessions WHERE revoked_at_ms IS NULL AND expires_at_ms > ?"#,
        now
    )
    .fetch_one(db)
    .await?)
}

/// The controls row as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlsRow {
    pub paused: bool,
    /// The limits JSON last set.
    pub limits: String,
    pub updated_at_ms: i64,
    pub updated_by: Option<String>,
}

pub async fn controls(db: &SqlitePool) -> Result<ControlsRow> {
    Ok(sqlx::query_as!(
        ControlsRow,
        r#"SELECT paused AS "paused: bool", limits, updated_at_ms, updated_by FROM keeper_controls WHERE id = 1"#
    )
    .fetch_one(db)
    .await?)
}

pub async fn set_paused(db: &SqlitePool, paused: bool, by: &str) -> Result<()> {
    let now = now_ms();
    sqlx::query!(
        "UPDATE keeper_controls SET paused = ?, updated_at_ms = ?, updated_by = ? WHERE id = 1",
        paused,
        now,
        by
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Stores the operators' limits (JSON of [`crate::Limits`]).
pub async fn set_limits(db: &SqlitePool, limits_json: &str, by: &str) -> Result<()> {
    let now = now_ms();
    sqlx::query!(
        "UPDATE keeper_controls SET limits = ?, updated_at_ms = ?, updated_by = ? WHERE id = 1",
        limits_json,
        now,
        by
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Per chain: (chain, pools, funded pools).
pub async fn pools_by_chain(db: &SqlitePool) -> Result<Vec<(String, i64, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT chain, count(*) AS "pools!: i64", sum(reserve_a != '0' AND reserve_b != '0') AS "funded!: i64"
           FROM pools GROUP BY chain ORDER BY chain"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.chain, r.pools, r.funded)).collect())
}

/// Per chain and kind: (chain, kind, events).
pub async fn events_by_kind(db: &SqlitePool) -> Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT chain, kind, count(*) AS "n!: i64" FROM pool_events GROUP BY chain, kind ORDER BY chain, kind"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.chain, r.kind, r.n)).collect())
}

/// Every source's checkpoint with its lag inputs: (source, chain, slot, head slot, updated at).
pub async fn checkpoint_lags(db: &SqlitePool) -> Result<Vec<(String, String, i64, Option<i64>, i64)>> {
    let rows = sqlx::query!("SELECT source, chain, slot, head_slot, updated_at_ms FROM checkpoints ORDER BY source")
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.source, r.chain, r.slot, r.head_slot, r.updated_at_ms)).collect())
}

/// What asking to force-exit a position did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitRequest {
    /// Recorded: the trader sells it at its next exit check.
    Requested,
    /// Asked before, and not acted on yet: nothing changes.
    AlreadyRequested,
    /// The position is not open or trapped (its status).
    NotOpen(String),
    Unknown,
}

/// Asks the trader to sell all of an open or trapped position (exit reason `operator`).
pub async fn request_exit(db: &SqlitePool, position_id: i64, by: &str) -> Result<ExitRequest> {
    let mut tx = crate::begin_write(db).await?;
    let status =
        sqlx::query_scalar!("SELECT status FROM positions WHERE id = ?", position_id).fetch_optional(&mut *tx).await?;
    let Some(status) = status else { return Ok(ExitRequest::Unknown) };
    if status != "open" && status != "trapped" {
        return Ok(ExitRequest::NotOpen(status));
    }
    let now = now_ms();
    let done = sqlx::query!(
        "INSERT INTO exit_requests (position_id, requested_at_ms, requested_by) VALUES (?, ?, ?)
         ON CONFLICT (position_id) DO NOTHING",
        position_id,
        now,
        by
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(if done.rows_affected() == 1 { ExitRequest::Requested } else { ExitRequest::AlreadyRequested })
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub username: Option<String>,
    pub ip: Option<String>,
    /// register, login, login_failed, logout, keeper_pause, keeper_resume, keeper_limits,
    /// position_exit, ...
    pub action: String,
    /// What was done, as JSON text.
    pub detail: Option<String>,
}

/// The audit log, newest first, below id `before_id` when given.
pub async fn audit_page(db: &SqlitePool, before_id: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
    Ok(sqlx::query_as!(
        AuditEntry,
        r#"SELECT id AS "id!", at_ms, username, ip, action, detail FROM audit_log
           WHERE (?1 IS NULL OR id < ?1) ORDER BY id DESC LIMIT ?2"#,
        before_id,
        limit
    )
    .fetch_all(db)
    .await?)
}
