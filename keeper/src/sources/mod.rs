//! Sources: each follows one chain or service and produces typed rows for the mirror's writer.
//! A pool the writer inserts for the first time is announced to the risk stage after its
//! commit (see `mirror::writer`). Every source that reads a chain keeps a checkpoint and resumes
//! from it.

pub mod dexscreener;
pub mod evm_discovery;
pub mod evm_mempool;
pub mod solana_indexer;
