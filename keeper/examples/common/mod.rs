//! Shared by the keeper's EVM benchmarks: logging, anvil with Uniswap V2, the keeper's config
//! for it and a migrated mirror in a temporary directory.

use std::time::Duration;

use keeper::config::Config;
use localnet::evm::EvmEnv;
use sqlx::SqlitePool;

pub struct Bench {
    pub env: EvmEnv,
    pub config: Config,
    pub db: SqlitePool,
    pub _dir: tempfile::TempDir,
}

/// Logs to stderr (`RUST_LOG`), starts anvil and opens a fresh mirror.
pub async fn start() -> anyhow::Result<Bench> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let env = EvmEnv::start().await;
    let dir = tempfile::tempdir()?;
    let toml_path = dir.path().join("keeper.toml");
    let toml = format!(
        "[database]\npath = \"{}\"\n[solana]\nenabled = false\n{}",
        dir.path().join("keeper.db").display(),
        env.keeper_toml("local")
    );
    std::fs::write(&toml_path, toml)?;
    let config = Config::load(Some(&toml_path), Vec::new())?;
    let db = mirror::open_writer(&config.database.path, Duration::from_secs(5)).await?;
    mirror::migrate(&db).await?;
    Ok(Bench { env, config, db, _dir: dir })
}

/// Waits until the keeper's EVM discovery follows the chain (its checkpoint exists).
pub async fn following(db: &SqlitePool) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while mirror::checkpoint(db, "evm:local").await?.is_none() {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "discovery did not start within 30 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// The next risk report the keeper publishes (a minute at most).
#[allow(dead_code, reason = "each benchmark binary compiles this module; bench_trading waits on decisions instead")]
pub async fn next_report(
    done: &mut tokio::sync::broadcast::Receiver<keeper::pipeline::RiskReport>,
) -> keeper::pipeline::RiskReport {
    tokio::time::timeout(Duration::from_secs(60), done.recv())
        .await
        .ok()
        .and_then(Result::ok)
        .expect("a report within 60 s")
}

/// The live benchmarks' budget on the local chain: 0.1 ETH a buy, at most 1 ETH, a daily budget
/// no run reaches, pools with at least 1 ETH.
#[allow(dead_code, reason = "each benchmark binary compiles this module; only the trading ones use it")]
pub fn local_budget() -> keeper::trade::ChainBudget {
    use alloy::primitives::U256;
    use localnet::evm::e18;
    keeper::trade::ChainBudget {
        buy_amount: e18(1) / U256::from(10u8),
        max_buy: e18(1),
        daily_budget: e18(1_000_000),
        min_liquidity: e18(1),
        quote_tokens: vec![],
    }
}

/// Live trading on the local chain that buys whatever the score admits (up to 80: high findings,
/// such as a deployer keeping half the supply and the LP; critical ones never) and sells only
/// when something else decides it: no exit rule fires on its own, no limit on open positions.
#[allow(dead_code, reason = "each benchmark binary compiles this module; only the mempool ones use it")]
pub fn live_holding() -> keeper::trade::TradingConfig {
    let mut t = keeper::trade::TradingConfig {
        enabled: true,
        live: true,
        max_risk_score: 80,
        max_open_positions: 100_000,
        cooldown_secs: 0,
        take_profit_bps: 1_000_000,
        stop_loss_bps: 9_999,
        trailing_stop_bps: 0,
        max_hold_secs: 0,
        exit_poll_ms: 60_000,
        ..Default::default()
    };
    t.chains.insert("local".into(), local_budget());
    t
}
