//! The AMM hosted natively (no SBF toolchain here): its entrypoint as a builtin, and the
//! upgradeable loader's ProgramData account that names its upgrade authority.

use anchor_lang::{
    prelude::{AccountInfo, Pubkey},
    solana_program::entrypoint::ProgramResult,
};

/// `processor!` wants a function whose reference lifetimes are independent, while Anchor's
/// generated `entry<'info>` wants one `'info` for all of them (`AccountInfo` is invariant).
#[allow(unsafe_code)]
pub fn amm_processor(program_id: &Pubkey, accounts: &[AccountInfo], data: &[u8]) -> ProgramResult {
    // SAFETY: every reference lives for the whole call; this only unifies their lifetimes.
    let accounts: &[AccountInfo] = unsafe { core::mem::transmute(accounts) };
    amm::entry(program_id, accounts, data)
}

/// Bincode layout of `UpgradeableLoaderState::ProgramData { slot: 0, upgrade_authority_address }`.
pub fn program_data_bytes(upgrade_authority: &Pubkey) -> Vec<u8> {
    let mut data = Vec::with_capacity(45);
    data.extend_from_slice(&3u32.to_le_bytes()); // variant ProgramData
    data.extend_from_slice(&0u64.to_le_bytes()); // slot
    data.push(1); // Some(
    data.extend_from_slice(upgrade_authority.as_ref()); // authority)
    data
}
