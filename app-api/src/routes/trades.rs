//! The keeper's trades (with aggregator comparisons) and positions (with PnL in the quote token
//! and in USD).

use axum::{extract::State, routing::get, Json, Router};
use serde::Serialize;
use sqlx::{FromRow, QueryBuilder, Sqlite};
use utoipa::ToSchema;

use super::{check_chain, Page};
use crate::{
    error::{ApiError, ApiResult},
    params::{cursor, Params},
    AppState,
};

#[derive(Debug, Serialize, ToSchema, FromRow)]
pub struct Trade {
    pub id: i64,
    pub position_id: i64,
    pub chain: String,
    /// dry_run (paper fill, nothing sent) or live.
    pub mode: String,
    /// buy or sell.
    pub side: String,
    /// snipe, take_profit, stop_loss, trailing_stop or max_hold.
    pub reason: String,
    /// intent, sent, confirmed or failed.
    pub status: String,
    pub token: String,
    /// Base units, exact decimal strings: paid, quoted, the least accepted, received.
    pub amount_in: String,
    pub quoted_out: String,
    pub min_out: String,
    pub amount_out: Option<String>,
    /// The transaction that landed (EVM hash or Solana signature); none for paper trades.
    pub tx_id: Option<String>,
    pub block: Option<i64>,
    pub fee_paid: Option<String>,
    pub error: Option<String>,
    pub attempts: i64,
    pub created_at_ms: i64,
    pub settled_at_ms: Option<i64>,
    /// EVM buys: what 0x and 1inch quoted for the same input, against `quoted_out`.
    #[sqlx(skip)]
    pub aggregator_quotes: Vec<AggregatorQuote>,
}

/// An aggregator's quote for a buy, compared with the keeper's own pair quote.
#[derive(Debug, Serialize, ToSchema, FromRow)]
pub struct AggregatorQuote {
    #[serde(skip)]
    pub trade_id: i64,
    /// zeroex or oneinch.
    pub service: String,
    /// Base units the aggregator would have delivered; none when it failed or had no route.
    pub their_out: Option<String>,
    /// (theirs - ours) * 10000 / ours: positive when the aggregator would have delivered more.
    pub diff_bps: Option<i64>,
    pub error: Option<String>,
    pub created_at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema, FromRow)]
pub struct Position {
    pub id: i64,
    pub chain: String,
    pub mode: String,
    /// opening, open, closing, closed or failed.
    pub status: String,
    pub pool_address: String,
    /// Where it trades: amm (ours), a V2 venue, or a Solana venue reached through Jupiter.
    pub venue: String,
    pub token: String,
    pub quote_token: String,
    /// Tokens held, quote paid, quote received from sells (base units).
    pub size: String,
    pub cost: String,
    pub proceeds: String,
    /// What the whole size would sell for at the last valuation, after the sell tax.
    pub last_value: Option<String>,
    pub peak_value: Option<String>,
    pub exit_reason: Option<String>,
    pub opened_at_ms: i64,
    pub closed_at_ms: Option<i64>,
    /// Profit or loss in the quote token's base units (signed decimal): realized once closed,
    /// unrealized (at `last_value`) while open.
    #[sqlx(skip)]
    pub realized_pnl: Option<String>,
    #[sqlx(skip)]
    pub unrealized_pnl: Option<String>,
    /// USD (exact decimal strings, from CoinGecko prices of the quote token; none until priced):
    /// the quote token's price now, cost at the entry price, proceeds at the exit price, the
    /// open size's value now, and PnL (realized once closed, unrealized while open).
    pub quote_usd: Option<String>,
    pub cost_usd: Option<String>,
    pub proceeds_usd: Option<String>,
    pub value_usd: Option<String>,
    pub pnl_usd: Option<String>,
    pub usd_at_ms: Option<i64>,
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

fn filter<'a>(q: &mut QueryBuilder<'a, Sqlite>, params: &Params, field: &str, allowed: &[&str]) -> ApiResult<()> {
    if let Some(v) = params.str(field) {
        if !allowed.contains(&v) {
            return Err(ApiError::invalid(field, format!("must be one of {}", allowed.join(", "))));
        }
        q.push(format!(" AND {field} = ")).push_bind(v.to_string());
    }
    Ok(())
}

fn common<'a>(q: &mut QueryBuilder<'a, Sqlite>, params: &Params, tag: &str) -> ApiResult<()> {
    if let Some(chain) = params.str("chain") {
        check_chain("chain", chain)?;
        q.push(" AND chain = ").push_bind(chain.to_string());
    }
    filter(q, params, "mode", &["dry_run", "live"])?;
    if let Some(c) = params.cursor(tag, 1)? {
        let id: i64 = c[0].parse().map_err(|_| ApiError::invalid("cursor", "malformed"))?;
        q.push(" AND id < ").push_bind(id);
    }
    Ok(())
}

/// Trades, newest first.
#[utoipa::path(get, path = "/api/v1/trades", tag = "trading",
    params(("chain" = Option<String>, Query, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name"),
        ("mode" = Option<String>, Query, pattern = "^(dry_run|live)$", description = "dry_run or live"),
        ("side" = Option<String>, Query, pattern = "^(buy|sell)$", description = "buy or sell"),
        ("status" = Option<String>, Query, pattern = "^(intent|sent|confirmed|failed)$", description = "trade status"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,512}$", description = "next_cursor of the previous page")),
    responses((status = 200, body = Page<Trade>), (status = 400, body = crate::error::ErrorBody)))]
pub async fn trades(State(state): State<AppState>, params: Params) -> ApiResult<Json<Page<Trade>>> {
    params.only(&["chain", "mode", "side", "status", "limit", "cursor"])?;
    let limit = params.limit(50, 200)?;
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT id, position_id, chain, mode, side, reason, status, token, amount_in, quoted_out, min_out, amount_out,
            tx_id, block, fee_paid, error, attempts, created_at_ms, settled_at_ms FROM trades WHERE 1 = 1",
    );
    filter(&mut q, &params, "side", &["buy", "sell"])?;
    filter(&mut q, &params, "status", &["intent", "sent", "confirmed", "failed"])?;
    common(&mut q, &params, "trades")?;
    q.push(" ORDER BY id DESC LIMIT ").push_bind(limit + 1);
    let mut rows: Vec<Trade> = q.build_query_as().fetch_all(&state.db).await?;
    if let (Some(first), Some(last)) = (rows.first().map(|t| t.id), rows.last().map(|t| t.id)) {
        let quotes: Vec<AggregatorQuote> = sqlx::query_as(
            "SELECT trade_id, service, their_out, diff_bps, error, created_at_ms FROM aggregator_quotes
             WHERE trade_id BETWEEN ? AND ? ORDER BY trade_id, service",
        )
        .bind(last)
        .bind(first)
        .fetch_all(&state.db)
        .await?;
        for q in quotes {
            if let Some(t) = rows.iter_mut().find(|t| t.id == q.trade_id) {
                t.aggregator_quotes.push(q);
            }
        }
    }
    Ok(Json(Page::from_rows(rows, limit, |t| cursor("trades", &[t.id.to_string()]))))
}

/// Positions, newest first, with PnL.
#[utoipa::path(get, path = "/api/v1/positions", tag = "trading",
    params(("chain" = Option<String>, Query, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name"),
        ("mode" = Option<String>, Query, pattern = "^(dry_run|live)$", description = "dry_run or live"),
        ("status" = Option<String>, Query, pattern = "^(opening|open|closing|closed|failed)$", description = "position status"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,512}$", description = "next_cursor of the previous page")),
    responses((status = 200, body = Page<Position>), (status = 400, body = crate::error::ErrorBody)))]
pub async fn positions(State(state): State<AppState>, params: Params) -> ApiResult<Json<Page<Position>>> {
    params.only(&["chain", "mode", "status", "limit", "cursor"])?;
    let limit = params.limit(50, 200)?;
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT id, chain, mode, status, pool_address, venue, token, quote_token, size, cost, proceeds, last_value,
            peak_value, exit_reason, opened_at_ms, closed_at_ms, quote_usd, cost_usd, proceeds_usd, value_usd, pnl_usd,
            usd_at_ms FROM positions WHERE 1 = 1",
    );
    filter(&mut q, &params, "status", &["opening", "open", "closing", "closed", "failed"])?;
    common(&mut q, &params, "positions")?;
    q.push(" ORDER BY id DESC LIMIT ").push_bind(limit + 1);
    let mut rows: Vec<Position> = q.build_query_as().fetch_all(&state.db).await?;
    for p in &mut rows {
        match p.status.as_str() {
            "closed" => p.realized_pnl = Some(signed_diff(&p.proceeds, &p.cost)),
            "open" | "closing" => p.unrealized_pnl = p.last_value.as_deref().map(|v| signed_diff(v, &p.cost)),
            _ => {}
        }
    }
    Ok(Json(Page::from_rows(rows, limit, |p| cursor("positions", &[p.id.to_string()]))))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/trades", get(trades)).route("/positions", get(positions))
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
