//! `keeper`: the daemon and its administrative commands.

use std::{collections::HashMap, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use keeper::{
    config::{Commitment, Config, LogFormat, DEFAULT_CONFIG},
    evm::{discovery::EvmDiscovery, risk::EvmRiskEngine},
    external::{coingecko::CoinGecko, dexscreener::DexScreener, jupiter::Jupiter, oneinch::OneInch, zeroex::ZeroEx},
    market::{Markets, SolanaDiscovery},
    mirror::{self, WriterConfig},
    risk::worker::{Engine, Job, RiskWorker},
    solana::{risk::SolanaRiskEngine, SolanaIndexer},
    supervisor::{supervise, Backoff},
    trade::{
        enrich::{Aggregators, UsdPricer},
        evm::EvmTrader,
        jupiter::default_allowed_programs,
        keys::{self, KeyError},
        solana::{JupiterRoute, SolanaTrader},
        trader::{Trader, Venue},
    },
};
use solana_commitment_config::CommitmentConfig;
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
#[command(
    name = "keeper",
    version,
    about = "Indexes pools, discovers new pairs, scores risk and trades under hard limits"
)]
struct Cli {
    /// Configuration file (TOML). Without it, defaults plus KEEPER_* environment variables apply.
    #[arg(long, short, env = "KEEPER_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Log format; overrides `log.format`.
    #[arg(long, value_enum, global = true)]
    log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon until SIGINT or SIGTERM.
    Run,
    /// Write a commented default configuration file.
    Init {
        /// Where to write it.
        #[arg(default_value = "keeper.toml")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Database administration.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Print checkpoints, lag and row counts of the mirror.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand, Debug)]
enum DbCommand {
    /// Apply pending migrations to the mirror.
    Migrate,
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Ingest synthetic events into a fresh mirror; compare with a raw INSERT baseline.
    Ingest {
        /// Number of events.
        #[arg(long, default_value_t = 200_000)]
        events: usize,
        /// Directory for the two throwaway databases (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
}

/// Cancels `cancel` on the first SIGINT or SIGTERM. Handlers are registered before this returns,
/// so a signal that arrives at any later point is handled.
fn cancel_on_signal(cancel: CancellationToken) -> anyhow::Result<()> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot listen for SIGINT")?;
    tokio::spawn(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        cancel.cancel();
    });
    Ok(())
}

async fn run(config: Config) -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    cancel_on_signal(cancel.clone())?;
    if !config.metrics.listen.is_empty() {
        let addr: std::net::SocketAddr = config.metrics.listen.parse().context("metrics.listen")?;
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .install()
            .with_context(|| format!("cannot serve metrics on {addr}"))?;
        metrics::describe_counter!("keeper_events_ingested_total", "Events committed to the mirror");
        metrics::describe_counter!("keeper_events_duplicate_total", "Events already in the mirror (replays)");
        metrics::describe_counter!("keeper_writer_transactions_total", "SQLite transactions committed by the writer");
        metrics::describe_gauge!("keeper_checkpoint_lag_slots", "Head slot minus checkpoint slot, per source");
        metrics::describe_counter!("keeper_errors_total", "Errors of supervised tasks");
        metrics::describe_counter!("keeper_restarts_total", "Restarts of supervised tasks");
        metrics::describe_counter!("keeper_signatures_processed_total", "Transactions replayed by a source");
        metrics::describe_counter!("keeper_pairs_discovered_total", "New pools discovered, per chain");
        metrics::describe_counter!("keeper_evm_reorgs_total", "Reorgs detected and unwound, per EVM chain");
        metrics::describe_counter!("keeper_evm_log_range_refusals_total", "eth_getLogs ranges refused by the provider");
        metrics::describe_counter!("keeper_risk_reports_total", "Risk reports written, per chain and verdict");
        metrics::describe_histogram!("keeper_risk_latency_seconds", "Pool creation seen -> risk report committed");
        metrics::describe_histogram!("keeper_risk_measure_seconds", "Time to measure one token");
        metrics::describe_histogram!(
            "keeper_buy_send_latency_seconds",
            "Pool creation seen -> its buy handed to the node (risk simulation included)"
        );
        tracing::info!(%addr, "metrics at http://{addr}/metrics");
    }
    let db = &config.database;
    let pool = mirror::open_writer(&db.path, Duration::from_millis(db.busy_timeout_ms)).await?;
    mirror::migrate(&pool).await?;
    tracing::info!(db = %db.path.display(), "mirror ready");

    let (handle, rx) = mirror::writer_channel(db.channel_capacity);
    let writer_config =
        WriterConfig { max_rows: db.batch_max_rows, max_delay: Duration::from_millis(db.batch_max_delay_ms) };
    let writer = tokio::spawn(mirror::run_writer(pool.clone(), rx, writer_config, cancel.clone()));

    let mut sources = Vec::new();
    if config.solana.enabled {
        sources.push(tokio::spawn(solana_source(config.clone(), handle.clone(), pool.clone(), cancel.clone())));
    }
    drop(handle); // the sources hold the remaining senders

    // Discovery -> risk: EVM sources hand new pools to the risk worker at once; the worker also
    // sweeps the mirror for pools without a report (Solana pools from the indexer, restarts).
    let (jobs, jobs_rx) = tokio::sync::mpsc::channel::<Job>(1_024);
    let mut engines = HashMap::new();
    for (name, chain) in config.evm.iter().filter(|(_, c)| c.enabled) {
        let http = keeper::evm::http_provider(&chain.http_url).with_context(|| format!("evm.{name}.http_url"))?;
        engines.insert(name.clone(), Engine::Evm(EvmRiskEngine::new(http, chain, config.risk.clone())));
        sources.push(tokio::spawn(evm_source(
            config.clone(),
            name.clone(),
            pool.clone(),
            jobs.clone(),
            cancel.clone(),
        )));
    }
    drop(jobs);
    if config.solana.enabled {
        let quotes =
            config.solana.quote_mints.iter().filter_map(|q| Some((q.mint.parse().ok()?, q.min_reserve))).collect();
        let engine = SolanaRiskEngine::new(
            &config.solana.rpc_url,
            commitment(config.solana.commitment),
            quotes,
            config.risk.clone(),
        );
        engines.insert(config.solana.chain.clone(), Engine::Solana(engine));
    }
    if let Some(markets) = build_markets(&config, pool.clone())? {
        sources.push(tokio::spawn(markets.run(cancel.clone())));
    }
    let mut worker = RiskWorker::new(pool.clone(), engines, config.risk.concurrency);
    if let Some(trader) = build_trader(&config, pool.clone())? {
        let (reports, reports_rx) = tokio::sync::mpsc::unbounded_channel();
        worker.done = Some(reports);
        sources.push(tokio::spawn(Arc::new(trader).run(reports_rx, cancel.clone())));
    }
    let worker = Arc::new(worker);
    sources.push(tokio::spawn(worker.run(jobs_rx, Duration::from_secs(2), cancel.clone())));

    cancel.cancelled().await;
    tracing::info!("shutting down");
    let timeout = Duration::from_millis(config.supervisor.shutdown_timeout_ms);
    let deadline = tokio::time::Instant::now() + timeout;
    for source in sources {
        if tokio::time::timeout_at(deadline, source).await.is_err() {
            tracing::warn!("a source did not stop in time");
        }
    }
    match tokio::time::timeout_at(deadline, writer).await {
        Ok(joined) => {
            let stats = joined.context("writer task panicked")??;
            tracing::info!(events = stats.events_inserted, "writer stopped cleanly");
        }
        Err(_) => anyhow::bail!("writer did not stop within {timeout:?}"),
    }
    pool.close().await;
    Ok(())
}

/// The trader, when `trading.enabled`: an executor per chain that has a budget. Live trading
/// refuses to start without the chain's key.
fn build_trader(config: &Config, db: sqlx::SqlitePool) -> anyhow::Result<Option<Trader>> {
    let t = &config.trading;
    if !t.enabled {
        return Ok(None);
    }
    let mut trader = Trader::new(db, t.clone());
    let ext = &config.external;
    let key = |s: &keeper::external::ServiceConfig| s.key(&keys::process_env);
    let (evm_key, solana_key) = if t.live {
        (keys::evm_key(&t.evm_key_file, &keys::process_env)?, keys::solana_key(&t.solana_key_file, &keys::process_env)?)
    } else {
        (None, None)
    };
    for (name, chain) in config.evm.iter().filter(|(n, c)| c.enabled && t.chains.contains_key(*n)) {
        if t.live && evm_key.is_none() {
            return Err(KeyError::Missing { field: "trading.evm_key_file", env: keys::EVM_KEY_ENV }.into());
        }
        let http = keeper::evm::http_provider(&chain.http_url).with_context(|| format!("evm.{name}.http_url"))?;
        let exec = EvmTrader::new(name, http, chain, evm_key.as_ref().map(|k| k.0.clone()), t.evm.clone());
        if t.live {
            tracing::info!(chain = %name, wallet = %exec.address, "live trading");
        }
        trader.add_venue(name, Venue::Evm(Arc::new(exec)), vec![chain.wrapped_native.clone()]);
    }
    let sol = &config.solana;
    if sol.enabled && t.chains.contains_key(&sol.chain) {
        if t.live && solana_key.is_none() {
            return Err(KeyError::Missing { field: "trading.solana_key_file", env: keys::SOLANA_KEY_ENV }.into());
        }
        let mut exec = SolanaTrader::new(
            &sol.chain,
            &sol.rpc_url,
            commitment(sol.commitment),
            solana_key.map(|k| k.0),
            t.solana.clone(),
        );
        if ext.jupiter.enabled {
            let client = Jupiter::new(&ext.jupiter, key(&ext.jupiter)).context("external.jupiter")?;
            let mut allowed_programs = default_allowed_programs();
            allowed_programs.extend(
                ext.jupiter_extra_programs.iter().filter_map(|p| p.parse::<anchor_lang::prelude::Pubkey>().ok()),
            );
            exec = exec.with_jupiter(JupiterRoute {
                client,
                allowed_programs,
                max_lamports: ext.jupiter_max_lamports,
                slippage_bps: t.slippage_bps,
            });
        }
        if t.live {
            tracing::info!(chain = %sol.chain, wallet = %exec.owner, "live trading");
        }
        let quotes = sol.quote_mints.iter().map(|q| q.mint.clone()).collect();
        trader.add_venue(&sol.chain, Venue::Solana(Arc::new(exec)), quotes);
    }
    if ext.coingecko.enabled {
        let coingecko = CoinGecko::new(&ext.coingecko, key(&ext.coingecko)).context("external.coingecko")?;
        trader.with_usd(UsdPricer::new(coingecko, ext.coingecko_platforms.clone()));
    }
    if ext.zeroex.enabled || ext.oneinch.enabled {
        let zeroex = ext.zeroex.enabled.then(|| ZeroEx::new(&ext.zeroex, key(&ext.zeroex))).transpose();
        let oneinch = ext.oneinch.enabled.then(|| OneInch::new(&ext.oneinch, key(&ext.oneinch))).transpose();
        trader.with_aggregators(Aggregators {
            zeroex: zeroex.context("external.zeroex")?,
            oneinch: oneinch.context("external.oneinch")?,
        });
    }
    if !t.live {
        tracing::info!("trading in dry-run: paper fills only, nothing is sent (set trading.live = true to trade)");
    }
    Ok(Some(trader))
}

/// DexScreener enrichment of every discovery (and its discovery source), when enabled.
fn build_markets(config: &Config, db: sqlx::SqlitePool) -> anyhow::Result<Option<Markets>> {
    let ext = &config.external;
    if !ext.dexscreener.enabled {
        return Ok(None);
    }
    let dex = DexScreener::new(&ext.dexscreener).context("external.dexscreener")?;
    let sol = &config.solana;
    let discovery = (ext.dexscreener_discovery && sol.enabled).then(|| SolanaDiscovery {
        chain: sol.chain.clone(),
        rpc: solana_rpc_client::nonblocking::rpc_client::RpcClient::new_with_commitment(
            sol.rpc_url.clone(),
            commitment(sol.commitment),
        ),
        quote_mints: sol.quote_mints.iter().filter_map(|q| q.mint.parse().ok()).collect(),
    });
    tracing::info!(discovery = discovery.is_some(), "dexscreener enrichment on");
    Ok(Some(Markets {
        dex,
        db,
        chains: ext.dexscreener_chains.clone(),
        discovery,
        poll: Duration::from_millis(ext.dexscreener_poll_ms),
        refresh: Duration::from_secs(ext.dexscreener_refresh_secs),
    }))
}

fn commitment(c: Commitment) -> CommitmentConfig {
    match c {
        Commitment::Processed => CommitmentConfig::processed(),
        Commitment::Confirmed => CommitmentConfig::confirmed(),
        Commitment::Finalized => CommitmentConfig::finalized(),
    }
}

fn backoff(config: &Config) -> Backoff {
    Backoff {
        initial: Duration::from_millis(config.supervisor.restart_backoff_initial_ms),
        max: Duration::from_millis(config.supervisor.restart_backoff_max_ms),
    }
}

fn on_restart(name: &str, error: &dyn std::fmt::Display, delay: Duration) {
    metrics::counter!("keeper_errors_total", "task" => name.to_string()).increment(1);
    metrics::counter!("keeper_restarts_total", "task" => name.to_string()).increment(1);
    tracing::warn!(task = name, %error, ?delay, "source failed; restarting");
}

/// New-pair discovery on one EVM chain, restarted with backoff whenever it fails.
async fn evm_source(config: Config, chain: String, db: sqlx::SqlitePool, jobs: Sender<Job>, cancel: CancellationToken) {
    let Some(cfg) = config.evm.get(&chain) else { return };
    let task = format!("evm-discovery-{chain}");
    tracing::info!(%chain, rpc = %cfg.http_url, "evm discovery starting");
    supervise(
        &task,
        cancel.clone(),
        backoff(&config),
        || {
            let discovery = keeper::evm::http_provider(&cfg.http_url)
                .map_err(keeper::evm::discovery::DiscoveryError::from)
                .and_then(|http| EvmDiscovery::new(&chain, cfg, http, db.clone(), jobs.clone()));
            let cancel = cancel.clone();
            let ws_url = cfg.ws_url.clone();
            async move { discovery?.run(&ws_url, cancel).await }
        },
        |name, error, delay| on_restart(name, error, delay),
    )
    .await;
}

/// The Solana indexer, restarted with backoff whenever it fails.
async fn solana_source(config: Config, writer: mirror::WriterHandle, db: sqlx::SqlitePool, cancel: CancellationToken) {
    let sol = &config.solana;
    let commitment = commitment(sol.commitment);
    let program_id = match sol.program_id.parse() {
        Ok(id) => id,
        Err(_) => return, // validated at load
    };
    let poll = Duration::from_millis(sol.poll_interval_ms);
    tracing::info!(rpc = %sol.rpc_url, program = %program_id, "solana indexer starting");
    supervise(
        "solana-indexer",
        cancel.clone(),
        backoff(&config),
        || {
            let mut indexer = SolanaIndexer::new(
                &sol.rpc_url,
                program_id,
                &sol.chain,
                commitment,
                sol.backfill_page_size,
                sol.backfill_concurrency,
                writer.clone(),
                db.clone(),
            );
            indexer.progress =
                config.log.format == LogFormat::Human && std::io::IsTerminal::is_terminal(&std::io::stderr());
            let cancel = cancel.clone();
            let ws_url = Some(sol.ws_url.clone());
            async move { indexer.run(ws_url, poll, cancel).await }
        },
        |name, error, delay| on_restart(name, error, delay),
    )
    .await;
}

async fn status(config: Config, json: bool) -> anyhow::Result<()> {
    let db = &config.database;
    anyhow::ensure!(db.path.exists(), "no mirror at {} (run `keeper db migrate` or `keeper run`)", db.path.display());
    let pool = mirror::open_reader(&db.path, Duration::from_millis(db.busy_timeout_ms), 1).await?;
    let counts = mirror::counts(&pool).await?;
    let checkpoints = mirror::checkpoints(&pool).await?;
    let verdicts: Vec<(String, i64)> =
        sqlx::query_as("SELECT verdict, count(*) FROM risk_reports GROUP BY verdict ORDER BY verdict")
            .fetch_all(&pool)
            .await?;
    let reports: i64 = verdicts.iter().map(|(_, n)| n).sum();
    if json {
        let value = serde_json::json!({"counts": counts, "risk_reports": {"total": reports,
            "by_verdict": verdicts.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()}, "checkpoints": checkpoints.iter().map(|c| serde_json::json!({
            "source": c.source, "chain": c.chain, "slot": c.slot, "head_slot": c.head_slot,
            "lag": c.head_slot.map(|h| h.saturating_sub(c.slot)),
        })).collect::<Vec<_>>()});
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("mirror {}", db.path.display());
        println!("  tokens {}  pools {}  pool events {}", counts.tokens, counts.pools, counts.pool_events);
        let by: Vec<String> = verdicts.iter().map(|(v, n)| format!("{v} {n}")).collect();
        println!(
            "  risk reports {reports}{}",
            if by.is_empty() { String::new() } else { format!(" ({})", by.join(", ")) }
        );
        if checkpoints.is_empty() {
            println!("  no checkpoints yet");
        }
        for c in checkpoints {
            let lag = c.head_slot.map(|h| h.saturating_sub(c.slot).to_string()).unwrap_or_else(|| "?".into());
            println!("  {:<24} {:<10} slot {:>12}  lag {lag}", c.source, c.chain, c.slot);
        }
    }
    Ok(())
}

async fn bench_ingest(config: Config, events: usize, dir: Option<PathBuf>) -> anyhow::Result<()> {
    let tmp = tempfile_dir(dir)?;
    let writer = WriterConfig {
        max_rows: config.database.batch_max_rows,
        max_delay: Duration::from_millis(config.database.batch_max_delay_ms),
    };
    println!("ingesting {events} synthetic events (batch_max_rows {})", writer.max_rows);
    let f = keeper::bench::ingest(&tmp, events, writer).await?;
    println!("raw batched INSERT baseline: {:>10.0} events/s", f.baseline_events_per_sec);
    println!("keeper writer path:          {:>10.0} events/s", f.keeper_events_per_sec);
    println!("ratio keeper / baseline:     {:>10.2}", f.ratio());
    Ok(())
}

fn tempfile_dir(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("keeper-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Init { path, force } = &cli.command {
        anyhow::ensure!(*force || !path.exists(), "{} exists (use --force to overwrite)", path.display());
        std::fs::write(path, DEFAULT_CONFIG).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
        return Ok(());
    }
    let mut config = Config::load(cli.config.as_deref(), std::env::vars())?;
    if let Some(f) = cli.log_format {
        config.log.format = match f {
            LogFormatArg::Human => LogFormat::Human,
            LogFormatArg::Json => LogFormat::Json,
        };
    }
    init_logging(&config);
    match cli.command {
        Command::Init { .. } => Ok(()),
        Command::Run => run(config).await,
        Command::Db { command: DbCommand::Migrate } => {
            let db = &config.database;
            let pool = mirror::open_writer(&db.path, Duration::from_millis(db.busy_timeout_ms)).await?;
            mirror::migrate(&pool).await?;
            println!("{} is at the latest schema", db.path.display());
            Ok(())
        }
        Command::Status { json } => status(config, json).await,
        Command::Bench { command: BenchCommand::Ingest { events, dir } } => bench_ingest(config, events, dir).await,
    }
}
