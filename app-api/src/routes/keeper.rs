//! What the keeper obeys: operators pause and resume trading and set its limits. The keeper reads
//! the `keeper_controls` row of the mirror.

use axum::{
    extract::State,
    routing::{get, post, put},
    Json, Router,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    audit,
    auth::{CurrentUser, Operator},
    error::{ApiError, ApiResult},
    json::ApiJson,
    AppState,
};

/// Risk and budget limits for the keeper's trading. Each field given overrides the keeper's
/// configured value at its next decision (no restart); fields left out keep the configuration.
/// The one type of `keeper_controls.limits`, shared with the keeper through the mirror crate.
pub use mirror::{BudgetLimits as ChainBudget, Limits as KeeperLimits};

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
    let c = mirror::api::controls(&state.writer).await?;
    let limits = serde_json::from_str(&c.limits).unwrap_or_default();
    Ok(Controls { paused: c.paused, limits, updated_at_ms: c.updated_at_ms, updated_by: c.updated_by })
}

/// The keeper's current controls (any signed-in user).
#[utoipa::path(get, path = "/api/v1/keeper/controls", tag = "keeper",
    responses((status = 200, body = Controls), (status = 401, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn controls(State(state): State<AppState>, _user: CurrentUser) -> ApiResult<Json<Controls>> {
    Ok(Json(read(&state).await?))
}

async fn set_paused(state: &AppState, op: &CurrentUser, paused: bool) -> ApiResult<Json<Controls>> {
    mirror::api::set_paused(&state.writer, paused, &op.username).await?;
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
    for chain in limits.budgets.keys() {
        super::check_chain(&format!("budgets.{chain}"), chain)?;
    }
    if let Some((field, why)) = limits.invalid_field() {
        return Err(ApiError::invalid(&field, why));
    }
    let json = serde_json::to_value(&limits).map_err(|e| ApiError::Internal(e.to_string()))?;
    mirror::api::set_limits(&state.writer, &json.to_string(), &op.username).await?;
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
