//! How the keeper's trading went and where it stands: the performance of closed positions per
//! chain (equity curve, win rate, profit factor, max drawdown, today's PnL) and an overview of
//! each chain's positions, budget used against its limit, and breaker.
//!
//! Amounts are integers of the quote token's base units, summed exactly (i128) and served as
//! decimal strings; ratios are decimal strings computed by integer division.

use axum::{extract::State, routing::get, Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::check_chain;
use crate::{
    error::{ApiError, ApiResult},
    now_ms,
    params::Params,
    AppState,
};

/// One point of an equity curve: the cumulative realized PnL after a position closed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EquityPoint {
    pub at_ms: i64,
    pub position_id: i64,
    /// Signed decimal string, base units of the quote token.
    pub equity: String,
}

/// Closed positions of one chain, mode and quote token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Performance {
    pub chain: String,
    pub mode: String,
    pub quote_token: String,
    pub closed: u64,
    pub wins: u64,
    pub losses: u64,
    /// Wins over closed positions, in basis points.
    pub win_rate_bps: u64,
    /// Signed decimal strings in base units: the sum of every PnL, of the profits, and of the
    /// losses (as a positive amount).
    pub net_pnl: String,
    pub gross_profit: String,
    pub gross_loss: String,
    /// Gross profit over gross loss, two decimals (`null` without a loss).
    pub profit_factor: Option<String>,
    /// The largest fall of the equity curve from a previous peak (a non-negative amount).
    pub max_drawdown: String,
    /// PnL of the positions closed since 00:00 UTC today.
    pub today_pnl: String,
    /// Oldest first.
    pub equity: Vec<EquityPoint>,
}

fn amount(field: &str, v: &str) -> ApiResult<i128> {
    v.parse::<i128>().map_err(|_| ApiError::Unprocessable(format!("{field} `{v}` is not an amount this API can sum")))
}

fn add(a: i128, b: i128) -> ApiResult<i128> {
    a.checked_add(b).ok_or_else(|| ApiError::Unprocessable("a sum of amounts overflows".into()))
}

/// `num / den` with two decimals, rounded down (`den` > 0, both non-negative).
fn ratio(num: i128, den: i128) -> Option<String> {
    let hundredths = num.checked_mul(100)? / den;
    Some(format!("{}.{:02}", hundredths / 100, hundredths % 100))
}

/// The start of the current UTC day, unix ms.
pub fn day_start_ms(now_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(86_400_000)
}

/// The figures of `rows` (already one group, in closing order).
pub fn performance(rows: &[mirror::reads::ClosedPosition], day_start_ms: i64) -> ApiResult<Option<Performance>> {
    let Some(first) = rows.first() else { return Ok(None) };
    let (mut equity, mut peak, mut drawdown, mut today) = (0i128, 0i128, 0i128, 0i128);
    let (mut profit, mut loss, mut wins, mut losses) = (0i128, 0i128, 0u64, 0u64);
    let mut curve = Vec::with_capacity(rows.len());
    for p in rows {
        let pnl = amount("proceeds", &p.proceeds)?
            .checked_sub(amount("cost", &p.cost)?)
            .ok_or_else(|| ApiError::Unprocessable("a PnL overflows".into()))?;
        equity = add(equity, pnl)?;
        peak = peak.max(equity);
        drawdown = drawdown.max(peak - equity);
        if pnl > 0 {
            profit = add(profit, pnl)?;
            wins += 1;
        } else if pnl < 0 {
            loss = add(loss, -pnl)?;
            losses += 1;
        }
        if p.closed_at_ms >= day_start_ms {
            today = add(today, pnl)?;
        }
        curve.push(EquityPoint { at_ms: p.closed_at_ms, position_id: p.id, equity: equity.to_string() });
    }
    let closed = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    Ok(Some(Performance {
        chain: first.chain.clone(),
        mode: first.mode.clone(),
        quote_token: first.quote_token.clone(),
        closed,
        wins,
        losses,
        win_rate_bps: wins * 10_000 / closed,
        net_pnl: equity.to_string(),
        gross_profit: profit.to_string(),
        gross_loss: loss.to_string(),
        profit_factor: if loss > 0 { ratio(profit, loss) } else { None },
        max_drawdown: drawdown.to_string(),
        today_pnl: today.to_string(),
        equity: curve,
    }))
}

/// Performance of closed positions per chain, mode and quote token.
#[utoipa::path(get, path = "/api/v1/performance", tag = "trading",
    params(("chain" = Option<String>, Query, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name"),
        ("mode" = Option<String>, Query, pattern = "^(dry_run|live)$", description = "dry_run or live")),
    responses((status = 200, body = Vec<Performance>), (status = 400, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn performances(State(state): State<AppState>, params: Params) -> ApiResult<Json<Vec<Performance>>> {
    params.only(&["chain", "mode"])?;
    let chain = params.str("chain");
    if let Some(chain) = chain {
        check_chain("chain", chain)?;
    }
    let mode = params.str("mode");
    if mode.is_some_and(|m| m != "dry_run" && m != "live") {
        return Err(ApiError::invalid("mode", "must be one of dry_run, live"));
    }
    let mut rows = mirror::reads::closed_positions(&state.db, chain, mode).await?;
    // Stable: each group keeps its closing order.
    rows.sort_by(|a, b| (&a.chain, &a.mode, &a.quote_token).cmp(&(&b.chain, &b.mode, &b.quote_token)));
    let today = day_start_ms(now_ms());
    let mut out = Vec::new();
    for group in rows.chunk_by(|a, b| (&a.chain, &a.mode, &a.quote_token) == (&b.chain, &b.mode, &b.quote_token)) {
        out.extend(performance(group, today)?);
    }
    Ok(Json(out))
}

/// One chain's trading in one mode now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainOverview {
    pub chain: String,
    pub mode: String,
    /// Opening, open or closing; and trapped.
    pub open_positions: i64,
    pub trapped_positions: i64,
    /// The limit on open positions (all chains together), the operator's when set.
    pub max_open_positions: Option<u32>,
    /// Spent on buys since 00:00 UTC, and the day's budget (the operator's when set), decimal
    /// strings in base units of the chain's quote token.
    pub spent_today: String,
    pub daily_budget: Option<String>,
    pub consecutive_failures: i64,
    /// Buying is stopped until then (unix ms) after repeated failures; 0 when it never opened.
    pub breaker_open_until_ms: i64,
    pub breaker_open: bool,
}

/// Where the keeper's trading stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    pub paused: bool,
    pub day_start_ms: i64,
    pub chains: Vec<ChainOverview>,
    /// What the anomaly watch flagged in the last 24 hours on pools we hold, newest first (50 at
    /// most).
    pub held_anomalies: Vec<HeldAnomaly>,
}

/// An anomaly on a pool we hold a position in.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeldAnomaly {
    pub id: i64,
    pub chain: String,
    pub pool_address: String,
    pub token: String,
    /// As the chain gave it: untrusted text.
    pub symbol: Option<String>,
    /// `liquidity_drop`, `sell_tax_jump`, `concentration_jump` or `volume_spike`.
    pub kind: String,
    pub severity: String,
    pub explanation: String,
    pub created_at_ms: i64,
}

/// Positions held, budget used against the limits, and breakers, per chain and mode; the
/// anomalies flagged on held pools in the last day.
#[utoipa::path(get, path = "/api/v1/overview", tag = "trading",
    responses((status = 200, body = Overview), (status = 400, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn overview(State(state): State<AppState>, params: Params) -> ApiResult<Json<Overview>> {
    params.only(&[])?;
    let now = now_ms();
    let day_start = day_start_ms(now);
    let controls = mirror::api::controls(&state.writer).await?;
    let limits: mirror::Limits = serde_json::from_str(&controls.limits).unwrap_or_default();
    let settings = mirror::tasks::mode(&state.db).await?.map(|m| m.settings).unwrap_or_default();
    let buys = mirror::reads::buys_since(&state.db, day_start).await?;
    let mut chains = Vec::new();
    for a in mirror::reads::chain_activity(&state.db).await? {
        let mut spent = 0i128;
        for (_, _, amount_in) in buys.iter().filter(|(c, m, _)| *c == a.chain && *m == a.mode) {
            spent = add(spent, amount("amount_in", amount_in)?)?;
        }
        let daily_budget = limits
            .budgets
            .get(&a.chain)
            .and_then(|b| b.daily_budget.clone())
            .or_else(|| settings.budgets.get(&a.chain).map(|b| b.daily_budget.clone()));
        let max_open_positions =
            limits.max_open_positions.or((settings.max_open_positions > 0).then_some(settings.max_open_positions));
        chains.push(ChainOverview {
            breaker_open: a.breaker_open_until_ms > now,
            chain: a.chain,
            mode: a.mode,
            open_positions: a.open_positions,
            trapped_positions: a.trapped_positions,
            max_open_positions,
            spent_today: spent.to_string(),
            daily_budget,
            consecutive_failures: a.consecutive_failures,
            breaker_open_until_ms: a.breaker_open_until_ms,
        });
    }
    let held_anomalies = mirror::anomalies::on_held(&state.db, now - 86_400_000, 50)
        .await?
        .into_iter()
        .map(|a| HeldAnomaly {
            explanation: serde_json::from_str::<serde_json::Value>(&a.finding)
                .ok()
                .and_then(|f| f["explanation"].as_str().map(str::to_string))
                .unwrap_or_default(),
            id: a.id,
            chain: a.chain,
            pool_address: a.pool_address,
            token: a.token,
            symbol: a.symbol,
            kind: a.kind,
            severity: a.severity,
            created_at_ms: a.created_at_ms,
        })
        .collect();
    Ok(Json(Overview { paused: controls.paused, day_start_ms: day_start, chains, held_anomalies }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/performance", get(performances)).route("/overview", get(overview))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(id: i64, cost: &str, proceeds: &str, at: i64) -> mirror::reads::ClosedPosition {
        mirror::reads::ClosedPosition {
            id,
            chain: "bsc".into(),
            mode: "dry_run".into(),
            quote_token: "wbnb".into(),
            cost: cost.into(),
            proceeds: proceeds.into(),
            exit_reason: None,
            closed_at_ms: at,
        }
    }

    #[test]
    fn figures_by_hand() {
        // PnLs +50, -30, +20, -40, +10: equity 50, 20, 40, 0, 10; peak 50, so the largest
        // fall is 50 (to 0). Profit 80, loss 70: factor 1.14 (rounded down). Today (>= 300):
        // -40 + 10.
        let rows = [
            closed(1, "100", "150", 100),
            closed(2, "100", "70", 200),
            closed(3, "100", "120", 300),
            closed(4, "100", "60", 400),
            closed(5, "100", "110", 500),
        ];
        let p = performance(&rows, 300).unwrap().unwrap();
        assert_eq!((p.closed, p.wins, p.losses, p.win_rate_bps), (5, 3, 2, 6_000));
        assert_eq!((p.net_pnl.as_str(), p.gross_profit.as_str(), p.gross_loss.as_str()), ("10", "80", "70"));
        assert_eq!(p.profit_factor.as_deref(), Some("1.14"));
        assert_eq!(p.max_drawdown, "50");
        assert_eq!(p.today_pnl, "-10");
        let curve: Vec<&str> = p.equity.iter().map(|e| e.equity.as_str()).collect();
        assert_eq!(curve, ["50", "20", "40", "0", "10"]);
    }

    #[test]
    fn no_loss_has_no_factor_and_wei_amounts_sum_exactly() {
        let big = "340282366920938463463374607431768211"; // 3.4e35 wei: beyond f64's exact range
        let rows = [closed(1, "1", big, 1)];
        let p = performance(&rows, 0).unwrap().unwrap();
        assert_eq!(p.net_pnl, "340282366920938463463374607431768210");
        assert_eq!(p.profit_factor, None);
        assert_eq!(p.max_drawdown, "0");
        let too_big = "1".repeat(50);
        assert!(performance(&[closed(1, "1", &too_big, 1)], 0).is_err(), "refused, not wrapped");
    }

    #[test]
    fn the_utc_day_starts_at_midnight() {
        assert_eq!(day_start_ms(86_400_000 * 3 + 5), 86_400_000 * 3);
    }
}
