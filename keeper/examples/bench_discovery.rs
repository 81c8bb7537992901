//! Benchmark: time from a `PairCreated` log reaching the keeper to a finished (committed) risk
//! report, over real launches on a local anvil with real Uniswap V2; then the reports per second
//! when launches arrive in one burst. Prints figures; asserts nothing.
//!
//!   cargo run --profile bench-fast -p keeper --example bench_discovery -- [LAUNCHES]

// Timings and rates for display only; no amounts are computed in floating point here.
#![allow(clippy::float_arithmetic)]

use std::time::{Duration, Instant};

use alloy::{
    network::TransactionBuilder,
    providers::{ext::AnvilApi, Provider},
};
use keeper::{
    app::{App, Secrets},
    risk::worker::Recovery,
};
use localnet::evm::TokenKind;
use test_utils::bench::{ms, percentile};
use tokio_util::sync::CancellationToken;

mod common;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let launches: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(120);
    let common::Bench { env, config, db, _dir } = common::start().await?;

    // Tokens deployed and approved up front: the measured phase only adds liquidity (which
    // creates the pair), like a real launch transaction.
    let total = launches * 2 + 5;
    println!("deploying {total} tokens on anvil...");
    let mut tokens = Vec::with_capacity(total);
    for i in 0..total {
        let kind = if i % 4 == 3 { TokenKind::Honeypot } else { TokenKind::Standard };
        let t = env.deploy_approved(kind, &format!("t{i}")).await;
        tokens.push(t);
    }

    // The keeper as `keeper run` builds it: discovery and the risk stage, no trading.
    let cancel = CancellationToken::new();
    let recovery = Recovery { recovery_every: Duration::from_secs(60), ..Recovery::default() };
    let app = App::builder(&config, Secrets::default()).database(db.clone()).recovery(recovery).build().await?;
    let mut done = app.reports();
    let keeper = tokio::spawn(app.run(cancel.clone()));
    common::following(&db).await?;

    // Warm up (the first notification on a fresh subscription is late).
    let mut it = tokens.into_iter();
    for _ in 0..5 {
        env.send(env.add_liquidity_tx(it.next().unwrap())).await;
        common::next_report(&mut done).await;
    }

    // 1) One launch at a time.
    let mut lat = Vec::with_capacity(launches);
    for _ in 0..launches {
        env.send(env.add_liquidity_tx(it.next().unwrap())).await;
        let r = common::next_report(&mut done).await;
        lat.push(r.latency.expect("live discovery has a latency"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lat.sort();
    println!("sequential launches: {launches}");
    println!(
        "  PairCreated at keeper -> risk report committed: p50 {}  p99 {}  max {}",
        ms(percentile(&lat, 50)),
        ms(percentile(&lat, 99)),
        ms(lat[lat.len() - 1])
    );

    // 2) A burst: all launches in one block (anvil runs with a 1G-gas block limit), so every
    // PairCreated log arrives at once.
    // anvil keeps at most 100 pending transactions per sender.
    let launches = launches.min(100);
    env.provider.anvil_set_auto_mine(false).await?;
    let nonce = env.provider.get_transaction_count(env.deployer).await?;
    for i in 0..launches {
        let tx = env.add_liquidity_tx(it.next().unwrap()).with_nonce(nonce + i as u64).with_gas_limit(5_000_000);
        drop(env.provider.send_transaction(tx).await?);
    }
    let start = Instant::now();
    env.provider.anvil_mine(Some(1), None).await?;
    let sent = start.elapsed();
    let mut burst = Vec::with_capacity(launches);
    for i in 0..launches {
        match tokio::time::timeout(Duration::from_secs(30), done.recv()).await {
            Ok(Ok(r)) => burst.push(r.latency.unwrap_or_default()),
            _ => {
                let pools: i64 = sqlx::query_scalar("SELECT count(*) FROM pools").fetch_one(&db).await?;
                let block = env.provider.get_block_number().await?;
                anyhow::bail!(
                    "burst: only {i} of {launches} reports within 30 s ({pools} pools mirrored, head {block})"
                );
            }
        }
    }
    let elapsed = start.elapsed();
    burst.sort();
    println!("burst of {launches} launches in one block (mined in {}):", ms(sent));
    println!("  all reports in {}  -> {:.0} reports/s", ms(elapsed), launches as f64 / elapsed.as_secs_f64());
    println!(
        "  per-report latency in the burst: p50 {}  p99 {}",
        ms(percentile(&burst, 50)),
        ms(percentile(&burst, 99))
    );
    println!(
        "  baseline: one report alone (sequential p50) {}; the burst costs {:.1}x that per report in wall time",
        ms(percentile(&lat, 50)),
        elapsed.as_secs_f64() / launches as f64 / percentile(&lat, 50).as_secs_f64()
    );
    cancel.cancel();
    keeper.await??;
    Ok(())
}
