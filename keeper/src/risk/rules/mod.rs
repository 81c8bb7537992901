//! Pure scoring: measured facts in, findings and an assessment out. No I/O.

pub mod evm;
pub mod solana;
