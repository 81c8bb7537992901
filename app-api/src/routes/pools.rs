//! Pools (ours on Solana and discovered pairs on EVM chains), their history and events, and the
//! discovery feed.

use axum::{
    extract::{Path, State},
    routing::get,
    Json, Router,
};
use serde::Serialize;
use utoipa::ToSchema;

use mirror::direct::{After, PoolQuery, PoolSort};

use super::{check_chain, normalize_address, Page};
use crate::{
    error::{ApiError, ApiResult},
    params::{cursor, Params},
    AppState,
};

pub use mirror::direct::{MarketSummary, Pool, RiskSummary};

/// A page as JSON text, `{"items": [...], "next_cursor": ...}` (the shape of `Page<Pool>`).
pub struct JsonPage(String);

impl axum::response::IntoResponse for JsonPage {
    fn into_response(self) -> axum::response::Response {
        ([(axum::http::header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

async fn list(state: &AppState, params: &Params, allowed: &[&str], sorts: &[&str]) -> ApiResult<JsonPage> {
    params.only(allowed)?;
    let limit = params.limit(50, 200)?;
    let sort = match params.choice("sort", sorts)? {
        "liquidity" => PoolSort::Liquidity,
        _ => PoolSort::Age,
    };
    let chain = params.str("chain");
    if let Some(chain) = chain {
        check_chain("chain", chain)?;
    }
    let venue = params.str("venue");
    if let Some(venue) = venue {
        check_chain("venue", venue)?;
    }
    let token = params.str("token").map(|t| normalize_address("token", t)).transpose()?;
    let malformed = || ApiError::invalid("cursor", "malformed");
    let after = match sort {
        PoolSort::Age => match params.cursor("age", 2)? {
            None => None,
            Some(c) => Some(After::Age {
                first_seen_at_ms: c[0].parse().map_err(|_| malformed())?,
                id: c[1].parse().map_err(|_| malformed())?,
            }),
        },
        PoolSort::Liquidity => match params.cursor("liquidity", 2)? {
            None => None,
            Some(c) => {
                if c[0].is_empty() || !c[0].bytes().all(|b| b.is_ascii_digit()) {
                    return Err(malformed());
                }
                Some(After::Liquidity { quote_reserve: c[0].clone(), id: c[1].parse().map_err(|_| malformed())? })
            }
        },
    };
    let query = PoolQuery { chain, venue, token: token.as_deref(), sort, after };
    let keep = usize::try_from(limit).unwrap_or(0);
    // Items are serialised as they come; the extra row only tells that more exist.
    let mut items = Vec::with_capacity(keep * 640 + 64);
    items.extend_from_slice(br#"{"items":["#);
    let (mut n, mut last, mut more, mut failed) = (0usize, None, false, None);
    state.direct.pools(&query, limit, |pool| {
        if n == keep {
            more = true;
            return false;
        }
        if n > 0 {
            items.push(b',');
        }
        if let Err(e) = serde_json::to_writer(&mut items, pool) {
            failed = Some(e);
            return false;
        }
        last = Some(pool.after(sort));
        n += 1;
        true
    })?;
    if let Some(e) = failed {
        return Err(ApiError::Internal(e.to_string()));
    }
    let next_cursor = last.filter(|_| more).map(|after| match after {
        After::Age { first_seen_at_ms, id } => cursor("age", &[first_seen_at_ms.to_string(), id.to_string()]),
        After::Liquidity { quote_reserve, id } => cursor("liquidity", &[quote_reserve, id.to_string()]),
    });
    let next_cursor = serde_json::to_string(&next_cursor).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut body = items;
    body.extend_from_slice(br#"],"next_cursor":"#);
    body.extend_from_slice(next_cursor.as_bytes());
    body.push(b'}');
    // Valid UTF-8: serde_json wrote it from `&str`s.
    Ok(JsonPage(String::from_utf8(body).map_err(|e| ApiError::Internal(e.to_string()))?))
}

/// Pools, filtered by chain, venue and token; sorted by age (newest first) or by liquidity
/// (quote-side reserve, largest first); cursor-paginated.
#[utoipa::path(get, path = "/api/v1/pools", tag = "pools",
    params(
        ("chain" = Option<String>, Query, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name, e.g. solana, ethereum, bsc, polygon"),
        ("venue" = Option<String>, Query, pattern = "^[a-z0-9_-]{1,32}$", description = "amm, uniswap_v2, ..."),
        ("token" = Option<String>, Query, pattern = "^[A-Za-z0-9]{1,64}$", description = "pools containing this token"),
        ("sort" = Option<String>, Query, pattern = "^(age|liquidity)$", description = "age (default) or liquidity"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,512}$", description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = Page<Pool>), (status = 400, body = crate::error::ErrorBody)))]
pub async fn pools(State(state): State<AppState>, params: Params) -> ApiResult<JsonPage> {
    list(&state, &params, &["chain", "venue", "token", "sort", "limit", "cursor"], &["age", "liquidity"]).await
}

/// Newly discovered pools, newest first, each with its latest risk assessment.
#[utoipa::path(get, path = "/api/v1/discoveries", tag = "pools",
    params(
        ("chain" = Option<String>, Query, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,512}$", description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = Page<Pool>), (status = 400, body = crate::error::ErrorBody)))]
pub async fn discoveries(State(state): State<AppState>, params: Params) -> ApiResult<JsonPage> {
    list(&state, &params, &["chain", "limit", "cursor"], &["age"]).await
}

pub use mirror::reads::ReservePoint;

/// A pool (the fields of [`Pool`]) with its reserve history.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolDetail {
    #[serde(flatten)]
    pub pool: Pool<'static>,
    /// Reserves after every event that changed them, oldest first (the latest 500).
    pub reserve_history: Vec<ReservePoint>,
    /// What the keeper's anomaly watch flagged on this pool, newest first (the latest 100).
    pub anomalies: Vec<Anomaly>,
}

/// An anomaly the keeper flagged on live data of a pool under a day old or held.
#[derive(Debug, Serialize, ToSchema)]
pub struct Anomaly {
    pub id: i64,
    /// `liquidity_drop`, `sell_tax_jump`, `concentration_jump` or `volume_spike`.
    pub kind: String,
    pub severity: String,
    /// The block or slot it was seen at.
    pub slot: Option<i64>,
    pub created_at_ms: i64,
    /// As a risk report's findings: check, severity, explanation, measured (amounts as
    /// decimal strings).
    #[schema(value_type = Object)]
    pub finding: serde_json::Value,
}

impl From<mirror::anomalies::AnomalyRow> for Anomaly {
    fn from(a: mirror::anomalies::AnomalyRow) -> Self {
        Self {
            id: a.id,
            kind: a.kind,
            severity: a.severity,
            slot: a.slot,
            created_at_ms: a.created_at_ms,
            finding: serde_json::from_str(&a.finding).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// The pool's JSON object and its (chain, normalised address).
async fn find_pool(
    state: &AppState,
    chain: &str,
    address: &str,
) -> ApiResult<(serde_json::Map<String, serde_json::Value>, String, String)> {
    check_chain("chain", chain)?;
    let address = normalize_address("address", address)?;
    let pool = state
        .direct
        .pool(chain, &address, |p| serde_json::to_value(p))?
        .transpose()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(serde_json::Value::Object(pool)) = pool else { return Err(ApiError::NotFound("pool".into())) };
    Ok((pool, chain.to_string(), address))
}

/// One pool with its reserve history and its anomalies.
#[utoipa::path(get, path = "/api/v1/pools/{chain}/{address}", tag = "pools",
    params(("chain" = String, Path, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name"), ("address" = String, Path, pattern = "^[A-Za-z0-9]{1,64}$", description = "pool address")),
    responses((status = 200, body = PoolDetail), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn pool(
    State(state): State<AppState>,
    Path((chain, address)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<serde_json::Map<String, serde_json::Value>>> {
    params.only(&[])?;
    let (mut pool, chain, address) = find_pool(&state, &chain, &address).await?;
    let history = mirror::reads::reserve_history(&state.db, &chain, &address).await?;
    let history = serde_json::to_value(history).map_err(|e| ApiError::Internal(e.to_string()))?;
    pool.insert("reserve_history".into(), history);
    let id = pool.get("id").and_then(serde_json::Value::as_i64).unwrap_or_default();
    let anomalies: Vec<Anomaly> =
        mirror::anomalies::of_pool(&state.db, id, 100).await?.into_iter().map(Into::into).collect();
    let anomalies = serde_json::to_value(anomalies).map_err(|e| ApiError::Internal(e.to_string()))?;
    pool.insert("anomalies".into(), anomalies);
    Ok(Json(pool))
}

pub use mirror::reads::PoolEventListRow as PoolEvent;

/// A pool's events, newest first.
#[utoipa::path(get, path = "/api/v1/pools/{chain}/{address}/events", tag = "pools",
    params(("chain" = String, Path, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name"), ("address" = String, Path, pattern = "^[A-Za-z0-9]{1,64}$", description = "pool address"),
        ("kind" = Option<String>, Query, pattern = "^(pool_created|liquidity_added|liquidity_removed|swap|status_changed|fees_collected)$", description = "only events of this kind"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,512}$", description = "next_cursor of the previous page")),
    responses((status = 200, body = Page<PoolEvent>), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    Path((chain, address)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Page<PoolEvent>>> {
    params.only(&["kind", "limit", "cursor"])?;
    let limit = params.limit(50, 200)?;
    let (_, chain, address) = find_pool(&state, &chain, &address).await?;
    let kind = match params.str("kind") {
        Some(kind) => {
            let kinds =
                ["pool_created", "liquidity_added", "liquidity_removed", "swap", "status_changed", "fees_collected"];
            let known = kinds.iter().find(|k| **k == kind).copied();
            Some(known.ok_or_else(|| ApiError::invalid("kind", format!("must be one of {}", kinds.join(", "))))?)
        }
        None => None,
    };
    let before_id = match params.cursor("events", 1)? {
        Some(c) => Some(c[0].parse::<i64>().map_err(|_| ApiError::invalid("cursor", "malformed"))?),
        None => None,
    };
    let rows = mirror::reads::pool_events_page(&state.db, &chain, &address, kind, before_id, limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |e| cursor("events", &[e.id.to_string()]))))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pools", get(pools))
        .route("/discoveries", get(discoveries))
        .route("/pools/{chain}/{address}", get(pool))
        .route("/pools/{chain}/{address}/events", get(events))
}
