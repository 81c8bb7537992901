//! Tokens and their risk reports.

use axum::{
    extract::{Path, State},
    routing::get,
    Json, Router,
};
use serde::Serialize;

use utoipa::ToSchema;

use super::{check_chain, normalize_address, Page};
use crate::{
    error::{ApiError, ApiResult},
    params::{cursor, Params},
    AppState,
};

/// A token as the mirror holds it.
pub use mirror::reads::TokenRow as Token;

/// One check's result, as the keeper's risk engine wrote it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Finding {
    pub check: String,
    /// info, low, medium, high or critical.
    pub severity: String,
    pub explanation: String,
    /// The raw measurement (amounts as decimal strings).
    #[schema(value_type = Object)]
    pub measured: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RiskReport {
    pub id: i64,
    pub pool_address: String,
    /// 0 (nothing found) to 100 (certain loss).
    pub score: i64,
    /// low, medium, high or critical.
    pub verdict: String,
    pub tradeable: bool,
    pub summary: String,
    pub findings: Vec<Finding>,
    pub measured_slot: Option<i64>,
    pub created_at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenDetail {
    #[serde(flatten)]
    pub token: Token,
    /// The newest risk report, if the token has been scored.
    pub risk: Option<RiskReport>,
    /// How many reports exist (history).
    pub reports: i64,
}

/// Tokens, newest first.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    params(("chain" = Option<String>, Query, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,512}$", description = "next_cursor of the previous page")),
    responses((status = 200, body = Page<Token>), (status = 400, body = crate::error::ErrorBody)))]
pub async fn tokens(State(state): State<AppState>, params: Params) -> ApiResult<Json<Page<Token>>> {
    params.only(&["chain", "limit", "cursor"])?;
    let limit = params.limit(50, 200)?;
    let chain = params.str("chain");
    if let Some(chain) = chain {
        check_chain("chain", chain)?;
    }
    let after = params.cursor("tokens", 3)?;
    let after = match &after {
        Some(c) => {
            let seen: i64 = c[0].parse().map_err(|_| ApiError::invalid("cursor", "malformed"))?;
            Some((seen, c[1].as_str(), c[2].as_str()))
        }
        None => None,
    };
    let rows = mirror::reads::tokens_page(&state.db, chain, after, limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |t| {
        cursor("tokens", &[t.first_seen_at_ms.to_string(), t.chain.clone(), t.address.clone()])
    })))
}

/// A stored report as the API shows it, its findings parsed.
fn report(r: mirror::reads::LatestReport) -> RiskReport {
    let findings: Vec<serde_json::Value> = serde_json::from_str(&r.findings).unwrap_or_default();
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    RiskReport {
        id: r.id,
        pool_address: r.pool_address,
        score: r.score,
        verdict: r.verdict,
        tradeable: r.tradeable,
        summary: r.summary,
        findings: findings
            .iter()
            .map(|f| Finding {
                check: text(f, "check"),
                severity: text(f, "severity"),
                explanation: text(f, "explanation"),
                measured: f["measured"].clone(),
            })
            .collect(),
        measured_slot: r.measured_slot,
        created_at_ms: r.created_at_ms,
    }
}

/// One token with its latest risk report and every finding.
#[utoipa::path(get, path = "/api/v1/tokens/{chain}/{address}", tag = "tokens",
    params(("chain" = String, Path, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name"), ("address" = String, Path, pattern = "^[A-Za-z0-9]{1,64}$", description = "token address or mint")),
    responses((status = 200, body = TokenDetail), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn token(
    State(state): State<AppState>,
    Path((chain, address)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<TokenDetail>> {
    params.only(&[])?;
    check_chain("chain", &chain)?;
    let address = normalize_address("address", &address)?;
    let token =
        mirror::reads::token(&state.db, &chain, &address).await?.ok_or_else(|| ApiError::NotFound("token".into()))?;
    let (latest, reports) = mirror::reads::latest_report(&state.db, &chain, &address).await?;
    let risk = latest.map(report);
    Ok(Json(TokenDetail { token, risk, reports }))
}

/// A token's risk-report history, newest first (the latest 100): how its score changed as the
/// keeper looked again.
#[utoipa::path(get, path = "/api/v1/tokens/{chain}/{address}/reports", tag = "tokens",
    params(("chain" = String, Path, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name"), ("address" = String, Path, pattern = "^[A-Za-z0-9]{1,64}$", description = "token address or mint")),
    responses((status = 200, body = Vec<RiskReport>), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn reports(
    State(state): State<AppState>,
    Path((chain, address)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Vec<RiskReport>>> {
    params.only(&[])?;
    check_chain("chain", &chain)?;
    let address = normalize_address("address", &address)?;
    mirror::reads::token(&state.db, &chain, &address).await?.ok_or_else(|| ApiError::NotFound("token".into()))?;
    let rows = mirror::reads::report_history(&state.db, &chain, &address, 100).await?;
    Ok(Json(rows.into_iter().map(report).collect()))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(tokens))
        .route("/tokens/{chain}/{address}", get(token))
        .route("/tokens/{chain}/{address}/reports", get(reports))
}
