//! Solana: the indexer of our AMM, over JSON-RPC only.

pub mod indexer;
pub mod risk;

pub use indexer::{IndexerError, SolanaIndexer};
