//! The keeper as a library object. `keeper run`, every test and every benchmark build the same
//! [`App`] through [`App::builder`]: the config, the secrets, and optional taps and overrides.
//!
//! Wiring, in the order data flows:
//! sources (Solana indexer, EVM discovery per chain, DexScreener) -> the mirror's writer ->
//! `NewPool` after commit -> risk worker -> `RiskReport` -> trader -> `Decision`.
//! Every task runs in one [`TaskSet`], in stages that stop in that same order.

use std::{collections::HashMap, sync::Arc, time::Duration};

use anyhow::Context;
use mirror::{WriterConfig, WriterHandle};
use solana_commitment_config::CommitmentConfig;
use sqlx::SqlitePool;
use tokio::sync::{broadcast, mpsc, Mutex};
use tokio_util::sync::CancellationToken;

use crate::{
    chains::{evm::probe::EvmRiskEngine, solana::probe::SolanaRiskEngine},
    config::{Commitment, Config, LogFormat},
    external::{coingecko::CoinGecko, dexscreener::DexScreener, jupiter::Jupiter, oneinch::OneInch, zeroex::ZeroEx},
    pipeline::{Decision, RiskReport},
    risk::{
        engine::Engines,
        worker::{Recovery, RiskWorker},
    },
    sources::{
        dexscreener::{Markets, SolanaDiscovery},
        evm_discovery::EvmDiscovery,
        solana_indexer::SolanaIndexer,
    },
    tasks::{Backoff, Policy, TaskFailed, TaskSet},
    trade::{
        enrich::{Aggregators, UsdPricer},
        evm::EvmTrader,
        jupiter::default_allowed_programs,
        keys::{self, EvmKey, KeyError, SolanaKey},
        solana::{JupiterRoute, SolanaTrader},
        trader::Trader,
    },
};

/// The keys live trading signs with, read from their files or environment variables (never
/// from the config itself). Empty in dry-run.
#[derive(Debug, Default)]
pub struct Secrets {
    pub evm: Option<EvmKey>,
    pub solana: Option<SolanaKey>,
    /// The notifier's bot token, webhook URLs and SMTP password.
    pub notify: crate::notify::NotifySecrets,
}

impl Secrets {
    /// Reads the keys `config.trading` names, when trading live; `vars` are the environment.
    pub fn load(config: &Config, vars: &dyn Fn(&str) -> Option<String>) -> Result<Self, KeyError> {
        let t = &config.trading;
        let notify = crate::notify::NotifySecrets::load(&config.notify, vars)?;
        if !(t.enabled && t.live) {
            return Ok(Self { notify, ..Self::default() });
        }
        Ok(Self {
            evm: keys::evm_key(&t.evm_key_file, vars)?,
            solana: keys::solana_key(&t.solana_key_file, vars)?,
            notify,
        })
    }
}

/// Options of an [`App`] beyond its config: what tests and benchmarks change.
pub struct AppBuilder {
    config: Config,
    secrets: Secrets,
    recovery: Recovery,
    evm_poll: Duration,
    /// Per chain, another RPC URL for the trader's executor (a fault-injecting proxy in tests).
    trade_rpc: HashMap<String, String>,
    aggregators: Option<Aggregators>,
    db: Option<SqlitePool>,
    usd_every: Option<Duration>,
    market_refresh: Option<Duration>,
}

impl AppBuilder {
    /// Changes the config before anything is built from it.
    pub fn configure(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    /// Values positions in USD this often instead of every 15 s.
    pub fn usd_every(mut self, every: Duration) -> Self {
        self.usd_every = Some(every);
        self
    }

    /// Refreshes young pools' markets this often instead of `external.dexscreener_refresh_secs`.
    pub fn market_refresh(mut self, every: Duration) -> Self {
        self.market_refresh = Some(every);
        self
    }

    /// The notifier's secrets (bot token, webhook URLs, SMTP password) instead of the loaded ones.
    pub fn notify_secrets(mut self, secrets: crate::notify::NotifySecrets) -> Self {
        self.secrets.notify = secrets;
        self
    }

    /// How the risk worker looks at the mirror (recovery and re-scoring).
    pub fn recovery(mut self, recovery: Recovery) -> Self {
        self.recovery = recovery;
        self
    }

    /// How often EVM discovery polls the head when its websocket is quiet.
    pub fn evm_poll_interval(mut self, every: Duration) -> Self {
        self.evm_poll = every;
        self
    }

    /// Sends the trader's RPC for `chain` to `url` instead of the chain's own.
    pub fn trade_rpc(mut self, chain: &str, url: &str) -> Self {
        self.trade_rpc.insert(chain.to_string(), url.to_string());
        self
    }

    /// Compares EVM buys with these aggregators instead of the configured ones.
    pub fn aggregators(mut self, aggregators: Aggregators) -> Self {
        self.aggregators = Some(aggregators);
        self
    }

    /// Uses this (already migrated) mirror connection instead of opening `database.path`.
    pub fn database(mut self, db: SqlitePool) -> Self {
        self.db = Some(db);
        self
    }

    /// Opens and migrates the mirror and builds every stage; nothing runs until [`App::run`].
    pub async fn build(self) -> anyhow::Result<App> {
        let config = self.config;
        let db = match self.db {
            Some(db) => db,
            None => {
                let d = &config.database;
                let db = mirror::open_writer(&d.path, Duration::from_millis(d.busy_timeout_ms)).await?;
                mirror::migrate(&db).await?;
                tracing::info!(db = %d.path.display(), "mirror ready");
                db
            }
        };
        let (reports_tap, _) = broadcast::channel(4_096);
        let (decisions_tap, _) = broadcast::channel(4_096);
        let mut trader =
            build_trader(&config, db.clone(), &self.secrets, &self.trade_rpc, self.aggregators, self.usd_every)?;
        if let Some(t) = &mut trader {
            t.with_tap(decisions_tap.clone());
        }
        let solana_wallet = self.secrets.solana.as_ref().map(|k| solana_sdk::signer::Signer::pubkey(&k.0));
        Ok(App {
            notify_secrets: self.secrets.notify.clone(),
            config,
            db,
            solana_wallet,
            recovery: self.recovery,
            evm_poll: self.evm_poll,
            market_refresh: self.market_refresh,
            trader: trader.map(Arc::new),
            reports_tap,
            decisions_tap,
        })
    }
}

/// The keeper, built and ready to run.
pub struct App {
    config: Config,
    db: SqlitePool,
    /// Our Solana wallet, when trading live: the risk probes run authorities against its
    /// token accounts.
    solana_wallet: Option<anchor_lang::prelude::Pubkey>,
    notify_secrets: crate::notify::NotifySecrets,
    recovery: Recovery,
    evm_poll: Duration,
    market_refresh: Option<Duration>,
    trader: Option<Arc<Trader>>,
    reports_tap: broadcast::Sender<RiskReport>,
    decisions_tap: broadcast::Sender<Decision>,
}

impl App {
    pub fn builder(config: &Config, secrets: Secrets) -> AppBuilder {
        AppBuilder {
            config: config.clone(),
            secrets,
            recovery: Recovery::default(),
            evm_poll: Duration::from_secs(4),
            trade_rpc: HashMap::new(),
            aggregators: None,
            db: None,
            usd_every: None,
            market_refresh: None,
        }
    }

    /// The mirror's read-write connection.
    pub fn db(&self) -> &SqlitePool {
        &self.db
    }

    /// Every risk report from now on.
    pub fn reports(&self) -> broadcast::Receiver<RiskReport> {
        self.reports_tap.subscribe()
    }

    /// Every trading decision from now on.
    pub fn decisions(&self) -> broadcast::Receiver<Decision> {
        self.decisions_tap.subscribe()
    }

    /// The trader (when `trading.enabled`): the same object `run` drives.
    pub fn trader(&self) -> Option<Arc<Trader>> {
        self.trader.clone()
    }

    /// Runs every stage until `cancel` fires, then stops them in order. Fails when a critical
    /// task keeps failing (the writer, the risk worker, the trader).
    pub async fn run(self, cancel: CancellationToken) -> Result<(), TaskFailed> {
        let config = &self.config;
        let s = &config.supervisor;
        let policy = Policy {
            backoff: Backoff {
                initial: Duration::from_millis(s.restart_backoff_initial_ms),
                max: Duration::from_millis(s.restart_backoff_max_ms),
            },
            max_failures: s.max_failures,
        };
        if let Err(e) = mirror::tasks::clear(&self.db).await {
            tracing::warn!(error = %e, "cannot clear the task states of the last run");
        }
        let t = &config.trading;
        if let Err(e) = mirror::tasks::record_mode(&self.db, t.enabled, t.enabled && t.live, &t.settings()).await {
            tracing::warn!(error = %e, "cannot record the keeper's mode");
        }
        let mut tasks = TaskSet::new(policy, Some(self.db.clone()));
        let sources = tasks.stage("sources");
        let risk = tasks.stage("risk");
        let trade = tasks.stage("trade");
        let notify = tasks.stage("notify");
        let writing = tasks.stage("writer");

        let d = &config.database;
        let (writer, writer_rx) = mirror::writer_channel(d.channel_capacity);
        let (new_pools, new_pools_rx) = mpsc::unbounded_channel();
        let writer_config =
            WriterConfig { max_rows: d.batch_max_rows, max_delay: Duration::from_millis(d.batch_max_delay_ms) };
        let writer_rx = Arc::new(Mutex::new(Some(writer_rx)));
        let db = self.db.clone();
        tasks.spawn(writing, "writer", true, move |cancel| {
            let (db, rx, announce) = (db.clone(), writer_rx.clone(), new_pools.clone());
            async move {
                // The writer owns the channel: it cannot be restarted without losing batches.
                let rx = rx.lock().await.take().ok_or("the writer stopped and cannot be restarted")?;
                let stats = mirror::run_writer(db, rx, writer_config, Some(announce), cancel.clone())
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!(events = stats.events_inserted, "writer stopped cleanly");
                // It also ends when every sender is gone, which happens during the stop, just
                // before its own stage is cancelled: that is the end it was waiting for, not a
                // failure to restart from.
                cancel.cancelled().await;
                Ok::<(), String>(())
            }
        });

        // Pending transactions (chains with `mempool` on) -> the trader's anti-rug watch.
        let watch_mempool = self.trader.is_some() && config.evm.values().any(|c| c.enabled && c.mempool);
        let (pending, pending_rx) = match watch_mempool {
            true => {
                let (tx, rx) = mpsc::channel(crate::sources::evm_mempool::QUEUE);
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        // Pending launches among them -> the risk worker (block-0 buys).
        let (launches, launches_rx) = match watch_mempool && config.trading.evm.launch_buys {
            true => {
                let (tx, rx) = mpsc::channel(crate::sources::evm_mempool::QUEUE);
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        self.spawn_sources(&mut tasks, sources, &writer, pending.as_ref(), launches.as_ref())?;
        drop((pending, launches)); // the mempool sources hold the remaining senders

        // Risk -> trade.
        let (to_trader, reports_rx) = match &self.trader {
            Some(_) => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let (engines, rescore) = risk_engines(config, self.solana_wallet).map_err(|e| TaskFailed {
            task: "risk".into(),
            failures: 0,
            error: e.to_string(),
        })?;
        let worker = RiskWorker::new(
            self.db.clone(),
            writer.clone(),
            engines,
            rescore,
            config.risk.concurrency,
            self.recovery,
            to_trader,
            self.reports_tap.clone(),
        );
        let worker = Arc::new(match launches_rx {
            Some(rx) => worker.with_launches(rx),
            None => worker,
        });
        drop(writer); // the sources and the risk worker hold the remaining senders
        let new_pools_rx = Arc::new(Mutex::new(new_pools_rx));
        tasks.spawn(risk, "risk", true, move |cancel| {
            let (worker, rx) = (Arc::clone(&worker), new_pools_rx.clone());
            async move { worker.run(&mut *rx.lock().await, cancel).await }
        });
        if let (Some(trader), Some(rx)) = (self.trader.clone(), reports_rx) {
            let rx = Arc::new(Mutex::new(rx));
            tasks.spawn(trade, "trader", true, move |cancel| {
                let (trader, rx) = (Arc::clone(&trader), rx.clone());
                async move { trader.run(&mut *rx.lock().await, cancel).await }
            });
        }
        if let (Some(trader), Some(rx)) = (self.trader.clone(), pending_rx) {
            let rx = Arc::new(Mutex::new(rx));
            tasks.spawn(trade, "anti-rug", false, move |cancel| {
                let (trader, rx) = (Arc::clone(&trader), rx.clone());
                async move {
                    trader.watch_mempool(&mut *rx.lock().await, cancel).await;
                    Ok::<(), String>(())
                }
            });
        }
        // Anomalies: read from the mirror, recorded for the trader, the notifier and the API.
        if config.anomaly.enabled {
            let (db, cfg) = (self.db.clone(), config.anomaly.clone());
            tasks.spawn(risk, "anomaly", false, move |cancel| {
                let watch = crate::anomaly::watch::AnomalyWatch::new(db.clone(), cfg.clone());
                watch.run(cancel)
            });
        }
        // Notifications: read from the mirror, never on the way of a buy or an exit.
        crate::notify::spawn(&mut tasks, notify, &self.db, &config.notify, &self.notify_secrets, &config.trading)
            .map_err(|error| TaskFailed { task: "notify".into(), failures: 0, error })?;
        tasks.run(cancel, Duration::from_millis(s.shutdown_timeout_ms)).await
    }

    fn spawn_sources(
        &self,
        tasks: &mut TaskSet,
        stage: crate::tasks::StageId,
        writer: &WriterHandle,
        pending: Option<&mpsc::Sender<crate::pipeline::PendingTx>>,
        launches: Option<&mpsc::Sender<crate::pipeline::PendingForRisk>>,
    ) -> Result<(), TaskFailed> {
        let config = &self.config;
        let sol = &config.solana;
        if sol.enabled {
            let (sol, writer, db) = (sol.clone(), writer.clone(), self.db.clone());
            let progress =
                config.log.format == LogFormat::Human && std::io::IsTerminal::is_terminal(&std::io::stderr());
            tracing::info!(rpc = %sol.rpc_url, program = %sol.program_id, "solana indexer starting");
            tasks.spawn(stage, "solana-indexer", false, move |cancel| {
                let program_id = sol.program_id;
                let mut indexer = SolanaIndexer::new(
                    &sol.rpc_url,
                    program_id,
                    &sol.chain,
                    commitment(sol.commitment),
                    sol.backfill_page_size,
                    sol.backfill_concurrency,
                    writer.clone(),
                    db.clone(),
                );
                indexer.progress = progress;
                let (ws, poll) = (Some(sol.ws_url.clone()), Duration::from_millis(sol.poll_interval_ms));
                async move { indexer.run(ws, poll, cancel).await }
            });
        }
        for (name, chain) in config.evm.iter().filter(|(_, c)| c.enabled) {
            if let Some(out) = pending.filter(|_| chain.mempool) {
                let source = Arc::new(crate::sources::evm_mempool::MempoolSource {
                    chain: name.clone(),
                    ws_url: chain.ws_url.clone(),
                    launches: launches.map(|l| crate::sources::evm_mempool::Launches::of(chain, l.clone())),
                });
                let out = out.clone();
                tracing::info!(%name, "following pending transactions for the anti-rug watch");
                tasks.spawn(stage, &format!("evm-mempool-{name}"), false, move |cancel| {
                    let (source, out) = (Arc::clone(&source), out.clone());
                    async move { source.run(&out, cancel).await }
                });
            }
            let (name, chain, writer, db, poll) =
                (name.clone(), chain.clone(), writer.clone(), self.db.clone(), self.evm_poll);
            tracing::info!(%name, rpc = %chain.http_url, "evm discovery starting");
            tasks.spawn(stage, &format!("evm-discovery-{name}"), false, move |cancel| {
                let discovery = crate::chains::evm::http_provider(&chain.http_url)
                    .map_err(crate::sources::evm_discovery::DiscoveryError::from)
                    .and_then(|http| EvmDiscovery::new(&name, &chain, http, db.clone(), writer.clone()));
                let ws_url = chain.ws_url.clone();
                async move {
                    let mut discovery = discovery?;
                    discovery.poll_interval = poll;
                    discovery.run(&ws_url, cancel).await
                }
            });
        }
        if let Some(markets) = build_markets(config, self.db.clone(), writer.clone(), self.market_refresh)
            .map_err(|e| TaskFailed { task: "dexscreener".into(), failures: 0, error: e.to_string() })?
        {
            let markets = Arc::new(markets);
            tasks.spawn(stage, "dexscreener", false, move |cancel| {
                let markets = Arc::clone(&markets);
                async move {
                    markets.run(cancel).await;
                    Ok::<(), String>(())
                }
            });
        }
        Ok(())
    }
}

/// One risk engine per enabled chain, and the chains whose empty pairs are re-scored (EVM).
fn risk_engines(
    config: &Config,
    solana_wallet: Option<anchor_lang::prelude::Pubkey>,
) -> anyhow::Result<(Engines, Vec<String>)> {
    let mut engines = Engines::new();
    let mut rescore = Vec::new();
    for (name, chain) in config.evm.iter().filter(|(_, c)| c.enabled) {
        let http =
            crate::chains::evm::http_provider(&chain.http_url).with_context(|| format!("evm.{name}.http_url"))?;
        engines.insert(name.clone(), Arc::new(EvmRiskEngine::new(http, chain, config.risk.clone())));
        rescore.push(name.clone());
    }
    let sol = &config.solana;
    if sol.enabled {
        let quotes = sol.quote_mints.iter().map(|q| (q.mint, q.min_reserve)).collect();
        let mut engine = SolanaRiskEngine::new(&sol.rpc_url, commitment(sol.commitment), quotes, config.risk.clone());
        if let Some(wallet) = solana_wallet {
            engine = engine.with_wallet(wallet);
        }
        engines.insert(sol.chain.clone(), Arc::new(engine));
    }
    Ok((engines, rescore))
}

/// The trader, when `trading.enabled`: an executor per chain that has a budget. Live trading
/// refuses to start without the chain's key.
fn build_trader(
    config: &Config,
    db: SqlitePool,
    secrets: &Secrets,
    trade_rpc: &HashMap<String, String>,
    aggregators: Option<Aggregators>,
    usd_every: Option<Duration>,
) -> anyhow::Result<Option<Trader>> {
    let t = &config.trading;
    if !t.enabled {
        return Ok(None);
    }
    let mut trader = Trader::new(db, t.clone());
    let ext = &config.external;
    let key = |s: &crate::external::ServiceConfig| s.key(&keys::process_env);
    for (name, chain) in config.evm.iter().filter(|(n, c)| c.enabled && t.chains.contains_key(*n)) {
        if t.live && secrets.evm.is_none() {
            return Err(KeyError::Missing { field: "trading.evm_key_file", env: keys::EVM_KEY_ENV }.into());
        }
        let url = trade_rpc.get(name).unwrap_or(&chain.http_url);
        let http = crate::chains::evm::http_provider(url).with_context(|| format!("evm.{name}.http_url"))?;
        let signer = if t.live { secrets.evm.as_ref().map(|k| k.0.clone()) } else { None };
        let exec = EvmTrader::new(name, http, chain, signer, t.evm.clone());
        if t.live {
            tracing::info!(chain = %name, wallet = %exec.address, "live trading");
        }
        trader.add_venue(name, Arc::new(exec), config.default_quotes().remove(name).unwrap_or_default());
    }
    let sol = &config.solana;
    if sol.enabled && t.chains.contains_key(&sol.chain) {
        if t.live && secrets.solana.is_none() {
            return Err(KeyError::Missing { field: "trading.solana_key_file", env: keys::SOLANA_KEY_ENV }.into());
        }
        let url = trade_rpc.get(&sol.chain).unwrap_or(&sol.rpc_url);
        let signer = if t.live { secrets.solana.as_ref().map(|k| k.0.insecure_clone()) } else { None };
        let mut exec = SolanaTrader::new(&sol.chain, url, commitment(sol.commitment), signer, t.solana.clone());
        if ext.jupiter.enabled {
            let client = Jupiter::new(&ext.jupiter, key(&ext.jupiter)).context("external.jupiter")?;
            let mut allowed_programs = default_allowed_programs();
            allowed_programs.extend(ext.jupiter_extra_programs.iter().map(|k| k.0));
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
        trader.add_venue(&sol.chain, Arc::new(exec), config.default_quotes().remove(&sol.chain).unwrap_or_default());
    }
    if ext.coingecko.enabled {
        let coingecko = CoinGecko::new(&ext.coingecko, key(&ext.coingecko)).context("external.coingecko")?;
        let mut pricer = UsdPricer::new(coingecko, ext.coingecko_platforms.clone());
        if let Some(every) = usd_every {
            pricer.every = every;
        }
        trader.with_usd(pricer);
    }
    let aggregators = match aggregators {
        Some(a) => Some(a),
        None if ext.zeroex.enabled || ext.oneinch.enabled => {
            let zeroex = ext.zeroex.enabled.then(|| ZeroEx::new(&ext.zeroex, key(&ext.zeroex))).transpose();
            let oneinch = ext.oneinch.enabled.then(|| OneInch::new(&ext.oneinch, key(&ext.oneinch))).transpose();
            Some(Aggregators {
                zeroex: zeroex.context("external.zeroex")?,
                oneinch: oneinch.context("external.oneinch")?,
            })
        }
        None => None,
    };
    if let Some(a) = aggregators {
        trader.with_aggregators(a);
    }
    if !t.live {
        tracing::info!("trading in dry-run: paper fills only, nothing is sent (set trading.live = true to trade)");
    }
    Ok(Some(trader))
}

/// DexScreener enrichment of every discovery (and its discovery source), when enabled.
fn build_markets(
    config: &Config,
    db: SqlitePool,
    writer: WriterHandle,
    refresh: Option<Duration>,
) -> anyhow::Result<Option<Markets>> {
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
        quote_mints: sol.quote_mints.iter().map(|q| q.mint).collect(),
    });
    tracing::info!(discovery = discovery.is_some(), "dexscreener enrichment on");
    Ok(Some(Markets {
        dex,
        db,
        writer,
        chains: ext.dexscreener_chains.clone(),
        discovery,
        poll: Duration::from_millis(ext.dexscreener_poll_ms),
        refresh: refresh.unwrap_or(Duration::from_secs(ext.dexscreener_refresh_secs)),
    }))
}

/// The RPC commitment of a config value.
pub fn commitment(c: Commitment) -> CommitmentConfig {
    match c {
        Commitment::Processed => CommitmentConfig::processed(),
        Commitment::Confirmed => CommitmentConfig::confirmed(),
        Commitment::Finalized => CommitmentConfig::finalized(),
    }
}
