//! The risk stage: takes discovered pools (live from the discovery sources, and by sweeping the
//! mirror for pools without a report, which covers restarts and the Solana indexer), measures and
//! scores them with the chain's engine, and appends the report. Evaluations run concurrently up
//! to `risk.concurrency`; a failed evaluation is retried by a later sweep.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::primitives::U256;
use sqlx::SqlitePool;
use tokio::{sync::mpsc, task::JoinSet};
use tokio_util::sync::CancellationToken;

use super::{
    store::{self, PendingPool},
    Assessment,
};
use crate::evm::{
    discovery::{addr, Discovered},
    risk::{EvmRiskEngine, PoolRef, TokenMeta},
};

#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error("no risk engine for chain {0}")]
    UnknownChain(String),
    #[error("pool {0}: malformed address or transaction in the mirror")]
    Malformed(i64),
    #[error("rpc: {0}")]
    Rpc(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// A chain's measuring engine.
pub enum Engine {
    Evm(EvmRiskEngine),
    Solana(crate::solana::risk::SolanaRiskEngine),
}

/// A pool to score; `seen_at` is when its creation reached the keeper (live discoveries).
#[derive(Debug, Clone)]
pub struct Job {
    pub pool: PendingPool,
    pub seen_at: Option<Instant>,
}

impl From<Discovered> for Job {
    fn from(d: Discovered) -> Self {
        Job {
            pool: PendingPool {
                id: d.pool_id,
                chain: d.chain,
                venue: d.venue,
                address: addr(d.pool),
                token_a: addr(d.token0),
                token_b: addr(d.token1),
                base_token: Some(addr(d.base_token)),
                created_slot: i64::try_from(d.block_number).ok(),
                created_tx: d.tx_hash.map(|h| h.to_string()),
                created_block_time: None,
                first_seen_at_ms: d.first_seen_at_ms,
            },
            seen_at: Some(d.seen_at),
        }
    }
}

/// A finished report.
#[derive(Debug, Clone)]
pub struct ReportDone {
    pub pool_id: i64,
    pub report_id: i64,
    pub token: String,
    pub assessment: Assessment,
    /// From the creation log reaching the keeper to the report being committed.
    pub latency: Option<Duration>,
    /// When the creation log reached the keeper (live discoveries).
    pub seen_at: Option<Instant>,
}

pub struct RiskWorker {
    db: SqlitePool,
    engines: HashMap<String, Engine>,
    concurrency: usize,
    in_flight: Mutex<HashSet<i64>>,
    /// Every finished report is also sent here (tests, benchmarks, the executor later).
    pub done: Option<mpsc::UnboundedSender<ReportDone>>,
    /// EVM pairs created empty (liquidity added in a later transaction, a common launch
    /// pattern) are scored again this long after their last report, while they stay empty in
    /// the mirror, for up to `rescore_empty_for` after discovery.
    pub rescore_empty_after: Duration,
    pub rescore_empty_for: Duration,
}

impl RiskWorker {
    pub fn new(db: SqlitePool, engines: HashMap<String, Engine>, concurrency: usize) -> Self {
        Self {
            db,
            engines,
            concurrency: concurrency.max(1),
            in_flight: Mutex::new(HashSet::new()),
            done: None,
            rescore_empty_after: Duration::from_secs(10),
            rescore_empty_for: Duration::from_secs(6 * 3600),
        }
    }

    /// Measures, scores and stores one pool's report.
    pub async fn evaluate(&self, job: &Job) -> Result<ReportDone, RiskError> {
        let p = &job.pool;
        let started = Instant::now();
        let engine = self.engines.get(&p.chain).ok_or_else(|| RiskError::UnknownChain(p.chain.clone()))?;
        if job.seen_at.is_some() {
            tracing::info!(chain = %p.chain, venue = %p.venue, pool = %p.address, token_a = %p.token_a,
                token_b = %p.token_b, "new pool discovered; scoring it");
        }
        let (token, assessment, slot) = match engine {
            Engine::Evm(e) => {
                let pool_ref = PoolRef {
                    pool: p.address.parse().map_err(|_| RiskError::Malformed(p.id))?,
                    base_token: p
                        .base_token
                        .as_deref()
                        .unwrap_or(&p.token_a)
                        .parse()
                        .map_err(|_| RiskError::Malformed(p.id))?,
                    created_block: p.created_slot.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    created_tx: p.created_tx.as_deref().and_then(|h| h.parse().ok()),
                };
                let (assessment, block, meta) =
                    e.evaluate(&pool_ref).await.map_err(|e| RiskError::Rpc(e.to_string()))?;
                self.save_evm_meta(p, &addr(pool_ref.base_token), &meta).await?;
                (addr(pool_ref.base_token), assessment, block)
            }
            Engine::Solana(e) => {
                let (token, assessment, slot) = e.evaluate(p).await.map_err(|e| RiskError::Rpc(e.to_string()))?;
                (token, assessment, slot)
            }
        };
        let elapsed = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let report_id = store::insert(&self.db, p, &token, &assessment, Some(slot), elapsed).await?;
        let latency = job.seen_at.map(|t| t.elapsed());
        if let Some(l) = latency {
            metrics::histogram!("keeper_risk_latency_seconds", "chain" => p.chain.clone()).record(l.as_secs_f64());
        }
        metrics::counter!("keeper_risk_reports_total", "chain" => p.chain.clone(), "verdict" => assessment.verdict.as_str())
            .increment(1);
        tracing::info!(chain = %p.chain, pool = %p.address, %token, score = assessment.score,
            tradeable = assessment.tradeable, "risk report: {}", assessment.summary);
        let done = ReportDone { pool_id: p.id, report_id, token, assessment, latency, seen_at: job.seen_at };
        if let Some(tx) = &self.done {
            let _ = tx.send(done.clone());
        }
        Ok(done)
    }

    async fn save_evm_meta(&self, p: &PendingPool, token: &str, meta: &TokenMeta) -> Result<(), RiskError> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE tokens SET name = COALESCE(?, name), symbol = COALESCE(?, symbol),
                decimals = COALESCE(?, decimals), total_supply = ? WHERE chain = ? AND address = ?",
        )
        .bind(&meta.name)
        .bind(&meta.symbol)
        .bind(meta.decimals.map(i64::from))
        .bind(meta.total_supply.to_string())
        .bind(&p.chain)
        .bind(token)
        .execute(&mut *tx)
        .await?;
        if let Some(creator) = meta.creator {
            sqlx::query("UPDATE pools SET creator = ? WHERE id = ?")
                .bind(addr(creator))
                .bind(p.id)
                .execute(&mut *tx)
                .await?;
        }
        // Initial reserves as of the creation block; a pair created empty gets the reserves seen
        // when it is first measured funded (which takes it out of the re-scoring set).
        let funded = |r: Option<(U256, U256)>| r.filter(|(a, b)| !a.is_zero() && !b.is_zero());
        if let Some((r0, r1)) = funded(meta.initial_reserves).or(funded(meta.reserves)) {
            sqlx::query(
                "UPDATE pools SET reserve_a = ?, reserve_b = ? WHERE id = ? AND reserve_a = '0' AND reserve_b = '0'",
            )
            .bind(r0.to_string())
            .bind(r1.to_string())
            .bind(p.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Pools without a report, then empty EVM pairs due for another look.
    async fn sweep(&self, chains: &[String]) -> sqlx::Result<Vec<PendingPool>> {
        let evm: Vec<String> =
            self.engines.iter().filter(|(_, e)| matches!(e, Engine::Evm(_))).map(|(c, _)| c.clone()).collect();
        let mut pending = store::unscored(&self.db, chains, 256).await?;
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        pending.extend(
            store::empty_and_due(&self.db, &evm, ms(self.rescore_empty_after), ms(self.rescore_empty_for), 64).await?,
        );
        Ok(pending)
    }

    /// Runs until cancelled: live jobs from `jobs`, plus a sweep of unscored pools every `sweep`.
    pub async fn run(self: Arc<Self>, mut jobs: mpsc::Receiver<Job>, sweep: Duration, cancel: CancellationToken) {
        let chains: Vec<String> = self.engines.keys().cloned().collect();
        let mut tasks = JoinSet::new();
        let mut tick = tokio::time::interval(sweep);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut queue: std::collections::VecDeque<Job> = Default::default();
        loop {
            while tasks.len() < self.concurrency {
                let Some(job) = queue.pop_front() else { break };
                if !self.in_flight.lock().map(|mut s| s.insert(job.pool.id)).unwrap_or(false) {
                    continue;
                }
                let me = Arc::clone(&self);
                tasks.spawn(async move {
                    if let Err(e) = me.evaluate(&job).await {
                        metrics::counter!("keeper_task_errors_total", "task" => "risk").increment(1);
                        tracing::warn!(pool = %job.pool.address, error = %e, "risk evaluation failed; a later sweep retries");
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
                job = jobs.recv(), if queue.len() < self.concurrency * 4 => match job {
                    Some(job) => queue.push_back(job),
                    None => break,
                },
                _ = tick.tick() => {
                    // Taken before the sweep reads: an evaluation in flight may finish (and write
                    // its report) while the sweep runs, and must not be queued again from the
                    // sweep's older view. No evaluation starts during the sweep.
                    let busy = self.in_flight.lock().map(|s| s.clone()).unwrap_or_default();
                    match self.sweep(&chains).await {
                        Ok(pending) => {
                            let queued: HashSet<i64> = queue.iter().map(|j| j.pool.id).collect();
                            queue.extend(pending.into_iter()
                                .filter(|p| !busy.contains(&p.id) && !queued.contains(&p.id))
                                .map(|pool| Job { pool, seen_at: None }));
                        }
                        Err(e) => tracing::warn!(error = %e, "risk sweep failed"),
                    }
                }
            }
        }
        // Let evaluations in progress finish their database write (bounded by the caller's
        // shutdown timeout).
        while tasks.join_next().await.is_some() {}
    }
}
