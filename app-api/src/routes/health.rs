use axum::{extract::State, http::StatusCode, routing::get, Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceLag {
    pub source: String,
    pub chain: String,
    /// Last fully processed slot or block.
    pub slot: i64,
    /// Latest head the source has seen.
    pub head_slot: Option<i64>,
    pub lag: Option<i64>,
    pub updated_at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database cannot be read.
    pub status: &'static str,
    pub database: &'static str,
    pub sources: Vec<SourceLag>,
    /// The keeper's tasks (empty until a keeper has run on this mirror).
    pub tasks: Vec<mirror::tasks::TaskRow>,
    /// How the keeper last started: trading or not, live or dry-run (null until one has run).
    pub keeper: Option<mirror::tasks::KeeperMode>,
}

/// Database reachability and the keeper's checkpoint lag per source.
#[utoipa::path(get, path = "/api/v1/health", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let rows = mirror::api::checkpoint_lags(&state.db).await;
    let tasks = mirror::tasks::all(&state.db).await;
    let keeper = mirror::tasks::mode(&state.db).await;
    match rows.and_then(|rows| tasks.and_then(|t| keeper.map(|k| (rows, t, k)))) {
        Ok((rows, tasks, keeper)) => {
            let sources = rows
                .into_iter()
                .map(|(source, chain, slot, head_slot, updated_at_ms)| SourceLag {
                    lag: head_slot.map(|h| h.saturating_sub(slot).max(0)),
                    source,
                    chain,
                    slot,
                    head_slot,
                    updated_at_ms,
                })
                .collect();
            (StatusCode::OK, Json(Health { status: "ok", database: "ok", sources, tasks, keeper }))
        }
        Err(e) => {
            tracing::error!(error = %e, "health: database unreadable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable",
                    database: "unreachable",
                    sources: vec![],
                    tasks: vec![],
                    keeper: None,
                }),
            )
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}
