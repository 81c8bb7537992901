//! Benchmark: live snipes on a local anvil with 1-second blocks and real Uniswap V2.
//!
//! Each launch is one `addLiquidityETH` (which creates the pair), one per block, like a busy
//! chain. The keeper runs in-process as `keeper run` wires it (discovery over WebSocket, the
//! risk worker's honeypot/tax simulation, the trader, live, with a funded anvil key). Figures:
//! - `PairCreated` log at the keeper -> buy handed to the node (`trades.latency_us`, taken at the
//!   broadcast), p50/p99, with the risk report's share of it (the baseline the trader adds to);
//! - the share of buys included in the block right after the launch (`trades.block`);
//! - every honeypot (one launch in ten) left alone.
//!
//! Prints figures; asserts only that the run itself worked.
//!
//!   cargo run --profile bench-fast -p keeper --example bench_trading -- [LAUNCHES]

// Timings and shares for display only; amounts stay integers.
#![allow(clippy::float_arithmetic)]

use std::{collections::HashMap, sync::Arc, time::Duration};

use alloy::{primitives::Address, providers::ext::AnvilApi, signers::local::PrivateKeySigner};
use keeper::{
    app::{App, Secrets},
    config::Config,
    risk::worker::Recovery,
    trade::{keys::EvmKey, TradingConfig},
};
use localnet::evm::TokenKind;
use test_utils::bench::{percentile, summary};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

const WARM_UP: usize = 3;

fn hex(a: Address) -> String {
    format!("{a:#x}")
}

#[derive(sqlx::FromRow)]
struct Buy {
    token: String,
    status: String,
    block: Option<i64>,
    latency_us: Option<i64>,
}

mod common;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let healthy: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let common::Bench { env, config, db, _dir } = common::start().await?;

    // Tokens deployed and approved up front (automine, fast); the measured phase only adds
    // liquidity, the launch transaction itself. One launch in ten is a honeypot.
    let honeypots = healthy / 9;
    let total = WARM_UP + healthy + honeypots;
    println!("deploying {total} tokens on anvil...");
    let mut tokens = Vec::with_capacity(total);
    for i in 0..total {
        let kind = if i >= WARM_UP && (i - WARM_UP) % 10 == 9 { TokenKind::Honeypot } else { TokenKind::Standard };
        let t = env.deploy_approved(kind, &format!("t{i}")).await;
        tokens.push((t, kind));
    }

    // The keeper, live: 0.1 ETH per buy, limits wide enough for every healthy launch. The
    // deployer keeps half of each supply, which scores "high" on holder concentration: the
    // score limit admits that (honeypots are critical and never bought whatever the limit).
    let mut trading = TradingConfig {
        enabled: true,
        live: true,
        max_risk_score: 80,
        max_open_positions: 100_000,
        cooldown_secs: 0,
        ..Default::default()
    };
    trading.chains.insert("local".into(), common::local_budget());
    let key = PrivateKeySigner::from(env.anvil.keys()[7].clone());
    // The keeper as `keeper run` builds it, trading live; reports are tapped on the way (their
    // own latency is the baseline).
    let cancel = CancellationToken::new();
    let config = Config { trading, ..config };
    // As the earlier figures were taken: the worker's sweeps once a minute.
    let recovery = Recovery {
        recovery_every: Duration::from_secs(60),
        rescore_every: Duration::from_secs(60),
        ..Recovery::default()
    };
    let secrets = Secrets { evm: Some(EvmKey(key)), ..Secrets::default() };
    let app = App::builder(&config, secrets).database(db.clone()).recovery(recovery).build().await?;
    let mut done_rx = app.reports();
    let report_latency = Arc::new(Mutex::new(HashMap::<String, Duration>::new()));
    let tap = report_latency.clone();
    tokio::spawn(async move {
        while let Ok(r) = done_rx.recv().await {
            if let Some(l) = r.latency {
                tap.lock().await.insert(r.token.clone(), l);
            }
        }
    });
    let keeper = tokio::spawn(app.run(cancel.clone()));
    common::following(&db).await?;

    env.provider.anvil_set_interval_mining(1).await?;
    println!("anvil mines a block every second; launching {} tokens ({honeypots} honeypots)...", total - WARM_UP);
    // Each send waits for its receipt, so there is one launch per block.
    let mut launches = Vec::with_capacity(total);
    for (i, (token, kind)) in tokens.into_iter().enumerate() {
        let receipt = env.send(env.add_liquidity_tx(token)).await;
        if i >= WARM_UP {
            launches.push((hex(token), kind, receipt.block_number.expect("mined")));
        }
    }

    // Every buy settled (or 30 s more).
    let settled = || async {
        sqlx::query_as::<_, Buy>(
            "SELECT token, status, block, latency_us FROM trades WHERE side = 'buy' AND mode = 'live'",
        )
        .fetch_all(&db)
        .await
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let buys = loop {
        let buys = settled().await?;
        let pending = buys.iter().any(|b| b.status == "intent" || b.status == "sent");
        if (!pending && buys.len() >= healthy + WARM_UP) || tokio::time::Instant::now() > deadline {
            break buys;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    cancel.cancel();
    keeper.await??;
    let buys: HashMap<String, Buy> = buys.into_iter().map(|b| (b.token.clone(), b)).collect();
    let reports = report_latency.lock().await;

    let (mut send, mut report) = (Vec::new(), Vec::new());
    let (mut next_block, mut later, mut failed, mut missing, mut honeypots_bought) = (0usize, 0usize, 0, 0, 0);
    let mut spread = std::collections::BTreeMap::<i64, usize>::new();
    for (token, kind, launch_block) in &launches {
        let buy = buys.get(token);
        if matches!(kind, TokenKind::Honeypot) {
            honeypots_bought += usize::from(buy.is_some());
            continue;
        }
        let Some(buy) = buy else {
            missing += 1;
            continue;
        };
        if let Some(us) = buy.latency_us {
            send.push(Duration::from_micros(u64::try_from(us)?));
        }
        if let Some(l) = reports.get(token) {
            report.push(*l);
        }
        match (buy.status.as_str(), buy.block) {
            ("confirmed", Some(b)) => {
                let after = b - i64::try_from(*launch_block)?;
                *spread.entry(after).or_default() += 1;
                if after == 1 {
                    next_block += 1;
                } else {
                    later += 1;
                }
            }
            _ => failed += 1,
        }
    }
    send.sort();
    report.sort();
    let bought = next_block + later;
    println!("launches: {} healthy, {honeypots} honeypots (anvil, 1 s blocks, real Uniswap V2)", healthy);
    println!("  PairCreated at keeper -> buy sent (risk simulation included): {}", summary(&send));
    println!("  of which PairCreated -> risk report committed (baseline):     {}", summary(&report));
    println!(
        "  buy sent / report committed, at p50: {:.2}x",
        percentile(&send, 50).as_secs_f64() / percentile(&report, 50).as_secs_f64().max(1e-9)
    );
    println!(
        "  bought in the next block: {next_block} of {healthy} ({:.1}%); later: {later}; failed: {failed}; not bought: {missing}",
        100.0 * next_block as f64 / healthy.max(1) as f64
    );
    println!("  blocks after the launch -> buys: {spread:?}");
    println!("  honeypots bought: {honeypots_bought} of {honeypots}");
    println!(
        "  targets: p99 < 50 ms: {}; >= 95% in the next block: {}",
        if percentile(&send, 99) < Duration::from_millis(50) { "met" } else { "MISSED" },
        if next_block * 100 >= healthy * 95 { "met" } else { "MISSED" }
    );
    anyhow::ensure!(bought > 0, "no buy at all: the run did not work");
    Ok(())
}
