//! Solana: the indexer of our AMM, over JSON-RPC only.

pub mod indexer;

pub use indexer::{IndexerError, SolanaIndexer};
