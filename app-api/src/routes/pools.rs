//! Pools (ours on Solana and discovered pairs on EVM chains), their history and events, and the
//! discovery feed.

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

/// The latest risk assessment of a pool's token.
#[derive(Debug, Serialize, ToSchema)]
pub struct RiskSummary<'a> {
    pub score: i64,
    pub verdict: &'a str,
    pub tradeable: bool,
    pub summary: &'a str,
    pub created_at_ms: i64,
}

/// What DexScreener knew of the pool's token when the keeper looked (USD as exact decimal
/// strings).
#[derive(Debug, Serialize, ToSchema)]
pub struct MarketSummary<'a> {
    /// false: DexScreener lists no pair for the token.
    pub listed: bool,
    pub dex: Option<&'a str>,
    pub pair_address: Option<&'a str>,
    pub url: Option<&'a str>,
    pub price_usd: Option<&'a str>,
    pub liquidity_usd: Option<&'a str>,
    pub fdv_usd: Option<&'a str>,
    pub market_cap_usd: Option<&'a str>,
    pub pair_created_at_ms: Option<i64>,
    pub websites: Vec<String>,
    /// "platform:handle".
    pub socials: Vec<String>,
    pub fetched_at_ms: i64,
}

// Borrowed straight from SQLite's row buffers (see `pool_ref`): serialised without a copy per
// field. The doc line below is the OpenAPI description.
/// A pool as every endpoint returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pool<'a> {
    pub id: i64,
    pub chain: &'a str,
    /// amm (ours), uniswap_v2, pancakeswap_v2, quickswap_v2, uniswap_v3...
    pub venue: &'a str,
    pub address: &'a str,
    pub token_a: &'a str,
    pub token_b: &'a str,
    /// Base units, exact decimal strings.
    pub reserve_a: &'a str,
    pub reserve_b: &'a str,
    pub lp_supply: Option<&'a str>,
    pub fee_bps: Option<i64>,
    pub created_slot: Option<i64>,
    pub created_tx: Option<&'a str>,
    pub created_block_time: Option<i64>,
    pub first_seen_at_ms: i64,
    /// The side being evaluated (EVM discoveries): the token that is not the wrapped native one.
    pub base_token: Option<&'a str>,
    pub creator: Option<&'a str>,
    pub risk: Option<RiskSummary<'a>>,
    /// DexScreener enrichment (when the keeper has it enabled).
    pub market: Option<MarketSummary<'a>>,
}

/// The quote-side reserve: the side that is not `base_token` (reserve_b when unknown).
const QUOTE_RESERVE: &str =
    "CASE WHEN p.base_token = p.token_a THEN p.reserve_b WHEN p.base_token = p.token_b THEN p.reserve_a ELSE p.reserve_b END";

/// The columns of a pool and its latest risk report, in [`pool_ref`]'s order, then the
/// quote-side reserve (the liquidity sort key).
fn item_select() -> String {
    format!(
        "SELECT p.id, p.chain, p.venue, p.address, p.token_a, p.token_b, p.reserve_a, p.reserve_b, p.lp_supply,
            p.fee_bps, p.created_slot, p.created_tx, p.created_block_time, p.first_seen_at_ms, p.base_token,
            p.creator, r.id, r.score, r.verdict, r.tradeable, r.summary, r.created_at_ms,
            {QUOTE_RESERVE} AS quote_reserve,
            m.listed, m.dex, m.pair_address, m.url, m.price_usd, m.liquidity_usd, m.fdv_usd, m.market_cap_usd,
            m.pair_created_at_ms, m.websites, m.socials, m.fetched_at_ms
         FROM pools p
         LEFT JOIN risk_reports r ON r.id = (SELECT max(id) FROM risk_reports WHERE pool_id = p.id)
         LEFT JOIN token_markets m ON m.chain = p.chain AND m.token = COALESCE(p.base_token, p.token_a)
         WHERE 1 = 1"
    )
}

fn pool_ref<'a>(r: &'a rusqlite::Row<'a>) -> rusqlite::Result<Pool<'a>> {
    let text = |i: usize| -> rusqlite::Result<&'a str> { Ok(r.get_ref(i)?.as_str()?) };
    let opt_text = |i: usize| -> rusqlite::Result<Option<&'a str>> { Ok(r.get_ref(i)?.as_str_or_null()?) };
    let risk = match r.get::<_, Option<i64>>(16)? {
        None => None,
        Some(_) => Some(RiskSummary {
            score: r.get(17)?,
            verdict: text(18)?,
            tradeable: r.get(19)?,
            summary: text(20)?,
            created_at_ms: r.get(21)?,
        }),
    };
    let list = |i: usize| -> rusqlite::Result<Vec<String>> {
        serde_json::from_str(text(i)?)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
    };
    let market = match r.get::<_, Option<bool>>(23)? {
        None => None,
        Some(listed) => Some(MarketSummary {
            listed,
            dex: opt_text(24)?,
            pair_address: opt_text(25)?,
            url: opt_text(26)?,
            price_usd: opt_text(27)?,
            liquidity_usd: opt_text(28)?,
            fdv_usd: opt_text(29)?,
            market_cap_usd: opt_text(30)?,
            pair_created_at_ms: r.get(31)?,
            websites: list(32)?,
            socials: list(33)?,
            fetched_at_ms: r.get(34)?,
        }),
    };
    Ok(Pool {
        id: r.get(0)?,
        chain: text(1)?,
        venue: text(2)?,
        address: text(3)?,
        token_a: text(4)?,
        token_b: text(5)?,
        reserve_a: text(6)?,
        reserve_b: text(7)?,
        lp_supply: opt_text(8)?,
        fee_bps: r.get(9)?,
        created_slot: r.get(10)?,
        created_tx: opt_text(11)?,
        created_block_time: r.get(12)?,
        first_seen_at_ms: r.get(13)?,
        base_token: opt_text(14)?,
        creator: opt_text(15)?,
        risk,
        market,
    })
}

fn to_sql_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

/// A page as JSON text, `{"items": [...], "next_cursor": ...}` (the shape of `Page<Pool>`).
pub struct JsonPage(String);

impl axum::response::IntoResponse for JsonPage {
    fn into_response(self) -> axum::response::Response {
        ([(axum::http::header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

async fn list(state: &AppState, params: &Params, allowed: &[&str], sorts: &[&str]) -> ApiResult<JsonPage> {
    use rusqlite::types::Value;
    params.only(allowed)?;
    let limit = params.limit(50, 200)?;
    let sort = params.choice("sort", sorts)?;
    let mut sql = item_select();
    let mut args: Vec<Value> = Vec::new();
    if let Some(chain) = params.str("chain") {
        check_chain("chain", chain)?;
        sql.push_str(" AND p.chain = ?");
        args.push(Value::Text(chain.to_string()));
    }
    if let Some(venue) = params.str("venue") {
        check_chain("venue", venue)?;
        sql.push_str(" AND p.venue = ?");
        args.push(Value::Text(venue.to_string()));
    }
    if let Some(token) = params.str("token") {
        let token = normalize_address("token", token)?;
        sql.push_str(" AND (p.token_a = ? OR p.token_b = ?)");
        args.extend([Value::Text(token.clone()), Value::Text(token)]);
    }
    match sort {
        "age" => {
            if let Some(c) = params.cursor("age", 2)? {
                let seen: i64 = c[0].parse().map_err(|_| ApiError::invalid("cursor", "malformed"))?;
                let id: i64 = c[1].parse().map_err(|_| ApiError::invalid("cursor", "malformed"))?;
                sql.push_str(" AND (p.first_seen_at_ms, p.id) < (?, ?)");
                args.extend([Value::Integer(seen), Value::Integer(id)]);
            }
            sql.push_str(" ORDER BY p.first_seen_at_ms DESC, p.id DESC");
        }
        _ => {
            if let Some(c) = params.cursor("liquidity", 2)? {
                let id: i64 = c[1].parse().map_err(|_| ApiError::invalid("cursor", "malformed"))?;
                if !c[0].bytes().all(|b| b.is_ascii_digit()) || c[0].is_empty() {
                    return Err(ApiError::invalid("cursor", "malformed"));
                }
                sql.push_str(&format!(" AND (length({QUOTE_RESERVE}), {QUOTE_RESERVE}, p.id) < (?, ?, ?)"));
                args.extend([
                    Value::Integer(i64::try_from(c[0].len()).unwrap_or(i64::MAX)),
                    Value::Text(c[0].clone()),
                    Value::Integer(id),
                ]);
            }
            sql.push_str(&format!(" ORDER BY length({QUOTE_RESERVE}) DESC, {QUOTE_RESERVE} DESC, p.id DESC"));
        }
    }
    sql.push_str(" LIMIT ?");
    args.push(Value::Integer(limit + 1));
    let keep = usize::try_from(limit).unwrap_or(0);
    // Items are concatenated as they come; the extra row only tells that more exist.
    let (items, next_cursor) = state.direct.read(|conn| {
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut items = Vec::with_capacity(keep * 640 + 64);
        items.extend_from_slice(br#"{"items":["#);
        let (mut n, mut last): (usize, Option<(i64, i64, String)>) = (0, None);
        while let Some(r) = rows.next()? {
            if n == keep {
                return Ok((items, last));
            }
            if n > 0 {
                items.push(b',');
            }
            serde_json::to_writer(&mut items, &pool_ref(r)?).map_err(to_sql_err)?;
            last = Some((r.get(13)?, r.get(0)?, r.get(22)?));
            n += 1;
        }
        Ok((items, None))
    })?;
    let next_cursor = next_cursor.map(|(seen, id, reserve)| match sort {
        "age" => cursor("age", &[seen.to_string(), id.to_string()]),
        _ => cursor("liquidity", &[reserve, id.to_string()]),
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
}

/// The pool's JSON object and its (chain, normalised address).
async fn find_pool(
    state: &AppState,
    chain: &str,
    address: &str,
) -> ApiResult<(serde_json::Map<String, serde_json::Value>, String, String)> {
    check_chain("chain", chain)?;
    let address = normalize_address("address", address)?;
    let sql = format!("{} AND p.chain = ? AND p.address = ?", item_select());
    let pool = state.direct.read(|conn| {
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params![chain, address])?;
        match rows.next()? {
            None => Ok(None),
            Some(r) => serde_json::to_value(pool_ref(r)?).map(Some).map_err(to_sql_err),
        }
    })?;
    let Some(serde_json::Value::Object(pool)) = pool else { return Err(ApiError::NotFound("pool".into())) };
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
    let history = mirror::reads::reserve_history(&state.db, &chain, &address).await?;
    let history = serde_json::to_value(history).map_err(|e| ApiError::Internal(e.to_string()))?;
    pool.insert("reserve_history".into(), history);
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
