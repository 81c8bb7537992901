//! `positions`, `position_events`, `trades`, `trading_state` and the trader's read of
//! `keeper_controls`: written by the trader only. Amounts are decimal strings of base units; the keeper parses them.

use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::{begin_write, i64_of, now_ms, Mode, PositionStatus, Result, Side, TradeStatus};

/// What the guards look at, read inside the transaction that records the buy (so two buys can
/// never both pass a limit).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuardState {
    /// An operator paused buying.
    pub paused: bool,
    /// The chain's breaker: (consecutive failures, open until, unix ms).
    pub breaker: Option<(i64, i64)>,
    /// Positions opening, open or closing in this mode.
    pub open_positions: i64,
    /// The newest position in this token (failed ones left out): its status and when it opened.
    pub last_in_token: Option<(PositionStatus, i64)>,
    /// What buys of this chain spent since `day_start_ms` (decimal strings, failed buys left out).
    pub spent_today: Vec<String>,
}

/// Reads the guard state for a buy of `token` on `chain`.
pub async fn guard_state(
    tx: &mut Transaction<'_, Sqlite>,
    chain: &str,
    mode: Mode,
    token: &str,
    day_start_ms: i64,
) -> Result<GuardState> {
    let paused = sqlx::query_scalar!(r#"SELECT paused AS "paused: bool" FROM keeper_controls WHERE id = 1"#)
        .fetch_optional(&mut **tx)
        .await?
        .unwrap_or(false);
    let breaker = sqlx::query!(
        "SELECT consecutive_failures, breaker_open_until_ms FROM trading_state WHERE chain = ? AND mode = ?",
        chain,
        mode
    )
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| (r.consecutive_failures, r.breaker_open_until_ms));
    let open_positions = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!: i64" FROM positions WHERE mode = ? AND status IN ('opening', 'open', 'trapped', 'closing')"#,
        mode
    )
    .fetch_one(&mut **tx)
    .await?;
    let last_in_token = sqlx::query!(
        r#"SELECT status AS "status: PositionStatus", opened_at_ms FROM positions
           WHERE chain = ? AND token = ? AND mode = ? AND status != 'failed' ORDER BY opened_at_ms DESC LIMIT 1"#,
        chain,
        token,
        mode
    )
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| (r.status, r.opened_at_ms));
    let spent_today = sqlx::query_scalar!(
        "SELECT amount_in FROM trades WHERE chain = ? AND mode = ? AND side = 'buy' AND status != 'failed'
           AND created_at_ms >= ?",
        chain,
        mode,
        day_start_ms
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(GuardState { paused, breaker, open_positions, last_in_token, spent_today })
}

/// The operators' controls: paused, and the limits JSON (`None`: no row, nothing overridden).
pub async fn controls(db: &SqlitePool) -> Result<Option<(bool, String)>> {
    Ok(sqlx::query!(r#"SELECT paused AS "paused: bool", limits FROM keeper_controls WHERE id = 1"#)
        .fetch_optional(db)
        .await?
        .map(|r| (r.paused, r.limits)))
}

/// A position to open (status `opening`).
#[derive(Debug, Clone)]
pub struct NewPosition<'a> {
    pub chain: &'a str,
    pub mode: Mode,
    pub pool_id: i64,
    pub pool_address: &'a str,
    pub venue: &'a str,
    pub token: &'a str,
    pub quote_token: &'a str,
    pub buy_tax_bps: u32,
    pub sell_tax_bps: u32,
}

pub async fn insert_position(tx: &mut Transaction<'_, Sqlite>, p: &NewPosition<'_>, now: i64) -> Result<i64> {
    let (buy_tax, sell_tax) = (i64::from(p.buy_tax_bps), i64::from(p.sell_tax_bps));
    Ok(sqlx::query_scalar!(
        r#"INSERT INTO positions (chain, mode, status, pool_id, pool_address, venue, token, quote_token,
            buy_tax_bps, sell_tax_bps, opened_at_ms)
         VALUES (?, ?, 'opening', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id AS "id!""#,
        p.chain,
        p.mode,
        p.pool_id,
        p.pool_address,
        p.venue,
        p.token,
        p.quote_token,
        buy_tax,
        sell_tax,
        now
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// A trade intent: recorded before anything is signed.
#[derive(Debug, Clone)]
pub struct NewTrade<'a> {
    pub position_id: i64,
    pub chain: &'a str,
    pub mode: Mode,
    pub side: Side,
    /// `snipe` for buys, the exit reason for sells.
    pub reason: &'a str,
    pub token: &'a str,
    pub amount_in: &'a str,
    pub quoted_out: &'a str,
    pub min_out: &'a str,
    /// Another venue and pool than the position's own, for a sell that takes another route.
    pub route: Option<Route<'a>>,
}

/// A venue and pool a trade goes through instead of its position's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    pub venue: &'a str,
    pub pool_address: &'a str,
}

pub async fn insert_trade(tx: &mut Transaction<'_, Sqlite>, t: &NewTrade<'_>, now: i64) -> Result<i64> {
    let (venue, pool_address) = (t.route.map(|r| r.venue), t.route.map(|r| r.pool_address));
    Ok(sqlx::query_scalar!(
        r#"INSERT INTO trades (position_id, chain, mode, side, reason, status, token, amount_in, quoted_out, min_out,
            venue, pool_address, created_at_ms)
         VALUES (?, ?, ?, ?, ?, 'intent', ?, ?, ?, ?, ?, ?, ?) RETURNING id AS "id!""#,
        t.position_id,
        t.chain,
        t.mode,
        t.side,
        t.reason,
        t.token,
        t.amount_in,
        t.quoted_out,
        t.min_out,
        venue,
        pool_address,
        now
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// A trade with what its executor needs of its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRow {
    pub id: i64,
    pub position_id: i64,
    pub chain: String,
    pub mode: Mode,
    pub side: Side,
    pub status: TradeStatus,
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

impl TradeRow {
    /// Every transaction id signed for it, oldest first.
    pub fn tx_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.tx_ids).unwrap_or_default()
    }

    pub fn is_buy(&self) -> bool {
        self.side == Side::Buy
    }
}

pub async fn trade<'e>(db: impl sqlx::SqliteExecutor<'e>, id: i64) -> Result<TradeRow> {
    Ok(sqlx::query_as!(
        TradeRow,
        r#"SELECT t.id AS "id!", t.position_id, t.chain, t.mode AS "mode: Mode", t.side AS "side: Side",
                  t.status AS "status: TradeStatus", t.token, t.amount_in, t.min_out, t.tx_ids, t.raw_tx,
                  t.request, t.nonce, t.valid_until,
                  COALESCE(t.pool_address, p.pool_address) AS "pool_address!", p.quote_token,
                  COALESCE(t.venue, p.venue) AS "venue!"
           FROM trades t JOIN positions p ON p.id = t.position_id WHERE t.id = ?"#,
        id
    )
    .fetch_one(db)
    .await?)
}

/// Trades that may be on chain without a recorded result (what a restart reconciles).
pub async fn unsettled(db: &SqlitePool, mode: Mode) -> Result<Vec<TradeRow>> {
    Ok(sqlx::query_as!(
        TradeRow,
        r#"SELECT t.id AS "id!", t.position_id, t.chain, t.mode AS "mode: Mode", t.side AS "side: Side",
                  t.status AS "status: TradeStatus", t.token, t.amount_in, t.min_out, t.tx_ids, t.raw_tx,
                  t.request, t.nonce, t.valid_until,
                  COALESCE(t.pool_address, p.pool_address) AS "pool_address!", p.quote_token,
                  COALESCE(t.venue, p.venue) AS "venue!"
           FROM trades t JOIN positions p ON p.id = t.position_id
           WHERE t.status IN ('intent', 'sent') AND t.mode = ? ORDER BY t.id"#,
        mode
    )
    .fetch_all(db)
    .await?)
}

/// A signed transaction, recorded before it is broadcast.
pub struct Signed<'a> {
    pub tx_id: &'a str,
    pub raw: &'a str,
    pub request: &'a str,
    pub nonce: Option<u64>,
    pub valid_until: Option<u64>,
}

pub async fn record_signed(db: &SqlitePool, trade_id: i64, s: &Signed<'_>) -> Result<()> {
    let (nonce, valid_until, now) = (s.nonce.map(i64_of), s.valid_until.map(i64_of), now_ms());
    sqlx::query!(
        "UPDATE trades SET status = 'sent', tx_ids = json_insert(tx_ids, '$[#]', ?), raw_tx = ?, request = ?,
            nonce = COALESCE(?, nonce), valid_until = ?, attempts = attempts + 1,
            sent_at_ms = COALESCE(sent_at_ms, ?)
         WHERE id = ? AND status IN ('intent', 'sent')",
        s.tx_id,
        s.raw,
        s.request,
        nonce,
        valid_until,
        now,
        trade_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The discovery-to-broadcast latency of a buy, recorded once.
pub async fn record_latency(db: &SqlitePool, trade_id: i64, us: i64) -> Result<()> {
    sqlx::query!("UPDATE trades SET latency_us = ? WHERE id = ? AND latency_us IS NULL", us, trade_id)
        .execute(db)
        .await?;
    Ok(())
}

/// What a chain said about a trade.
#[derive(Debug, Clone, Copy)]
pub enum Settlement<'a> {
    Confirmed { tx_id: Option<&'a str>, block: Option<i64>, amount_out: &'a str, fee_paid: &'a str },
    Failed { tx_id: Option<&'a str>, error: &'a str },
}

async fn settle_trade(tx: &mut Transaction<'_, Sqlite>, trade_id: i64, s: &Settlement<'_>, now: i64) -> Result<()> {
    match *s {
        Settlement::Confirmed { tx_id, block, amount_out, fee_paid } => {
            sqlx::query!(
                "UPDATE trades SET status = 'confirmed', tx_id = ?, block = ?, amount_out = ?, fee_paid = ?,
                    settled_at_ms = ? WHERE id = ?",
                tx_id,
                block,
                amount_out,
                fee_paid,
                now,
                trade_id
            )
            .execute(&mut **tx)
            .await?;
        }
        Settlement::Failed { tx_id, error } => {
            sqlx::query!(
                "UPDATE trades SET status = 'failed', tx_id = ?, error = ?, settled_at_ms = ? WHERE id = ?",
                tx_id,
                error,
                now,
                trade_id
            )
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// Records a buy's result: the position opens with its entry (or fails), and the chain's
/// circuit breaker resets, or counts the failure and opens at `max_failures` until
/// `breaker_until_ms`.
pub async fn settle_buy(
    db: &SqlitePool,
    trade: &TradeRow,
    s: &Settlement<'_>,
    max_failures: i64,
    breaker_until_ms: i64,
) -> Result<()> {
    let now = now_ms();
    let mut tx = begin_write(db).await?;
    settle_trade(&mut tx, trade.id, s, now).await?;
    match *s {
        Settlement::Confirmed { amount_out, .. } => {
            sqlx::query!(
                "UPDATE positions SET status = 'open', size = ?, cost = ?, entry_at_ms = ? WHERE id = ? AND status = 'opening'",
                amount_out,
                trade.amount_in,
                now,
                trade.position_id
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!(
                "INSERT INTO trading_state (chain, mode, consecutive_failures, breaker_open_until_ms, updated_at_ms)
                 VALUES (?, ?, 0, 0, ?)
                 ON CONFLICT (chain, mode) DO UPDATE SET consecutive_failures = 0, updated_at_ms = excluded.updated_at_ms",
                trade.chain,
                trade.mode,
                now
            )
            .execute(&mut *tx)
            .await?;
        }
        Settlement::Failed { error, .. } => {
            sqlx::query!(
                "UPDATE positions SET status = 'failed', error = ?, closed_at_ms = ? WHERE id = ?",
                error,
                now,
                trade.position_id
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!(
                "INSERT INTO trading_state (chain, mode, consecutive_failures, breaker_open_until_ms, updated_at_ms)
                 VALUES (?1, ?2, 1, CASE WHEN 1 >= ?3 THEN ?4 ELSE 0 END, ?5)
                 ON CONFLICT (chain, mode) DO UPDATE SET
                    consecutive_failures = consecutive_failures + 1,
                    breaker_open_until_ms = CASE WHEN consecutive_failures + 1 >= ?3 THEN ?4 ELSE breaker_open_until_ms END,
                    updated_at_ms = ?5",
                trade.chain,
                trade.mode,
                max_failures,
                breaker_until_ms,
                now
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// An open position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionRow {
    pub id: i64,
    pub chain: String,
    pub pool_address: String,
    pub venue: String,
    pub token: String,
    pub quote_token: String,
    pub size: String,
    pub cost: String,
    /// What its sales have returned so far (a trapped position can be sold in parts).
    pub proceeds: String,
    pub peak_value: Option<String>,
    pub sell_tax_bps: i64,
    pub entry_at_ms: Option<i64>,
    pub opened_at_ms: i64,
    pub next_exit_at_ms: i64,
    /// Set while the position is trapped.
    pub trapped_at_ms: Option<i64>,
}

/// Open and trapped positions (both are watched and sold on their exit rules).
pub async fn open_positions(db: &SqlitePool, mode: Mode) -> Result<Vec<PositionRow>> {
    Ok(sqlx::query_as!(
        PositionRow,
        r#"SELECT id AS "id!", chain, pool_address, venue, token, quote_token, size, cost, proceeds, peak_value,
                  sell_tax_bps, entry_at_ms, opened_at_ms, next_exit_at_ms, trapped_at_ms
           FROM positions WHERE mode = ? AND status IN ('open', 'trapped') ORDER BY id"#,
        mode
    )
    .fetch_all(db)
    .await?)
}

/// Records a round of valuations, `(position, value, peak)`, in one transaction.
pub async fn record_values(db: &SqlitePool, values: &[(i64, String, String)]) -> Result<()> {
    let now = now_ms();
    let mut tx = crate::begin_write(db).await?;
    for (position_id, value, peak) in values {
        sqlx::query!(
            "UPDATE positions SET last_value = ?, peak_value = ?, valued_at_ms = ? WHERE id = ?",
            value,
            peak,
            now,
            position_id
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Moves an open or trapped position to `closing` and records the intent to sell `amount` of
/// it (all of it, or less when only a smaller size sells); `None` if it is neither.
#[allow(clippy::too_many_arguments)]
pub async fn open_sell(
    db: &SqlitePool,
    p: &PositionRow,
    mode: Mode,
    reason: &str,
    amount: &str,
    quoted_out: &str,
    min_out: &str,
    route: Option<Route<'_>>,
) -> Result<Option<i64>> {
    let now = now_ms();
    let mut tx = begin_write(db).await?;
    let moved = sqlx::query!(
        "UPDATE positions SET status = 'closing', exit_reason = ? WHERE id = ? AND status IN ('open', 'trapped')",
        reason,
        p.id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(None);
    }
    let trade = NewTrade {
        position_id: p.id,
        chain: &p.chain,
        mode,
        side: Side::Sell,
        reason,
        token: &p.token,
        amount_in: amount,
        quoted_out,
        min_out,
        route,
    };
    let id = insert_trade(&mut tx, &trade, now).await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Records a sell's result. Confirmed: `left` (the size not sold, decimal) stays in the position
/// and `proceeds` (all sells' proceeds so far) is recorded; with nothing left it closes, otherwise
/// it goes back to open or trapped. Failed: it goes back to open or trapped and is retried after a
/// backoff (an exit is never given up).
pub async fn settle_sell(
    db: &SqlitePool,
    trade: &TradeRow,
    s: &Settlement<'_>,
    left: &str,
    proceeds: &str,
) -> Result<()> {
    let now = now_ms();
    let mut tx = begin_write(db).await?;
    settle_trade(&mut tx, trade.id, s, now).await?;
    match *s {
        Settlement::Confirmed { .. } if left == "0" => {
            sqlx::query!(
                "UPDATE positions SET status = 'closed', proceeds = ?, last_value = ?, closed_at_ms = ?
                 WHERE id = ? AND status = 'closing'",
                proceeds,
                proceeds,
                now,
                trade.position_id
            )
            .execute(&mut *tx)
            .await?;
        }
        Settlement::Confirmed { .. } => {
            sqlx::query!(
                "UPDATE positions SET status = CASE WHEN trapped_at_ms IS NULL THEN 'open' ELSE 'trapped' END,
                    size = ?, proceeds = ?, exit_reason = NULL
                 WHERE id = ? AND status = 'closing'",
                left,
                proceeds,
                trade.position_id
            )
            .execute(&mut *tx)
            .await?;
        }
        Settlement::Failed { error, .. } => {
            sqlx::query!(
                "UPDATE positions SET status = CASE WHEN trapped_at_ms IS NULL THEN 'open' ELSE 'trapped' END,
                    exit_reason = NULL, exit_attempts = exit_attempts + 1,
                    next_exit_at_ms = ? + min(60000, 1000 * (1 << min(exit_attempts, 6))), error = ?
                 WHERE id = ? AND status = 'closing'",
                now,
                error,
                trade.position_id
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// What happened to a position's health (`position_events.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthEvent {
    /// The simulated sale reverts, or its tax is past the limit: the position becomes trapped.
    Trapped,
    /// It sells normally again: back to open.
    Recovered,
    /// An exit was attempted and no size could be sold.
    ExitBlocked,
}

impl HealthEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthEvent::Trapped => "trapped",
            HealthEvent::Recovered => "recovered",
            HealthEvent::ExitBlocked => "exit_blocked",
        }
    }
}

/// Records a health event with its finding (JSON) and moves the position accordingly: trapped
/// (from open, with `reason`), open again (from trapped), or one more exit attempt. Returns
/// false, recording nothing, when the position was not in the state the event starts from.
pub async fn record_health(
    db: &SqlitePool,
    position_id: i64,
    event: HealthEvent,
    reason: &str,
    block: Option<i64>,
    finding: &str,
) -> Result<bool> {
    let now = now_ms();
    let mut tx = begin_write(db).await?;
    let moved = match event {
        HealthEvent::Trapped => sqlx::query!(
            "UPDATE positions SET status = 'trapped', trapped_at_ms = ?, trapped_reason = ?
             WHERE id = ? AND status = 'open'",
            now,
            reason,
            position_id
        )
        .execute(&mut *tx)
        .await?
        .rows_affected(),
        HealthEvent::Recovered => sqlx::query!(
            "UPDATE positions SET status = 'open', trapped_at_ms = NULL, trapped_reason = NULL
             WHERE id = ? AND status = 'trapped'",
            position_id
        )
        .execute(&mut *tx)
        .await?
        .rows_affected(),
        HealthEvent::ExitBlocked => sqlx::query!(
            "UPDATE positions SET exit_attempts = exit_attempts + 1, error = ? WHERE id = ? AND status = 'trapped'",
            reason,
            position_id
        )
        .execute(&mut *tx)
        .await?
        .rows_affected(),
    };
    if moved == 0 {
        return Ok(false);
    }
    let kind = event.as_str();
    sqlx::query!(
        "INSERT INTO position_events (position_id, kind, block, finding, created_at_ms) VALUES (?, ?, ?, ?, ?)",
        position_id,
        kind,
        block,
        finding,
        now
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A position's proceeds so far and its size, as decimal strings.
pub async fn size_and_proceeds(db: &SqlitePool, position_id: i64) -> Result<(String, String)> {
    let r = sqlx::query!("SELECT size, proceeds FROM positions WHERE id = ?", position_id).fetch_one(db).await?;
    Ok((r.size, r.proceeds))
}

/// A position's (cost, proceeds).
pub async fn cost_and_proceeds(db: &SqlitePool, position_id: i64) -> Result<(String, String)> {
    let r = sqlx::query!("SELECT cost, proceeds FROM positions WHERE id = ?", position_id).fetch_one(db).await?;
    Ok((r.cost, r.proceeds))
}

/// The pool's reserve of `quote_token` as the mirror last saw it.
pub async fn quote_reserve(db: &SqlitePool, pool_id: i64, quote_token: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT CASE WHEN token_a = ?1 THEN reserve_a ELSE reserve_b END AS "reserve!: String" FROM pools WHERE id = ?2"#,
        quote_token,
        pool_id
    )
    .fetch_optional(db)
    .await?)
}

/// A position to value in USD: open, trapped or closing, or closed in the last day without an exit price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdPending {
    pub id: i64,
    pub chain: String,
    pub status: PositionStatus,
    pub quote_token: String,
    pub cost: String,
    pub proceeds: String,
    pub last_value: Option<String>,
    pub entry_quote_usd: Option<String>,
    pub exit_quote_usd: Option<String>,
}

pub async fn usd_pending(db: &SqlitePool, mode: Mode, closed_since_ms: i64) -> Result<Vec<UsdPending>> {
    Ok(sqlx::query_as!(
        UsdPending,
        r#"SELECT id AS "id!", chain, status AS "status: PositionStatus", quote_token, cost, proceeds, last_value,
                  entry_quote_usd, exit_quote_usd
           FROM positions WHERE mode = ? AND (status IN ('open', 'trapped', 'closing')
               OR (status = 'closed' AND exit_quote_usd IS NULL AND closed_at_ms > ?))"#,
        mode,
        closed_since_ms
    )
    .fetch_all(db)
    .await?)
}

/// A position's USD columns (exact decimal strings, 18 places).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdValues {
    pub entry_quote_usd: String,
    pub exit_quote_usd: Option<String>,
    pub quote_usd: String,
    pub cost_usd: String,
    pub proceeds_usd: String,
    pub value_usd: Option<String>,
    pub pnl_usd: String,
}

pub async fn record_usd(db: &SqlitePool, position_id: i64, v: &UsdValues) -> Result<()> {
    let now = now_ms();
    sqlx::query!(
        "UPDATE positions SET entry_quote_usd = ?, exit_quote_usd = ?, quote_usd = ?, cost_usd = ?,
             proceeds_usd = ?, value_usd = ?, pnl_usd = ?, usd_at_ms = ? WHERE id = ?",
        v.entry_quote_usd,
        v.exit_quote_usd,
        v.quote_usd,
        v.cost_usd,
        v.proceeds_usd,
        v.value_usd,
        v.pnl_usd,
        now,
        position_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// What an aggregator quoted for the same input as one of our buys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatorQuote<'a> {
    pub trade_id: i64,
    pub chain: &'a str,
    /// `zeroex` or `oneinch`.
    pub service: &'a str,
    pub our_out: &'a str,
    pub their_out: Option<&'a str>,
    pub diff_bps: Option<i64>,
    pub error: Option<&'a str>,
}

pub async fn record_aggregator_quote(db: &SqlitePool, q: &AggregatorQuote<'_>) -> Result<()> {
    let now = now_ms();
    sqlx::query!(
        "INSERT INTO aggregator_quotes (trade_id, chain, service, our_out, their_out, diff_bps, error, created_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trade_id, service) DO NOTHING",
        q.trade_id,
        q.chain,
        q.service,
        q.our_out,
        q.their_out,
        q.diff_bps,
        q.error,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Open or trapped positions in `mode` an operator asked to sell.
pub async fn exit_requested(db: &SqlitePool, mode: Mode) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT r.position_id AS "id!" FROM exit_requests r JOIN positions p ON p.id = r.position_id
           WHERE p.mode = ? AND p.status IN ('open', 'trapped')"#,
        mode
    )
    .fetch_all(db)
    .await?)
}
