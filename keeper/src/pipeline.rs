//! The types that flow through the keeper, in order:
//!
//! ```text
//! sources ──rows──▶ mirror writer ──NewPool (after commit)──▶ risk worker ──RiskReport──▶ trader ──Decision
//! mempool source ──PendingForRisk (launches, trading opened)──▶ risk worker (the same path, on the pending state)
//! mempool source ──PendingTx──────────────────────────────────────────────────▶ trader (anti-rug) ──PendingVerdict
//! ```
//!
//! Each stage owns its tables (see `mirror`), and nothing flows back up: the trader never asks
//! the risk stage anything, the risk stage never reads what the trader wrote.

use std::time::{Duration, Instant};

pub use mirror::{NewPool, PoolRecord};
use serde::Serialize;

use crate::assessment::Assessment;

/// A scored pool, on its way to the trader: the pool as mirrored, the report as stored.
#[derive(Debug, Clone)]
pub struct RiskReport {
    pub pool: PoolRecord,
    pub report_id: i64,
    /// The token scored (the pool's non-quote side).
    pub token: String,
    pub assessment: Assessment,
    /// From the creation reaching the keeper to the report being committed (live discoveries).
    pub latency: Option<Duration>,
    /// When the creation reached the keeper (live discoveries).
    pub seen_at: Option<Instant>,
    /// A later report of a pool scored before (it was not tradeable yet, or what its report
    /// rested on changed): the trader never buys a token on it again once it traded it.
    pub rescored: bool,
    /// Scored on the state a pending launch would leave: the trader buys right after it, in its
    /// block.
    pub launch: Option<LaunchState>,
}

/// A pending transaction that launches a token: liquidity added to the token's pair with the
/// wrapped native token, through one of the chain's v2 routers, not mined yet
/// (`chains::evm::launch`). The risk stage scores the token on the state it would leave.
#[derive(Debug, Clone)]
pub struct PendingLaunch {
    pub tx: PendingTx,
    /// The venue (factory) whose router it calls.
    pub venue: String,
    pub factory: alloy::primitives::Address,
    pub router: alloy::primitives::Address,
    pub token: alloy::primitives::Address,
    /// The pair's other side: the wrapped native token.
    pub quote: alloy::primitives::Address,
    /// Who receives the LP tokens it mints.
    pub lp_to: alloy::primitives::Address,
    /// The venue's swap fee.
    pub fee_bps: u32,
}

/// What the mempool source hands the risk stage.
#[derive(Debug, Clone)]
pub enum PendingForRisk {
    /// Liquidity added through one of the chain's routers: a launch.
    Launch(PendingLaunch),
    /// Any other pending transaction: the risk stage simulates those sent to a token whose funded
    /// pair takes no buy yet (one may open trading).
    Other(PendingTx),
}

/// What a report scored on a pending launch carries for the buy after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchState {
    /// The launch transaction: the buy is sent only after it was seen, with its fees, so that
    /// fee ordering places the buy right after it.
    pub tx: alloy::primitives::B256,
    pub tip: u128,
    pub max_fee: u128,
    /// The pair's reserves once the launch is mined (token, wrapped native), for the quote.
    pub reserves: (alloy::primitives::U256, alloy::primitives::U256),
}

/// What the trader did with one report: published to every subscriber and recorded in the
/// mirror's `decisions`, so tests, benchmarks and the API can wait on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub report_id: i64,
    pub pool_id: i64,
    pub chain: String,
    pub token: String,
    pub action: mirror::Action,
    /// For skips: a stable label (`score`, `paused`, `daily_budget`, `not_traded`, `error`...).
    pub reason: Option<String>,
    /// In plain words.
    pub detail: String,
    pub position_id: Option<i64>,
    pub trade_id: Option<i64>,
    pub decided_at_ms: i64,
}

/// A transaction waiting in an EVM chain's mempool, as its node announced it: not mined, maybe
/// never. The trader's anti-rug watch simulates it against held positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTx {
    pub chain: String,
    pub hash: alloy::primitives::B256,
    pub from: alloy::primitives::Address,
    /// `None`: a contract creation.
    pub to: Option<alloy::primitives::Address>,
    pub input: alloy::primitives::Bytes,
    pub value: alloy::primitives::U256,
    /// What it offers per gas: the tip (EIP-1559's max priority fee; a legacy gas price counts
    /// whole) and the cap (max fee per gas, or the gas price).
    pub tip: u128,
    pub max_fee: u128,
    pub seen_at: Instant,
}

/// What the trader's anti-rug watch concluded about one pending transaction and one held position:
/// published to every subscriber (`Trader::pending_verdicts`), so tests and benchmarks can wait on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingVerdict {
    pub position_id: i64,
    pub tx: alloy::primitives::B256,
    /// Why it would trap the position (`None`: harmless).
    pub harm: Option<String>,
    /// The front-run sale's trade, when one was sent.
    pub trade_id: Option<i64>,
    /// From the pending transaction reaching the keeper to the verdict (and the sale sent).
    pub elapsed: Duration,
}
