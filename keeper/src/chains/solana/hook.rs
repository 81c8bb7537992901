//! Runs a Token-2022 transfer hook instead of naming it: a holder's transfer of one unit into
//! our wallet's token account, hook accounts included, in one `simulateTransaction`
//! (`sigVerify: false`, nothing sent). A hook that fails it blocks holders' transfers now.
//!
//! The hook's extra accounts come from its `extra-account-metas` validation account (the PDA of
//! `["extra-account-metas", mint]` under the hook program, in the transfer-hook interface's TLV
//! layout). Only accounts listed by literal address are resolved; a list with accounts derived
//! from seeds or from other accounts' data is reported as not simulated.

use anchor_lang::{prelude::Pubkey, solana_program::instruction::AccountMeta};
use anchor_spl::associated_token::{
    get_associated_token_address_with_program_id, spl_associated_token_account::instruction as ata,
};
use anchor_spl::token_2022::spl_token_2022;
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::client_error::Error as ClientError;

use super::authority::{payer, simulate};
use crate::risk::rules::solana::HookSimulation;

/// The transfer-hook interface's `Execute` discriminator: the first 8 bytes of
/// sha256("spl-transfer-hook-interface:execute").
pub const EXECUTE_DISCRIMINATOR: [u8; 8] = [105, 37, 101, 197, 75, 251, 102, 26];

/// The validation account of `mint`'s hook `program`.
pub fn validation_address(mint: &Pubkey, program: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[b"extra-account-metas", mint.as_ref()], program).0
}

/// The extra accounts of `Execute` listed in a validation account's data, when every one is a
/// literal address; `Err(why)` otherwise.
pub fn literal_extra_accounts(data: &[u8]) -> Result<Vec<AccountMeta>, String> {
    let mut at = 0;
    while at + 12 <= data.len() {
        let len = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap_or_default()) as usize;
        let Some(value) = data.get(at + 12..at + 12 + len) else { break };
        if data[at..at + 8] == EXECUTE_DISCRIMINATOR {
            let count = value.get(..4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default())).unwrap_or(0);
            let mut metas = Vec::new();
            for i in 0..count as usize {
                let Some(m) = value.get(4 + 35 * i..4 + 35 * (i + 1)) else {
                    return Err("its extra-account list is truncated".into());
                };
                if m[0] != 0 {
                    return Err("its extra accounts are derived from seeds, which the keeper does not resolve".into());
                }
                let key = Pubkey::new_from_array(m[1..33].try_into().unwrap_or_default());
                metas.push(if m[34] != 0 {
                    AccountMeta::new(key, m[33] != 0)
                } else {
                    AccountMeta::new_readonly(key, m[33] != 0)
                });
            }
            return Ok(metas);
        }
        at += 12 + len;
    }
    Err("its validation account lists no Execute accounts".into())
}

/// Transfers one unit of `mint` (Token-2022, `decimals`) from the first of `holders` (token
/// accounts, largest first) whose owner is an ordinary address into `wallet`'s token account,
/// through hook `program`.
pub async fn simulate_hook(
    rpc: &RpcClient,
    commitment: CommitmentConfig,
    mint: &Pubkey,
    decimals: u8,
    program: &Pubkey,
    holders: &[Pubkey],
    wallet: &Pubkey,
) -> Result<HookSimulation, ClientError> {
    let unsimulated = |reason: &str| Ok(HookSimulation::Unsimulated { reason: reason.to_string() });
    let program_id = spl_token_2022::ID;
    let accounts = if holders.is_empty() { vec![] } else { rpc.get_multiple_accounts(holders).await? };
    // A token account: mint (32), owner (32), amount (u64).
    let source = holders.iter().zip(&accounts).find_map(|(k, a)| {
        let d = &a.as_ref()?.data;
        let owner = Pubkey::new_from_array(d.get(32..64)?.try_into().ok()?);
        let amount = u64::from_le_bytes(d.get(64..72)?.try_into().ok()?);
        (amount > 0 && owner.is_on_curve()).then_some((*k, owner))
    });
    let Some((source, holder)) = source else {
        return unsimulated("no holder outside the pool to transfer from");
    };
    let validation = validation_address(mint, program);
    let Some(state) = rpc.get_account_with_commitment(&validation, commitment).await?.value else {
        return unsimulated("the hook has no extra-account-metas account");
    };
    let extra = match literal_extra_accounts(&state.data) {
        Ok(extra) => extra,
        Err(why) => return unsimulated(&why),
    };
    let Some(payer) = payer(rpc, &[holder, *wallet]).await? else {
        return unsimulated("neither the holder nor our wallet can pay for a simulated transaction");
    };
    let destination = get_associated_token_address_with_program_id(wallet, mint, &program_id);
    let create = ata::create_associated_token_account_idempotent(&payer, wallet, mint, &program_id);
    let Ok(mut transfer) = spl_token_2022::instruction::transfer_checked(
        &program_id,
        &source,
        mint,
        &destination,
        &holder,
        &[],
        1,
        decimals,
    ) else {
        return unsimulated("the transfer could not be built");
    };
    transfer.accounts.extend(extra);
    transfer.accounts.push(AccountMeta::new_readonly(*program, false));
    transfer.accounts.push(AccountMeta::new_readonly(validation, false));
    Ok(match simulate(rpc, commitment, &[create, transfer], &payer).await? {
        Ok(()) => HookSimulation::Passed,
        Err(error) => HookSimulation::Blocked { error },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(metas: &[(u8, [u8; 32], bool, bool)]) -> Vec<u8> {
        let mut d = EXECUTE_DISCRIMINATOR.to_vec();
        let n = u32::try_from(metas.len()).unwrap();
        d.extend_from_slice(&(4 + 35 * n).to_le_bytes());
        d.extend_from_slice(&n.to_le_bytes());
        for (kind, key, signer, writable) in metas {
            d.push(*kind);
            d.extend_from_slice(key);
            d.extend_from_slice(&[u8::from(*signer), u8::from(*writable)]);
        }
        d
    }

    #[test]
    fn literal_extra_accounts_resolve_and_derived_ones_are_refused() {
        assert_eq!(literal_extra_accounts(&list(&[])), Ok(vec![]));
        let got = literal_extra_accounts(&list(&[(0, [3; 32], false, true), (0, [4; 32], false, false)])).unwrap();
        assert_eq!(
            got,
            vec![
                AccountMeta::new(Pubkey::new_from_array([3; 32]), false),
                AccountMeta::new_readonly(Pubkey::new_from_array([4; 32]), false)
            ]
        );
        assert!(literal_extra_accounts(&list(&[(1, [0; 32], false, false)])).unwrap_err().contains("seeds"));
        // Another TLV entry before Execute's is skipped; no Execute entry, or a cut one, is an error.
        let mut other = vec![9u8; 8];
        other.extend_from_slice(&2u32.to_le_bytes());
        other.extend_from_slice(&[0, 0]);
        other.extend(list(&[(0, [5; 32], false, false)]));
        assert_eq!(literal_extra_accounts(&other).unwrap().len(), 1);
        assert!(literal_extra_accounts(&[0u8; 5]).is_err());
        let mut cut = list(&[(0, [5; 32], false, false)]);
        cut[12] = 2; // claims two metas, holds one
        assert!(literal_extra_accounts(&cut).is_err());
    }
}
