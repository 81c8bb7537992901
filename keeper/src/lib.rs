//! The keeper library. The pipeline (sources -> strategies -> executors) lands with the keeper-core issue.

/// The AMM program id the keeper indexes and trades against.
pub fn amm_program_id() -> anchor_lang::prelude::Pubkey {
    amm::ID
}
