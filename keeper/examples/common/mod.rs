//! Shared by the keeper's EVM benchmarks: logging, anvil with Uniswap V2, the keeper's config
//! for it and a migrated mirror in a temporary directory.

use std::time::Duration;

use keeper::{
    config::{Config, EvmChainConfig},
    mirror,
};
use sqlx::SqlitePool;
use tests::evm::EvmEnv;

pub struct Bench {
    pub env: EvmEnv,
    pub config: Config,
    /// `config.evm["local"]`.
    pub cfg: EvmChainConfig,
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
    std::fs::write(&toml_path, env.keeper_toml("local"))?;
    let config = Config::load(Some(&toml_path), Vec::new())?;
    let cfg = config.evm["local"].clone();
    let db = mirror::open_writer(&dir.path().join("keeper.db"), Duration::from_secs(5)).await?;
    mirror::migrate(&db).await?;
    Ok(Bench { env, config, cfg, db, _dir: dir })
}
