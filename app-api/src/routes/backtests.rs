//! Stored backtests: what `keeper backtest` and `keeper hyperopt` wrote, for the dashboard. The
//! list carries each run's period and headline figures; one run carries its settings and the
//! whole report (trades, metrics per exit reason and per chain; a hyperopt run's folds, in and
//! out of sample). Amounts are decimal strings of the quote token's base units.

use axum::{
    extract::{Path, State},
    routing::get,
    Json, Router,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::Page;
use crate::{
    error::{ApiError, ApiResult},
    params::{cursor, Params},
    AppState,
};

pub use mirror::backtests::BacktestSummary;

/// One stored run with its settings and report.
#[derive(Debug, Serialize, ToSchema)]
pub struct Backtest {
    #[serde(flatten)]
    pub summary: BacktestSummary,
    /// The settings it ran with (exits, filters, fill model).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// The report, as `keeper backtest --json` prints it.
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
}

/// Stored backtests and hyperopt results, newest first.
#[utoipa::path(get, path = "/api/v1/backtests", tag = "trading",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,512}$", description = "next_cursor of the previous page")),
    responses((status = 200, body = Page<BacktestSummary>), (status = 400, body = crate::error::ErrorBody)))]
pub async fn backtests(State(state): State<AppState>, params: Params) -> ApiResult<Json<Page<BacktestSummary>>> {
    params.only(&["limit", "cursor"])?;
    let limit = params.limit(50, 200)?;
    let before = match params.cursor("backtests", 1)? {
        Some(c) => Some(c[0].parse::<i64>().map_err(|_| ApiError::invalid("cursor", "malformed"))?),
        None => None,
    };
    let rows: Vec<BacktestSummary> = mirror::backtests::list(&state.db, before, limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |b| cursor("backtests", &[b.id.to_string()]))))
}

/// One stored backtest or hyperopt result, with its settings and report.
#[utoipa::path(get, path = "/api/v1/backtests/{id}", tag = "trading",
    params(("id" = i64, Path, minimum = 1, description = "backtest id")),
    responses((status = 200, body = Backtest), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn backtest(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<Backtest>> {
    params.only(&[])?;
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| ApiError::invalid("id", "must be a positive integer"))?;
    let (summary, settings, report) =
        mirror::backtests::get(&state.db, id).await?.ok_or_else(|| ApiError::NotFound("backtest".into()))?;
    let parse = |what: &str, s: &str| {
        serde_json::from_str(s).map_err(|e| ApiError::Unprocessable(format!("the stored {what} is not JSON: {e}")))
    };
    Ok(Json(Backtest { summary, settings: parse("settings", &settings)?, report: parse("report", &report)? }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/backtests", get(backtests)).route("/backtests/{id}", get(backtest))
}
