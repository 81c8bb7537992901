//! Benchmark: block-0 buys on a local anvil with 1-second blocks, fee ordering and real
//! Uniswap V2.
//!
//! LAUNCHES tokens are deployed and approved while anvil mines at once; every fifth is a latent
//! scam (a renamed blacklist, `ClaimToken`). Then anvil mines a block a second and the deployer
//! sends each launch (`addLiquidityETH`) to the mempool, one every GAP ms, so that launches
//! reach the keeper at every point of a block. Figures:
//! - the share of healthy launches bought in the launch's own block (after it), in the next
//!   block, later, or not at all;
//! - pending launch at the keeper -> our buy handed to the node, the pre-launch report (the
//!   launch run in the sandbox, the full behavioural report on that state) included (the buy's
//!   `trades.latency_us`), p50/p99;
//! - that no scam was bought, and no buy landed before its launch.
//!
//! Prints figures; asserts only that the run itself worked.
//!
//!   cargo run --profile bench-fast -p keeper --example bench_block0 -- [LAUNCHES] [GAP_MS]

// Timings and shares for display only; amounts stay integers.
#![allow(clippy::float_arithmetic)]

use std::time::Duration;

use alloy::{
    primitives::{Address, B256},
    providers::{ext::AnvilApi, Provider},
    signers::local::PrivateKeySigner,
};
use keeper::{
    app::{App, Secrets},
    config::Config,
    trade::keys::EvmKey,
};
use localnet::evm::{Launch, TokenKind};
use test_utils::bench::summary;
use tokio_util::sync::CancellationToken;

mod common;

fn hex(a: Address) -> String {
    format!("{a:#x}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let gap = Duration::from_millis(std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(370));
    let common::Bench { env, config, db, _dir } = common::start().await?;
    let mut config = config;
    config.evm.get_mut("local").expect("the local chain").mempool = true;
    // The deployer keeps half the supply and the LP: high findings, which the score admits;
    // the scams' findings are critical, never bought whatever the score.
    let trading = common::live_holding();
    let key = PrivateKeySigner::from(env.anvil.keys()[7].clone());
    let config = Config { trading, ..config };
    let secrets = Secrets { evm: Some(EvmKey(key)), ..Secrets::default() };
    let app = App::builder(&config, secrets).database(db.clone()).build().await?;
    let cancel = CancellationToken::new();
    let keeper = tokio::spawn(app.run(cancel.clone()));
    common::following(&db).await?;

    println!("deploying {n} tokens (every fifth a latent scam)...");
    let plain = Launch { distribute: false, burn_lp: false, renounce: false, ..Launch::clean(TokenKind::Standard) };
    let mut prepared = Vec::with_capacity(n);
    for i in 0..n {
        let scam = i % 5 == 4;
        let l = if scam { Launch { kind: TokenKind::Zoo("ClaimToken"), ..plain.clone() } } else { plain.clone() };
        let token = env.deploy_token(l.kind, &format!("b{i}"), l.supply).await;
        prepared.push((token, scam, env.prepare_launch(token, &l).await));
    }

    env.provider.anvil_set_auto_mine(false).await?;
    env.provider.anvil_set_interval_mining(1).await?;
    println!("anvil mines a block a second; {n} launches go to its mempool, one every {} ms...", gap.as_millis());
    let mut sent: Vec<(Address, bool, B256)> = Vec::with_capacity(n);
    for (token, scam, tx) in prepared {
        sent.push((token, scam, *env.provider.send_transaction(tx).await?.tx_hash()));
        tokio::time::sleep(gap).await;
    }

    // Every launch mined; every healthy one's buy settled (or 60 s more).
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    let (mut own, mut next, mut later, mut missing, mut before, mut scams_bought) = (0usize, 0usize, 0usize, 0, 0, 0);
    let (mut latency, mut report, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    let healthy = sent.iter().filter(|s| !s.1).count();
    for (token, scam, hash) in &sent {
        let launch = loop {
            if let Some(r) = env.provider.get_transaction_receipt(*hash).await? {
                break Some(r);
            }
            if tokio::time::Instant::now() > until {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let buy: Option<(String, Option<String>, Option<i64>)> = loop {
            let row: Option<(String, Option<String>, Option<i64>)> = sqlx::query_as(
                "SELECT t.status, t.tx_id, t.latency_us FROM trades t JOIN positions p ON p.id = t.position_id
                 WHERE p.token = ? AND t.side = 'buy'",
            )
            .bind(hex(*token))
            .fetch_optional(&db)
            .await?;
            match row {
                Some(r) if r.0 == "confirmed" || r.0 == "failed" => break Some(r),
                _ if *scam || tokio::time::Instant::now() > until => break row,
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        if *scam {
            scams_bought += usize::from(buy.is_some());
            continue;
        }
        let Some((_, Some(tx), us)) = buy else {
            missing += 1;
            continue;
        };
        if let Some(us) = us {
            latency.push(Duration::from_micros(u64::try_from(us)?));
            // The pre-launch report's own time (the launch and the probes in the sandbox, the
            // checks, until its row); the rest is queueing, the rows and the trader.
            let r: Option<i64> = sqlx::query_scalar(
                "SELECT elapsed_us FROM risk_reports WHERE token = ? AND findings LIKE '%\"pre_launch\"%' ORDER BY id LIMIT 1",
            )
            .bind(hex(*token))
            .fetch_optional(&db)
            .await?;
            if let Some(r) = r {
                report.push(Duration::from_micros(u64::try_from(r)?));
                rest.push(Duration::from_micros(u64::try_from(us.saturating_sub(r))?));
            }
        }
        let ours = env.provider.get_transaction_receipt(tx.parse()?).await?;
        match (launch, ours) {
            (Some(l), Some(o)) => {
                let (a, b) = ((o.block_number, o.transaction_index), (l.block_number, l.transaction_index));
                if a < b {
                    before += 1;
                } else if o.block_number == l.block_number {
                    own += 1;
                } else if o.block_number == l.block_number.map(|b| b + 1) {
                    next += 1;
                } else {
                    later += 1;
                }
            }
            _ => missing += 1,
        }
    }
    env.provider.anvil_set_auto_mine(true).await?;
    cancel.cancel();
    keeper.await??;

    latency.sort();
    report.sort();
    rest.sort();
    let pct = |k: usize| 100.0 * k as f64 / healthy.max(1) as f64;
    println!("launches: {n} in the mempool, {healthy} healthy (anvil, 1 s blocks, fee ordering, real Uniswap V2)");
    println!("  bought in the launch's own block: {own} of {healthy} ({:.1}%)", pct(own));
    println!("  in the next block: {next}; later: {later}; not bought: {missing}; before the launch: {before}");
    println!("  scams bought: {scams_bought} of {}", n - healthy);
    println!("  pending launch seen -> our buy sent (pre-launch report included): {}", summary(&latency));
    println!("    of which the pre-launch report until its row: {}", summary(&report));
    println!("    the rest (queueing, the rows, the trader's quote, signing, sending): {}", summary(&rest));
    let p99 = test_utils::bench::percentile(&latency, 99);
    println!(
        "  targets: >= 95% in the launch's block: {}; p99 < 10 ms: {}",
        if own * 100 >= healthy * 95 { "met" } else { "MISSED" },
        if p99 < Duration::from_millis(10) { "met" } else { "MISSED" }
    );
    anyhow::ensure!(own + next + later > 0, "nothing was bought: the run did not work");
    Ok(())
}
