//! The keeper's trades (with aggregator comparisons) and positions (with PnL in the quote token
//! and in USD, and each position's health history).

use axum::{
    extract::{Path, State},
    routing::{get, post},
    Json, Router,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{check_chain, normalize_address, Page};
use crate::{
    auth::Operator,
    error::{ApiError, ApiResult},
    params::{cursor, Params},
    AppState,
};

/// A trade, with what 0x and 1inch quoted for the same input (EVM buys).
#[derive(Debug, Serialize, ToSchema)]
pub struct Trade {
    #[serde(flatten)]
    pub trade: mirror::reads::TradeListRow,
    pub aggregator_quotes: Vec<AggregatorQuote>,
}

pub use mirror::reads::AggregatorQuoteRow as AggregatorQuote;

/// A position, with its PnL in the quote token's base units (signed decimal): realized once
/// closed, unrealized (at `last_value`, what a simulated sale of all of it returns now: 0 while
/// it cannot be sold) while open or trapped.
#[derive(Debug, Serialize, ToSchema)]
pub struct Position {
    #[serde(flatten)]
    pub position: mirror::reads::PositionListRow,
    pub realized_pnl: Option<String>,
    pub unrealized_pnl: Option<String>,
}

/// `a - b` for canonical non-negative decimal strings, as a signed decimal string.
pub fn signed_diff(a: &str, b: &str) -> String {
    fn ge(a: &str, b: &str) -> bool {
        (a.len(), a) >= (b.len(), b)
    }
    fn sub(big: &str, small: &str) -> String {
        let (x, y): (Vec<u8>, Vec<u8>) = (big.bytes().rev().collect(), small.bytes().rev().collect());
        let mut out = Vec::with_capacity(x.len());
        let mut borrow = 0i16;
        for (i, d) in x.iter().enumerate() {
            let mut v = i16::from(*d - b'0') - borrow - y.get(i).map_or(0, |c| i16::from(*c - b'0'));
            borrow = i16::from(v < 0);
            if v < 0 {
                v += 10;
            }
            out.push(b'0' + u8::try_from(v).unwrap_or(0));
        }
        while out.len() > 1 && out.last() == Some(&b'0') {
            out.pop();
        }
        out.reverse();
        String::from_utf8(out).unwrap_or_default()
    }
    if ge(a, b) {
        sub(a, b)
    } else {
        format!("-{}", sub(b, a))
    }
}

/// An optional parameter that must be one of `allowed`.
fn one_of<'a>(params: &'a Params, field: &str, allowed: &[&str]) -> ApiResult<Option<&'a str>> {
    match params.str(field) {
        Some(v) if !allowed.contains(&v) => {
            Err(ApiError::invalid(field, format!("must be one of {}", allowed.join(", "))))
        }
        v => Ok(v),
    }
}

/// The filters both lists take: chain, mode, pool and the cursor. The pool, normalised, is
/// kept in `pool` because the filter borrows it.
fn common<'a>(
    params: &'a Params,
    tag: &str,
    pool: &'a mut Option<String>,
) -> ApiResult<mirror::reads::TradeFilter<'a>> {
    *pool = params.str("pool").map(|p| normalize_address("pool", p)).transpose()?;
    let pool: &'a Option<String> = pool;
    let chain = params.str("chain");
    if let Some(chain) = chain {
        check_chain("chain", chain)?;
    }
    let mode = one_of(params, "mode", &["dry_run", "live"])?;
    let before_id = match params.cursor(tag, 1)? {
        Some(c) => Some(c[0].parse::<i64>().map_err(|_| ApiError::invalid("cursor", "malformed"))?),
        None => None,
    };
    Ok(mirror::reads::TradeFilter { chain, mode, before_id, pool: pool.as_deref(), ..Default::default() })
}

/// Trades, newest first.
#[utoipa::path(get, path = "/api/v1/trades", tag = "trading",
    params(("chain" = Option<String>, Query, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name"),
        ("mode" = Option<String>, Query, pattern = "^(dry_run|live)$", description = "dry_run or live"),
        ("pool" = Option<String>, Query, pattern = "^[A-Za-z0-9]{1,64}$", description = "only this pool's positions (and their trades)"),
        ("side" = Option<String>, Query, pattern = "^(buy|sell)$", description = "buy or sell"),
        ("status" = Option<String>, Query, pattern = "^(intent|sent|confirmed|failed)$", description = "trade status"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,512}$", description = "next_cursor of the previous page")),
    responses((status = 200, body = Page<Trade>), (status = 400, body = crate::error::ErrorBody)))]
pub async fn trades(State(state): State<AppState>, params: Params) -> ApiResult<Json<Page<Trade>>> {
    params.only(&["chain", "mode", "pool", "side", "status", "limit", "cursor"])?;
    let limit = params.limit(50, 200)?;
    let side = one_of(&params, "side", &["buy", "sell"])?;
    let status = one_of(&params, "status", &["intent", "sent", "confirmed", "failed"])?;
    let mut pool = None;
    let filter = mirror::reads::TradeFilter { side, status, ..common(&params, "trades", &mut pool)? };
    let rows = mirror::reads::trades_page(&state.db, &filter, limit + 1).await?;
    let mut rows: Vec<Trade> = rows.into_iter().map(|trade| Trade { trade, aggregator_quotes: Vec::new() }).collect();
    if let (Some(first), Some(last)) = (rows.first().map(|t| t.trade.id), rows.last().map(|t| t.trade.id)) {
        for q in mirror::reads::aggregator_quotes(&state.db, last, first).await? {
            if let Some(t) = rows.iter_mut().find(|t| t.trade.id == q.trade_id) {
                t.aggregator_quotes.push(q);
            }
        }
    }
    Ok(Json(Page::from_rows(rows, limit, |t| cursor("trades", &[t.trade.id.to_string()]))))
}

/// Positions, newest first, with PnL.
#[utoipa::path(get, path = "/api/v1/positions", tag = "trading",
    params(("chain" = Option<String>, Query, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name"),
        ("mode" = Option<String>, Query, pattern = "^(dry_run|live)$", description = "dry_run or live"),
        ("pool" = Option<String>, Query, pattern = "^[A-Za-z0-9]{1,64}$", description = "only this pool's positions (and their trades)"),
        ("status" = Option<String>, Query, pattern = "^(opening|open|trapped|closing|closed|failed)$", description = "position status"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,512}$", description = "next_cursor of the previous page")),
    responses((status = 200, body = Page<Position>), (status = 400, body = crate::error::ErrorBody)))]
pub async fn positions(State(state): State<AppState>, params: Params) -> ApiResult<Json<Page<Position>>> {
    params.only(&["chain", "mode", "pool", "status", "limit", "cursor"])?;
    let limit = params.limit(50, 200)?;
    let status = one_of(&params, "status", &["opening", "open", "trapped", "closing", "closed", "failed"])?;
    let mut pool = None;
    let filter = mirror::reads::TradeFilter { status, ..common(&params, "positions", &mut pool)? };
    let rows = mirror::reads::positions_page(&state.db, &filter, limit + 1).await?;
    let rows: Vec<Position> = rows
        .into_iter()
        .map(|p| {
            let (realized_pnl, unrealized_pnl) = match p.status.as_str() {
                "closed" => (Some(signed_diff(&p.proceeds, &p.cost)), None),
                "open" | "trapped" | "closing" => (None, p.last_value.as_deref().map(|v| signed_diff(v, &p.cost))),
                _ => (None, None),
            };
            Position { position: p, realized_pnl, unrealized_pnl }
        })
        .collect();
    Ok(Json(Page::from_rows(rows, limit, |p| cursor("positions", &[p.position.id.to_string()]))))
}

pub use mirror::reads::PositionEventRow as PositionEvent;

/// A position's health history, oldest first: when it became trapped and why, when it recovered,
/// and the exits that found no size to sell.
#[utoipa::path(get, path = "/api/v1/positions/{id}/events", tag = "trading",
    params(("id" = i64, Path, minimum = 1, description = "position id")),
    responses((status = 200, body = Vec<PositionEvent>), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn position_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<Vec<PositionEvent>>> {
    params.only(&[])?;
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| ApiError::invalid("id", "must be a positive integer"))?;
    let events =
        mirror::reads::position_events(&state.db, id).await?.ok_or_else(|| ApiError::NotFound("position".into()))?;
    Ok(Json(events))
}

/// A force-exit accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExitAccepted {
    pub position_id: i64,
    /// `false` when it had been asked already (nothing changed).
    pub new_request: bool,
}

/// Asks the keeper to sell all of an open or trapped position now (operators; audited). The
/// trader acts at its next exit check, with the exit reason `operator`; a sale that fails is
/// retried like any exit. 409 when the position is not open or trapped.
#[utoipa::path(post, path = "/api/v1/positions/{id}/exit", tag = "trading",
    params(("id" = i64, Path, minimum = 1, description = "position id")),
    responses((status = 202, body = ExitAccepted), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn force_exit(
    State(state): State<AppState>,
    Operator(op): Operator,
    Path(id): Path<String>,
) -> ApiResult<(axum::http::StatusCode, Json<ExitAccepted>)> {
    use mirror::api::ExitRequest;
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| ApiError::invalid("id", "must be a positive integer"))?;
    let new_request = match mirror::api::request_exit(&state.writer, id, &format!("api:{}", op.username)).await? {
        ExitRequest::Requested => true,
        ExitRequest::AlreadyRequested => false,
        ExitRequest::NotOpen(status) => return Err(ApiError::Conflict(format!("the position is {status}, not open"))),
        ExitRequest::Unknown => return Err(ApiError::NotFound("position".into())),
    };
    crate::audit(&state, Some((op.id, &op.username)), op.ip, "position_exit", serde_json::json!({ "position_id": id }))
        .await;
    Ok((axum::http::StatusCode::ACCEPTED, Json(ExitAccepted { position_id: id, new_request })))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/trades", get(trades))
        .route("/positions", get(positions))
        .route("/positions/{id}/events", get(position_events))
        .route("/positions/{id}/exit", post(force_exit))
}

#[cfg(test)]
mod tests {
    use super::signed_diff;

    #[test]
    fn pnl_is_an_exact_signed_difference() {
        assert_eq!(signed_diff("1500", "1000"), "500");
        assert_eq!(signed_diff("700", "1000"), "-300");
        assert_eq!(signed_diff("0", "0"), "0");
        assert_eq!(signed_diff("1000", "1000"), "0");
        let big = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(
            signed_diff(big, "1"),
            "115792089237316195423570985008687907853269984665640564039457584007913129639934"
        );
        assert_eq!(
            signed_diff("1", big),
            "-115792089237316195423570985008687907853269984665640564039457584007913129639934"
        );
    }
}
