//! The anomaly watch: every `every_ms`, the watched pools (under `young_for_secs` old, or held)
//! with a pool event or a risk report newer than its last look are read back (their newest
//! events and reports), run through [`detect`], and each flag is recorded in `anomalies`. A flag
//! recorded already (same pool, kind and evidence) is not recorded again, so a restart, which
//! looks at every watched pool once, adds nothing twice.

use std::time::Duration;

use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use super::{
    detect::{detect, Series},
    AnomalyConfig,
};

/// The newest pool events and reports of a pool read per look.
const EVENTS: i64 = 2_000;
const REPORTS: i64 = 50;

/// What one look found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Look {
    pub pools: usize,
    /// Anomalies recorded (new ones only).
    pub recorded: usize,
}

pub struct AnomalyWatch {
    db: SqlitePool,
    cfg: AnomalyConfig,
    /// The newest pool event and risk report seen by the last look.
    cursors: (i64, i64),
}

impl AnomalyWatch {
    pub fn new(db: SqlitePool, cfg: AnomalyConfig) -> Self {
        Self { db, cfg, cursors: (0, 0) }
    }

    /// One look at what changed since the last.
    pub async fn look(&mut self, now_ms: i64) -> mirror::Result<Look> {
        let newest = mirror::anomalies::cursors(&self.db).await?;
        let young_since = now_ms.saturating_sub(i64::try_from(self.cfg.young_for_secs * 1_000).unwrap_or(i64::MAX));
        let pools = mirror::anomalies::changed(&self.db, young_since, self.cursors.0, self.cursors.1).await?;
        let mut look = Look { pools: pools.len(), recorded: 0 };
        for p in &pools {
            let token = p.base_token.clone().unwrap_or_else(|| p.token_a.clone());
            let quote_is_a = !p.token_a.eq_ignore_ascii_case(&token);
            let (events, reports) = mirror::anomalies::series(&self.db, p.id, EVENTS, REPORTS).await?;
            for flag in detect(&Series::of(&events, &reports, quote_is_a), &self.cfg) {
                let row = mirror::anomalies::NewAnomaly {
                    chain: p.chain.clone(),
                    pool_id: p.id,
                    token: token.clone(),
                    kind: flag.kind.to_string(),
                    severity: flag.finding.severity.as_str().to_string(),
                    finding: serde_json::to_string(&flag.finding).unwrap_or_else(|_| "{}".into()),
                    evidence: flag.evidence.clone(),
                    slot: flag.slot,
                };
                if let Some(id) = mirror::anomalies::insert(&self.db, &row).await? {
                    look.recorded += 1;
                    metrics::counter!("keeper_anomalies_total", "chain" => p.chain.clone(), "kind" => flag.kind)
                        .increment(1);
                    tracing::warn!(chain = %p.chain, pool = p.id, token = %token, kind = flag.kind, id,
                        explanation = %flag.finding.explanation, "anomaly");
                }
            }
        }
        // Rows committed after `newest` was read are looked at next time.
        self.cursors = newest;
        Ok(look)
    }

    /// Runs until cancelled.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), String> {
        let every = Duration::from_millis(self.cfg.every_ms);
        loop {
            if let Err(e) = self.look(mirror::now_ms()).await {
                tracing::warn!(error = %e, "anomaly look failed; retried");
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}
