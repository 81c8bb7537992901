//! `localnet`: the local chains of `scripts/localnet.sh`, in one process.
//!
//! - the Solana JSON-RPC localnet (LiteSVM with the AMM native and the real SPL programs) on
//!   127.0.0.1:8899, websocket on 8900;
//! - anvil with the real Uniswap V2 factory, router and WETH9 on 127.0.0.1:8545;
//! - trading wallets for the keeper, generated here and funded with local money only: an anvil
//!   account (10,000 ETH) and a Solana keypair (SOL and the quote token), written to
//!   `<dir>/evm.key` and `<dir>/solana.key` (mode 0600);
//! - a launch simulator: every few seconds a token launches on one of the chains, drawn from
//!   healthy, taxed, honeypot, blacklisting, mint-authority-kept, whale and thin-liquidity kinds,
//!   and simulated traders buy and sell in the pools launched before, so prices move and the
//!   keeper's exits fire. Each launch is appended to `<dir>/launches.jsonl`.
//!
//! It writes the keeper's config for these chains to `<dir>/keeper.toml` and then `<dir>/ready`;
//! with `--launches-per-chain N` it launches N per chain (kinds in a fixed rotation, chains
//! alternating), writes `<dir>/done` and keeps the chains up until stopped.
//!
//!   localnet [DIR] [--interval-ms N] [--launches-per-chain N] [--seed N]
//!            [--solana-port P] [--anvil-port P] [--metrics-port P]

use std::{io::Write, path::PathBuf, time::Duration};

use alloy::primitives::{Address, U256};
use amm::client::PoolAddresses;
use anyhow::Context;
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use solana_sdk::{
    pubkey::Pubkey,
    signature::{Keypair, Signer},
};
use tests::{
    evm::{e18, EvmEnv, Launch, TokenKind},
    localnet::{
        serve,
        sim::{Launcher, SolLaunch},
        Chain,
    },
};

const QUOTE_MIN_RESERVE: u64 = 1_000_000_000;
/// Launches traded by the simulated traders are at least this many ticks old (the keeper has
/// had time to buy them).
const TRADE_AFTER_TICKS: u64 = 3;

struct Args {
    dir: PathBuf,
    interval_ms: u64,
    launches_per_chain: Option<u64>,
    seed: Option<u64>,
    solana_port: u16,
    anvil_port: u16,
    metrics_port: u16,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        dir: PathBuf::from(".localnet"),
        interval_ms: 4_000,
        launches_per_chain: None,
        seed: None,
        solana_port: 8899,
        anvil_port: 8545,
        metrics_port: 9464,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> anyhow::Result<u64> {
            it.next().and_then(|v| v.parse().ok()).with_context(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--interval-ms" => a.interval_ms = value("--interval-ms")?,
            "--launches-per-chain" => a.launches_per_chain = Some(value("--launches-per-chain")?),
            "--seed" => a.seed = Some(value("--seed")?),
            "--solana-port" => a.solana_port = u16::try_from(value("--solana-port")?)?,
            "--anvil-port" => a.anvil_port = u16::try_from(value("--anvil-port")?)?,
            "--metrics-port" => a.metrics_port = u16::try_from(value("--metrics-port")?)?,
            other if !other.starts_with("--") => a.dir = PathBuf::from(other),
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    Ok(a)
}

/// Writes a secret readable by its owner only.
fn write_secret(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// A launch the simulated traders may trade in.
enum Tradeable {
    Evm { token: Address, tick: u64 },
    Solana { token: Pubkey, pool: Box<PoolAddresses>, tick: u64 },
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let dir = args.dir.clone();
    std::fs::create_dir_all(&dir)?;
    for f in ["ready", "done", "launches.jsonl"] {
        let _ = std::fs::remove_file(dir.join(f));
    }

    // Solana.
    let payer = Keypair::new();
    let mut chain = Chain::new(&payer.pubkey()).await;
    chain.svm.airdrop(&payer.pubkey(), 10_000 * 1_000_000_000).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let wallet = Keypair::new();
    chain.svm.airdrop(&wallet.pubkey(), 100 * 1_000_000_000).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let net = serve(chain, format!("127.0.0.1:{}", args.solana_port).parse()?)
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", args.solana_port))?;
    let sol = Launcher { net: &net, payer: &payer };
    sol.ensure_config().map_err(anyhow::Error::msg)?;
    let quote_mint = sol.mint(false).map_err(anyhow::Error::msg)?;
    let quote_ata = sol.mint_to(&quote_mint, &payer.pubkey(), u64::MAX / 4).map_err(anyhow::Error::msg)?;
    sol.mint_to(&quote_mint, &wallet.pubkey(), 1_000 * QUOTE_MIN_RESERVE).map_err(anyhow::Error::msg)?;
    println!("solana   {}  (ws {})  AMM {}  quote mint {quote_mint}", net.url, net.ws_url, amm::ID);

    // EVM.
    let evm = EvmEnv::start_on((args.anvil_port != 0).then_some(args.anvil_port)).await;
    println!("anvil    {}  factory {}  router {}  WETH {}", evm.http_url(), evm.factory, evm.router, evm.weth);

    // The keeper's wallets: local money only.
    let evm_key = evm.anvil.keys()[7].clone();
    let evm_wallet = alloy::signers::local::PrivateKeySigner::from(evm_key.clone()).address();
    write_secret(&dir.join("evm.key"), &alloy::hex::encode_prefixed(evm_key.to_bytes()))?;
    write_secret(&dir.join("solana.key"), &serde_json::to_string(&wallet.to_bytes().to_vec())?)?;
    println!(
        "wallets  evm {evm_wallet:#x} (10000 ETH)  solana {} (100 SOL, {} quote)",
        wallet.pubkey(),
        1_000 * QUOTE_MIN_RESERVE
    );

    let config = format!(
        r#"# Generated by the localnet binary for scripts/localnet.sh: local chains, local money only.
[database]
path = "{db}"

[metrics]
listen = "127.0.0.1:{metrics_port}"

[solana]
enabled = true
rpc_url = "{sol_url}"
ws_url = "{sol_ws}"
commitment = "processed"
poll_interval_ms = 500
quote_mints = [{{ mint = "{quote_mint}", min_reserve = {QUOTE_MIN_RESERVE} }}]

{evm}max_log_range = 500

# Live trading on the local chains with the generated wallets above.
[trading]
enabled = true
live = true
evm_key_file = "{evm_key_file}"
solana_key_file = "{solana_key_file}"
max_risk_score = 60
max_open_positions = 50
cooldown_secs = 0

[trading.chains.local]
buy_amount = "{evm_buy}"
max_buy = "{evm_max}"
daily_budget = "{evm_daily}"
min_liquidity = "{evm_min}"

[trading.chains.solana]
buy_amount = "{sol_buy}"
max_buy = "{sol_max}"
daily_budget = "{sol_daily}"
min_liquidity = "{QUOTE_MIN_RESERVE}"
"#,
        db = dir.join("keeper.db").display(),
        metrics_port = args.metrics_port,
        sol_url = net.url,
        sol_ws = net.ws_url,
        evm = evm.keeper_toml("local"),
        evm_key_file = dir.join("evm.key").display(),
        solana_key_file = dir.join("solana.key").display(),
        evm_buy = e18(1) / U256::from(10u8),
        evm_max = e18(1),
        evm_daily = e18(1_000),
        evm_min = e18(1),
        sol_buy = QUOTE_MIN_RESERVE / 10,
        sol_max = QUOTE_MIN_RESERVE,
        sol_daily = 100 * QUOTE_MIN_RESERVE,
    );
    std::fs::write(dir.join("keeper.toml"), config)?;
    std::fs::write(dir.join("ready"), "")?;
    println!("keeper config written to {}", dir.join("keeper.toml").display());

    let mut rng = match args.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_entropy(),
    };
    let mut launches = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("launches.jsonl"))?;
    let evm_kinds = [
        ("healthy", Launch::clean(TokenKind::Standard)),
        ("taxed", Launch::clean(TokenKind::Tax { buy_bps: 500, sell_bps: 500 })),
        ("honeypot", Launch::clean(TokenKind::Honeypot)),
        ("blacklisting", Launch::clean(TokenKind::Blacklist)),
        ("thin", Launch { eth: e18(1) / U256::from(20u8), ..Launch::clean(TokenKind::Standard) }),
    ];
    let sol_kinds = [
        ("healthy", SolLaunch::clean(10 * QUOTE_MIN_RESERVE)),
        ("mint-auth", SolLaunch { revoke_mint_authority: false, ..SolLaunch::clean(10 * QUOTE_MIN_RESERVE) }),
        ("thin", SolLaunch::clean(QUOTE_MIN_RESERVE / 10)),
        ("whale", SolLaunch { whale: true, ..SolLaunch::clean(10 * QUOTE_MIN_RESERVE) }),
    ];
    let (mut evm_n, mut sol_n) = (0u64, 0u64);
    let mut tradeable: Vec<Tradeable> = Vec::new();
    let mut tick = 0u64;
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            () = tokio::time::sleep(Duration::from_millis(args.interval_ms)) => {}
        }
        tick += 1;
        // Which chain: alternating when the run is bounded, else a coin toss.
        let bounded = args.launches_per_chain;
        let on_evm = match bounded {
            Some(limit) if evm_n >= limit && sol_n >= limit => {
                if !dir.join("done").exists() {
                    std::fs::write(dir.join("done"), "")?;
                    println!("launches done: {evm_n} on anvil, {sol_n} on solana");
                }
                None
            }
            Some(limit) if evm_n >= limit => Some(false),
            Some(limit) if sol_n >= limit => Some(true),
            Some(_) => Some(evm_n <= sol_n),
            None => Some(rng.gen_bool(0.5)),
        };
        if let Some(on_evm) = on_evm {
            let n = evm_n + sol_n + 1;
            if on_evm {
                let (kind, launch) = match bounded {
                    Some(_) => evm_kinds[usize::try_from(evm_n).unwrap_or(0) % evm_kinds.len()].clone(),
                    None => evm_kinds.choose(&mut rng).cloned().unwrap_or(evm_kinds[0].clone()),
                };
                evm_n += 1;
                let l = evm.launch(&format!("tok{n}"), &launch).await;
                println!("launch   #{n} evm    {kind:<12} token {:#x} pair {:#x}", l.token, l.pair);
                let record = serde_json::json!({"chain": "local", "kind": kind,
                    "token": format!("{:#x}", l.token), "pool": format!("{:#x}", l.pair)});
                writeln!(launches, "{record}")?;
                if !matches!(launch.kind, TokenKind::Honeypot | TokenKind::Blacklist) {
                    tradeable.push(Tradeable::Evm { token: l.token, tick });
                }
            } else {
                let (kind, launch) = match bounded {
                    Some(_) => sol_kinds[usize::try_from(sol_n).unwrap_or(0) % sol_kinds.len()],
                    None => *sol_kinds.choose(&mut rng).unwrap_or(&sol_kinds[0]),
                };
                sol_n += 1;
                match sol.launch(&quote_mint, &quote_ata, launch) {
                    Ok((token, p)) => {
                        println!("launch   #{n} solana {kind:<12} token {token} pool {}", p.pool);
                        let record = serde_json::json!({"chain": "solana", "kind": kind,
                            "token": token.to_string(), "pool": p.pool.to_string()});
                        writeln!(launches, "{record}")?;
                        tradeable.push(Tradeable::Solana { token, pool: Box::new(p), tick });
                    }
                    Err(e) => eprintln!("launch   #{n} solana failed: {e}"),
                }
            }
        }

        // Simulated traders: two swaps in pools launched a few ticks ago, big enough to move
        // prices past the keeper's take-profit or stop-loss now and then.
        let ripe: Vec<&Tradeable> = tradeable
            .iter()
            .filter(|t| match t {
                Tradeable::Evm { tick: at, .. } | Tradeable::Solana { tick: at, .. } => tick >= at + TRADE_AFTER_TICKS,
            })
            .collect();
        for _ in 0..2 {
            let Some(t) = ripe.choose(&mut rng) else { break };
            let buy = rng.gen_bool(0.6);
            let result = match t {
                Tradeable::Evm { token, .. } => {
                    if buy {
                        let eth = e18(1) * U256::from(rng.gen_range(1u64..=8));
                        evm.try_trader_buy(*token, eth).await.map(|_| format!("buys {eth} wei of {token:#x}"))
                    } else {
                        let held = evm.balance_of(*token, evm.deployer).await;
                        let amount = held / U256::from(rng.gen_range(2u64..=4));
                        if amount.is_zero() {
                            continue;
                        }
                        evm.try_trader_sell(*token, amount).await.map(|_| format!("sells {amount} of {token:#x}"))
                    }
                }
                Tradeable::Solana { token, pool, .. } => {
                    if buy {
                        let quote = QUOTE_MIN_RESERVE * rng.gen_range(1u64..=8);
                        sol.swap(pool, token, true, quote).map(|()| format!("buys {quote} quote of {token}"))
                    } else {
                        let amount = sol.balance(&payer.pubkey(), token) / rng.gen_range(2u64..=4);
                        if amount == 0 {
                            continue;
                        }
                        sol.swap(pool, token, false, amount).map(|()| format!("sells {amount} of {token}"))
                    }
                }
            };
            match result {
                Ok(what) => println!("trader   {what}"),
                Err(e) => eprintln!("trader   swap failed: {}", e.lines().next().unwrap_or_default()),
            }
        }
    }
    println!("localnet stopping");
    Ok(())
}
