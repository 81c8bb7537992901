//! One evaluation shape for every chain: a [`RiskEngine`] measures a pool's token and scores it.

use futures::future::BoxFuture;
use mirror::Row;

use super::Assessment;
use crate::pipeline::{PendingLaunch, PendingTx, PoolRecord};

#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error("no risk engine for chain {0}")]
    UnknownChain(String),
    #[error("pool {0}: malformed address or transaction in the mirror")]
    Malformed(i64),
    #[error("rpc: {0}")]
    Rpc(String),
    #[error(transparent)]
    Mirror(#[from] mirror::MirrorError),
}

/// What an engine found about one pool.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The token scored.
    pub token: String,
    pub assessment: Assessment,
    /// The block or slot of the state measured.
    pub measured_slot: u64,
    /// What the measurement learnt for the mirror (token metadata, the pool's creator, first
    /// reserves): committed by the writer before the report is stored.
    pub rows: Vec<Row>,
    /// What the report rests on, in the engine's own terms (JSON), kept with the report: the
    /// worker hands it back to [`RiskEngine::changed`] to tell when the pool is due again.
    pub watch: Option<String>,
}

/// What an engine found about a pending launch ([`RiskEngine::evaluate_launch`]).
#[derive(Debug, Clone)]
pub struct LaunchEvaluation {
    /// The pair the launch funds.
    pub pool_address: String,
    /// Scored on the state the launch would leave; `measured_slot` is the block it would be
    /// mined in.
    pub evaluation: Evaluation,
    /// The pair's reserves after the launch: (token, quote).
    pub reserves: (alloy::primitives::U256, alloy::primitives::U256),
}

/// Every chain's engine, by chain name.
pub type Engines = std::collections::HashMap<String, std::sync::Arc<dyn RiskEngine>>;

/// A chain's measuring and scoring engine.
pub trait RiskEngine: Send + Sync {
    fn evaluate<'a>(&'a self, pool: &'a PoolRecord) -> BoxFuture<'a, Result<Evaluation, RiskError>>;

    /// What changed since a report's [`Evaluation::watch`] was taken, in plain words, if it
    /// matters to the report (`None`: nothing; the default for engines that watch nothing).
    fn changed<'a>(
        &'a self,
        _pool: &'a PoolRecord,
        _watch: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, RiskError>> {
        Box::pin(async { Ok(None) })
    }

    /// Scores a mirrored pool's token on the state a pending transaction would leave (one that
    /// may open trading in a pair not buyable yet). `None`: the transaction would revert (and
    /// engines that see no pending transactions).
    fn evaluate_after<'a>(
        &'a self,
        _pool: &'a PoolRecord,
        _tx: &'a PendingTx,
    ) -> BoxFuture<'a, Result<Option<LaunchEvaluation>, RiskError>> {
        Box::pin(async { Ok(None) })
    }

    /// Scores a pending launch's token on the state the launch would leave. `None`: the launch
    /// would revert or funds no pair the keeper can buy (and engines that see no pending
    /// transactions).
    fn evaluate_launch<'a>(
        &'a self,
        _launch: &'a PendingLaunch,
    ) -> BoxFuture<'a, Result<Option<LaunchEvaluation>, RiskError>> {
        Box::pin(async { Ok(None) })
    }
}
