//! The trader's records, over `mirror::trading` (where the SQL is). The guards are checked and
//! the intent written in one `BEGIN IMMEDIATE` transaction, so two buys can never both pass a
//! limit, and what is on disk is always enough to resume after a crash.

use std::time::Instant;

use alloy::primitives::U256;
use sqlx::SqlitePool;

use mirror::{
    decisions::{self, DecisionRow},
    now_ms, trading, Action, Limits as Overrides, Side,
};

use super::{
    amount,
    guards::{self, Refused, Snapshot},
    strategy::Limits,
    Mode, Outcome, TradingConfig,
};
use crate::pipeline::PoolRecord;

/// The controls row: paused, and the operators' overrides.
pub async fn controls(db: &SqlitePool) -> mirror::Result<(bool, Overrides)> {
    let Some((paused, json)) = trading::controls(db).await? else { return Ok((false, Overrides::default())) };
    let overrides = serde_json::from_str(&json).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "keeper_controls.limits is not valid; using the configured limits");
        Overrides::default()
    });
    Ok((paused, overrides))
}

/// The limits in force on `chain`: config values, overridden by operators. `None` when the
/// chain has no budget configured (it is not traded).
pub fn limits(
    cfg: &TradingConfig,
    chain: &str,
    default_quotes: &[String],
    paused: bool,
    o: &Overrides,
) -> Option<Limits> {
    let b = cfg.chains.get(chain)?;
    let ob = o.budgets.get(chain);
    // Operators' overrides are decimal strings, checked by the API; one that is not is ignored.
    let pick = |over: Option<&Option<String>>, base: U256| {
        over.and_then(|v| v.as_deref()).and_then(|v| U256::from_str_radix(v, 10).ok()).unwrap_or(base)
    };
    Some(Limits {
        paused,
        max_risk_score: o.max_risk_score.unwrap_or(cfg.max_risk_score).min(100),
        max_open_positions: o.max_open_positions.unwrap_or(cfg.max_open_positions),
        slippage_bps: o.max_slippage_bps.unwrap_or(cfg.slippage_bps).clamp(1, 9_999),
        buy_amount: b.buy_amount,
        max_buy: pick(ob.map(|b| &b.max_buy), b.max_buy),
        daily_budget: pick(ob.map(|b| &b.daily_budget), b.daily_budget),
        min_liquidity: b.min_liquidity,
        quote_tokens: if b.quote_tokens.is_empty() { default_quotes.to_vec() } else { b.quote_tokens.clone() },
    })
}

/// The pool's reserve of `quote_token` as the mirror last saw it (pools on venues whose
/// quotes carry no reserve).
pub async fn quote_reserve(db: &SqlitePool, pool_id: i64, quote_token: &str) -> mirror::Result<U256> {
    Ok(trading::quote_reserve(db, pool_id, quote_token).await?.map(|r| amount(&r)).unwrap_or_default())
}

/// A buy the strategy wants.
#[derive(Debug, Clone)]
pub struct NewBuy {
    pub chain: String,
    pub mode: Mode,
    pub pool: PoolRecord,
    pub token: String,
    pub quote_token: String,
    pub amount_in: U256,
    pub quoted_out: U256,
    pub min_out: U256,
    pub buy_tax_bps: u32,
    pub sell_tax_bps: u32,
    /// The report is a re-score (see `RiskReport::rescored`).
    pub rescored: bool,
    /// The risk report the buy answers: its decision is recorded with the position.
    pub report_id: i64,
}

/// Checks every guard and records the position, the buy intent and the report's decision to buy,
/// atomically: the guards see a snapshot read inside the same write transaction, and a decision
/// on a later report of the token (refused: already held) always comes after this one.
pub async fn open_buy(
    db: &SqlitePool,
    b: &NewBuy,
    limits: &Limits,
    cfg: &TradingConfig,
) -> Result<Result<(i64, TradeRow, DecisionRow), Refused>, mirror::MirrorError> {
    let now = now_ms();
    let mut tx = mirror::begin_write(db).await?;
    let state = trading::guard_state(&mut tx, &b.chain, b.mode, &b.token, guards::day_start_ms(now)).await?;
    if let Err(refused) = guards::check(&Snapshot::from(state), b.amount_in, limits, cfg.cooldown_secs, now, b.rescored)
    {
        return Ok(Err(refused));
    }
    let position = trading::NewPosition {
        chain: &b.chain,
        mode: b.mode,
        pool_id: b.pool.id,
        pool_address: &b.pool.address,
        venue: &b.pool.venue,
        token: &b.token,
        quote_token: &b.quote_token,
        buy_tax_bps: b.buy_tax_bps,
        sell_tax_bps: b.sell_tax_bps,
    };
    let position_id = trading::insert_position(&mut tx, &position, now).await?;
    let (amount_in, quoted_out, min_out) = (b.amount_in.to_string(), b.quoted_out.to_string(), b.min_out.to_string());
    let trade = trading::NewTrade {
        position_id,
        chain: &b.chain,
        mode: b.mode,
        side: Side::Buy,
        reason: "snipe",
        token: &b.token,
        amount_in: &amount_in,
        quoted_out: &quoted_out,
        min_out: &min_out,
        route: None,
    };
    let trade_id = trading::insert_trade(&mut tx, &trade, now).await?;
    let trade = trading::trade(&mut *tx, trade_id).await?;
    let mut decision = DecisionRow {
        id: 0,
        report_id: b.report_id,
        pool_id: b.pool.id,
        chain: b.chain.clone(),
        token: b.token.clone(),
        mode: b.mode,
        action: Action::Buy,
        reason: None,
        detail: format!("buying with {amount_in} base units of the quote token"),
        position_id: Some(position_id),
        trade_id: Some(trade_id),
        decided_at_ms: now,
    };
    decision.id = decisions::insert(&mut *tx, &decision).await?;
    tx.commit().await?;
    Ok(Ok((position_id, trade, decision)))
}

pub use trading::{trade, unsettled, PositionRow, Signed, TradeRow};

/// Records a signed transaction before it is broadcast.
pub async fn record_signed(db: &SqlitePool, trade_id: i64, s: &Signed<'_>) -> mirror::Result<()> {
    trading::record_signed(db, trade_id, s).await
}

/// Records, once, the time from the pool's creation reaching the keeper to the moment its buy
/// was handed to the node, or for a sale ahead of a pending rug (`front_run`) from that pending
/// transaction reaching the keeper (taken just before the first broadcast, written after it:
/// the write is off the hot path). A failed write only loses the figure, never the trade.
pub async fn record_latency(
    db: &SqlitePool,
    chain: &str,
    trade_id: i64,
    seen_at: Option<Instant>,
    at: Instant,
    front_run: bool,
) {
    let Some(seen_at) = seen_at else { return };
    let latency = at.saturating_duration_since(seen_at);
    let metric = if front_run { "keeper_front_run_send_latency_seconds" } else { "keeper_buy_send_latency_seconds" };
    metrics::histogram!(metric, "chain" => chain.to_string()).record(latency.as_secs_f64());
    let us = i64::try_from(latency.as_micros()).unwrap_or(i64::MAX);
    if let Err(e) = trading::record_latency(db, trade_id, us).await {
        tracing::warn!(trade = trade_id, error = %e, "could not record the buy latency");
    }
}

/// An outcome's amounts as decimal strings, for its settlement.
fn amounts(outcome: &Outcome) -> (String, String) {
    match outcome {
        Outcome::Confirmed { amount_out, fee_paid, .. } => (amount_out.to_string(), fee_paid.to_string()),
        Outcome::Failed { .. } => Default::default(),
    }
}

/// An outcome in the mirror's terms; `amounts` are [`amounts`] of it.
fn settlement<'a>(outcome: &'a Outcome, amounts: &'a (String, String)) -> trading::Settlement<'a> {
    match outcome {
        Outcome::Confirmed { tx_id, block, .. } => trading::Settlement::Confirmed {
            tx_id: Some(tx_id.as_str()).filter(|t| !t.is_empty()),
            block: Some(*block).filter(|b| *b > 0).map(mirror::i64_of),
            amount_out: &amounts.0,
            fee_paid: &amounts.1,
        },
        Outcome::Failed { tx_id, error } => trading::Settlement::Failed { tx_id: tx_id.as_deref(), error },
    }
}

/// Records a buy's result: the position opens with its entry (or fails), and the chain's
/// circuit breaker counts the failure or resets.
pub async fn settle_buy(
    db: &SqlitePool,
    trade: &TradeRow,
    outcome: &Outcome,
    cfg: &TradingConfig,
) -> mirror::Result<()> {
    let cooldown = i64::try_from(cfg.breaker_cooldown_secs.saturating_mul(1_000)).unwrap_or(0);
    let until = now_ms().saturating_add(cooldown);
    let max = i64::from(cfg.max_consecutive_failures);
    let amounts = amounts(outcome);
    trading::settle_buy(db, trade, &settlement(outcome, &amounts), max, until).await
}

/// Records a sell's result: the proceeds add up and the size sold leaves the position, which
/// closes once nothing is left; a failed sell goes back to be retried after a backoff (an exit
/// is never given up).
pub async fn settle_sell(db: &SqlitePool, trade: &TradeRow, outcome: &Outcome) -> mirror::Result<()> {
    let amounts = amounts(outcome);
    let (size, proceeds) = trading::size_and_proceeds(db, trade.position_id).await?;
    let (left, proceeds) = match outcome {
        Outcome::Confirmed { amount_out, .. } => {
            (amount(&size).saturating_sub(amount(&trade.amount_in)), amount(&proceeds).saturating_add(*amount_out))
        }
        Outcome::Failed { .. } => (amount(&size), amount(&proceeds)),
    };
    trading::settle_sell(db, trade, &settlement(outcome, &amounts), &left.to_string(), &proceeds.to_string()).await
}

/// Records a position's health event (see [`trading::record_health`]) with its finding.
pub async fn record_health(
    db: &SqlitePool,
    position_id: i64,
    event: trading::HealthEvent,
    block: Option<u64>,
    finding: &crate::risk::Finding,
) -> mirror::Result<bool> {
    let json = serde_json::to_string(finding).unwrap_or_else(|_| "{}".into());
    trading::record_health(db, position_id, event, &finding.explanation, block.map(mirror::i64_of), &json).await
}

pub async fn open_positions(db: &SqlitePool, mode: Mode) -> mirror::Result<Vec<PositionRow>> {
    trading::open_positions(db, mode).await
}

/// A position's peak value once valued at `value`.
pub fn peak(p: &PositionRow, value: U256) -> U256 {
    p.peak_value.as_deref().map(amount).unwrap_or_default().max(value)
}

/// Records a round of valuations, `(position, worth, peak)` (see [`super::strategy::worth`]), in one
/// transaction.
pub async fn record_values(db: &SqlitePool, values: &[(i64, U256, U256)]) -> mirror::Result<()> {
    let rows: Vec<(i64, String, String)> =
        values.iter().map(|(id, v, p)| (*id, v.to_string(), p.to_string())).collect();
    trading::record_values(db, &rows).await
}

/// Moves an open or trapped position to `closing` and records the intent to sell `size` of it,
/// through `route` when that is not the position's own pool; `None` if it is neither.
#[allow(clippy::too_many_arguments)]
pub async fn open_sell(
    db: &SqlitePool,
    p: &PositionRow,
    mode: Mode,
    reason: &str,
    size: U256,
    quoted_out: U256,
    min_out: U256,
    route: Option<trading::Route<'_>>,
) -> mirror::Result<Option<i64>> {
    let (size, quoted_out, min_out) = (size.to_string(), quoted_out.to_string(), min_out.to_string());
    trading::open_sell(db, p, mode, reason, &size, &quoted_out, &min_out, route).await
}
