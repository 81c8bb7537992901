//! `keeper backtest`: the mirror's history replayed, in order, through the live trader's own
//! pure code: [`strategy::screen`] and [`strategy::size`] on each risk report, the guards
//! ([`guards::check`]) over the replay's own positions and budget, [`strategy::exit_reason`] on
//! every reserve change of a held pool.
//!
//! - **Point in time**: the strategy reads the history only through a [`clock::View`] at the
//!   replay's instant; a read past it is refused ([`clock::Lookahead`]) and stops the run.
//! - **Clock**: the keeper's own. A pool event counts from when the keeper stored it
//!   (`ingested_at_ms`), a report from when it was made: what the live trader knew, and when.
//! - **Fill model**: constant-product math with the pool's fee ([`strategy::v2_amount_out`],
//!   which is also our AMM's `get_amount_out`) on the reserves `fill_delay_blocks` after the
//!   report (our own price impact included; later reserves do not carry it), less the taxes the
//!   report measured, less `paper_slippage_bps` (the slippage a paper trade assumes), plus a fee
//!   per trade. Exit rules see the value without that slippage, as the live trader's do. A sale
//!   while the newest report says selling fails (a critical `sell_reverts`, `transfer_reverts`,
//!   `large_sells_revert` or `trapped` finding) fails, as it would have: the position stays.
//!   Against a dry-run of the same period with `fill_delay_blocks = 0`, each fill is the paper
//!   fill to within one base unit per swap (the order of the fee rounding).
//! - **Deterministic**: the same history and settings give the same report, byte for byte.
//!
//! Amounts are integers of the quote token's base units; the ratios in [`metrics`] are
//! statistics of them.

pub mod clock;
pub mod hyperopt;
pub mod metrics;

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::U256;
use mirror::{
    history::{HistoryEvent, HistoryPool, HistoryReport},
    PositionStatus,
};
use serde::Serialize;
use sqlx::SqlitePool;

use crate::{
    assessment::{Assessment, Finding, Severity},
    trade::{
        guards::{self, Snapshot},
        store,
        strategy::{self, Candidate, Limits},
        ExitReason, TradingConfig,
    },
};
use clock::{Indexed, Lookahead, View};

/// What the replay needs besides the history.
#[derive(Debug, Clone)]
pub struct Settings {
    pub trading: TradingConfig,
    /// The quote tokens each chain trades against when its budget names none (as the live
    /// trader's: the wrapped native token and the configured quote tokens, or Solana's mints).
    pub default_quotes: BTreeMap<String, Vec<String>>,
    /// The buy fills at the reserves this many blocks (slots) after the report; 0: at the
    /// reserves the report saw.
    pub fill_delay_blocks: i64,
    /// Gas or lamports per trade, in base units of the chain's quote token.
    pub fee_per_trade: BTreeMap<String, U256>,
    /// The capital the drawdown percentage and the return are measured against.
    pub capital: U256,
}

/// Decides entries and exits, seeing only the history as of now.
pub trait Strategy {
    /// How much to spend on `c` (screened against `limits`), or nothing.
    fn entry(
        &self,
        view: &View<'_>,
        pool: &HistoryPool,
        c: &Candidate,
        limits: &Limits,
    ) -> Result<Option<U256>, Lookahead>;
    /// Whether to sell `p`, valued now at `value`.
    fn exit(&self, view: &View<'_>, p: &Held, value: U256) -> Result<Option<ExitReason>, Lookahead>;
}

/// The live trader's strategy: [`strategy::screen`], [`strategy::size`], [`strategy::exit_reason`].
pub struct LiveStrategy<'a>(pub &'a TradingConfig);

impl Strategy for LiveStrategy<'_> {
    fn entry(
        &self,
        view: &View<'_>,
        _pool: &HistoryPool,
        c: &Candidate,
        limits: &Limits,
    ) -> Result<Option<U256>, Lookahead> {
        if strategy::screen(c, self.0, limits, view.now_ms).is_err() {
            return Ok(None);
        }
        Ok(strategy::size(limits).ok())
    }

    fn exit(&self, view: &View<'_>, p: &Held, value: U256) -> Result<Option<ExitReason>, Lookahead> {
        Ok(strategy::exit_reason(self.0, p.cost, value, p.peak, view.now_ms - p.opened_at_ms))
    }
}

/// A position the replay holds.
#[derive(Debug, Clone)]
pub struct Held {
    pub pool: usize,
    pub token: String,
    pub size: U256,
    /// Quote spent, the fee included.
    pub cost: U256,
    pub peak: U256,
    pub opened_at_ms: i64,
    pub sell_tax_bps: u32,
    pub trapped: bool,
}

/// One trade of the replay: a position from its buy to its sale (or the end of the period).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trade {
    pub chain: String,
    pub pool: String,
    pub token: String,
    pub opened_at_ms: i64,
    /// `None`: still held at the end (valued at the last reserves in `proceeds`).
    pub closed_at_ms: Option<i64>,
    /// take_profit, stop_loss, trailing_stop, max_hold; `open` or `trapped` at the end.
    pub exit_reason: String,
    /// Tokens bought (after the buy tax and the assumed slippage).
    pub size: String,
    pub cost: String,
    pub proceeds: String,
    /// Signed decimal string.
    pub pnl: String,
}

/// The replay's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub from_ms: i64,
    pub to_ms: i64,
    pub pools: usize,
    pub events: usize,
    pub reports: usize,
    /// Closed trades, then the positions still held, in opening order.
    pub trades: Vec<Trade>,
    /// Of the closed trades.
    pub metrics: metrics::Metrics,
    pub by_exit_reason: BTreeMap<String, metrics::Metrics>,
    pub by_chain: BTreeMap<String, metrics::Metrics>,
}

/// The replay's input.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub from_ms: i64,
    pub to_ms: i64,
    pub pools: Vec<HistoryPool>,
    pub events: Vec<HistoryEvent>,
    pub reports: Vec<HistoryReport>,
}

impl History {
    /// The pools first seen in `[from_ms, to_ms)`, with their events and reports before `to_ms`.
    pub async fn load(db: &SqlitePool, chain: Option<&str>, from_ms: i64, to_ms: i64) -> mirror::Result<Self> {
        Ok(Self {
            from_ms,
            to_ms,
            pools: mirror::history::pools(db, chain, from_ms, to_ms).await?,
            events: mirror::history::events(db, chain, from_ms, to_ms).await?,
            reports: mirror::history::reports(db, chain, from_ms, to_ms).await?,
        })
    }

    /// The part [`History::load`] would give for `[from_ms, to_ms)`: the pools first seen in
    /// it, with their events and reports before `to_ms`.
    pub fn slice(&self, from_ms: i64, to_ms: i64) -> Self {
        let pools: Vec<HistoryPool> = self
            .pools
            .iter()
            .filter(|p| p.first_seen_at_ms >= from_ms && p.first_seen_at_ms < to_ms)
            .cloned()
            .collect();
        let ids: BTreeSet<i64> = pools.iter().map(|p| p.id).collect();
        Self {
            from_ms,
            to_ms,
            events: self.events.iter().filter(|e| ids.contains(&e.pool_id) && e.at_ms < to_ms).cloned().collect(),
            reports: self
                .reports
                .iter()
                .filter(|r| ids.contains(&r.pool_id) && r.created_at_ms < to_ms)
                .cloned()
                .collect(),
            pools,
        }
    }
}

impl Settings {
    /// What a stored run records of its settings: the trading settings it ran with and the
    /// fill model.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "trading": self.trading.settings(),
            "fill_delay_blocks": self.fill_delay_blocks,
            "fee_per_trade": self.fee_per_trade.iter().map(|(c, f)| (c.clone(), f.to_string()))
                .collect::<BTreeMap<_, _>>(),
            "capital": self.capital.to_string(),
        })
    }
}

/// Stores a backtest's report in the mirror (`backtests`), for the API; returns its id.
pub async fn store(db: &SqlitePool, chain: Option<&str>, settings: &Settings, report: &Report) -> mirror::Result<i64> {
    let row = mirror::backtests::NewBacktest {
        kind: "backtest".into(),
        study: None,
        chain: chain.map(str::to_string),
        from_ms: report.from_ms,
        to_ms: report.to_ms,
        trades: i64::try_from(report.metrics.trades).unwrap_or(i64::MAX),
        total_profit: report.metrics.total_profit.clone(),
        settings: settings.describe().to_string(),
        report: serde_json::to_string(report).unwrap_or_else(|_| "{}".into()),
    };
    mirror::backtests::insert(db, &row).await
}

/// The checks whose critical finding means a sale fails.
const UNSELLABLE: [&str; 4] = ["sell_reverts", "transfer_reverts", "large_sells_revert", "trapped"];

fn assessment(r: &HistoryReport) -> Assessment {
    let findings: Vec<Finding> = serde_json::from_str(&r.findings).unwrap_or_default();
    let mut a = Assessment::from_findings(findings);
    // The report as the trader got it: its stored score and verdict, not a re-scoring.
    a.score = u8::try_from(r.score.clamp(0, 100)).unwrap_or(100);
    a.tradeable = r.tradeable;
    a
}

fn unsellable(r: &HistoryReport) -> bool {
    let findings: Vec<Finding> = serde_json::from_str(&r.findings).unwrap_or_default();
    findings.iter().any(|f| f.severity == Severity::Critical && UNSELLABLE.contains(&f.check.as_str()))
}

/// One step of the replay, in time order: reserve changes before reports at the same instant
/// (a report made at `t` saw the state at `t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tick {
    Event { at_ms: i64, id: i64, idx: usize },
    Report { at_ms: i64, id: i64, idx: usize },
}

impl Tick {
    fn key(&self) -> (i64, u8, i64) {
        match *self {
            Tick::Event { at_ms, id, .. } => (at_ms, 0, id),
            Tick::Report { at_ms, id, .. } => (at_ms, 1, id),
        }
    }
}

/// A buy decided, waiting for its fill block.
struct Pending {
    pool: usize,
    token: String,
    amount_in: U256,
    buy_tax_bps: u32,
    sell_tax_bps: u32,
    fill_slot: i64,
}

/// The pool's (quote, token) reserves, given which side the token is.
fn sides(p: &HistoryPool, token: &str, a: U256, b: U256) -> (U256, U256) {
    if p.token_a.eq_ignore_ascii_case(token) {
        (b, a)
    } else {
        (a, b)
    }
}

fn fee_bps(p: &HistoryPool) -> u32 {
    p.fee_bps.and_then(|f| u32::try_from(f).ok()).unwrap_or(30)
}

/// Replays `h` through `strategy` under `s`.
pub fn run(h: &History, s: &Settings, strategy: &dyn Strategy) -> Result<Report, Lookahead> {
    let index = Indexed::new(&h.events, &h.reports);
    let pool_at: BTreeMap<i64, usize> = h.pools.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let mut ticks: Vec<Tick> = Vec::with_capacity(h.events.len() + h.reports.len());
    for (idx, e) in h.events.iter().enumerate() {
        ticks.push(Tick::Event { at_ms: e.at_ms, id: e.id, idx });
    }
    for (idx, r) in h.reports.iter().enumerate() {
        ticks.push(Tick::Report { at_ms: r.created_at_ms, id: r.id, idx });
    }
    ticks.sort_by_key(Tick::key);

    let mut held: Vec<Held> = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut closed: Vec<Trade> = Vec::new();
    // Tokens bought (per chain), with the time of the last buy: the guards' "already held",
    // "already traded" and cooldown.
    let mut traded: BTreeMap<(String, String), (PositionStatus, i64)> = BTreeMap::new();
    let mut reported: BTreeSet<i64> = BTreeSet::new();
    let mut spent: BTreeMap<(String, i64), U256> = BTreeMap::new();

    for tick in ticks {
        let now_ms = tick.key().0;
        let view = View { history: &index, now_ms };
        match tick {
            Tick::Report { idx, .. } => {
                let r = &h.reports[idx];
                let Some(&pi) = pool_at.get(&r.pool_id) else { continue };
                let pool = &h.pools[pi];
                let rescored = !reported.insert(pool.id);
                let quotes = s.default_quotes.get(&pool.chain).cloned().unwrap_or_default();
                let Some(limits) = store::limits(&s.trading, &pool.chain, &quotes, false, &mirror::Limits::default())
                else {
                    continue;
                };
                let quote = if pool.token_a.eq_ignore_ascii_case(&r.token) { &pool.token_b } else { &pool.token_a };
                let created = pool.first_seen_at_ms;
                let c = Candidate::of(&pool.chain, &r.token, quote, &assessment(r), created);
                let Some(amount_in) = strategy.entry(&view, pool, &c, &limits)? else { continue };
                let Some(now) = view.measured(pool.id, r.measured_slot) else { continue };
                let (rq, _) = sides(pool, &r.token, now.a, now.b);
                if rq < limits.min_liquidity {
                    continue;
                }
                let key = (pool.chain.clone(), r.token.to_ascii_lowercase());
                let day = guards::day_start_ms(now_ms);
                let open = i64::try_from(held.len() + pending.len()).unwrap_or(i64::MAX);
                let snapshot = Snapshot {
                    paused: false,
                    breaker: None,
                    open_positions: open,
                    last_in_token: traded.get(&key).copied(),
                    spent_today: spent.get(&(pool.chain.clone(), day)).copied().unwrap_or_default(),
                };
                if guards::check(&snapshot, amount_in, &limits, s.trading.cooldown_secs, now_ms, rescored).is_err() {
                    continue;
                }
                *spent.entry((pool.chain.clone(), day)).or_default() += amount_in;
                traded.insert(key, (PositionStatus::Open, now_ms));
                let p = Pending {
                    pool: pi,
                    token: r.token.clone(),
                    amount_in,
                    buy_tax_bps: c.buy_tax_bps,
                    sell_tax_bps: c.sell_tax_bps,
                    fill_slot: now.slot + s.fill_delay_blocks,
                };
                if s.fill_delay_blocks == 0 {
                    held.extend(fill(h, s, &p, now.a, now.b, now_ms));
                } else {
                    pending.push(p);
                }
            }
            Tick::Event { idx, .. } => {
                let e = &h.events[idx];
                let Some(&pi) = pool_at.get(&e.pool_id) else { continue };
                let (a, b) = (crate::trade::amount(&e.reserve_a), crate::trade::amount(&e.reserve_b));
                let (due, waiting): (Vec<Pending>, Vec<Pending>) =
                    pending.into_iter().partition(|p| p.pool == pi && e.slot >= p.fill_slot);
                pending = waiting;
                for p in &due {
                    held.extend(fill(h, s, p, a, b, now_ms));
                }
                let pool = &h.pools[pi];
                let sellable = view.report(pool.id).is_none_or(|r| !unsellable(r));
                let mut keep = Vec::with_capacity(held.len());
                for mut p in std::mem::take(&mut held) {
                    if p.pool != pi {
                        keep.push(p);
                        continue;
                    }
                    let value = value_of(h, s, &p, a, b);
                    p.peak = p.peak.max(value);
                    match strategy.exit(&view, &p, value)? {
                        Some(reason) if sellable => {
                            let key = (pool.chain.clone(), p.token.to_ascii_lowercase());
                            traded.insert(key, (PositionStatus::Closed, p.opened_at_ms));
                            let proceeds = sale_of(h, s, &p, a, b);
                            closed.push(trade(pool, &p, Some(now_ms), reason.as_str(), proceeds));
                        }
                        Some(_) => {
                            p.trapped = true;
                            keep.push(p);
                        }
                        None => keep.push(p),
                    }
                }
                held = keep;
            }
        }
    }
    let mut trades = closed.clone();
    for p in &held {
        let pool = &h.pools[p.pool];
        let last = index_last(&index, pool.id, h.to_ms);
        let value = last.map(|(a, b)| value_of(h, s, p, a, b)).unwrap_or_default();
        let value = if p.trapped { U256::ZERO } else { value };
        trades.push(trade(pool, p, None, if p.trapped { "trapped" } else { "open" }, value));
    }
    let m = |ts: &[&Trade]| metrics::Metrics::of(ts, s.capital);
    let all: Vec<&Trade> = closed.iter().collect();
    let mut by_exit_reason: BTreeMap<String, Vec<&Trade>> = BTreeMap::new();
    let mut by_chain: BTreeMap<String, Vec<&Trade>> = BTreeMap::new();
    for t in &closed {
        by_exit_reason.entry(t.exit_reason.clone()).or_default().push(t);
        by_chain.entry(t.chain.clone()).or_default().push(t);
    }
    Ok(Report {
        from_ms: h.from_ms,
        to_ms: h.to_ms,
        pools: h.pools.len(),
        events: h.events.len(),
        reports: h.reports.len(),
        trades,
        metrics: m(&all),
        by_exit_reason: by_exit_reason.iter().map(|(k, v)| (k.clone(), m(v))).collect(),
        by_chain: by_chain.iter().map(|(k, v)| (k.clone(), m(v))).collect(),
    })
}

fn index_last(index: &Indexed, pool_id: i64, to_ms: i64) -> Option<(U256, U256)> {
    View { history: index, now_ms: to_ms }.reserves(pool_id).map(|r| (r.a, r.b))
}

/// The buy of `p` at reserves (`a`, `b`): the tokens received, less the buy tax and the assumed
/// slippage (a paper fill's).
fn fill(h: &History, s: &Settings, p: &Pending, a: U256, b: U256, now_ms: i64) -> Option<Held> {
    let pool = &h.pools[p.pool];
    let (rq, rt) = sides(pool, &p.token, a, b);
    let quoted = strategy::v2_amount_out(p.amount_in, rq, rt, fee_bps(pool));
    let out = strategy::paper_fill(quoted, p.buy_tax_bps, s.trading.paper_slippage_bps);
    if out.is_zero() {
        return None;
    }
    let fee = s.fee_per_trade.get(&pool.chain).copied().unwrap_or_default();
    let cost = p.amount_in.saturating_add(fee);
    Some(Held {
        pool: p.pool,
        token: p.token.clone(),
        size: out,
        cost,
        peak: U256::ZERO,
        opened_at_ms: now_ms,
        sell_tax_bps: p.sell_tax_bps,
        trapped: false,
    })
}

/// What all of `p` is worth at reserves (`a`, `b`), as the exit rules see it: the quote, less
/// the sell tax and the fee.
fn value_of(h: &History, s: &Settings, p: &Held, a: U256, b: U256) -> U256 {
    let pool = &h.pools[p.pool];
    let (rq, rt) = sides(pool, &p.token, a, b);
    let gross = strategy::less_bps(strategy::v2_amount_out(p.size, rt, rq, fee_bps(pool)), p.sell_tax_bps);
    gross.saturating_sub(s.fee_per_trade.get(&pool.chain).copied().unwrap_or_default())
}

/// What selling all of `p` at reserves (`a`, `b`) returns: a paper sale's fill (the quote, less
/// the sell tax and the assumed slippage), less the fee.
fn sale_of(h: &History, s: &Settings, p: &Held, a: U256, b: U256) -> U256 {
    let pool = &h.pools[p.pool];
    let (rq, rt) = sides(pool, &p.token, a, b);
    let quoted = strategy::v2_amount_out(p.size, rt, rq, fee_bps(pool));
    let fill = strategy::paper_fill(quoted, p.sell_tax_bps, s.trading.paper_slippage_bps);
    fill.saturating_sub(s.fee_per_trade.get(&pool.chain).copied().unwrap_or_default())
}

fn trade(pool: &HistoryPool, p: &Held, closed_at_ms: Option<i64>, reason: &str, proceeds: U256) -> Trade {
    Trade {
        chain: pool.chain.clone(),
        pool: pool.address.clone(),
        token: p.token.clone(),
        opened_at_ms: p.opened_at_ms,
        closed_at_ms,
        exit_reason: reason.to_string(),
        size: p.size.to_string(),
        cost: p.cost.to_string(),
        proceeds: proceeds.to_string(),
        pnl: strategy::pnl(proceeds, p.cost),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let (m, d) = (i64::from(m), i64::from(d));
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The report as a text table: the figures, then per exit reason and per chain, then the trades.
pub fn table(r: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    let row = |out: &mut String, name: &str, m: &metrics::Metrics| {
        let _ = writeln!(
            out,
            "{name:<16} {:>6} {:>6}.{:02}% {:>24} {:>24} {:>8} {:>24} {:>6}.{:02}% {:>8} {:>8} {:>8} {:>8}",
            m.trades,
            m.win_rate_bps / 100,
            m.win_rate_bps % 100,
            m.total_profit,
            m.expectancy,
            opt(m.profit_factor),
            m.max_drawdown,
            m.max_drawdown_bps / 100,
            m.max_drawdown_bps % 100,
            opt(m.sharpe),
            opt(m.sortino),
            opt(m.calmar),
            opt(m.sqn),
        );
    };
    let _ = writeln!(
        out,
        "backtest {}..{} ms: {} pools, {} pool events, {} risk reports",
        r.from_ms, r.to_ms, r.pools, r.events, r.reports
    );
    if r.by_chain.len() > 1 {
        let _ = writeln!(
            out,
            "note: {} chains traded: the `all` and `exit` rows add amounts of different quote tokens; \
             read the `chain` rows, or replay one chain with --chain",
            r.by_chain.len()
        );
    }
    let _ = writeln!(
        out,
        "{:<16} {:>6} {:>10} {:>24} {:>24} {:>8} {:>24} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "",
        "trades",
        "win rate",
        "total profit",
        "expectancy",
        "PF",
        "max drawdown",
        "dd %",
        "sharpe",
        "sortino",
        "calmar",
        "sqn"
    );
    row(&mut out, "all", &r.metrics);
    for (k, m) in &r.by_exit_reason {
        row(&mut out, &format!("exit {k}"), m);
    }
    for (k, m) in &r.by_chain {
        row(&mut out, &format!("chain {k}"), m);
    }
    let _ = writeln!(out, "\ntrades (amounts in base units of the quote token):");
    for t in &r.trades {
        let _ = writeln!(
            out,
            "  {} {} {} cost {} proceeds {} pnl {}",
            t.chain, t.token, t.exit_reason, t.cost, t.proceeds, t.pnl
        );
    }
    out
}
