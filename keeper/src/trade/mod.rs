//! Guarded execution: the strategy screens every fresh risk report, sizes a buy and quotes it
//! exactly; the guards (persisted in the mirror) decide whether it may happen; an executor per
//! chain sends it, or in dry-run (the default) a paper fill is recorded and nothing is sent. Open
//! positions are valued continuously and sold on take-profit, stop-loss, trailing stop or
//! maximum holding time through the same executors, or at once, ahead of a pending transaction
//! that would trap them (`antirug`).

pub mod antirug;
pub mod enrich;
pub mod evm;
pub mod executor;
pub mod guards;
pub mod jito;
pub mod jupiter;
pub mod keys;
pub mod relay;
pub mod solana;
pub mod store;
pub mod strategy;
pub mod trader;

use alloy::primitives::U256;

/// `[trading]` lives in the config (`config/trading.rs`), parsed and validated at load.
pub use crate::config::trading::{ChainBudget, EvmExecConfig, SolanaExecConfig, TradingConfig};

/// An amount the mirror stores as a decimal string (written by this crate from a `U256`).
pub fn amount(value: &str) -> U256 {
    U256::from_str_radix(value, 10).unwrap_or_default()
}

/// Dry-run (paper fills, nothing sent) or live; why a position is sold.
pub use mirror::{ExitReason, Mode};

/// What a chain reports about a sent trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Landed and succeeded: what the wallet received, where, at what fee.
    Confirmed { tx_id: String, block: u64, amount_out: U256, fee_paid: U256 },
    /// Definitely not executed (reverted, refused before broadcast, or expired unlanded).
    Failed { tx_id: Option<String>, error: String },
}

#[derive(Debug, thiserror::Error)]
pub enum TradeError {
    #[error("rpc: {0}")]
    Rpc(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Mirror(#[from] mirror::MirrorError),
    #[error("{0}")]
    Invalid(String),
}
