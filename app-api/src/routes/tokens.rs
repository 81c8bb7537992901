//! Tokens and their risk reports.

use axum::{
    extract::{Path, State},
    routing::get,
    Json, Router,
};
use serde::Serialize;
use sqlx::{FromRow, QueryBuilder, Sqlite};
use utoipa::ToSchema;

use super::{check_chain, normalize_address, Page};
use crate::{
    error::{ApiError, ApiResult},
    params::{cursor, Params},
    AppState,
};

#[derive(Debug, Serialize, ToSchema, FromRow)]
pub struct Token {
    pub chain: String,
    pub address: String,
    pub symbol: Option<String>,
    pub name: Option<String>,
    pub decimals: Option<i64>,
    /// Base units, exact decimal string.
    pub total_supply: Option<String>,
    pub first_seen_at_ms: i64,
}

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
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT chain, address, symbol, name, decimals, total_supply, first_seen_at_ms FROM tokens WHERE 1 = 1",
    );
    if let Some(chain) = params.str("chain") {
        check_chain("chain", chain)?;
        q.push(" AND chain = ").push_bind(chain.to_string());
    }
    if let Some(c) = params.cursor("tokens", 3)? {
        let seen: i64 = c[0].parse().map_err(|_| ApiError::invalid("cursor", "malformed"))?;
        q.push(" AND (first_seen_at_ms, chain, address) < (")
            .push_bind(seen)
            .push(", ")
            .push_bind(c[1].clone())
            .push(", ")
            .push_bind(c[2].clone())
            .push(")");
    }
    q.push(" ORDER BY first_seen_at_ms DESC, chain DESC, address DESC LIMIT ").push_bind(limit + 1);
    let rows: Vec<Token> = q.build_query_as().fetch_all(&state.db).await?;
    Ok(Json(Page::from_rows(rows, limit, |t| {
        cursor("tokens", &[t.first_seen_at_ms.to_string(), t.chain.clone(), t.address.clone()])
    })))
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
    let token: Token = sqlx::query_as(
        "SELECT chain, address, symbol, name, decimals, total_supply, first_seen_at_ms FROM tokens WHERE chain = ? AND address = ?",
    )
    .bind(&chain)
    .bind(&address)
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| ApiError::NotFound("token".into()))?;
    type Row = (i64, String, i64, String, bool, String, String, Option<i64>, i64);
    let latest: Option<Row> = sqlx::query_as(
        "SELECT id, pool_address, score, verdict, tradeable, summary, findings, measured_slot, created_at_ms
         FROM risk_reports WHERE chain = ? AND token = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(&chain)
    .bind(&address)
    .fetch_optional(&state.db)
    .await?;
    let reports: i64 = sqlx::query_scalar("SELECT count(*) FROM risk_reports WHERE chain = ? AND token = ?")
        .bind(&chain)
        .bind(&address)
        .fetch_one(&state.db)
        .await?;
    let risk =
        latest.map(|(id, pool_address, score, verdict, tradeable, summary, findings, measured_slot, created_at_ms)| {
            let findings: Vec<serde_json::Value> = serde_json::from_str(&findings).unwrap_or_default();
            let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
            RiskReport {
                id,
                pool_address,
                score,
                verdict,
                tradeable,
                summary,
                findings: findings
                    .iter()
                    .map(|f| Finding {
                        check: text(f, "check"),
                        severity: text(f, "severity"),
                        explanation: text(f, "explanation"),
                        measured: f["measured"].clone(),
                    })
                    .collect(),
                measured_slot,
                created_at_ms,
            }
        });
    Ok(Json(TokenDetail { token, risk, reports }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/tokens", get(tokens)).route("/tokens/{chain}/{address}", get(token))
}
