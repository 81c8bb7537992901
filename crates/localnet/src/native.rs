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

/// A Token-2022 transfer-hook program that lets every transfer through.
pub const HOOK_ALLOW: Pubkey = Pubkey::new_from_array([0xA1; 32]);
/// A Token-2022 transfer-hook program that fails every transfer (a "pause" by hook).
pub const HOOK_BLOCK: Pubkey = Pubkey::new_from_array([0xB1; 32]);
/// The error [`HOOK_BLOCK`] fails transfers with.
pub const HOOK_BLOCK_ERROR: u32 = 0xB10C;

/// [`HOOK_ALLOW`]'s entrypoint: every `Execute` succeeds.
pub fn hook_allow(_program_id: &Pubkey, _accounts: &[AccountInfo], _data: &[u8]) -> ProgramResult {
    Ok(())
}

/// [`HOOK_BLOCK`]'s entrypoint: every `Execute` fails.
pub fn hook_block(_program_id: &Pubkey, _accounts: &[AccountInfo], _data: &[u8]) -> ProgramResult {
    Err(anchor_lang::solana_program::program_error::ProgramError::Custom(HOOK_BLOCK_ERROR))
}

/// A Token-2022 transfer-hook program that lets a transfer through only with its extra account:
/// the PDA of `["counter", mint, authority]` under the hook, which its validation account
/// names by seeds ([`hook_validation_seeded`]), not by address.
pub const HOOK_SEEDED: Pubkey = Pubkey::new_from_array([0xC1; 32]);
/// The error [`HOOK_SEEDED`] fails a transfer with when its extra account is missing or wrong.
pub const HOOK_SEEDED_ERROR: u32 = 0xC0DE;

/// [`HOOK_SEEDED`]'s extra account for a transfer of `mint` by `authority`.
pub fn hook_seeded_account(mint: &Pubkey, authority: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[b"counter", mint.as_ref(), authority.as_ref()], &HOOK_SEEDED).0
}

/// [`HOOK_SEEDED`]'s entrypoint: `Execute`'s accounts are source, mint, destination, authority,
/// validation, then the extra ones.
pub fn hook_seeded(_program_id: &Pubkey, accounts: &[AccountInfo], _data: &[u8]) -> ProgramResult {
    let wrong = anchor_lang::solana_program::program_error::ProgramError::Custom(HOOK_SEEDED_ERROR);
    let (Some(mint), Some(authority), Some(extra)) = (accounts.get(1), accounts.get(3), accounts.get(5)) else {
        return Err(wrong);
    };
    if *extra.key != hook_seeded_account(mint.key, authority.key) {
        return Err(wrong);
    }
    Ok(())
}

/// The transfer-hook interface's `Execute` discriminator: the first 8 bytes of
/// sha256("spl-transfer-hook-interface:execute").
pub const EXECUTE_DISCRIMINATOR: [u8; 8] = [105, 37, 101, 197, 75, 251, 102, 26];

/// `Execute`, as the TLV entry of a validation account.
struct Execute;

impl spl_discriminator::SplDiscriminate for Execute {
    const SPL_DISCRIMINATOR: spl_discriminator::ArrayDiscriminator =
        spl_discriminator::ArrayDiscriminator::new(EXECUTE_DISCRIMINATOR);
}

/// The data of [`HOOK_SEEDED`]'s validation account, written by the real
/// `spl-tlv-account-resolution`: one extra account, the PDA of the literal `"counter"`, the
/// mint's key (account 1) and the authority's key (account 3).
pub fn hook_validation_seeded() -> Vec<u8> {
    use spl_tlv_account_resolution::{account::ExtraAccountMeta, seeds::Seed, state::ExtraAccountMetaList};
    let seeds =
        [Seed::Literal { bytes: b"counter".to_vec() }, Seed::AccountKey { index: 1 }, Seed::AccountKey { index: 3 }];
    let meta = ExtraAccountMeta::new_with_seeds(&seeds, false, false).expect("seeds fit");
    let mut data = vec![0; ExtraAccountMetaList::size_of(1).expect("one meta")];
    ExtraAccountMetaList::init::<Execute>(&mut data, &[meta]).expect("the list fits");
    data
}

/// The data of a hook's `extra-account-metas` validation account (the PDA of
/// `["extra-account-metas", mint]` under the hook program) that lists `extra` accounts by
/// literal address (read-only, not signers): the TLV of `Execute`'s `ExtraAccountMeta` list.
pub fn hook_validation(extra: &[Pubkey]) -> Vec<u8> {
    let mut data = EXECUTE_DISCRIMINATOR.to_vec();
    let len = 4 + 35 * extra.len();
    data.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
    data.extend_from_slice(&u32::try_from(extra.len()).unwrap_or(u32::MAX).to_le_bytes());
    for k in extra {
        data.push(0); // a literal address
        data.extend_from_slice(k.as_ref());
        data.extend_from_slice(&[0, 0]); // is_signer, is_writable
    }
    data
}
