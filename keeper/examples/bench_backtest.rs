//! Benchmark: `keeper backtest`'s replay over a synthetic history of POOLS pools with EVENTS
//! reserve changes each (default 10,000 x 100 = 1,000,000 events) and one risk report per pool,
//! every tenth not tradeable. Prints the replay's events per second, and the ratio to a
//! baseline from the same run: one pass over the same events doing only the V2 quote of a held
//! position at each (the arithmetic every replay step needs, with no strategy or bookkeeping).
//!
//!   cargo run --profile bench-fast -p keeper --example bench_backtest -- [POOLS] [EVENTS]

// Timings for display only; amounts stay integers.
#![allow(clippy::float_arithmetic, clippy::cast_precision_loss)]

use std::{collections::BTreeMap, time::Instant};

use alloy::primitives::U256;
use keeper::{
    backtest::{run, History, LiveStrategy, Settings},
    trade::{strategy, ChainBudget, TradingConfig},
};
use mirror::history::{HistoryEvent, HistoryPool, HistoryReport};

const QUOTE: &str = "0x00000000000000000000000000000000000000fe";

fn history(pools: i64, per_pool: i64) -> History {
    let mut h = History { from_ms: 0, to_ms: i64::MAX, ..History::default() };
    for p in 0..pools {
        let token = format!("0x{:040x}", 0x1000 + p);
        let seen = p * 1_000;
        h.pools.push(HistoryPool {
            id: p + 1,
            chain: "local".into(),
            venue: "uniswap_v2".into(),
            address: format!("0x{:040x}", 0x10_0000 + p),
            token_a: token.clone(),
            token_b: QUOTE.into(),
            base_token: Some(token.clone()),
            fee_bps: Some(30),
            created_slot: Some(p),
            first_seen_at_ms: seen,
        });
        h.reports.push(HistoryReport {
            id: p + 1,
            pool_id: p + 1,
            token,
            score: if p % 10 == 0 { 100 } else { 10 },
            tradeable: p % 10 != 0,
            findings: "[]".into(),
            measured_slot: Some(p),
            created_at_ms: seen + 1,
        });
        for e in 0..per_pool {
            // The quote side wanders between 1 and 1.6 times its start, pseudo-randomly.
            let x = u128::try_from((p * 7_919 + e * 104_729) % 61).unwrap_or(0);
            let quote = 1_000_000_000_000_000_000u128 + x * 10_000_000_000_000_000;
            h.events.push(HistoryEvent {
                id: p * per_pool + e + 1,
                pool_id: p + 1,
                slot: p + e,
                at_ms: seen + e * 12_000,
                reserve_a: "1000000000000000000000000".into(),
                reserve_b: quote.to_string(),
            });
        }
    }
    h
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pools: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let per_pool: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let h = history(pools, per_pool);
    let mut t = TradingConfig { enabled: true, max_token_age_secs: 0, max_open_positions: 1_000, ..Default::default() };
    let e18 = U256::from(1_000_000_000_000_000_000u128);
    t.chains.insert(
        "local".into(),
        ChainBudget {
            buy_amount: e18 / U256::from(100u8),
            max_buy: e18,
            daily_budget: e18 * U256::from(1_000_000u32),
            min_liquidity: U256::ZERO,
            quote_tokens: vec![QUOTE.into()],
        },
    );
    let s = Settings {
        trading: t,
        default_quotes: BTreeMap::new(),
        fill_delay_blocks: 1,
        fee_per_trade: BTreeMap::new(),
        capital: e18,
    };

    let started = Instant::now();
    let mut sink = U256::ZERO;
    for e in &h.events {
        let (a, b) = (keeper::trade::amount(&e.reserve_a), keeper::trade::amount(&e.reserve_b));
        sink = sink.wrapping_add(strategy::v2_amount_out(U256::from(1_000_000u32), a, b, 30));
    }
    let baseline = started.elapsed();

    let started = Instant::now();
    let report = run(&h, &s, &LiveStrategy(&s.trading)).expect("no lookahead");
    let replay = started.elapsed();
    let events = h.events.len() as f64;
    println!("backtest replay: {} pools, {} events, {} reports", h.pools.len(), h.events.len(), h.reports.len());
    println!(
        "  replay   {:>8.2} s  {:>12.0} events/s  ({} trades closed, {} still held)",
        replay.as_secs_f64(),
        events / replay.as_secs_f64(),
        report.metrics.trades,
        report.trades.len() as u64 - report.metrics.trades
    );
    println!(
        "  baseline {:>8.2} s  {:>12.0} events/s  (V2 quote per event only; {sink})",
        baseline.as_secs_f64(),
        events / baseline.as_secs_f64()
    );
    println!("  replay / baseline time: {:.2}", replay.as_secs_f64() / baseline.as_secs_f64());
}
