//! The trading loop: fresh risk reports in, guarded buys out; open positions valued every
//! `exit_poll_ms` and sold on their exit rules; unsettled trades reconciled from the chain on
//! start.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use alloy::primitives::{Address, U256};
use mirror::{decisions::DecisionRow, now_ms, Action};
use sqlx::SqlitePool;
use tokio::{
    sync::{broadcast, mpsc},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;

use super::{
    amount,
    enrich::{Aggregators, UsdPricer},
    executor::{Executor, OtherRoute, SellCheck, Simulated},
    guards::Refused,
    store::{self, NewBuy, PositionRow, TradeRow},
    strategy::{self, Candidate, Health, Skip},
    ExitReason, Mode, Outcome, TradeError, TradingConfig,
};
use crate::{
    pipeline::{Decision, RiskReport},
    risk::{Finding, Severity},
};
use mirror::trading::HealthEvent;

/// Quotes of one exit round in flight at once (each is one RPC call).
const EXIT_QUOTES_IN_FLIGHT: usize = 8;

/// What the trader chose for one report (published as a [`Decision`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The chain is not traded (no executor or no budget).
    NotTraded,
    Skipped(Skip),
    Refused(Refused),
    /// A buy was recorded and settled (paper or on chain); its decision was recorded when the
    /// position opened.
    Bought {
        position_id: i64,
        trade_id: i64,
        outcome: Outcome,
        decision: DecisionRow,
    },
}

pub struct Trader {
    pub(super) db: SqlitePool,
    pub(super) cfg: TradingConfig,
    pub mode: Mode,
    pub(super) venues: HashMap<String, Arc<dyn Executor>>,
    /// Quote tokens a chain trades against when its budget names none.
    default_quotes: HashMap<String, Vec<String>>,
    /// Positions with a sale in flight (an exit or a front-run): never two at once.
    pub(super) selling: Mutex<HashSet<i64>>,
    usd: Option<UsdPricer>,
    /// A USD valuation round is running.
    pricing: AtomicBool,
    aggregators: Option<Arc<Aggregators>>,
    /// Every decision, for whoever listens (tests, benchmarks).
    decisions: broadcast::Sender<Decision>,
    /// The block at which each trapped position last found no size to sell (one event per block).
    blocked: Mutex<HashMap<i64, Option<u64>>>,
    /// Every verdict of the anti-rug watch (`antirug.rs`), for whoever listens.
    pub(super) verdicts: broadcast::Sender<crate::pipeline::PendingVerdict>,
    /// Bumped whenever a trade settles (positions opened, grown or closed).
    pub(super) held_version: std::sync::atomic::AtomicU64,
}

/// The sale a trapped position's exit makes.
#[derive(Debug)]
struct TrappedExit {
    size: U256,
    quoted: U256,
    tax_bps: u32,
    /// Another venue's pool, when the position's own takes no sale.
    route: Option<OtherRoute>,
}

impl Trader {
    pub fn new(db: SqlitePool, cfg: TradingConfig) -> Self {
        let mode = if cfg.live { Mode::Live } else { Mode::DryRun };
        Self {
            db,
            cfg,
            mode,
            venues: HashMap::new(),
            default_quotes: HashMap::new(),
            selling: Mutex::new(HashSet::new()),
            usd: None,
            pricing: AtomicBool::new(false),
            aggregators: None,
            decisions: broadcast::channel(1_024).0,
            blocked: Mutex::new(HashMap::new()),
            verdicts: broadcast::channel(1_024).0,
            held_version: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Publishes decisions on `tap` as well.
    pub fn with_tap(&mut self, tap: broadcast::Sender<Decision>) {
        self.decisions = tap;
    }

    /// Decides on one report: chooses, records the decision in the mirror, publishes it. A buy's
    /// decision was recorded with the position it opened; here it gets the buy's outcome.
    pub async fn decide(&self, report: &RiskReport) -> Result<Decision, TradeError> {
        let choice = self.on_report(report).await;
        // An error after the position opened: the trade is settled from the chain when the
        // keeper resumes it, and the decision to buy stands.
        let opened = match &choice {
            Err(_) => mirror::decisions::of_report(&self.db, report.report_id).await?,
            Ok(_) => None,
        };
        let row = match (&choice, opened) {
            (Ok(Choice::Bought { outcome, decision, .. }), _) => {
                let detail = match outcome {
                    Outcome::Confirmed { amount_out, .. } => format!("bought {amount_out} of the token"),
                    Outcome::Failed { error, .. } => format!("buy failed: {error}"),
                };
                self.settled(decision.clone(), detail).await?
            }
            (Err(e), Some(d)) => self.settled(d, format!("buy not settled yet: {e}")).await?,
            (Ok(Choice::NotTraded), _) => {
                self.skipped(report, "not_traded", format!("chain {} is not traded", report.pool.chain)).await?
            }
            (Ok(Choice::Skipped(s)), _) => self.skipped(report, s.label(), s.to_string()).await?,
            (Ok(Choice::Refused(r)), _) => self.skipped(report, r.label(), r.to_string()).await?,
            (Err(e), None) => self.skipped(report, "error", e.to_string()).await?,
        };
        let decision = Decision {
            report_id: row.report_id,
            pool_id: row.pool_id,
            chain: row.chain,
            token: row.token,
            action: row.action,
            reason: row.reason,
            detail: row.detail,
            position_id: row.position_id,
            trade_id: row.trade_id,
            decided_at_ms: row.decided_at_ms,
        };
        let _ = self.decisions.send(decision.clone());
        choice.map(|_| decision)
    }

    /// A buy's decision with its outcome.
    async fn settled(&self, d: DecisionRow, detail: String) -> Result<DecisionRow, TradeError> {
        mirror::decisions::set_detail(&self.db, d.id, &detail).await?;
        Ok(DecisionRow { detail, ..d })
    }

    /// Records a decision not to buy.
    async fn skipped(&self, report: &RiskReport, reason: &str, detail: String) -> Result<DecisionRow, TradeError> {
        let mut row = DecisionRow {
            id: 0,
            report_id: report.report_id,
            pool_id: report.pool.id,
            chain: report.pool.chain.clone(),
            token: report.token.clone(),
            mode: self.mode,
            action: Action::Skip,
            reason: Some(reason.to_string()),
            detail,
            position_id: None,
            trade_id: None,
            decided_at_ms: now_ms(),
        };
        row.id = mirror::decisions::insert(&self.db, &row).await?;
        Ok(row)
    }

    /// Values positions in USD (CoinGecko prices of their quote token).
    pub fn with_usd(&mut self, pricer: UsdPricer) {
        self.usd = Some(pricer);
    }

    /// Compares EVM buys with 0x / 1inch quotes.
    pub fn with_aggregators(&mut self, aggregators: Aggregators) {
        self.aggregators = Some(Arc::new(aggregators));
    }

    /// One round of USD valuation (see [`UsdPricer::price_positions`]); 0 when it is off.
    pub async fn price_usd(&self) -> Result<usize, TradeError> {
        let Some(pricer) = &self.usd else { return Ok(0) };
        pricer
            .price_positions(&self.db, self.mode, |chain, token| async move {
                match self.venues.get(&chain) {
                    Some(v) => v.decimals(&token).await,
                    None => Err(TradeError::Invalid(format!("chain {chain} not traded"))),
                }
            })
            .await
    }

    pub fn add_venue(&mut self, chain: &str, venue: Arc<dyn Executor>, default_quotes: Vec<String>) {
        self.venues.insert(chain.to_string(), venue);
        self.default_quotes.insert(chain.to_string(), default_quotes);
    }

    pub fn config(&self) -> &TradingConfig {
        &self.cfg
    }

    /// Screens, sizes, quotes, guards and (in live mode) executes a buy for one report.
    pub async fn on_report(&self, done: &RiskReport) -> Result<Choice, TradeError> {
        let pool = &done.pool;
        let Some(venue) = self.venues.get(&pool.chain) else { return Ok(Choice::NotTraded) };
        let (paused, overrides) = store::controls(&self.db).await?;
        let quotes = self.default_quotes.get(&pool.chain).cloned().unwrap_or_default();
        let Some(limits) = store::limits(&self.cfg, &pool.chain, &quotes, paused, &overrides) else {
            return Ok(Choice::NotTraded);
        };
        if limits.paused {
            return Ok(self.refused(&pool.chain, &done.token, Refused::Paused));
        }
        let a = &done.assessment;
        let quote_token =
            if pool.token_a.eq_ignore_ascii_case(&done.token) { pool.token_b.clone() } else { pool.token_a.clone() };
        let created_at_ms = pool.created_block_time.map(|t| t.saturating_mul(1_000)).unwrap_or(pool.first_seen_at_ms);
        let candidate = Candidate::of(&pool.chain, &done.token, &quote_token, a, created_at_ms);
        let skip = |s: Skip| {
            metrics::counter!("keeper_buy_skips_total", "chain" => pool.chain.clone(), "reason" => s.label())
                .increment(1);
            tracing::debug!(chain = %pool.chain, token = %done.token, reason = %s, "not buying");
            Ok(Choice::Skipped(s))
        };
        if let Err(s) = strategy::screen(&candidate, &self.cfg, &limits, now_ms()) {
            return skip(s);
        }
        let size = match strategy::size(&limits) {
            Ok(s) => s,
            Err(s) => return skip(s),
        };
        // After a pending launch, on the reserves it leaves (the pair is empty until it lands).
        let (quoted, reserve) = match &done.launch {
            Some(launch) => venue.quote_buy_after(pool, size, launch).await?,
            None => venue.quote_buy(pool, &done.token, &quote_token, size).await?,
        };
        let reserve = match reserve {
            Some(r) => r,
            None => store::quote_reserve(&self.db, pool.id, &quote_token).await?,
        };
        if reserve < limits.min_liquidity {
            return skip(Skip::Liquidity { have: reserve, min: limits.min_liquidity });
        }
        let min_out = strategy::min_out(quoted, candidate.buy_tax_bps, limits.slippage_bps);
        let buy = NewBuy {
            chain: pool.chain.clone(),
            mode: self.mode,
            pool: pool.clone(),
            token: done.token.clone(),
            quote_token,
            amount_in: size,
            quoted_out: quoted,
            min_out,
            buy_tax_bps: candidate.buy_tax_bps,
            sell_tax_bps: candidate.sell_tax_bps,
            rescored: done.rescored,
            report_id: done.report_id,
        };
        let (position_id, trade, decision) = match store::open_buy(&self.db, &buy, &limits, &self.cfg).await? {
            Ok(opened) => opened,
            Err(r) => return Ok(self.refused(&pool.chain, &done.token, r)),
        };
        let trade_id = trade.id;
        if let (Some(chain_id), Some(agg)) = (venue.evm_chain_id(), &self.aggregators) {
            // Off the hot path: the comparison runs beside the buy and never delays it.
            let (agg, db, chain) = (Arc::clone(agg), self.db.clone(), pool.chain.clone());
            let pair = (buy.quote_token.parse::<Address>(), buy.token.parse::<Address>());
            if let (Ok(sell), Ok(bought)) = pair {
                tokio::spawn(async move {
                    if let Err(e) = agg.compare(&db, trade_id, &chain, chain_id, sell, bought, size, quoted).await {
                        tracing::warn!(%chain, trade = trade_id, error = %e, "recording aggregator quotes failed");
                    }
                });
            }
        }
        let outcome = match self.mode {
            Mode::DryRun => Outcome::Confirmed {
                tx_id: String::new(),
                block: 0,
                amount_out: strategy::paper_fill(quoted, candidate.buy_tax_bps, self.cfg.paper_slippage_bps),
                fee_paid: U256::ZERO,
            },
            Mode::Live => self.live(venue.as_ref(), &trade, done.seen_at, None, done.launch.as_ref()).await?,
        };
        self.settle(&trade, &outcome).await?;
        Ok(Choice::Bought { position_id, trade_id, outcome, decision })
    }

    /// Executes a live trade. An error before anything was signed fails the trade; after that,
    /// the trade may be on chain, so it is only ever settled from chain evidence: tracking
    /// resumes (with a growing pause) until the chain answers.
    async fn live(
        &self,
        venue: &dyn Executor,
        trade: &TradeRow,
        seen_at: Option<Instant>,
        ahead: Option<&crate::pipeline::PendingTx>,
        after: Option<&crate::pipeline::LaunchState>,
    ) -> Result<Outcome, TradeError> {
        let first = match (ahead, after) {
            (Some(pending), _) => venue.execute_ahead(&self.db, trade, pending).await,
            (None, Some(launch)) => venue.execute_after(&self.db, trade, seen_at, launch).await,
            (None, None) => venue.execute(&self.db, trade, seen_at).await,
        };
        let mut err = match first {
            Ok(o) => return Ok(o),
            Err(e) => e,
        };
        let mut pause = Duration::from_millis(250);
        loop {
            let t = store::trade(&self.db, trade.id).await?;
            if t.status == mirror::TradeStatus::Intent {
                return Ok(Outcome::Failed { tx_id: None, error: err.to_string() });
            }
            tracing::warn!(chain = %t.chain, trade = t.id, error = %err, "tracking a sent trade failed; resuming");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(30));
            match venue.resume(&self.db, &t).await {
                Ok(o) => return Ok(o),
                Err(e) => err = e,
            }
        }
    }

    fn refused(&self, chain: &str, token: &str, r: Refused) -> Choice {
        metrics::counter!("keeper_buy_skips_total", "chain" => chain.to_string(), "reason" => r.label()).increment(1);
        tracing::info!(%chain, %token, reason = %r, "buy refused by a guard");
        Choice::Refused(r)
    }

    pub(super) async fn settle(&self, t: &TradeRow, outcome: &Outcome) -> Result<(), TradeError> {
        let (result, what) = match outcome {
            Outcome::Confirmed { .. } => ("confirmed", if t.is_buy() { "bought" } else { "sold" }),
            Outcome::Failed { .. } => ("failed", if t.is_buy() { "buy failed" } else { "sell failed" }),
        };
        metrics::counter!("keeper_trades_total", "chain" => t.chain.clone(), "side" => t.side.as_str(),
            "mode" => self.mode.as_str(), "result" => result)
        .increment(1);
        if t.is_buy() {
            store::settle_buy(&self.db, t, outcome, &self.cfg).await?;
        } else {
            store::settle_sell(&self.db, t, outcome).await?;
        }
        // The anti-rug watch reads the held positions again before its next transaction.
        self.held_version.fetch_add(1, Ordering::Release);
        match outcome {
            Outcome::Confirmed { tx_id, amount_out, block, .. } => {
                let pnl = (!t.is_buy()).then(|| self.realized(t.position_id));
                let pnl = match pnl {
                    Some(f) => f.await.unwrap_or_default(),
                    None => String::new(),
                };
                tracing::info!(chain = %t.chain, token = %t.token, mode = self.mode.as_str(), tx = %tx_id, block,
                    amount_in = %t.amount_in, amount_out = %amount_out, pnl = %pnl, "{what}");
            }
            Outcome::Failed { error, .. } => {
                tracing::warn!(chain = %t.chain, token = %t.token, mode = self.mode.as_str(), %error, "{what}")
            }
        }
        Ok(())
    }

    async fn realized(&self, position_id: i64) -> Result<String, TradeError> {
        let (cost, proceeds) = mirror::trading::cost_and_proceeds(&self.db, position_id).await?;
        Ok(strategy::pnl(amount(&proceeds), amount(&cost)))
    }

    /// Settles every trade a previous run left unsettled, from chain evidence.
    pub async fn reconcile(&self) -> Result<usize, TradeError> {
        let pending = store::unsettled(&self.db, self.mode).await?;
        let n = pending.len();
        let mut jobs = Vec::new();
        for t in pending {
            jobs.push(async move {
                let outcome = match (self.mode, self.venues.get(&t.chain)) {
                    (Mode::DryRun, _) => {
                        Outcome::Failed { tx_id: None, error: "keeper stopped before the paper fill".into() }
                    }
                    (Mode::Live, Some(v)) => v.resume(&self.db, &t).await?,
                    (Mode::Live, None) => return Ok::<_, TradeError>(()), // chain no longer configured
                };
                tracing::info!(chain = %t.chain, trade = t.id, side = %t.side, ?outcome, "reconciled after restart");
                self.settle(&t, &outcome).await
            });
        }
        for r in futures::future::join_all(jobs).await {
            r?;
        }
        Ok(n)
    }

    /// Values every open or trapped position by simulating the sale of all of it from our wallet,
    /// marks the ones that cannot be sold (or only at a tax past the limit) trapped, and sells
    /// those whose exit rule fires; a trapped position is sold at whatever size still sells.
    /// Returns the sells started. The checks of a round run concurrently and its valuations are
    /// written in one transaction: a round costs a buy one short wait on the mirror, not one per
    /// position.
    pub async fn check_exits(self: &Arc<Self>, tasks: &mut JoinSet<()>) -> Result<usize, TradeError> {
        use futures::stream::{self, StreamExt};

        let now = now_ms();
        let due: Vec<PositionRow> = store::open_positions(&self.db, self.mode)
            .await?
            .into_iter()
            .filter(|p| p.next_exit_at_ms <= now && !self.selling.lock().map(|s| s.contains(&p.id)).unwrap_or(true))
            .collect();
        let valued: Vec<(PositionRow, SellCheck, Health, U256, U256)> = stream::iter(due)
            .map(|p| async move {
                let venue = self.venues.get(&p.chain)?;
                let size = amount(&p.size);
                let check = match venue.check_sell(&p, size, self.mode).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(chain = %p.chain, token = %p.token, error = %e, "cannot value a position");
                        return None;
                    }
                };
                let entry_tax = u32::try_from(p.sell_tax_bps).unwrap_or(0);
                let h = strategy::health(&check, size, entry_tax, self.cfg.max_sell_tax_bps);
                let worth = strategy::worth(h.value, amount(&p.proceeds));
                // A trapped position's value never raises its peak (the trailing stop's anchor).
                let peak = store::peak(&p, if h.trapped.is_some() { U256::ZERO } else { worth });
                Some((p, check, h, worth, peak))
            })
            .buffered(EXIT_QUOTES_IN_FLIGHT)
            .filter_map(|v| async move { v })
            .collect()
            .await;
        if valued.is_empty() {
            return Ok(0);
        }
        // Operators' force-exits (the API's and the Telegram bot's `exit_requests`).
        let requested: std::collections::HashSet<i64> =
            mirror::trading::exit_requested(&self.db, self.mode).await?.into_iter().collect();
        // Anomalies of the kinds `exit_on_anomaly` lists, flagged since the position opened.
        let anomalous: HashMap<i64, String> =
            mirror::anomalies::exits_due(&self.db, self.mode, &self.cfg.exit_on_anomaly).await?.into_iter().collect();
        let rows: Vec<(i64, U256, U256)> = valued.iter().map(|(p, _, _, worth, peak)| (p.id, *worth, *peak)).collect();
        store::record_values(&self.db, &rows).await?;
        let mut trapped_by_chain: HashMap<String, u32> = HashMap::new();
        let mut started = 0;
        for (p, check, h, worth, peak) in valued {
            let was_trapped = p.trapped_at_ms.is_some();
            *trapped_by_chain.entry(p.chain.clone()).or_default() += u32::from(h.trapped.is_some());
            match (&h.trapped, was_trapped) {
                (Some(why), false) => self.trapped(&p, &check, why).await?,
                (None, true) => {
                    let f = Finding::new(
                        "trapped",
                        Severity::Info,
                        "The position sells normally again.",
                        serde_json::json!({ "value": h.value.to_string(), "sell_tax_bps": h.sell_tax_bps }),
                    );
                    store::record_health(&self.db, p.id, HealthEvent::Recovered, check.block, &f).await?;
                    tracing::info!(chain = %p.chain, token = %p.token, "position recovered: it sells normally again");
                }
                _ => {}
            }
            let (reason, size, quoted, tax, route) = match &h.trapped {
                Some(_) => match self.trapped_exit(&p, &check, &h).await? {
                    Some(e) => (ExitReason::Trapped, e.size, e.quoted, e.tax_bps, e.route),
                    None => continue,
                },
                None if requested.contains(&p.id) => {
                    (ExitReason::Operator, amount(&p.size), check.quoted, h.sell_tax_bps, None)
                }
                None if anomalous.contains_key(&p.id) => {
                    tracing::warn!(chain = %p.chain, token = %p.token, position = p.id,
                        anomaly = anomalous.get(&p.id).map(String::as_str), "selling on an anomaly");
                    (ExitReason::Anomaly, amount(&p.size), check.quoted, h.sell_tax_bps, None)
                }
                None => {
                    let held = now.saturating_sub(p.entry_at_ms.unwrap_or(p.opened_at_ms));
                    match strategy::exit_reason(&self.cfg, amount(&p.cost), worth, peak, held) {
                        Some(reason) => (reason, amount(&p.size), check.quoted, h.sell_tax_bps, None),
                        None => continue,
                    }
                }
            };
            let Some(trade_id) = self.open_exit(&p, reason, size, quoted, tax, route.as_ref()).await? else {
                continue;
            };
            if let Ok(mut s) = self.selling.lock() {
                s.insert(p.id);
            }
            tracing::info!(chain = %p.chain, token = %p.token, reason = reason.as_str(), cost = %p.cost, %size,
                value = %strategy::less_bps(quoted, tax), peak = %peak, route = ?route.as_ref().map(|r| &r.venue), "exit");
            let me = Arc::clone(self);
            tasks.spawn(async move {
                if let Err(e) = me.sell(p.clone(), trade_id, quoted, tax, None).await {
                    tracing::warn!(position = p.id, error = %e, "sell failed; retried later");
                }
                if let Ok(mut s) = me.selling.lock() {
                    s.remove(&p.id);
                }
            });
            started += 1;
        }
        for (chain, n) in trapped_by_chain {
            metrics::gauge!("keeper_positions_trapped", "chain" => chain, "mode" => self.mode.as_str())
                .set(f64::from(n));
        }
        Ok(started)
    }

    /// Marks a position trapped: its status, a finding in its history, a metric and a warning.
    async fn trapped(&self, p: &PositionRow, check: &SellCheck, why: &str) -> Result<(), TradeError> {
        let f = Finding::new(
            "trapped",
            Severity::Critical,
            format!("Trapped: {why}."),
            serde_json::json!({ "quoted": check.quoted.to_string(), "size": p.size, "block": check.block }),
        );
        if store::record_health(&self.db, p.id, HealthEvent::Trapped, check.block, &f).await? {
            metrics::counter!("keeper_positions_trapped_total", "chain" => p.chain.clone(), "mode" => self.mode.as_str())
                .increment(1);
            tracing::warn!(chain = %p.chain, token = %p.token, position = p.id, block = ?check.block, reason = %why,
                "position trapped");
        }
        Ok(())
    }
    /// The sale a trapped position's exit makes: all of what is held when that sells at all
    /// (whatever the tax: the position is compromised, and what it returns now is all it is
    /// likely to return), else the largest smaller size that sells, else all of it through
    /// another venue's pool of the same token and quote token (an owner who blocks sales to the
    /// launch pair may not know of them all). `None`, with an `exit_blocked` event once per
    /// block, when nothing sells.
    async fn trapped_exit(
        &self,
        p: &PositionRow,
        check: &SellCheck,
        h: &Health,
    ) -> Result<Option<TrappedExit>, TradeError> {
        let Some(venue) = self.venues.get(&p.chain) else { return Ok(None) };
        let size = amount(&p.size);
        let exit = |size: U256, c: &SellCheck, received: &U256, route: Option<OtherRoute>| TrappedExit {
            size,
            quoted: c.quoted,
            tax_bps: crate::risk::shortfall_bps(c.quoted, *received),
            route,
        };
        match &check.simulated {
            Some(Simulated::Sold { .. }) => {
                return Ok(Some(TrappedExit { size, quoted: check.quoted, tax_bps: h.sell_tax_bps, route: None }))
            }
            Some(Simulated::Short { held, received }) if !received.is_zero() => {
                let c = venue.check_sell(p, *held, self.mode).await?;
                if let Some(Simulated::Sold { received, .. }) = &c.simulated {
                    return Ok(Some(exit(*held, &c, received, None)));
                }
            }
            _ => {}
        }
        let mut tried = vec![size.to_string()];
        for smaller in strategy::smaller_sizes(size) {
            let c = venue.check_sell(p, smaller, self.mode).await?;
            if let Some(Simulated::Sold { received, .. }) = &c.simulated {
                return Ok(Some(exit(smaller, &c, received, None)));
            }
            tried.push(smaller.to_string());
        }
        let routes = venue.other_routes(p).await.unwrap_or_else(|e| {
            tracing::warn!(chain = %p.chain, token = %p.token, error = %e, "cannot look for other routes");
            Vec::new()
        });
        for route in routes {
            let via = PositionRow { venue: route.venue.clone(), pool_address: route.pool_address.clone(), ..p.clone() };
            let c = venue.check_sell(&via, size, self.mode).await?;
            if let Some(Simulated::Sold { received, .. }) = &c.simulated {
                tracing::info!(chain = %p.chain, token = %p.token, position = p.id, venue = %route.venue,
                    pool = %route.pool_address, "trapped position: selling through another route");
                return Ok(Some(exit(size, &c, received, Some(route))));
            }
            tried.push(format!("{size} through {} pool {}", route.venue, route.pool_address));
        }
        let first_at_block = {
            let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
            blocked.insert(p.id, check.block) != Some(check.block)
        };
        if first_at_block {
            let reason = match &check.simulated {
                Some(Simulated::Reverts { reason }) => reason.clone(),
                _ => h.trapped.clone().unwrap_or_default(),
            };
            let f = Finding::new(
                "exit_blocked",
                Severity::Critical,
                format!(
                    "No exit: selling {} fails ({reason}), and so does every other size and route tried ({}).",
                    p.size,
                    tried[1..].join(", ")
                ),
                serde_json::json!({ "sizes": tried, "block": check.block }),
            );
            store::record_health(&self.db, p.id, HealthEvent::ExitBlocked, check.block, &f).await?;
            tracing::warn!(chain = %p.chain, token = %p.token, position = p.id, block = ?check.block,
                "trapped position: no size sells");
        }
        Ok(None)
    }

    /// Records the intent to sell `size` of `p` for `reason`, at the quote less the tax, with the
    /// least output the slippage allows (pausing stops buys, never exits: only the slippage
    /// override applies). `None` when a sale of it is open already.
    pub(super) async fn open_exit(
        &self,
        p: &PositionRow,
        reason: ExitReason,
        size: U256,
        quoted: U256,
        tax: u32,
        route: Option<&OtherRoute>,
    ) -> Result<Option<i64>, TradeError> {
        let (_, overrides) = store::controls(&self.db).await?;
        let slippage = overrides.max_slippage_bps.unwrap_or(self.cfg.slippage_bps).clamp(1, 9_999);
        let min_out = strategy::min_out(quoted, tax, slippage);
        let value = strategy::less_bps(quoted, tax);
        let via = route.map(|r| mirror::trading::Route { venue: &r.venue, pool_address: &r.pool_address });
        Ok(store::open_sell(&self.db, p, self.mode, reason.as_str(), size, value, min_out, via).await?)
    }

    /// Sells a recorded exit: a paper fill at the quote less the measured tax and the assumed
    /// slippage, or the real trade.
    pub(super) async fn sell(
        &self,
        p: PositionRow,
        trade_id: i64,
        quoted: U256,
        sell_tax: u32,
        ahead: Option<&crate::pipeline::PendingTx>,
    ) -> Result<(), TradeError> {
        let trade = store::trade(&self.db, trade_id).await?;
        let outcome = match (self.mode, self.venues.get(&p.chain)) {
            (Mode::DryRun, _) => Outcome::Confirmed {
                tx_id: String::new(),
                block: 0,
                amount_out: strategy::paper_fill(quoted, sell_tax, self.cfg.paper_slippage_bps),
                fee_paid: U256::ZERO,
            },
            (Mode::Live, Some(v)) => self.live(v.as_ref(), &trade, None, ahead, None).await?,
            (Mode::Live, None) => Outcome::Failed { tx_id: None, error: "chain not configured".into() },
        };
        self.settle(&trade, &outcome).await
    }

    /// Runs until cancelled: reconciles, then decides on every report, and beside that checks
    /// exits every `exit_poll_ms`. The two are separate loops: a valuation round never delays a
    /// buy. Trades in flight at shutdown are resumed by the next start.
    pub async fn run(
        self: Arc<Self>,
        reports: &mut mpsc::UnboundedReceiver<RiskReport>,
        cancel: CancellationToken,
    ) -> Result<(), TradeError> {
        tracing::info!(mode = self.mode.as_str(), chains = ?self.venues.keys().collect::<Vec<_>>(), "trading");
        match self.reconcile().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(trades = n, "reconciled unsettled trades"),
            Err(e) => tracing::error!(error = %e, "reconciliation failed; unsettled trades stay as they are"),
        }
        tokio::join!(Arc::clone(&self).buy_loop(reports, cancel.clone()), self.exit_loop(cancel));
        Ok(())
    }

    /// Decides on every report, each in its own task. The risk stage stops before the trader:
    /// without new reports, this loop only waits for the decisions in flight to end.
    async fn buy_loop(self: Arc<Self>, reports: &mut mpsc::UnboundedReceiver<RiskReport>, cancel: CancellationToken) {
        let mut tasks = JoinSet::new();
        let mut listening = true;
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                report = reports.recv(), if listening => match report {
                    Some(report) => {
                        let me = Arc::clone(&self);
                        tasks.spawn(async move {
                            if let Err(e) = me.decide(&report).await {
                                metrics::counter!("keeper_task_errors_total", "task" => "trade").increment(1);
                                tracing::warn!(pool = report.pool.id, error = %e, "buy decision failed");
                            }
                        });
                    }
                    None => listening = false,
                },
            }
        }
        tasks.abort_all();
    }

    /// Values open positions and sells on their exit rules every `exit_poll_ms`; values them in
    /// USD beside that (a slow price service never delays an exit; one round at a time). Open
    /// positions are watched and sold until the trader itself is stopped.
    async fn exit_loop(self: Arc<Self>, cancel: CancellationToken) {
        let mut tasks = JoinSet::new();
        let mut tick = tokio::time::interval(Duration::from_millis(self.cfg.exit_poll_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut usd_tick = tokio::time::interval(self.usd.as_ref().map_or(Duration::MAX, |u| u.every));
        usd_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = tick.tick() => {
                    if let Err(e) = self.check_exits(&mut tasks).await {
                        tracing::warn!(error = %e, "exit check failed");
                    }
                }
                _ = usd_tick.tick(), if self.usd.is_some() => {
                    if !self.pricing.swap(true, Ordering::AcqRel) {
                        let me = Arc::clone(&self);
                        tasks.spawn(async move {
                            if let Err(e) = me.price_usd().await {
                                tracing::warn!(error = %e, "USD valuation failed");
                            }
                            me.pricing.store(false, Ordering::Release);
                        });
                    }
                }
            }
        }
        tasks.abort_all();
    }
}
