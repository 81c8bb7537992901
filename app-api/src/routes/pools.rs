//! Pools (ours on Solana and discovered pairs on EVM chains), their history and events, and the
//! discovery feed.

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

/// The latest risk assessment of a pool's token.
#[derive(Debug, Serialize, ToSchema)]
pub struct RiskSummary {
    pub score: i64,
    pub verdict: String,
    pub tradeable: bool,
    pub summary: String,
    pub created_at_ms: i64,
}

/// A pool as every endpoint returns it. The JSON itself is built inside SQLite by
/// [`select_json`] (one text column per row), so this type documents the shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pool {
    pub id: i64,
    pub chain: String,
    /// amm (ours), uniswap_v2, pancakeswap_v2, quickswap_v2, uniswap_v3...
    pub venue: String,
    pub address: String,
    pub token_a: String,
    pub token_b: String,
    /// Base units, exact decimal strings.
    pub reserve_a: String,
    pub reserve_b: String,
    pub lp_supply: Option<String>,
    pub fee_bps: Option<i64>,
    pub created_slot: Option<i64>,
    pub created_tx: Option<String>,
    pub created_block_time: Option<i64>,
    pub first_seen_at_ms: i64,
    /// The side being evaluated (EVM discoveries): the token that is not the wrapped native one.
    pub base_token: Option<String>,
    pub creator: Option<String>,
    pub risk: Option<RiskSummary>,
}

/// The quote-side reserve: the side that is not `base_token` (reserve_b when unknown).
const QUOTE_RESERVE: &str =
    "CASE WHEN p.base_token = p.token_a THEN p.reserve_b WHEN p.base_token = p.token_b THEN p.reserve_a ELSE p.reserve_b END";

/// Builds each pool's JSON inside SQLite (one text column per row instead of 22 decoded columns,
/// which roughly halves the cost of a page); the shape is exactly [`Pool`]'s.
fn select_json() -> QueryBuilder<'static, Sqlite> {
    QueryBuilder::new(format!(
        "SELECT json_object('id', p.id, 'chain', p.chain, 'venue', p.venue, 'address', p.address,
            'token_a', p.token_a, 'token_b', p.token_b, 'reserve_a', p.reserve_a, 'reserve_b', p.reserve_b,
            'lp_supply', p.lp_supply, 'fee_bps', p.fee_bps, 'created_slot', p.created_slot,
            'created_tx', p.created_tx, 'created_block_time', p.created_block_time,
            'first_seen_at_ms', p.first_seen_at_ms, 'base_token', p.base_token, 'creator', p.creator,
            'risk', CASE WHEN r.id IS NULL THEN NULL ELSE json_object('score', r.score, 'verdict', r.verdict,
                'tradeable', json(CASE WHEN r.tradeable THEN 'true' ELSE 'false' END), 'summary', r.summary,
                'created_at_ms', r.created_at_ms) END) AS item,
            p.first_seen_at_ms, p.id, {QUOTE_RESERVE} AS quote_reserve
         FROM pools p
         LEFT JOIN risk_reports r ON r.id = (SELECT max(id) FROM risk_reports WHERE pool_id = p.id)
         WHERE 1 = 1"
    ))
}

#[derive(FromRow)]
struct ListRow {
    item: String,
    first_seen_at_ms: i64,
    id: i64,
    quote_reserve: String,
}

type RawPage = Page<Box<serde_json::value::RawValue>>;

async fn list(state: &AppState, params: &Params, allowed: &[&str], sorts: &[&str]) -> ApiResult<RawPage> {
    params.only(allowed)?;
    let limit = params.limit(50, 200)?;
    let sort = params.choice("sort", sorts)?;
    let mut q = select_json();
    if let Some(chain) = params.str("chain") {
        check_chain("chain", chain)?;
        q.push(" AND p.chain = ").push_bind(chain.to_string());
    }
    if let Some(venue) = params.str("venue") {
        check_chain("venue", venue)?;
        q.push(" AND p.venue = ").push_bind(venue.to_string());
    }
    if let Some(token) = params.str("token") {
        let token = normalize_address("token", token)?;
        q.push(" AND (p.token_a = ").push_bind(token.clone()).push(" OR p.token_b = ").push_bind(token).push(")");
    }
    match sort {
        "age" => {
            if let Some(c) = params.cursor("age", 2)? {
                let seen: i64 = c[0].parse().map_err(|_| ApiError::invalid("cursor", "malformed"))?;
                let id: i64 = c[1].parse().map_err(|_| ApiError::invalid("cursor", "malformed"))?;
                q.push(" AND (p.first_seen_at_ms, p.id) < (").push_bind(seen).push(", ").push_bind(id).push(")");
            }
            q.push(" ORDER BY p.first_seen_at_ms DESC, p.id DESC");
        }
        _ => {
            if let Some(c) = params.cursor("liquidity", 2)? {
                let id: i64 = c[1].parse().map_err(|_| ApiError::invalid("cursor", "malformed"))?;
                if !c[0].bytes().all(|b| b.is_ascii_digit()) || c[0].is_empty() {
                    return Err(ApiError::invalid("cursor", "malformed"));
                }
                q.push(format!(" AND (length({QUOTE_RESERVE}), {QUOTE_RESERVE}, p.id) < ("))
                    .push_bind(i64::try_from(c[0].len()).unwrap_or(i64::MAX))
                    .push(", ")
                    .push_bind(c[0].clone())
                    .push(", ")
                    .push_bind(id)
                    .push(")");
            }
            q.push(format!(" ORDER BY length({QUOTE_RESERVE}) DESC, {QUOTE_RESERVE} DESC, p.id DESC"));
        }
    }
    q.push(" LIMIT ").push_bind(limit + 1);
    let rows: Vec<ListRow> = q.build_query_as().fetch_all(&state.db).await?;
    let page = Page::from_rows(rows, limit, |p| match sort {
        "age" => cursor("age", &[p.first_seen_at_ms.to_string(), p.id.to_string()]),
        _ => cursor("liquidity", &[p.quote_reserve.clone(), p.id.to_string()]),
    });
    let items = page
        .items
        .into_iter()
        .map(|r| serde_json::value::RawValue::from_string(r.item))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Internal(format!("pool json: {e}")))?;
    Ok(Page { items, next_cursor: page.next_cursor })
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
pub async fn pools(State(state): State<AppState>, params: Params) -> ApiResult<Json<RawPage>> {
    Ok(Json(
        list(&state, &params, &["chain", "venue", "token", "sort", "limit", "cursor"], &["age", "liquidity"]).await?,
    ))
}

/// Newly discovered pools, newest first, each with its latest risk assessment.
#[utoipa::path(get, path = "/api/v1/discoveries", tag = "pools",
    params(
        ("chain" = Option<String>, Query, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,512}$", description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = Page<Pool>), (status = 400, body = crate::error::ErrorBody)))]
pub async fn discoveries(State(state): State<AppState>, params: Params) -> ApiResult<Json<RawPage>> {
    Ok(Json(list(&state, &params, &["chain", "limit", "cursor"], &["age"]).await?))
}

#[derive(Debug, Serialize, ToSchema, FromRow)]
pub struct ReservePoint {
    pub slot: i64,
    pub block_time: Option<i64>,
    pub kind: String,
    pub reserve_a: String,
    pub reserve_b: String,
}

/// A pool (the fields of [`Pool`]) with its reserve history.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolDetail {
    #[serde(flatten)]
    pub pool: Pool,
    /// Reserves after every event that changed them, oldest first (the latest 500).
    pub reserve_history: Vec<ReservePoint>,
}

/// The pool's JSON object and its (chain, normalised address).
async fn find_pool(
    state: &AppState,
    chain: &str,
    address: &str,
) -> ApiResult<(serde_json::Map<String, serde_json::Value>, String, String)> {
    check_chain("chain", chain)?;
    let address = normalize_address("address", address)?;
    let mut q = select_json();
    q.push(" AND p.chain = ").push_bind(chain.to_string()).push(" AND p.address = ").push_bind(address.clone());
    let row: Option<ListRow> = q.build_query_as().fetch_optional(&state.db).await?;
    let row = row.ok_or_else(|| ApiError::NotFound("pool".into()))?;
    let pool = serde_json::from_str(&row.item).map_err(|e| ApiError::Internal(format!("pool json: {e}")))?;
    Ok((pool, chain.to_string(), address))
}

/// One pool with its reserve history.
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
    let mut history: Vec<ReservePoint> = sqlx::query_as(
        "SELECT slot, block_time, kind, reserve_a_after AS reserve_a, reserve_b_after AS reserve_b FROM pool_events
         WHERE chain = ? AND pool_address = ? AND reserve_a_after IS NOT NULL AND reserve_b_after IS NOT NULL
         ORDER BY slot DESC, id DESC LIMIT 500",
    )
    .bind(&chain)
    .bind(&address)
    .fetch_all(&state.db)
    .await?;
    history.reverse();
    let history = serde_json::to_value(history).map_err(|e| ApiError::Internal(e.to_string()))?;
    pool.insert("reserve_history".into(), history);
    Ok(Json(pool))
}

#[derive(Debug, Serialize, ToSchema, FromRow)]
pub struct PoolEvent {
    pub id: i64,
    pub chain: String,
    pub pool_address: Option<String>,
    pub tx_id: String,
    pub slot: i64,
    pub block_time: Option<i64>,
    /// pool_created, liquidity_added, liquidity_removed, swap, status_changed, fees_collected...
    pub kind: String,
    pub actor: Option<String>,
    pub a_to_b: Option<bool>,
    pub amount_in: Option<String>,
    pub amount_out: Option<String>,
    pub amount_a: Option<String>,
    pub amount_b: Option<String>,
    pub lp_amount: Option<String>,
    pub reserve_a_after: Option<String>,
    pub reserve_b_after: Option<String>,
}

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
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT id, chain, pool_address, tx_id, slot, block_time, kind, actor, a_to_b, amount_in, amount_out, amount_a,
            amount_b, lp_amount, reserve_a_after, reserve_b_after FROM pool_events WHERE chain = ",
    );
    q.push_bind(chain).push(" AND pool_address = ").push_bind(address);
    if let Some(kind) = params.str("kind") {
        let kinds =
            ["pool_created", "liquidity_added", "liquidity_removed", "swap", "status_changed", "fees_collected"];
        let kind = kinds
            .iter()
            .find(|k| **k == kind)
            .ok_or_else(|| ApiError::invalid("kind", format!("must be one of {}", kinds.join(", "))))?;
        q.push(" AND kind = ").push_bind(*kind);
    }
    if let Some(c) = params.cursor("events", 1)? {
        let id: i64 = c[0].parse().map_err(|_| ApiError::invalid("cursor", "malformed"))?;
        q.push(" AND id < ").push_bind(id);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(limit + 1);
    let rows: Vec<PoolEvent> = q.build_query_as().fetch_all(&state.db).await?;
    Ok(Json(Page::from_rows(rows, limit, |e| cursor("events", &[e.id.to_string()]))))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pools", get(pools))
        .route("/discoveries", get(discoveries))
        .route("/pools/{chain}/{address}", get(pool))
        .route("/pools/{chain}/{address}/events", get(events))
}
