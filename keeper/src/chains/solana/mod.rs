//! Solana: our AMM's events as mirror rows, and the risk probe that measures a mint over
//! JSON-RPC.

pub mod authority;
pub mod decode;
pub mod event_rows;
pub mod hook;
pub mod probe;

/// The venue name of our own AMM's pools in the mirror.
pub const AMM_VENUE: &str = "amm";
