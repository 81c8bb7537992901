//! What the keeper knows about each kind of chain: how to reach it, how its events and
//! contracts are decoded, and how a token is measured there (the probes behind the risk
//! engine). Nothing here writes the mirror or decides anything.

pub mod evm;
pub mod solana;
