//! Trading state in the mirror. Every guard is checked and every intent written in one
//! `BEGIN IMMEDIATE` transaction, so two buys can never both pass a limit, and what is on disk
//! is always enough to resume after a crash.

use std::time::Instant;

use alloy::primitives::U256;
use sqlx::{FromRow, SqlitePool};

use super::{amount, strategy::Limits, Mode, Outcome, TradingConfig};
use mirror::{now_ms, Limits as Overrides};

use crate::pipeline::PoolRecord;

/// The controls row: paused, and the operators' overrides.
pub async fn controls(db: &SqlitePool) -> sqlx::Result<(bool, Overrides)> {
    let row: Option<(bool, String)> =
        sqlx::query_as("SELECT paused, limits FROM keeper_controls WHERE id = 1").fetch_optional(db).await?;
    let Some((paused, json)) = row else { return Ok((false, Overrides::default())) };
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
    let pick = |over: Option<&Option<String>>, base: &str| {
        over.and_then(|v| v.as_deref()).filter(|v| U256::from_str_radix(v, 10).is_ok()).map_or(amount(base), amount)
    };
    Some(Limits {
        paused,
        max_risk_score: o.max_risk_score.unwrap_or(cfg.max_risk_score).min(100),
        max_open_positions: o.max_open_positions.unwrap_or(cfg.max_open_positions),
        slippage_bps: o.max_slippage_bps.unwrap_or(cfg.slippage_bps).clamp(1, 9_999),
        buy_amount: amount(&b.buy_amount),
        max_buy: pick(ob.map(|b| &b.max_buy), &b.max_buy),
        daily_budget: pick(ob.map(|b| &b.daily_budget), &b.daily_budget),
        min_liquidity: amount(&b.min_liquidity),
        quote_tokens: if b.quote_tokens.is_empty() { default_quotes.to_vec() } else { b.quote_tokens.clone() },
    })
}

/// The pool's reserve of `quote_token` as the mirror last saw it (pools on venues whose
/// quotes carry no reserve).
pub async fn quote_reserve(db: &SqlitePool, pool_id: i64, quote_token: &str) -> sqlx::Result<U256> {
    let r: Option<String> =
        sqlx::query_scalar("SELECT CASE WHEN token_a = ?1 THEN reserve_a ELSE reserve_b END FROM pools WHERE id = ?2")
            .bind(quote_token)
            .bind(pool_id)
            .fetch_optional(db)
            .await?;
    Ok(r.map(|r| amount(&r)).unwrap_or_default())
}

/// Why the guards refused a buy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("buying is paused by an operator")]
    Paused,
    #[error("circuit breaker open after {failures} consecutive failures, until {until_ms}")]
    BreakerOpen { failures: i64, until_ms: i64 },
    #[error("{open} positions open, the maximum")]
    MaxOpenPositions { open: i64 },
    #[error("daily budget: {spent} spent today, {amount} more would exceed {budget}")]
    DailyBudget { spent: U256, amount: U256, budget: U256 },
    #[error("token bought less than the cooldown ago")]
    Cooldown,
    #[error("a position in this token is already open")]
    AlreadyHeld,
}

impl Refused {
    pub fn label(&self) -> &'static str {
        match self {
            Refused::Paused => "paused",
            Refused::BreakerOpen { .. } => "breaker_open",
            Refused::MaxOpenPositions { .. } => "max_open_positions",
            Refused::DailyBudget { .. } => "daily_budget",
            Refused::Cooldown => "cooldown",
            Refused::AlreadyHeld => "already_held",
        }
    }
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
}

/// Start of the current UTC day, unix ms.
fn day_start_ms(now: i64) -> i64 {
    now - now.rem_euclid(86_400_000)
}

/// Checks every guard and records the position and the buy intent, atomically.
pub async fn open_buy(
    db: &SqlitePool,
    b: &NewBuy,
    limits: &Limits,
    cfg: &TradingConfig,
) -> Result<Result<(i64, i64), Refused>, sqlx::Error> {
    let now = now_ms();
    let mode = b.mode.as_str();
    let mut tx = db.begin_with("BEGIN IMMEDIATE").await?;
    // Paused is read inside the transaction too: an operator's pause wins over a decision made
    // a moment earlier.
    let paused: bool = sqlx::query_scalar("SELECT paused FROM keeper_controls WHERE id = 1")
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(false);
    if paused || limits.paused {
        return Ok(Err(Refused::Paused));
    }
    let breaker: Option<(i64, i64)> = sqlx::query_as(
        "SELECT consecutive_failures, breaker_open_until_ms FROM trading_state WHERE chain = ? AND mode = ?",
    )
    .bind(&b.chain)
    .bind(mode)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((failures, until_ms)) = breaker {
        if until_ms > now {
            return Ok(Err(Refused::BreakerOpen { failures, until_ms }));
        }
    }
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM positions WHERE mode = ? AND status IN ('opening', 'open', 'closing')",
    )
    .bind(mode)
    .fetch_one(&mut *tx)
    .await?;
    if open >= i64::from(limits.max_open_positions) {
        return Ok(Err(Refused::MaxOpenPositions { open }));
    }
    let held: Option<(String, i64)> = sqlx::query_as(
        "SELECT status, opened_at_ms FROM positions WHERE chain = ? AND token = ? AND mode = ? AND status != 'failed'
         ORDER BY opened_at_ms DESC LIMIT 1",
    )
    .bind(&b.chain)
    .bind(&b.token)
    .bind(mode)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((status, opened)) = held {
        if status != "closed" {
            return Ok(Err(Refused::AlreadyHeld));
        }
        if now - opened < i64::try_from(cfg.cooldown_secs.saturating_mul(1_000)).unwrap_or(i64::MAX) {
            return Ok(Err(Refused::Cooldown));
        }
    }
    let spent_rows: Vec<String> = sqlx::query_scalar(
        "SELECT amount_in FROM trades WHERE chain = ? AND mode = ? AND side = 'buy' AND status != 'failed'
           AND created_at_ms >= ?",
    )
    .bind(&b.chain)
    .bind(mode)
    .bind(day_start_ms(now))
    .fetch_all(&mut *tx)
    .await?;
    let spent = spent_rows.iter().fold(U256::ZERO, |acc, a| acc.saturating_add(amount(a)));
    if spent.saturating_add(b.amount_in) > limits.daily_budget {
        return Ok(Err(Refused::DailyBudget { spent, amount: b.amount_in, budget: limits.daily_budget }));
    }
    let position_id: i64 = sqlx::query_scalar(
        "INSERT INTO positions (chain, mode, status, pool_id, pool_address, venue, token, quote_token,
            buy_tax_bps, sell_tax_bps, opened_at_ms)
         VALUES (?, ?, 'opening', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&b.chain)
    .bind(mode)
    .bind(b.pool.id)
    .bind(&b.pool.address)
    .bind(&b.pool.venue)
    .bind(&b.token)
    .bind(&b.quote_token)
    .bind(i64::from(b.buy_tax_bps))
    .bind(i64::from(b.sell_tax_bps))
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let trade_id = insert_trade(&mut tx, position_id, b, now).await?;
    tx.commit().await?;
    Ok(Ok((position_id, trade_id)))
}

async fn insert_trade(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    position_id: i64,
    b: &NewBuy,
    now: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO trades (position_id, chain, mode, side, reason, status, token, amount_in, quoted_out, min_out,
            created_at_ms)
         VALUES (?, ?, ?, 'buy', 'snipe', 'intent', ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(position_id)
    .bind(&b.chain)
    .bind(b.mode.as_str())
    .bind(&b.token)
    .bind(b.amount_in.to_string())
    .bind(b.quoted_out.to_string())
    .bind(b.min_out.to_string())
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

/// A trade row.
#[derive(Debug, Clone, FromRow)]
pub struct TradeRow {
    pub id: i64,
    pub position_id: i64,
    pub chain: String,
    pub mode: String,
    pub side: String,
    pub status: String,
    pub token: String,
    pub amount_in: String,
    pub min_out: String,
    pub tx_ids: String,
    pub raw_tx: Option<String>,
    pub request: Option<String>,
    pub nonce: Option<i64>,
    pub valid_until: Option<i64>,
    pub pool_address: String,
    pub quote_token: String,
    pub venue: String,
}

const TRADE_COLUMNS: &str = "t.id, t.position_id, t.chain, t.mode, t.side, t.status, t.token, t.amount_in, t.min_out,
    t.tx_ids, t.raw_tx, t.request, t.nonce, t.valid_until, p.pool_address, p.quote_token, p.venue";

impl TradeRow {
    pub fn tx_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.tx_ids).unwrap_or_default()
    }
    pub fn is_buy(&self) -> bool {
        self.side == "buy"
    }
}

pub async fn trade(db: &SqlitePool, id: i64) -> sqlx::Result<TradeRow> {
    sqlx::query_as(&format!(
        "SELECT {TRADE_COLUMNS} FROM trades t JOIN positions p ON p.id = t.position_id WHERE t.id = ?"
    ))
    .bind(id)
    .fetch_one(db)
    .await
}

/// Trades that may be on chain without a recorded result (what a restart reconciles).
pub async fn unsettled(db: &SqlitePool, mode: Mode) -> sqlx::Result<Vec<TradeRow>> {
    sqlx::query_as(&format!(
        "SELECT {TRADE_COLUMNS} FROM trades t JOIN positions p ON p.id = t.position_id
         WHERE t.status IN ('intent', 'sent') AND t.mode = ? ORDER BY t.id"
    ))
    .bind(mode.as_str())
    .fetch_all(db)
    .await
}

/// Records a signed transaction before it is broadcast.
pub struct Signed<'a> {
    pub tx_id: &'a str,
    pub raw: &'a str,
    pub request: &'a str,
    pub nonce: Option<u64>,
    pub valid_until: Option<u64>,
}

pub async fn record_signed(db: &SqlitePool, trade_id: i64, s: &Signed<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE trades SET status = 'sent', tx_ids = json_insert(tx_ids, '$[#]', ?), raw_tx = ?, request = ?,
            nonce = COALESCE(?, nonce), valid_until = ?, attempts = attempts + 1,
            sent_at_ms = COALESCE(sent_at_ms, ?)
         WHERE id = ? AND status IN ('intent', 'sent')",
    )
    .bind(s.tx_id)
    .bind(s.raw)
    .bind(s.request)
    .bind(s.nonce.and_then(|n| i64::try_from(n).ok()))
    .bind(s.valid_until.and_then(|n| i64::try_from(n).ok()))
    .bind(now_ms())
    .bind(trade_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Records, once, the time from the pool's creation reaching the keeper to the moment its buy
/// was handed to the node (taken just before the first broadcast, written after it: the write is
/// off the hot path). A failed write only loses the figure, never the trade.
pub async fn record_latency(db: &SqlitePool, chain: &str, trade_id: i64, seen_at: Option<Instant>, at: Instant) {
    let Some(seen_at) = seen_at else { return };
    let latency = at.saturating_duration_since(seen_at);
    metrics::histogram!("keeper_buy_send_latency_seconds", "chain" => chain.to_string()).record(latency.as_secs_f64());
    let us = i64::try_from(latency.as_micros()).unwrap_or(i64::MAX);
    if let Err(e) = sqlx::query("UPDATE trades SET latency_us = ? WHERE id = ? AND latency_us IS NULL")
        .bind(us)
        .bind(trade_id)
        .execute(db)
        .await
    {
        tracing::warn!(trade = trade_id, error = %e, "could not record the buy latency");
    }
}

async fn settle_trade(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    trade_id: i64,
    outcome: &Outcome,
    now: i64,
) -> sqlx::Result<()> {
    match outcome {
        Outcome::Confirmed { tx_id, block, amount_out, fee_paid } => {
            sqlx::query(
                "UPDATE trades SET status = 'confirmed', tx_id = ?, block = ?, amount_out = ?, fee_paid = ?,
                    settled_at_ms = ? WHERE id = ?",
            )
            .bind(Some(tx_id).filter(|t| !t.is_empty()))
            .bind(Some(*block).filter(|b| *b > 0).and_then(|b| i64::try_from(b).ok()))
            .bind(amount_out.to_string())
            .bind(fee_paid.to_string())
            .bind(now)
            .bind(trade_id)
            .execute(&mut **tx)
            .await?;
        }
        Outcome::Failed { tx_id, error } => {
            sqlx::query("UPDATE trades SET status = 'failed', tx_id = ?, error = ?, settled_at_ms = ? WHERE id = ?")
                .bind(tx_id)
                .bind(error)
                .bind(now)
                .bind(trade_id)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// Records a buy's result: the position opens with its entry (or fails), and the chain's
/// circuit breaker counts the failure or resets.
pub async fn settle_buy(db: &SqlitePool, trade: &TradeRow, outcome: &Outcome, cfg: &TradingConfig) -> sqlx::Result<()> {
    let now = now_ms();
    let mut tx = db.begin_with("BEGIN IMMEDIATE").await?;
    settle_trade(&mut tx, trade.id, outcome, now).await?;
    match outcome {
        Outcome::Confirmed { amount_out, .. } => {
            sqlx::query(
                "UPDATE positions SET status = 'open', size = ?, cost = ?, entry_at_ms = ? WHERE id = ? AND status = 'opening'",
            )
            .bind(amount_out.to_string())
            .bind(&trade.amount_in)
            .bind(now)
            .bind(trade.position_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO trading_state (chain, mode, consecutive_failures, breaker_open_until_ms, updated_at_ms)
                 VALUES (?, ?, 0, 0, ?)
                 ON CONFLICT (chain, mode) DO UPDATE SET consecutive_failures = 0, updated_at_ms = excluded.updated_at_ms",
            )
            .bind(&trade.chain)
            .bind(&trade.mode)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        Outcome::Failed { error, .. } => {
            sqlx::query("UPDATE positions SET status = 'failed', error = ?, closed_at_ms = ? WHERE id = ?")
                .bind(error)
                .bind(now)
                .bind(trade.position_id)
                .execute(&mut *tx)
                .await?;
            let open_until =
                now.saturating_add(i64::try_from(cfg.breaker_cooldown_secs.saturating_mul(1_000)).unwrap_or(0));
            sqlx::query(
                "INSERT INTO trading_state (chain, mode, consecutive_failures, breaker_open_until_ms, updated_at_ms)
                 VALUES (?1, ?2, 1, CASE WHEN 1 >= ?3 THEN ?4 ELSE 0 END, ?5)
                 ON CONFLICT (chain, mode) DO UPDATE SET
                    consecutive_failures = consecutive_failures + 1,
                    breaker_open_until_ms = CASE WHEN consecutive_failures + 1 >= ?3 THEN ?4 ELSE breaker_open_until_ms END,
                    updated_at_ms = ?5",
            )
            .bind(&trade.chain)
            .bind(&trade.mode)
            .bind(i64::from(cfg.max_consecutive_failures))
            .bind(open_until)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await
}

/// An open position.
#[derive(Debug, Clone, FromRow)]
pub struct PositionRow {
    pub id: i64,
    pub chain: String,
    pub pool_address: String,
    pub venue: String,
    pub token: String,
    pub quote_token: String,
    pub size: String,
    pub cost: String,
    pub peak_value: Option<String>,
    pub sell_tax_bps: i64,
    pub entry_at_ms: Option<i64>,
    pub opened_at_ms: i64,
    pub next_exit_at_ms: i64,
}

pub async fn open_positions(db: &SqlitePool, mode: Mode) -> sqlx::Result<Vec<PositionRow>> {
    sqlx::query_as(
        "SELECT id, chain, pool_address, venue, token, quote_token, size, cost, peak_value, sell_tax_bps, entry_at_ms,
            opened_at_ms, next_exit_at_ms
         FROM positions WHERE mode = ? AND status = 'open' ORDER BY id",
    )
    .bind(mode.as_str())
    .fetch_all(db)
    .await
}

/// Records a valuation; returns the new peak.
pub async fn record_value(db: &SqlitePool, p: &PositionRow, value: U256) -> sqlx::Result<U256> {
    let peak = p.peak_value.as_deref().map(amount).unwrap_or_default().max(value);
    sqlx::query("UPDATE positions SET last_value = ?, peak_value = ?, valued_at_ms = ? WHERE id = ?")
        .bind(value.to_string())
        .bind(peak.to_string())
        .bind(now_ms())
        .bind(p.id)
        .execute(db)
        .await?;
    Ok(peak)
}

/// Moves an open position to `closing` and records the sell intent; `None` if it is not open.
pub async fn open_sell(
    db: &SqlitePool,
    p: &PositionRow,
    mode: Mode,
    reason: &str,
    quoted_out: U256,
    min_out: U256,
) -> sqlx::Result<Option<i64>> {
    let now = now_ms();
    let mut tx = db.begin_with("BEGIN IMMEDIATE").await?;
    let moved =
        sqlx::query("UPDATE positions SET status = 'closing', exit_reason = ? WHERE id = ? AND status = 'open'")
            .bind(reason)
            .bind(p.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if moved == 0 {
        return Ok(None);
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO trades (position_id, chain, mode, side, reason, status, token, amount_in, quoted_out, min_out,
            created_at_ms)
         VALUES (?, ?, ?, 'sell', ?, 'intent', ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(p.id)
    .bind(&p.chain)
    .bind(mode.as_str())
    .bind(reason)
    .bind(&p.token)
    .bind(&p.size)
    .bind(quoted_out.to_string())
    .bind(min_out.to_string())
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Records a sell's result: the position closes with its proceeds, or goes back to open and is
/// retried after a backoff (an exit is never given up).
pub async fn settle_sell(db: &SqlitePool, trade: &TradeRow, outcome: &Outcome) -> sqlx::Result<()> {
    let now = now_ms();
    let mut tx = db.begin_with("BEGIN IMMEDIATE").await?;
    settle_trade(&mut tx, trade.id, outcome, now).await?;
    match outcome {
        Outcome::Confirmed { amount_out, .. } => {
            sqlx::query(
                "UPDATE positions SET status = 'closed', proceeds = ?, last_value = ?, closed_at_ms = ?
                 WHERE id = ? AND status = 'closing'",
            )
            .bind(amount_out.to_string())
            .bind(amount_out.to_string())
            .bind(now)
            .bind(trade.position_id)
            .execute(&mut *tx)
            .await?;
        }
        Outcome::Failed { error, .. } => {
            sqlx::query(
                "UPDATE positions SET status = 'open', exit_reason = NULL, exit_attempts = exit_attempts + 1,
                    next_exit_at_ms = ? + min(60000, 1000 * (1 << min(exit_attempts, 6))), error = ?
                 WHERE id = ? AND status = 'closing'",
            )
            .bind(now)
            .bind(error)
            .bind(trade.position_id)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await
}
