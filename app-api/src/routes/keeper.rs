//! What the keeper obeys: operators pause and resume trading and set its limits. The keeper reads
//! the `keeper_controls` row of the mirror.

use axum::{
    extract::State,
    routing::{get, post, put},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    audit,
    auth::{CurrentUser, Operator},
    error::{ApiError, ApiResult},
    json::ApiJson,
    now_ms, AppState,
};

/// Risk and budget limits for the keeper's trading. Each field given overrides the keeper's
/// configured value at its next decision (no restart); fields left out keep the configuration.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeeperLimits {
    /// Never buy a token whose risk score is above this (0-100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 100)]
    pub max_risk_score: Option<u8>,
    /// Open positions at most (1-1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000)]
    pub max_open_positions: Option<u32>,
    /// Slippage tolerance in basis points (1-5000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 5000)]
    pub max_slippage_bps: Option<u16>,
    /// Per chain, in base units of the chain's quote token (wei, lamports...).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub budgets: std::collections::BTreeMap<String, ChainBudget>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainBudget {
    /// Largest single buy, decimal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(0|[1-9][0-9]{0,77})$")]
    pub max_buy: Option<String>,
    /// Total spend per UTC day, decimal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(0|[1-9][0-9]{0,77})$")]
    pub daily_budget: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Controls {
    pub paused: bool,
    /// The limits last set (an empty object until an operator sets them).
    #[schema(value_type = Object)]
    pub limits: serde_json::Value,
    pub updated_at_ms: i64,
    pub updated_by: Option<String>,
}

async fn read(state: &AppState) -> ApiResult<Controls> {
    let (paused, limits, updated_at_ms, updated_by): (bool, String, i64, Option<String>) =
        sqlx::query_as("SELECT paused, limits, updated_at_ms, updated_by FROM keeper_controls WHERE id = 1")
            .fetch_one(&state.writer)
            .await?;
    Ok(Controls { paused, limits: serde_json::from_str(&limits).unwrap_or_default(), updated_at_ms, updated_by })
}

/// The keeper's current controls (any signed-in user).
#[utoipa::path(get, path = "/api/v1/keeper/controls", tag = "keeper",
    responses((status = 200, body = Controls), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn controls(State(state): State<AppState>, _user: CurrentUser) -> ApiResult<Json<Controls>> {
    Ok(Json(read(&state).await?))
}

async fn set_paused(state: &AppState, op: &CurrentUser, paused: bool) -> ApiResult<Json<Controls>> {
    sqlx::query("UPDATE keeper_controls SET paused = ?, updated_at_ms = ?, updated_by = ? WHERE id = 1")
        .bind(paused)
        .bind(now_ms())
        .bind(&op.username)
        .execute(&state.writer)
        .await?;
    let action = if paused { "keeper_pause" } else { "keeper_resume" };
    audit(state, Some((op.id, &op.username)), op.ip, action, serde_json::json!({})).await;
    Ok(Json(read(state).await?))
}

/// Stops all trading (operators).
#[utoipa::path(post, path = "/api/v1/keeper/pause", tag = "keeper",
    responses((status = 200, body = Controls), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn pause(State(state): State<AppState>, Operator(op): Operator) -> ApiResult<Json<Controls>> {
    set_paused(&state, &op, true).await
}

/// Resumes trading (operators).
#[utoipa::path(post, path = "/api/v1/keeper/resume", tag = "keeper",
    responses((status = 200, body = Controls), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn resume(State(state): State<AppState>, Operator(op): Operator) -> ApiResult<Json<Controls>> {
    set_paused(&state, &op, false).await
}

fn check_amount(field: &str, v: &str) -> ApiResult<()> {
    let ok =
        !v.is_empty() && v.len() <= 78 && v.bytes().all(|b| b.is_ascii_digit()) && (v == "0" || !v.starts_with('0'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(field, "must be a whole number of base units as a decimal string, e.g. \"1000000000\""))
    }
}

/// Sets the keeper's risk and budget limits (operators).
#[utoipa::path(put, path = "/api/v1/keeper/limits", tag = "keeper", request_body = KeeperLimits,
    responses((status = 200, body = Controls), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn limits(
    State(state): State<AppState>,
    Operator(op): Operator,
    ApiJson(limits): ApiJson<KeeperLimits>,
) -> ApiResult<Json<Controls>> {
    if limits.max_risk_score.is_some_and(|s| s > 100) {
        return Err(ApiError::invalid("max_risk_score", "must be 0-100"));
    }
    if limits.max_open_positions.is_some_and(|n| !(1..=1_000).contains(&n)) {
        return Err(ApiError::invalid("max_open_positions", "must be 1-1000"));
    }
    if limits.max_slippage_bps.is_some_and(|b| !(1..=5_000).contains(&b)) {
        return Err(ApiError::invalid("max_slippage_bps", "must be 1-5000"));
    }
    for (chain, b) in &limits.budgets {
        super::check_chain(&format!("budgets.{chain}"), chain)?;
        if let Some(v) = &b.max_buy {
            check_amount(&format!("budgets.{chain}.max_buy"), v)?;
        }
        if let Some(v) = &b.daily_budget {
            check_amount(&format!("budgets.{chain}.daily_budget"), v)?;
        }
    }
    let json = serde_json::to_value(&limits).map_err(|e| ApiError::Internal(e.to_string()))?;
    sqlx::query("UPDATE keeper_controls SET limits = ?, updated_at_ms = ?, updated_by = ? WHERE id = 1")
        .bind(json.to_string())
        .bind(now_ms())
        .bind(&op.username)
        .execute(&state.writer)
        .await?;
    audit(&state, Some((op.id, &op.username)), op.ip, "keeper_limits", json).await;
    Ok(Json(read(&state).await?))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/keeper/controls", get(controls))
        .route("/keeper/pause", post(pause))
        .route("/keeper/resume", post(resume))
        .route("/keeper/limits", put(limits))
}
