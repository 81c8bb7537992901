//! The keeper: sources (chain subscriptions, HTTP APIs) produce typed events, pure strategies
//! turn them into actions, executors act; everything is mirrored into SQLite by one writer.

pub mod bench;
pub mod config;
pub mod events;
pub mod evm;
pub mod external;
pub mod market;
pub mod mirror;
pub mod risk;
pub mod solana;
pub mod supervisor;
pub mod trade;

/// The AMM program id the keeper indexes and trades against by default.
pub fn amm_program_id() -> anchor_lang::prelude::Pubkey {
    amm::ID
}
