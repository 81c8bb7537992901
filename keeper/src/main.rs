//! `keeper`: the daemon and its administrative commands.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use keeper::{
    app::{App, Secrets},
    config::{Config, LogFormat, DEFAULT_CONFIG},
    trade::keys,
};
use mirror::WriterConfig;
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

// Parsed once at start and matched at once: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
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
    /// Replay the mirror's history through the strategy, guards and exits of the trading
    /// config: trades and their figures, as a table or JSON. The report is stored in the mirror
    /// (`GET /api/v1/backtests`).
    Backtest {
        #[command(flatten)]
        period: PeriodArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Search take profit, stop loss, trailing stop, maximum hold, maximum risk score and buy
    /// size on the mirror's history, walk-forward (each fold searched on one window, then
    /// replayed on the next), with TPE. The study is kept in the mirror under --study and
    /// resumed when run again; the best parameters are printed as a config snippet.
    Hyperopt {
        #[command(flatten)]
        period: PeriodArgs,
        /// The study's name: run again to resume it (or to add trials).
        #[arg(long)]
        study: String,
        /// profit, sharpe or drawdown (profit less the max drawdown).
        #[arg(long, default_value = "profit")]
        loss: String,
        /// Walk-forward folds: the period is cut into folds + 1 windows.
        #[arg(long, default_value_t = 2)]
        folds: u32,
        /// Trials per fold.
        #[arg(long, default_value_t = 100)]
        trials: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Ranges searched, LOW..HIGH (both included; LOW..LOW fixes one).
        #[arg(long, default_value = "1000..50000")]
        take_profit_bps: String,
        #[arg(long, default_value = "500..9000")]
        stop_loss_bps: String,
        #[arg(long, default_value = "0..5000")]
        trailing_stop_bps: String,
        #[arg(long, default_value = "60..86400")]
        max_hold_secs: String,
        #[arg(long, default_value = "0..60")]
        max_risk_score: String,
        /// The buy as a share of each chain's buy_amount, in basis points (capped at max_buy).
        #[arg(long, default_value = "2500..20000")]
        buy_size_bps: String,
        /// Also write the best parameters' config snippet to this file.
        #[arg(long)]
        snippet: Option<PathBuf>,
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

/// The period and fill model of a replay.
#[derive(clap::Args, Debug)]
struct PeriodArgs {
    /// Start of the period: pools first seen from then (UTC date YYYY-MM-DD or unix ms).
    #[arg(long)]
    from: String,
    /// End of the period, exclusive (UTC date YYYY-MM-DD or unix ms).
    #[arg(long)]
    to: String,
    /// Only this chain.
    #[arg(long)]
    chain: Option<String>,
    /// Blocks (slots) after the report at whose reserves the buy fills.
    #[arg(long, default_value_t = 1)]
    fill_delay_blocks: i64,
    /// Gas or lamports per trade, in the quote token's base units (every chain).
    #[arg(long, default_value = "0")]
    fee_per_trade: String,
    /// Capital for the drawdown percentage and the return, in base units (default: the sum
    /// of the traded chains' daily budgets).
    #[arg(long)]
    capital: Option<String>,
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

fn describe_metrics() {
    metrics::describe_counter!("keeper_events_ingested_total", "Events committed to the mirror");
    metrics::describe_counter!("keeper_events_duplicate_total", "Events already in the mirror (replays)");
    metrics::describe_counter!("keeper_writer_transactions_total", "SQLite transactions committed by the writer");
    metrics::describe_gauge!("keeper_checkpoint_lag_slots", "Head slot minus checkpoint slot, per source");
    metrics::describe_gauge!("keeper_task_up", "1 while a task runs, 0 while it restarts or after it stopped");
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
    metrics::describe_histogram!(
        "keeper_front_run_send_latency_seconds",
        "A pending rug transaction seen -> our sale ahead of it handed to the node (simulation included)"
    );
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
        describe_metrics();
        tracing::info!(%addr, "metrics at http://{addr}/metrics");
    }
    let secrets = Secrets::load(&config, &keys::process_env)?;
    let app = App::builder(&config, secrets).build().await?;
    let db = app.db().clone();
    let result = app.run(cancel).await;
    db.close().await;
    Ok(result?)
}

/// A UTC date (YYYY-MM-DD) or unix milliseconds.
fn instant(field: &str, v: &str) -> anyhow::Result<i64> {
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(ms);
    }
    let parts: Vec<&str> = v.split('-').collect();
    let parsed = match parts.as_slice() {
        [y, m, d] => match (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>()) {
            (Ok(y), Ok(m @ 1..=12), Ok(d @ 1..=31)) => Some(keeper::backtest::days_from_civil(y, m, d) * 86_400_000),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| anyhow::anyhow!("--{field}: `{v}` is neither a date YYYY-MM-DD nor unix milliseconds"))
}

/// The mirror (read-write: results and studies are stored), the history of the period and the
/// replay's settings.
async fn replay_input(
    config: &Config,
    a: &PeriodArgs,
) -> anyhow::Result<(sqlx::SqlitePool, keeper::backtest::History, keeper::backtest::Settings, i64, i64)> {
    use alloy::primitives::U256;
    let (from, to) = (instant("from", &a.from)?, instant("to", &a.to)?);
    anyhow::ensure!(from < to, "--from must be before --to");
    anyhow::ensure!(a.fill_delay_blocks >= 0, "--fill-delay-blocks must not be negative");
    let units = |field: &str, v: &str| {
        U256::from_str_radix(v, 10).map_err(|_| anyhow::anyhow!("--{field}: `{v}` is not a whole number of base units"))
    };
    let fee = units("fee-per-trade", &a.fee_per_trade)?;
    let t = &config.trading;
    anyhow::ensure!(!t.chains.is_empty(), "trading.chains: no chain has a budget to trade with");
    let capital = match &a.capital {
        Some(c) => units("capital", c)?,
        None => t.chains.values().fold(U256::ZERO, |acc, b| acc.saturating_add(b.daily_budget)),
    };
    let db = &config.database;
    anyhow::ensure!(db.path.exists(), "no mirror at {}", db.path.display());
    let pool = mirror::open_writer(&db.path, Duration::from_millis(db.busy_timeout_ms)).await?;
    mirror::migrate(&pool).await?;
    let history = keeper::backtest::History::load(&pool, a.chain.as_deref(), from, to).await?;
    let settings = keeper::backtest::Settings {
        trading: t.clone(),
        default_quotes: config.default_quotes(),
        fill_delay_blocks: a.fill_delay_blocks,
        fee_per_trade: t.chains.keys().map(|c| (c.clone(), fee)).collect(),
        capital,
    };
    Ok((pool, history, settings, from, to))
}

async fn backtest(config: Config, a: PeriodArgs, json: bool) -> anyhow::Result<()> {
    let (pool, history, settings, _, _) = replay_input(&config, &a).await?;
    let report = keeper::backtest::run(&history, &settings, &keeper::backtest::LiveStrategy(&config.trading))?;
    let id = keeper::backtest::store(&pool, a.chain.as_deref(), &settings, &report).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", keeper::backtest::table(&report));
        println!("\nstored as backtest {id} (GET /api/v1/backtests/{id})");
    }
    pool.close().await;
    Ok(())
}

/// `LOW..HIGH` of a hyperopt range.
fn range<T: std::str::FromStr>(field: &str, v: &str) -> anyhow::Result<(T, T)> {
    let parsed = v.split_once("..").and_then(|(lo, hi)| Some((lo.trim().parse().ok()?, hi.trim().parse().ok()?)));
    parsed.ok_or_else(|| anyhow::anyhow!("--{field}: `{v}` is not a range LOW..HIGH of whole numbers"))
}

struct HyperoptArgs {
    period: PeriodArgs,
    study: keeper::backtest::hyperopt::Study,
    snippet: Option<PathBuf>,
    json: bool,
}

async fn hyperopt(config: Config, a: HyperoptArgs) -> anyhow::Result<()> {
    let (pool, history, settings, from, to) = replay_input(&config, &a.period).await?;
    let study =
        keeper::backtest::hyperopt::Study { from_ms: from, to_ms: to, chain: a.period.chain.clone(), ..a.study };
    let outcome = keeper::backtest::hyperopt::optimize(Some(&pool), &history, &settings, &study).await?;
    let id = keeper::backtest::hyperopt::store(&pool, &settings, &outcome).await?;
    if let Some(path) = &a.snippet {
        std::fs::write(path, &outcome.snippet).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print!("{}", keeper::backtest::hyperopt::table(&outcome));
        println!("stored as backtest {id} (GET /api/v1/backtests/{id})");
    }
    pool.close().await;
    Ok(())
}

async fn status(config: Config, json: bool) -> anyhow::Result<()> {
    let db = &config.database;
    anyhow::ensure!(db.path.exists(), "no mirror at {} (run `keeper db migrate` or `keeper run`)", db.path.display());
    let pool = mirror::open_reader(&db.path, Duration::from_millis(db.busy_timeout_ms), 1).await?;
    let counts = mirror::counts(&pool).await?;
    let checkpoints = mirror::checkpoints(&pool).await?;
    let verdicts = mirror::risk::count_by_verdict(&pool).await?;
    let tasks = mirror::tasks::all(&pool).await?;
    let reports: i64 = verdicts.iter().map(|(_, n)| n).sum();
    if json {
        let value = serde_json::json!({"counts": counts, "risk_reports": {"total": reports,
            "by_verdict": verdicts.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()}, "checkpoints": checkpoints.iter().map(|c| serde_json::json!({
            "source": c.source, "chain": c.chain, "slot": c.slot, "head_slot": c.head_slot,
            "lag": c.head_slot.map(|h| h.saturating_sub(c.slot)),
        })).collect::<Vec<_>>(), "tasks": tasks});
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
        if !tasks.is_empty() {
            println!("  tasks (as the keeper last recorded them):");
        }
        for t in tasks {
            let error = t.last_error.map(|e| format!("  last error: {e}")).unwrap_or_default();
            println!("    {:<28} {:<10} restarts {}{error}", t.name, t.state, t.restarts);
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
        Command::Backtest { period, json } => backtest(config, period, json).await,
        Command::Hyperopt {
            period,
            study,
            loss,
            folds,
            trials,
            seed,
            take_profit_bps,
            stop_loss_bps,
            trailing_stop_bps,
            max_hold_secs,
            max_risk_score,
            buy_size_bps,
            snippet,
            json,
        } => {
            let space = keeper::backtest::hyperopt::Space {
                take_profit_bps: range("take-profit-bps", &take_profit_bps)?,
                stop_loss_bps: range("stop-loss-bps", &stop_loss_bps)?,
                trailing_stop_bps: range("trailing-stop-bps", &trailing_stop_bps)?,
                max_hold_secs: range("max-hold-secs", &max_hold_secs)?,
                max_risk_score: range("max-risk-score", &max_risk_score)?,
                buy_size_bps: range("buy-size-bps", &buy_size_bps)?,
            };
            let loss = loss.parse().map_err(|e: String| anyhow::anyhow!("--loss: {e}"))?;
            let study = keeper::backtest::hyperopt::Study {
                name: study,
                from_ms: 0,
                to_ms: 0,
                chain: None,
                loss,
                folds,
                trials,
                seed,
                space,
            };
            hyperopt(config, HyperoptArgs { period, study, snippet, json }).await
        }
        Command::Bench { command: BenchCommand::Ingest { events, dir } } => bench_ingest(config, events, dir).await,
    }
}
