//! Benchmark: the anti-rug watch on a local anvil with 1-second blocks, fee ordering and real
//! Uniswap V2.
//!
//! The keeper holds RUGS positions, bought live while anvil mined at once. Then anvil mines a block
//! a second and the tokens' owner sends every rug to the mempool at once, in turn a 99% sell fee
//! (`updateRewards`), a blacklist of our wallet (`claim`) and pulling the liquidity
//! (`removeLiquidityETH`). Figures:
//! - the share of rugs our sale lands ahead of (an earlier block, or earlier in the same block);
//! - pending transaction at the keeper -> our sale handed to the node, simulation included
//!   (the sale's `trades.latency_us`), p50/p99; and to the verdict, the sale settled
//!   (`PendingVerdict::elapsed`, which waits for the sale's receipt).
//!
//! With `spaced`, the owner sends one rug at a time, the next after the keeper's verdict on the
//! last: the latency of one rug alone, beside the burst's.
//!
//! Prints figures; asserts only that the run itself worked.
//!
//!   cargo run --profile bench-fast -p keeper --example bench_antirug -- [RUGS] [spaced]

// Timings and shares for display only; amounts stay integers.
#![allow(clippy::float_arithmetic)]

use std::time::Duration;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, U256},
    providers::{ext::AnvilApi, Provider},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
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

alloy::sol! {
    interface ILatent {
        function updateRewards(uint256 bps) external;
        function claim(address who) external;
    }
    interface IRugRouter {
        function removeLiquidityETH(address token, uint256 liquidity, uint256 amountTokenMin, uint256 amountETHMin, address to, uint256 deadline) external returns (uint256, uint256);
    }
    #[sol(rpc)]
    interface IRugPair {
        function approve(address spender, uint256 value) external returns (bool);
        function balanceOf(address who) external view returns (uint256);
    }
}

type Judged = std::collections::HashMap<B256, Option<i64>>;

/// Verdicts on the rugs of `sent` (the owner's transactions to other tokens are judged too:
/// harmless), until `want` are judged or a minute has passed.
async fn wait_verdicts(
    verdicts: &mut tokio::sync::broadcast::Receiver<keeper::pipeline::PendingVerdict>,
    sent: &[(B256, Address, &str)],
    want: usize,
    elapsed: &mut Vec<Duration>,
    judged: &mut Judged,
) {
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    while judged.len() < want && tokio::time::Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(5), verdicts.recv()).await {
            Ok(Ok(v)) if v.harm.is_some() && sent.iter().any(|(h, _, _)| *h == v.tx) => {
                elapsed.push(v.elapsed);
                judged.insert(v.tx, v.trade_id);
            }
            Ok(Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(_)) | Err(_) => break,
        }
    }
}

fn hex(a: Address) -> String {
    format!("{a:#x}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rugs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let spaced = std::env::args().nth(2).as_deref() == Some("spaced");
    let common::Bench { env, config, db, _dir } = common::start().await?;
    let mut config = config;
    config.evm.get_mut("local").expect("the local chain").mempool = true;
    // The latent scams are bought on purpose here: the privilege search is cut short (a high
    // finding, not a critical one) and the score limit admits it.
    config.risk.sandbox_max_simulations = 1;
    let trading = common::live_holding();
    let key = PrivateKeySigner::from(env.anvil.keys()[7].clone());
    let wallet = key.address();
    let config = Config { trading, ..config };
    let secrets = Secrets { evm: Some(EvmKey(key)), ..Secrets::default() };
    let app = App::builder(&config, secrets).database(db.clone()).build().await?;
    let trader = app.trader().expect("trading is on");
    let mut verdicts = trader.pending_verdicts();
    let cancel = CancellationToken::new();
    let keeper = tokio::spawn(app.run(cancel.clone()));
    common::following(&db).await?;

    // The positions, bought while anvil mines at once.
    println!("launching and buying {rugs} tokens...");
    let deadline = U256::from(u64::MAX);
    let mut held = Vec::with_capacity(rugs);
    for i in 0..rugs {
        let (kind, launch) = match i % 3 {
            0 => ("fee", Launch::clean(TokenKind::Zoo("RewardsToken"))),
            1 => ("blacklist", Launch::clean(TokenKind::Zoo("ClaimToken"))),
            _ => ("pull", Launch { burn_lp: false, renounce: false, ..Launch::clean(TokenKind::Standard) }),
        };
        let l = env.launch(&format!("r{i}"), &launch).await;
        let until = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let open: Option<String> =
                sqlx::query_scalar("SELECT status FROM positions WHERE token = ? AND status = 'open'")
                    .bind(hex(l.token))
                    .fetch_optional(&db)
                    .await?;
            if open.is_some() {
                break;
            }
            anyhow::ensure!(tokio::time::Instant::now() < until, "{} was not bought within 60 s", l.token);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let rug = match kind {
            "fee" => (l.token, ILatent::updateRewardsCall { bps: U256::from(9_900u32) }.abi_encode()),
            "blacklist" => (l.token, ILatent::claimCall { who: wallet }.abi_encode()),
            _ => {
                let lp = IRugPair::new(l.pair, &env.provider).balanceOf(env.deployer).call().await?;
                env.call(
                    l.pair,
                    IRugPair::approveCall { spender: env.router, value: U256::MAX }.abi_encode(),
                    U256::ZERO,
                )
                .await;
                let call = IRugRouter::removeLiquidityETHCall {
                    token: l.token,
                    liquidity: lp,
                    amountTokenMin: U256::ZERO,
                    amountETHMin: U256::ZERO,
                    to: env.deployer,
                    deadline,
                };
                (env.router, call.abi_encode())
            }
        };
        held.push((l.token, kind, rug));
    }

    // The rugs, all at once, into the mempool of a chain that mines a block a second.
    env.provider.anvil_set_auto_mine(false).await?;
    env.provider.anvil_set_interval_mining(1).await?;
    let how = if spaced { "one at a time" } else { "all at once" };
    println!("anvil mines a block a second; the owner sends {rugs} rugs to its mempool, {how}...");
    let mut sent: Vec<(B256, Address, &str)> = Vec::with_capacity(rugs);
    let mut elapsed = Vec::new();
    let mut judged = Judged::new();
    for (token, kind, (to, input)) in &held {
        let tx = TransactionRequest::default().with_from(env.deployer).with_to(*to).with_input(input.clone());
        sent.push((*env.provider.send_transaction(tx).await?.tx_hash(), *token, kind));
        if spaced {
            wait_verdicts(&mut verdicts, &sent, sent.len(), &mut elapsed, &mut judged).await;
        }
    }
    wait_verdicts(&mut verdicts, &sent, rugs, &mut elapsed, &mut judged).await;
    let judged_count = judged.len();
    // Every rug mined, and every sale settled (or 30 s more).
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut ahead = 0usize;
    let mut behind = Vec::new();
    let mut to_send = Vec::new();
    for (hash, token, kind) in &sent {
        let rug = loop {
            if let Some(r) = env.provider.get_transaction_receipt(*hash).await? {
                break Some(r);
            }
            if tokio::time::Instant::now() > until {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let sale: Option<String> = loop {
            let row: Option<(String, Option<String>, Option<i64>)> = sqlx::query_as(
                "SELECT t.status, t.tx_id, t.latency_us FROM trades t JOIN positions p ON p.id = t.position_id
                 WHERE p.token = ? AND t.side = 'sell' AND t.reason = 'front_ran_rug'",
            )
            .bind(hex(*token))
            .fetch_optional(&db)
            .await?;
            match row {
                Some((status, tx, us)) if status == "confirmed" || status == "failed" => {
                    if let Some(us) = us {
                        to_send.push(Duration::from_micros(u64::try_from(us)?));
                    }
                    break tx;
                }
                _ if tokio::time::Instant::now() > until => break None,
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let ours = match &sale {
            Some(tx) => env.provider.get_transaction_receipt(tx.parse()?).await?,
            None => None,
        };
        match (rug, ours) {
            (Some(r), Some(o)) if (o.block_number, o.transaction_index) < (r.block_number, r.transaction_index) => {
                ahead += 1;
            }
            _ => behind.push(*kind),
        }
    }
    env.provider.anvil_set_auto_mine(true).await?;
    cancel.cancel();
    keeper.await??;

    elapsed.sort();
    to_send.sort();
    println!("pending rugs: {rugs}, {how} (anvil, 1 s blocks, fee ordering, real Uniswap V2)");
    println!("  judged harmful: {judged_count} of {rugs}");
    println!("  pending seen -> our sale sent (simulation included): {}", summary(&to_send));
    println!("  pending seen -> verdict, the sale settled (a block):  {}", summary(&elapsed));
    println!(
        "  front-run (our sale landed first): {ahead} of {rugs} ({:.1}%); not ahead: {behind:?}",
        100.0 * ahead as f64 / rugs.max(1) as f64
    );
    let p99 = test_utils::bench::percentile(&to_send, 99);
    println!(
        "  targets: >= 95% front-run: {}; p99 < 10 ms: {}",
        if ahead * 100 >= rugs * 95 { "met" } else { "MISSED" },
        if p99 < Duration::from_millis(10) { "met" } else { "MISSED" }
    );
    anyhow::ensure!(judged_count > 0, "no rug judged at all: the run did not work");
    Ok(())
}
