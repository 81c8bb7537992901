//! The risk stage: takes every new pool the writer announces, measures and scores it with its
//! chain's engine, stores the report and hands a [`RiskReport`] to the trader. Evaluations run
//! concurrently up to `concurrency`; a failed one is retried by the recovery sweep.
//!
//! The mirror is read only for recovery: at start (pools a previous run left unscored) and every
//! `recovery_every` (evaluations that failed), and for re-scoring EVM pairs that are not
//! tradeable yet: created empty (liquidity added in a later transaction, a common launch
//! pattern), or funded but not buyable (trading opened by a later owner call), until they are.
//! Every `watch_every`, young pools whose latest report carries a watch (what it rests on) are
//! checked by their engine, and scored again when that changed: liquidity added or removed, a
//! privileged caller's transaction, LP tokens moved.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use mirror::{risk::NewReport, Batch, WriterHandle};
use sqlx::SqlitePool;
use tokio::{
    sync::{broadcast, mpsc},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;

use super::engine::{Engines, RiskError};
use crate::pipeline::{LaunchState, NewPool, PendingForRisk, PendingLaunch, PendingTx, PoolRecord, RiskReport};
use crate::sandbox::priority::urgently;

/// How often the worker looks at the mirror, and for what.
#[derive(Debug, Clone, Copy)]
pub struct Recovery {
    /// Pools without a report (failed evaluations; at start, a previous run's leftovers).
    pub recovery_every: Duration,
    /// EVM pairs not tradeable yet (empty, or buys revert) due for another look are checked this
    /// often...
    pub rescore_every: Duration,
    /// ...scored again this long after their last report...
    pub rescore_empty_after: Duration,
    /// ...for up to this long after discovery.
    pub rescore_empty_for: Duration,
    /// Pools whose report rests on state that can change are checked this often...
    pub watch_every: Duration,
    /// ...for up to this long after discovery.
    pub watch_for: Duration,
}

impl Default for Recovery {
    fn default() -> Self {
        Self {
            recovery_every: Duration::from_secs(30),
            rescore_every: Duration::from_secs(2),
            rescore_empty_after: Duration::from_secs(10),
            rescore_empty_for: Duration::from_secs(6 * 3600),
            watch_every: Duration::from_secs(12),
            watch_for: Duration::from_secs(3600),
        }
    }
}

/// A pool to score.
#[derive(Debug, Clone)]
struct Job {
    pool: PoolRecord,
    seen_at: Option<Instant>,
    /// Scored before: a re-scoring sweep or a watch queued it.
    rescore: bool,
}

pub struct RiskWorker {
    db: SqlitePool,
    writer: WriterHandle,
    engines: Engines,
    /// Chains whose engine re-scores pairs created empty (EVM).
    rescore_chains: Vec<String>,
    concurrency: usize,
    recovery: Recovery,
    in_flight: Mutex<HashSet<i64>>,
    /// The trader, when trading is on.
    to_trader: Option<mpsc::UnboundedSender<RiskReport>>,
    /// Every report, for whoever listens (tests, benchmarks).
    tap: broadcast::Sender<RiskReport>,
    /// Pending launches and other pending transactions from the mempool sources, when buying in
    /// the launch's block is on.
    launches: Option<Arc<tokio::sync::Mutex<mpsc::Receiver<PendingForRisk>>>>,
    /// Funded pairs whose latest report says a buy reverts, by (chain, token): a pending
    /// transaction to one of these tokens may open trading. Read from the mirror each re-scoring
    /// round.
    closed: Mutex<HashMap<(String, String), PoolRecord>>,
    /// Pools first mirrored from a pending launch (chain, address), and whether the writer has
    /// announced them yet. The first announcement (the launch's own row) is not scored: the
    /// launch's report is the pool's first. The second (the mined creation) is scored again on
    /// the chain's state, as a re-score: background work, and no second buy.
    launched: Mutex<HashMap<(String, String), bool>>,
}

/// Launched pools remembered at most (a launch never mined stays until then).
const LAUNCHED: usize = 16_384;

impl RiskWorker {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: SqlitePool,
        writer: WriterHandle,
        engines: Engines,
        rescore_chains: Vec<String>,
        concurrency: usize,
        recovery: Recovery,
        to_trader: Option<mpsc::UnboundedSender<RiskReport>>,
        tap: broadcast::Sender<RiskReport>,
    ) -> Self {
        Self {
            db,
            writer,
            engines,
            rescore_chains,
            concurrency: concurrency.max(1),
            recovery,
            in_flight: Mutex::new(HashSet::new()),
            to_trader,
            tap,
            launches: None,
            launched: Mutex::new(HashMap::new()),
            closed: Mutex::new(HashMap::new()),
        }
    }

    /// Scores the pending launches `rx` brings as well (see [`Self::evaluate_launch`]).
    pub fn with_launches(mut self, rx: mpsc::Receiver<PendingForRisk>) -> Self {
        self.launches = Some(Arc::new(tokio::sync::Mutex::new(rx)));
        self
    }

    /// Scores a pending launch's token on the state the launch would leave, before it is mined:
    /// the pair it funds is mirrored (a pair created empty earlier already is), the report is
    /// stored like any other (its findings say what it rests on) and handed to the trader with
    /// the launch's fees and the reserves it leaves, so that the buy can follow it in its block.
    async fn evaluate_launch(&self, launch: &PendingLaunch) -> Result<Option<RiskReport>, RiskError> {
        let started = Instant::now();
        let chain = &launch.tx.chain;
        let engine = self.engines.get(chain).ok_or_else(|| RiskError::UnknownChain(chain.clone()))?;
        let Some(found) = engine.evaluate_launch(launch).await? else {
            tracing::debug!(%chain, tx = %launch.tx.hash, "a pending liquidity addition the keeper cannot buy after");
            return Ok(None);
        };
        let token = crate::chains::evm::addr(launch.token);
        let quote = crate::chains::evm::addr(launch.quote);
        let (token_a, token_b) =
            if token < quote { (token.clone(), quote.clone()) } else { (quote.clone(), token.clone()) };
        tracing::info!(%chain, venue = %launch.venue, pool = %found.pool_address, %token, tx = %launch.tx.hash,
            waited_us = started.duration_since(launch.tx.seen_at).as_micros(), measured_us = started.elapsed().as_micros(),
            "pending launch; scoring it on the state it leaves");
        if let Ok(mut l) = self.launched.lock() {
            if l.len() >= LAUNCHED {
                l.clear();
            }
            l.insert((chain.clone(), found.pool_address.clone()), false);
        }
        let mut rows = vec![mirror::Row::Pool(mirror::PoolRow {
            chain: chain.clone(),
            venue: launch.venue.clone(),
            address: found.pool_address.clone(),
            token_a,
            token_b,
            reserve_a: "0".into(),
            reserve_b: "0".into(),
            fee_bps: Some(launch.fee_bps),
            created_tx: Some(launch.tx.hash.to_string()),
            base_token: Some(token.clone()),
            seen_at: Some(launch.tx.seen_at),
            ..Default::default()
        })];
        rows.extend(found.evaluation.rows.iter().cloned());
        self.writer.commit(Batch::of(rows)).await?;
        let pool = mirror::risk::pool(&self.db, chain, &found.pool_address)
            .await?
            .ok_or_else(|| RiskError::Rpc(format!("pool {} not mirrored", found.pool_address)))?;
        let mut e = found.evaluation;
        e.assessment.findings.push(crate::risk::Finding::new(
            "pre_launch",
            crate::risk::Severity::Info,
            format!("Scored on the state pending launch {} would leave in block {}.", launch.tx.hash, e.measured_slot),
            serde_json::json!({ "tx": launch.tx.hash.to_string(), "block": e.measured_slot }),
        ));
        let job = Job { pool, seen_at: Some(launch.tx.seen_at), rescore: false };
        let state = LaunchState {
            tx: launch.tx.hash,
            tip: launch.tx.tip,
            max_fee: launch.tx.max_fee,
            reserves: found.reserves,
        };
        self.store_and_send(&job, e, started, Some(state)).await.map(Some)
    }

    /// Measures, scores and stores one pool's report, then hands it on.
    async fn evaluate(&self, job: &Job) -> Result<RiskReport, RiskError> {
        let p = &job.pool;
        let started = Instant::now();
        let engine = self.engines.get(&p.chain).ok_or_else(|| RiskError::UnknownChain(p.chain.clone()))?;
        if job.seen_at.is_some() {
            tracing::info!(chain = %p.chain, venue = %p.venue, pool = %p.address, token_a = %p.token_a,
                token_b = %p.token_b, "new pool discovered; scoring it");
        }
        let e = engine.evaluate(p).await?;
        if !e.rows.is_empty() {
            self.writer.commit(Batch::of(e.rows.clone())).await?;
        }
        self.store_and_send(job, e, started, None).await
    }

    /// Scores a pool whose buys revert (trading not open yet) on the state a pending transaction
    /// to its token would leave. When the buy succeeds after it (the transaction opens trading),
    /// the report is stored and handed to the trader with that transaction's fees, so that the
    /// buy follows it into its block; otherwise nothing is recorded.
    async fn evaluate_open(&self, pool: PoolRecord, tx: &PendingTx) -> Result<Option<RiskReport>, RiskError> {
        let started = Instant::now();
        let engine = self.engines.get(&pool.chain).ok_or_else(|| RiskError::UnknownChain(pool.chain.clone()))?;
        let Some(found) = engine.evaluate_after(&pool, tx).await? else { return Ok(None) };
        let mut e = found.evaluation;
        if e.assessment.findings.iter().any(|f| f.check == "buy_reverts") {
            return Ok(None);
        }
        if let Ok(mut c) = self.closed.lock() {
            c.remove(&(pool.chain.clone(), e.token.clone()));
        }
        tracing::info!(chain = %pool.chain, pool = %pool.address, token = %e.token, tx = %tx.hash, from = %tx.from,
            "a pending transaction opens trading; scoring it on the state it leaves");
        if !e.rows.is_empty() {
            self.writer.commit(Batch::of(e.rows.clone())).await?;
        }
        e.assessment.findings.push(crate::risk::Finding::new(
            "pre_open",
            crate::risk::Severity::Info,
            format!(
                "Scored on the state pending transaction {} would leave in block {}: buying reverts now, and succeeds after it.",
                tx.hash, e.measured_slot
            ),
            serde_json::json!({ "tx": tx.hash.to_string(), "from": tx.from.to_string(), "block": e.measured_slot }),
        ));
        let job = Job { pool, seen_at: Some(tx.seen_at), rescore: true };
        let state = LaunchState { tx: tx.hash, tip: tx.tip, max_fee: tx.max_fee, reserves: found.reserves };
        self.store_and_send(&job, e, started, Some(state)).await.map(Some)
    }

    /// Reads the pairs not buyable yet again (see `closed`).
    async fn refresh_closed(&self) -> mirror::Result<()> {
        let max_age = i64::try_from(self.recovery.rescore_empty_for.as_millis()).unwrap_or(i64::MAX);
        let mut closed = HashMap::new();
        for chain in &self.rescore_chains {
            for p in mirror::risk::not_buyable(&self.db, chain, max_age, 1_024).await? {
                let token = p.base_token.clone().unwrap_or_else(|| p.token_a.clone());
                closed.insert((p.chain.clone(), token), p);
            }
        }
        if let Ok(mut c) = self.closed.lock() {
            *c = closed;
        }
        Ok(())
    }

    /// Stores an evaluation's report and hands it on.
    async fn store_and_send(
        &self,
        job: &Job,
        e: super::engine::Evaluation,
        started: Instant,
        launch: Option<LaunchState>,
    ) -> Result<RiskReport, RiskError> {
        let p = &job.pool;
        let a = &e.assessment;
        let findings = serde_json::to_string(&a.findings).unwrap_or_else(|_| "[]".into());
        let report_id = mirror::risk::insert(
            &self.db,
            &NewReport {
                pool: p,
                token: &e.token,
                score: a.score,
                verdict: a.verdict,
                tradeable: a.tradeable,
                summary: &a.summary,
                findings: &findings,
                measured_slot: Some(e.measured_slot),
                elapsed_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                watch: e.watch.as_deref(),
            },
        )
        .await?;
        if self.launches.is_some() && a.findings.iter().any(|f| f.check == "buy_reverts") {
            // From now on a pending transaction to the token may open trading.
            if let Ok(mut c) = self.closed.lock() {
                c.insert((p.chain.clone(), e.token.clone()), p.clone());
            }
        }
        let latency = job.seen_at.map(|t| t.elapsed());
        if let Some(l) = latency {
            metrics::histogram!("keeper_risk_latency_seconds", "chain" => p.chain.clone()).record(l.as_secs_f64());
        }
        metrics::counter!("keeper_risk_reports_total", "chain" => p.chain.clone(), "verdict" => a.verdict.as_str())
            .increment(1);
        tracing::info!(chain = %p.chain, pool = %p.address, token = %e.token, score = a.score,
            tradeable = a.tradeable, "risk report: {}", a.summary);
        let report = RiskReport {
            pool: p.clone(),
            report_id,
            token: e.token,
            assessment: e.assessment,
            latency,
            seen_at: job.seen_at,
            rescored: job.rescore,
            launch,
        };
        if let Some(tx) = &self.to_trader {
            let _ = tx.send(report.clone());
        }
        let _ = self.tap.send(report.clone());
        Ok(report)
    }

    /// Pools without a report, on every chain with an engine.
    async fn unscored(&self) -> mirror::Result<Vec<PoolRecord>> {
        let mut out = Vec::new();
        for chain in self.engines.keys() {
            out.extend(mirror::risk::unscored(&self.db, chain, 256).await?);
        }
        Ok(out)
    }

    /// Empty EVM pairs due for another look.
    async fn empty_and_due(&self) -> mirror::Result<Vec<PoolRecord>> {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let r = &self.recovery;
        let mut out = Vec::new();
        for chain in &self.rescore_chains {
            out.extend(
                mirror::risk::empty_and_due(&self.db, chain, ms(r.rescore_empty_after), ms(r.rescore_empty_for), 64)
                    .await?,
            );
        }
        Ok(out)
    }

    /// Young pools whose report's watch changed, each with what changed; checked 8 at a time.
    async fn changed(&self) -> mirror::Result<Vec<(PoolRecord, String)>> {
        use futures::stream::{self, StreamExt};
        let max_age = i64::try_from(self.recovery.watch_for.as_millis()).unwrap_or(i64::MAX);
        let mut watched = Vec::new();
        for chain in &self.rescore_chains {
            watched.extend(mirror::risk::watched(&self.db, chain, max_age, 512).await?);
        }
        Ok(stream::iter(watched)
            .map(|(pool, watch)| async move {
                let engine = self.engines.get(&pool.chain)?;
                match engine.changed(&pool, &watch).await {
                    Ok(Some(what)) => Some((pool, what)),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::debug!(pool = %pool.address, error = %e, "watch check failed; retried next round");
                        None
                    }
                }
            })
            .buffer_unordered(8)
            .filter_map(|c| async move { c })
            .collect()
            .await)
    }

    /// Queues pools read from the mirror, leaving out those already queued or being scored.
    /// `busy` must be taken before the mirror was read: an evaluation finishing meanwhile has
    /// written its report, and must not be queued again from the older view.
    fn enqueue(queue: &mut VecDeque<Job>, busy: &HashSet<i64>, pools: Vec<PoolRecord>, rescore: bool) {
        let queued: HashSet<i64> = queue.iter().map(|j| j.pool.id).collect();
        queue.extend(pools.into_iter().filter(|p| !busy.contains(&p.id) && !queued.contains(&p.id)).map(|pool| Job {
            pool,
            seen_at: None,
            rescore,
        }));
    }

    fn busy(&self) -> HashSet<i64> {
        self.in_flight.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Runs until cancelled, or until the writer stops announcing pools.
    pub async fn run(
        self: Arc<Self>,
        new_pools: &mut mpsc::UnboundedReceiver<NewPool>,
        cancel: CancellationToken,
    ) -> Result<(), RiskError> {
        let mut tasks = JoinSet::new();
        let mut recover = tokio::time::interval(self.recovery.recovery_every);
        recover.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut rescore = tokio::time::interval(self.recovery.rescore_every);
        rescore.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first watch round one period after the start (the start itself scores what was left).
        let mut watch = tokio::time::interval_at(
            tokio::time::Instant::now() + self.recovery.watch_every,
            self.recovery.watch_every,
        );
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // One watch round at a time, off the loop (it reads the chain): its findings come back here.
        let (changed_tx, mut changed_rx) = mpsc::unbounded_channel::<Vec<(PoolRecord, String)>>();
        let watching = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut sweeps = JoinSet::new();
        let mut queue: VecDeque<Job> = VecDeque::new();
        let mut launches = match &self.launches {
            Some(rx) => Some(rx.lock().await),
            None => None,
        };
        loop {
            while tasks.len() < self.concurrency {
                let Some(job) = queue.pop_front() else { break };
                if !self.in_flight.lock().map(|mut s| s.insert(job.pool.id)).unwrap_or(false) {
                    continue;
                }
                let me = Arc::clone(&self);
                tasks.spawn(async move {
                    // A new pool's first report is urgent (a buy may follow it); a re-score
                    // is background work ([`crate::sandbox::priority`]).
                    let evaluated = if job.rescore {
                        me.evaluate(&job).await
                    } else {
                        urgently(me.evaluate(&job)).await
                    };
                    if let Err(e) = evaluated {
                        metrics::counter!("keeper_task_errors_total", "task" => "risk").increment(1);
                        tracing::warn!(pool = %job.pool.address, error = %e, "risk evaluation failed; the recovery sweep retries");
                    }
                    if let Ok(mut s) = me.in_flight.lock() {
                        s.remove(&job.pool.id);
                    }
                });
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                Some(_) = sweeps.join_next(), if !sweeps.is_empty() => {}
                p = new_pools.recv(), if queue.len() < self.concurrency * 4 => match p {
                    Some(p) => {
                        let key = (p.pool.chain.clone(), p.pool.address.clone());
                        // A pool a pending launch mirrored has its report already (or on the
                        // way); its mined creation is scored again as a re-score.
                        let launched = self.launched.lock().ok().and_then(|mut l| match l.get(&key).copied() {
                            Some(false) => {
                                l.insert(key, true);
                                Some(false)
                            }
                            Some(true) => l.remove(&key).map(|_| true),
                            None => None,
                        });
                        match launched {
                            Some(false) => {}
                            Some(true) => queue.push_back(Job { pool: p.pool, seen_at: p.seen_at, rescore: true }),
                            None => queue.push_back(Job { pool: p.pool, seen_at: p.seen_at, rescore: false }),
                        }
                    }
                    None => break,
                },
                // Pending launches are scored at once, beside the queue: their buy must follow
                // the launch into its block.
                Some(pending) = async {
                    match launches.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    let me = Arc::clone(&self);
                    match pending {
                        PendingForRisk::Launch(launch) => {
                            tasks.spawn(async move {
                                if let Err(e) = urgently(me.evaluate_launch(&launch)).await {
                                    metrics::counter!("keeper_task_errors_total", "task" => "risk").increment(1);
                                    tracing::warn!(tx = %launch.tx.hash, error = %e, "scoring a pending launch failed");
                                }
                            });
                        }
                        PendingForRisk::Other(tx) => {
                            let key = tx.to.map(|to| (tx.chain.clone(), crate::chains::evm::addr(to)));
                            let pool = key.and_then(|k| self.closed.lock().ok()?.get(&k).cloned());
                            if let Some(pool) = pool {
                                tasks.spawn(async move {
                                    if let Err(e) = urgently(me.evaluate_open(pool, &tx)).await {
                                        tracing::warn!(tx = %tx.hash, error = %e, "simulating a pending transaction failed");
                                    }
                                });
                            }
                        }
                    }
                }
                // The first tick fires at once: a restart scores what the last run left.
                _ = recover.tick() => {
                    let busy = self.busy();
                    match self.unscored().await {
                        Ok(pools) => Self::enqueue(&mut queue, &busy, pools, false),
                        Err(e) => tracing::warn!(error = %e, "risk recovery sweep failed"),
                    }
                }
                _ = watch.tick(), if !self.rescore_chains.is_empty() => {
                    if !watching.swap(true, std::sync::atomic::Ordering::AcqRel) {
                        let (me, tx, watching) = (Arc::clone(&self), changed_tx.clone(), Arc::clone(&watching));
                        sweeps.spawn(async move {
                            match me.changed().await {
                                Ok(c) => { let _ = tx.send(c); }
                                Err(e) => tracing::warn!(error = %e, "watch sweep failed"),
                            }
                            watching.store(false, std::sync::atomic::Ordering::Release);
                        });
                    }
                }
                Some(changed) = changed_rx.recv() => {
                    let busy = self.busy();
                    for (pool, what) in &changed {
                        tracing::info!(chain = %pool.chain, pool = %pool.address, "scoring again: {what}");
                        metrics::counter!("keeper_risk_rescores_total", "chain" => pool.chain.clone(), "cause" => "watch")
                            .increment(1);
                    }
                    Self::enqueue(&mut queue, &busy, changed.into_iter().map(|(p, _)| p).collect(), true);
                }
                _ = rescore.tick(), if !self.rescore_chains.is_empty() => {
                    let busy = self.busy();
                    match self.empty_and_due().await {
                        Ok(pools) => Self::enqueue(&mut queue, &busy, pools, true),
                        Err(e) => tracing::warn!(error = %e, "re-scoring sweep failed"),
                    }
                    if self.launches.is_some() {
                        if let Err(e) = self.refresh_closed().await {
                            tracing::warn!(error = %e, "reading the pairs not buyable yet failed");
                        }
                    }
                }
            }
        }
        sweeps.abort_all();
        // Let evaluations in progress finish their database write (bounded by the caller's
        // shutdown timeout).
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}
