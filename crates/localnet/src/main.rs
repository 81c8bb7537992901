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
//! with `--launches-per-chain N` it launches N per chain in all (kinds in a fixed rotation, chains
//! alternating), writes `<dir>/done` and keeps the chains up until stopped.
//!
//! The chains are kept in `<dir>` and a new run resumes them where the last one stopped (the
//! same contracts, wallets, tokens, pools, balances, blocks and transactions), so the keeper
//! resumes from its database: anvil's `anvil-state.json`, the Solana accounts and ledger
//! (`solana-accounts.bin`, `solana-ledger.log`) and the simulator's own `localnet.json`, all
//! written every tick and on SIGTERM / Ctrl-C. `--fresh` starts new chains instead.
//!
//!   localnet [DIR] [--fresh] [--interval-ms N] [--launches-per-chain N] [--seed N]
//!            [--solana-port P] [--anvil-port P] [--metrics-port P] [--max-hold-secs N]

use std::{io::Write, path::PathBuf, time::Duration};

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
};
use amm::client::{self, PoolAddresses};
use anyhow::Context;
use localnet::{
    evm::{e18, Contracts, EvmEnv, Launch, TokenKind},
    serve,
    sim::{Launcher, SolLaunch},
    Chain,
};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use solana_sdk::{
    pubkey::Pubkey,
    signature::{Keypair, Signer},
};

const QUOTE_MIN_RESERVE: u64 = 1_000_000_000;
/// Launches traded by the simulated traders are at least this many ticks old (the keeper has
/// had time to buy them).
const TRADE_AFTER_TICKS: u64 = 3;
/// A rug-pull launch's owner pulls its liquidity this many ticks after the launch.
const RUG_AFTER_TICKS: u64 = 4;
/// How long a launch or a rug waits in anvil's mempool before its block is mined.
const BLOCK_TIME: Duration = Duration::from_secs(1);

struct Args {
    dir: PathBuf,
    fresh: bool,
    max_hold_secs: Option<u64>,
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
        fresh: false,
        max_hold_secs: None,
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
            "--fresh" => a.fresh = true,
            "--max-hold-secs" => a.max_hold_secs = Some(value("--max-hold-secs")?),
            "--solana-port" => a.solana_port = u16::try_from(value("--solana-port")?)?,
            "--anvil-port" => a.anvil_port = u16::try_from(value("--anvil-port")?)?,
            "--metrics-port" => a.metrics_port = u16::try_from(value("--metrics-port")?)?,
            other if !other.starts_with("--") => a.dir = PathBuf::from(other),
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    Ok(a)
}

/// Writes a secret readable by its owner only, atomically (a crash keeps the previous file).
fn write_secret(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_data()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// A Solana key as base58 text in `localnet.json`.
mod b58 {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    use solana_sdk::pubkey::Pubkey;

    pub fn serialize<S: Serializer>(key: &Pubkey, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(key)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Pubkey, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

/// A launch the simulated traders may trade in (`tick`: when it launched).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "chain", rename_all = "snake_case")]
enum Tradeable {
    Evm {
        token: Address,
        tick: u64,
    },
    Solana {
        #[serde(with = "b58")]
        token: Pubkey,
        tick: u64,
    },
}

/// The simulator's own state, kept in `<dir>/localnet.json` (with the launcher's key: mode 0600).
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    /// The Solana launcher (also the AMM's upgrade authority) and the keeper's wallet.
    payer: Vec<u8>,
    wallet: Vec<u8>,
    #[serde(with = "b58")]
    quote_mint: Pubkey,
    #[serde(with = "b58")]
    quote_ata: Pubkey,
    contracts: Contracts,
    evm_launches: u64,
    solana_launches: u64,
    tick: u64,
    tradeable: Vec<Tradeable>,
    /// Rug-pull launches whose owner has not pulled the liquidity yet, with their launch tick.
    #[serde(default)]
    rugs: Vec<(Address, u64)>,
}

/// The files a run keeps; all of them or none make a resumable localnet.
const KEPT: [&str; 4] = ["localnet.json", "solana-accounts.bin", "solana-ledger.log", "anvil-state.json"];

/// Saves the Solana chain, then the simulator's state (which only names what the chains hold).
fn save(dir: &std::path::Path, net: &localnet::Localnet, saved: &Saved) -> anyhow::Result<()> {
    net.chain().save().context("saving the Solana chain")?;
    write_secret(&dir.join("localnet.json"), &serde_json::to_string_pretty(saved)?)
}

fn keypair(bytes: &[u8]) -> anyhow::Result<Keypair> {
    Keypair::try_from(bytes).map_err(|e| anyhow::anyhow!("a key in localnet.json: {e}"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    // A failure is one line on stderr, never a backtrace in the newcomer's terminal.
    std::panic::set_hook(Box::new(|info| eprintln!("localnet: {info}")));
    let args = args()?;
    let dir = args.dir.clone();
    std::fs::create_dir_all(&dir)?;
    for f in ["ready", "done"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let present: Vec<&str> = KEPT.iter().copied().filter(|f| dir.join(f).exists()).collect();
    if args.fresh || present.is_empty() {
        for f in KEPT.iter().chain(&["launches.jsonl"]) {
            let _ = std::fs::remove_file(dir.join(f));
        }
    } else if present.len() < KEPT.len() {
        anyhow::bail!(
            "{} holds only part of a localnet ({}); start new chains with --fresh",
            dir.display(),
            present.join(", ")
        );
    }
    let saved: Option<Saved> = match std::fs::read_to_string(dir.join("localnet.json")) {
        Ok(text) => Some(serde_json::from_str(&text).context("localnet.json is unreadable; start over with --fresh")?),
        Err(_) => None,
    };

    // Solana.
    let payer = saved.as_ref().map_or_else(|| Ok(Keypair::new()), |s| keypair(&s.payer))?;
    let wallet = saved.as_ref().map_or_else(|| Ok(Keypair::new()), |s| keypair(&s.wallet))?;
    let (mut chain, resumed) = Chain::open(&dir, &payer.pubkey()).await.context("opening the Solana chain")?;
    if !resumed {
        chain.svm.airdrop(&payer.pubkey(), 10_000 * 1_000_000_000).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        chain.svm.airdrop(&wallet.pubkey(), 100 * 1_000_000_000).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let net = serve(chain, format!("127.0.0.1:{}", args.solana_port).parse()?)
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", args.solana_port))?;
    let sol = Launcher { net: &net, payer: &payer };
    sol.ensure_config().map_err(anyhow::Error::msg)?;
    let (quote_mint, quote_ata) = match &saved {
        Some(s) => (s.quote_mint, s.quote_ata),
        None => {
            let quote_mint = sol.mint(false).map_err(anyhow::Error::msg)?;
            let quote_ata = sol.mint_to(&quote_mint, &payer.pubkey(), u64::MAX / 4).map_err(anyhow::Error::msg)?;
            sol.mint_to(&quote_mint, &wallet.pubkey(), 1_000 * QUOTE_MIN_RESERVE).map_err(anyhow::Error::msg)?;
            (quote_mint, quote_ata)
        }
    };
    println!("solana   {}  (ws {})  AMM {}  quote mint {quote_mint}", net.url, net.ws_url, amm::ID);

    // EVM.
    let anvil_port = (args.anvil_port != 0).then_some(args.anvil_port);
    let evm =
        EvmEnv::start_with(anvil_port, Some(&dir.join("anvil-state.json")), saved.as_ref().map(|s| s.contracts)).await;
    if saved.is_some() && !evm.contracts_deployed().await {
        anyhow::bail!("anvil-state.json does not hold the Uniswap contracts; start new chains with --fresh");
    }
    println!("anvil    {}  factory {}  router {}  WETH {}", evm.http_url(), evm.factory, evm.router, evm.weth);
    let mut state = saved.unwrap_or_else(|| Saved {
        payer: payer.to_bytes().to_vec(),
        wallet: wallet.to_bytes().to_vec(),
        quote_mint,
        quote_ata,
        contracts: evm.contracts(),
        evm_launches: 0,
        solana_launches: 0,
        tick: 0,
        tradeable: Vec::new(),
        rugs: Vec::new(),
    });
    if resumed {
        let block = evm.provider.get_block_number().await?;
        println!(
            "resumed  {}: {} launches on anvil, {} on solana so far; anvil at block {block}, solana at slot {}",
            dir.display(),
            state.evm_launches,
            state.solana_launches,
            net.chain().slot()
        );
    }
    save(&dir, &net, &state)?;

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
# Pending transactions: launches bought in their own block, rugs sold ahead of.
mempool = true

# Live trading on the local chains with the generated wallets above.
[trading]
enabled = true
live = true
evm_key_file = "{evm_key_file}"
solana_key_file = "{solana_key_file}"
max_risk_score = 60
max_open_positions = 50
cooldown_secs = 0
{max_hold}
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
        max_hold = args.max_hold_secs.map(|s| format!("max_hold_secs = {s}\n")).unwrap_or_default(),
    );
    std::fs::write(dir.join("keeper.toml"), config)?;
    // The API builds wallet transactions against the same chains: its EVM RPC and the router of
    // the keeper's factory (`uniswap_v2` on chain `local`).
    let api_env = format!(
        "APP_API_SOLANA_RPC='{}'\nAPP_API_EVM_RPC='local={}'\nAPP_API_EVM_ROUTER='local/uniswap_v2={:#x}'\n",
        net.url,
        evm.http_url(),
        evm.router
    );
    std::fs::write(dir.join("app-api.env"), api_env)?;
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
        // The owner keeps the LP, and pulls it a few ticks later.
        ("rug-pull", Launch { burn_lp: false, renounce: false, ..Launch::clean(TokenKind::Standard) }),
    ];
    let sol_kinds = [
        ("healthy", SolLaunch::clean(10 * QUOTE_MIN_RESERVE)),
        ("mint-auth", SolLaunch { revoke_mint_authority: false, ..SolLaunch::clean(10 * QUOTE_MIN_RESERVE) }),
        ("thin", SolLaunch::clean(QUOTE_MIN_RESERVE / 10)),
        ("whale", SolLaunch { whale: true, ..SolLaunch::clean(10 * QUOTE_MIN_RESERVE) }),
    ];
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
        // anvil stopped under us (killed, or a Ctrl-C that reached it): stop cleanly, keeping
        // what was saved, instead of failing in the middle of a launch.
        if evm.provider.get_block_number().await.is_err() {
            eprintln!("anvil is not answering any more; localnet stopping");
            break;
        }
        state.tick += 1;
        let tick = state.tick;
        let (evm_n, sol_n) = (state.evm_launches, state.solana_launches);
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
                state.evm_launches += 1;
                // The launch waits in the mempool for its block, where the keeper's buy can follow it.
                let l = evm.launch_through_mempool(&format!("tok{n}"), &launch, BLOCK_TIME).await;
                println!(
                    "launch   #{n} evm    {kind:<12} token {:#x} pair {:#x} (block {}, through the mempool)",
                    l.token, l.pair, l.block
                );
                if kind == "rug-pull" {
                    state.rugs.push((l.token, tick));
                }
                let record = serde_json::json!({"chain": "local", "kind": kind,
                    "token": format!("{:#x}", l.token), "pool": format!("{:#x}", l.pair)});
                writeln!(launches, "{record}")?;
                if !matches!(launch.kind, TokenKind::Honeypot | TokenKind::Blacklist) {
                    state.tradeable.push(Tradeable::Evm { token: l.token, tick });
                }
            } else {
                let (kind, launch) = match bounded {
                    Some(_) => sol_kinds[usize::try_from(sol_n).unwrap_or(0) % sol_kinds.len()],
                    None => *sol_kinds.choose(&mut rng).unwrap_or(&sol_kinds[0]),
                };
                state.solana_launches += 1;
                match sol.launch(&quote_mint, &quote_ata, launch) {
                    Ok((token, p)) => {
                        println!("launch   #{n} solana {kind:<12} token {token} pool {}", p.pool);
                        let record = serde_json::json!({"chain": "solana", "kind": kind,
                            "token": token.to_string(), "pool": p.pool.to_string()});
                        writeln!(launches, "{record}")?;
                        state.tradeable.push(Tradeable::Solana { token, tick });
                    }
                    Err(e) => eprintln!("launch   #{n} solana failed: {e}"),
                }
            }
        }

        // Rug pulls: the owner removes all its liquidity, through the mempool (where the keeper
        // sees it coming and sells first if it holds the token).
        let (due, waiting): (Vec<_>, Vec<_>) = state.rugs.drain(..).partition(|(_, at)| tick >= at + RUG_AFTER_TICKS);
        state.rugs = waiting;
        for (token, _) in due {
            let pull = evm.pull_liquidity_tx(token).await;
            let r = evm.mine_after(pull, BLOCK_TIME).await;
            println!(
                "rug      the owner of {token:#x} pulls its liquidity (block {:?}, through the mempool)",
                r.block_number
            );
            state.tradeable.retain(|t| !matches!(t, Tradeable::Evm { token: t, .. } if *t == token));
        }

        // Simulated traders: two swaps in pools launched a few ticks ago, big enough to move
        // prices past the keeper's take-profit or stop-loss now and then.
        let ripe: Vec<&Tradeable> = state
            .tradeable
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
                Tradeable::Solana { token, .. } => {
                    let pool = &pool_of(token, &quote_mint)?;
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
        save(&dir, &net, &state)?;
    }
    println!("localnet stopping");
    save(&dir, &net, &state)?;
    // anvil writes its state when it stops (on drop: SIGTERM, then a wait).
    drop(evm);
    println!("localnet stopped; state kept in {} (the next run resumes it)", dir.display());
    Ok(())
}

/// The AMM pool of a launched token against the quote mint.
fn pool_of(token: &Pubkey, quote_mint: &Pubkey) -> anyhow::Result<PoolAddresses> {
    let (a, b) = client::sort_mints(*token, *quote_mint).context("a token equal to the quote mint")?;
    Ok(PoolAddresses::derive(client::config_address(0), a, b))
}
