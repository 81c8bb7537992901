//! Benchmark: the behavioural risk report and the watchdog, on a local anvil with real Uniswap V2.
//! Prints figures; asserts nothing.
//!
//! 1. LAUNCHES launches one at a time, every fifth a latent scam of the zoo (its 22 tokens in
//!    turn, each armed only by a privileged call): `PairCreated` at the keeper -> the full
//!    behavioural report committed, p50 and p99; of which the sandbox (round trips, path facts
//!    and the privilege search); the rest of the report (the fast pre-checks: chain reads of the
//!    owner, reserves, LP and holder logs, metadata, LP holders; scoring; the commit) as the
//!    baseline; simulations, JSON-RPC state reads and the round trips they took per report; scams found critical.
//! 2. The watchdog: POSITIONS held positions (paper) valued by a simulated sale of all of each,
//!    over 20 blocks: the cost per position per block, the first check at a new block (state read
//!    from the node, shared by the positions of that block) against the baseline of the plain
//!    reserve quote that valued positions before.
//!
//!   cargo run --profile bench-fast -p keeper --example bench_risk -- [LAUNCHES] [POSITIONS]

// Timings and rates for display only; no amounts are computed in floating point here.
#![allow(clippy::float_arithmetic)]

use std::time::{Duration, Instant};

use alloy::{primitives::U256, providers::ext::AnvilApi};
use keeper::{
    app::{App, Secrets},
    risk::{worker::Recovery, Verdict},
    trade::{evm::EvmTrader, Mode},
};
use localnet::evm::{e18, TokenKind};
use test_utils::bench::{ms, percentile};
use tokio_util::sync::CancellationToken;

mod common;

/// The latent-scam zoo (`crates/localnet/evm/contracts/Latent.sol`): two tokens per mechanism.
const ZOO: [&str; 22] = [
    "FarmToken",
    "LiquidityMintToken",
    "ClaimToken",
    "GirlToken",
    "RewardsToken",
    "ConfigureToken",
    "TuneToken",
    "RebalanceToken",
    "AirdropToken",
    "MulticallToken",
    "OracleToken",
    "PricingToken",
    "RescueToken",
    "ExecuteToken",
    "SetupProxy",
    "MigrateProxy",
    "QuietToken",
    "SilentToken",
    "WalletTrapToken",
    "HumanTrapToken",
    "MarketingToken",
    "DividendToken",
];

fn p(v: &mut [Duration]) -> String {
    v.sort();
    format!("p50 {}  p99 {}  max {}", ms(percentile(v, 50)), ms(percentile(v, 99)), ms(v[v.len() - 1]))
}

fn counts(v: &mut [u64]) -> String {
    v.sort_unstable();
    let at = |q: usize| v[(v.len() * q / 100).min(v.len() - 1)];
    format!("p50 {}  p99 {}  max {}", at(50), at(99), v[v.len() - 1])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let launches: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let positions: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let common::Bench { env, config, db, _dir } = common::start().await?;

    println!("deploying {} tokens on anvil...", launches + 3);
    let mut tokens = Vec::with_capacity(launches + 3);
    for i in 0..launches + 3 {
        let scam = i >= 3 && (i - 3) % 5 == 4;
        let kind = if scam { TokenKind::Zoo(ZOO[((i - 3) / 5) % ZOO.len()]) } else { TokenKind::Standard };
        tokens.push((scam, env.deploy_approved(kind, &format!("r{i}")).await));
    }

    // The keeper as `keeper run` builds it: discovery and the risk stage, no trading.
    let cancel = CancellationToken::new();
    let recovery = Recovery {
        recovery_every: Duration::from_secs(60),
        watch_every: Duration::from_secs(3600),
        ..Recovery::default()
    };
    let app = App::builder(&config, Secrets::default()).database(db.clone()).recovery(recovery).build().await?;
    let mut done = app.reports();
    let keeper = tokio::spawn(app.run(cancel.clone()));
    common::following(&db).await?;
    let mut it = tokens.into_iter();
    for _ in 0..3 {
        env.send(env.add_liquidity_tx(it.next().unwrap().1)).await;
        common::next_report(&mut done).await;
    }

    // 1. One launch at a time.
    let (mut full, mut search, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sims, mut reads, mut trips) = (Vec::new(), Vec::new(), Vec::new());
    let (mut scams, mut caught, mut healthy, mut cut_short) = (0, 0, Vec::new(), 0);
    for (scam, token) in it {
        env.send(env.add_liquidity_tx(token)).await;
        let r = common::next_report(&mut done).await;
        let latency = r.latency.expect("live discovery has a latency");
        let searched = r.assessment.findings.iter().find(|f| f.check == "privilege_search");
        let micros = searched.and_then(|f| f.measured["micros"].as_u64()).unwrap_or(0);
        full.push(latency);
        search.push(Duration::from_micros(micros));
        rest.push(latency.saturating_sub(Duration::from_micros(micros)));
        sims.push(searched.and_then(|f| f.measured["simulations"].as_u64()).unwrap_or(0));
        reads.push(searched.and_then(|f| f.measured["state_reads"].as_u64()).unwrap_or(0));
        trips.push(searched.and_then(|f| f.measured["state_round_trips"].as_u64()).unwrap_or(0));
        cut_short += usize::from(r.assessment.findings.iter().any(|f| f.check == "privilege_search_incomplete"));
        if scam {
            scams += 1;
            caught += usize::from(r.assessment.verdict == Verdict::Critical);
        } else {
            healthy.push((r.pool.address.clone(), token));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("sequential launches: {launches}, of which latent scams: {scams}");
    println!("  PairCreated at keeper -> full behavioural report committed: {}", p(&mut full));
    println!("  of which the sandbox (round trips, path facts, privilege search): {}", p(&mut search));
    println!(
        "  baseline, the report without the sandbox (the fast pre-checks: chain reads, scoring, commit): {}",
        p(&mut rest)
    );
    println!(
        "  p99 ratio full / baseline: {:.2}",
        percentile(&full, 99).as_secs_f64() / percentile(&rest, 99).as_secs_f64()
    );
    println!("  sandbox simulations per report: {}", counts(&mut sims));
    println!("  JSON-RPC state reads per report: {}", counts(&mut reads));
    println!("  round trips they took (prefetched slots go in one batch): {}", counts(&mut trips));
    println!("  latent scams found critical: {caught} / {scams}; searches cut short by the budget: {cut_short}");
    cancel.cancel();
    keeper.await??;

    // 2. The watchdog over paper positions in the healthy tokens just launched.
    let http = keeper::chains::evm::http_provider(&env.http_url())?;
    let trader = EvmTrader::new("local", http, &config.evm["local"], None, keeper::trade::TradingConfig::default().evm);
    let held: Vec<mirror::trading::PositionRow> = healthy
        .iter()
        .take(positions)
        .enumerate()
        .map(|(i, (pool, token))| mirror::trading::PositionRow {
            id: i64::try_from(i).unwrap_or_default(),
            chain: "local".into(),
            pool_address: pool.clone(),
            venue: "uniswap_v2".into(),
            token: format!("{token:#x}"),
            quote_token: format!("{:#x}", env.weth),
            size: e18(1_000).to_string(),
            cost: (e18(1) / U256::from(10u8)).to_string(),
            proceeds: "0".into(),
            peak_value: None,
            sell_tax_bps: 0,
            entry_at_ms: None,
            opened_at_ms: 0,
            next_exit_at_ms: 0,
            trapped_at_ms: None,
        })
        .collect();
    let (mut first, mut again, mut quote) = (Vec::new(), Vec::new(), Vec::new());
    let mut sold = 0usize;
    for _ in 0..20 {
        env.provider.anvil_mine(Some(1), None).await?;
        for (n, pos) in held.iter().enumerate() {
            let size = e18(1_000);
            let t = Instant::now();
            let check = trader.check_sell(pos, size, Mode::DryRun).await?;
            let took = t.elapsed();
            sold += usize::from(matches!(check.simulated, Some(keeper::trade::executor::Simulated::Sold { .. })));
            if n == 0 {
                first.push(took);
            } else {
                again.push(took);
            }
            let t = Instant::now();
            trader.quote_sell(&pos.pool_address, &pos.token, size, None).await?;
            quote.push(t.elapsed());
        }
    }
    let blocks = 20;
    println!("watchdog: {} positions x {blocks} blocks ({sold} simulated sales succeeded)", held.len());
    println!("  the first position at a new block (reads the block's state): {}", p(&mut first));
    println!("  every other position at that block: {}", p(&mut again));
    println!("  baseline, a reserve quote per position: {}", p(&mut quote));
    let per_block =
        percentile(&first, 50) + percentile(&again, 50) * u32::try_from(held.len().saturating_sub(1)).unwrap_or(0);
    println!(
        "  per block for all {} positions (p50): {}  = {:.1}x the quote-only valuation",
        held.len(),
        ms(per_block),
        per_block.as_secs_f64() / (percentile(&quote, 50).as_secs_f64() * held.len() as f64)
    );
    Ok(())
}
