//! Runs a Token-2022 transfer hook instead of naming it: a holder's transfer of one unit into
//! our wallet's token account, hook accounts included, in one `simulateTransaction`
//! (`sigVerify: false`, nothing sent). A hook that fails it blocks holders' transfers now.
//!
//! The hook's extra accounts come from its `extra-account-metas` validation account (the PDA of
//! `["extra-account-metas", mint]` under the hook program), resolved as Token-2022's own client
//! does, by `spl-tlv-account-resolution`: literal addresses, PDAs derived from seeds (literals,
//! the instruction's data, other accounts' keys or data) and keys read from account data, each
//! account it needs read from the RPC. A list that cannot be resolved is reported as not
//! simulated.

use anchor_lang::{
    prelude::Pubkey,
    solana_program::instruction::{AccountMeta, Instruction},
};
use anchor_spl::associated_token::{
    get_associated_token_address_with_program_id, spl_associated_token_account::instruction as ata,
};
use anchor_spl::token_2022::spl_token_2022;
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::client_error::Error as ClientError;
use spl_discriminator::{ArrayDiscriminator, SplDiscriminate};
use spl_tlv_account_resolution::state::{AccountDataResult, AccountFetchError, ExtraAccountMetaList};

use super::authority::{payer, simulate};
use crate::risk::rules::solana::HookSimulation;

/// The transfer-hook interface's `Execute` discriminator: the first 8 bytes of
/// sha256("spl-transfer-hook-interface:execute").
pub const EXECUTE_DISCRIMINATOR: [u8; 8] = [105, 37, 101, 197, 75, 251, 102, 26];

/// The validation account of `mint`'s hook `program`.
pub fn validation_address(mint: &Pubkey, program: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[b"extra-account-metas", mint.as_ref()], program).0
}

/// `Execute`, as the TLV entry of a validation account.
struct Execute;

impl SplDiscriminate for Execute {
    const SPL_DISCRIMINATOR: ArrayDiscriminator = ArrayDiscriminator::new(EXECUTE_DISCRIMINATOR);
}

/// The accounts of a transfer hook's `Execute`, by the transfer-hook interface.
#[derive(Debug, Clone, Copy)]
pub struct ExecuteAccounts {
    pub program: Pubkey,
    pub source: Pubkey,
    pub mint: Pubkey,
    pub destination: Pubkey,
    pub authority: Pubkey,
    pub validation: Pubkey,
}

/// The extra accounts `Execute` needs for a transfer of `amount`, as the validation account's
/// data (`validation_data`) lists them, in order; `fetch` reads an account's data (`None`: no
/// such account). `Err(why)` when the list cannot be resolved.
pub async fn extra_accounts<F, Fut>(
    a: &ExecuteAccounts,
    amount: u64,
    validation_data: &[u8],
    fetch: F,
) -> Result<Vec<AccountMeta>, String>
where
    F: Fn(Pubkey) -> Fut,
    Fut: std::future::Future<Output = AccountDataResult>,
{
    let mut execute = Instruction {
        program_id: a.program,
        accounts: [a.source, a.mint, a.destination, a.authority, a.validation]
            .iter()
            .map(|k| AccountMeta::new_readonly(*k, false))
            .collect(),
        data: [EXECUTE_DISCRIMINATOR.as_slice(), &amount.to_le_bytes()].concat(),
    };
    ExtraAccountMetaList::add_to_instruction::<Execute, _, _>(&mut execute, fetch, validation_data)
        .await
        .map_err(|e| format!("its extra accounts cannot be resolved ({e})"))?;
    Ok(execute.accounts.split_off(5))
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
    let destination = get_associated_token_address_with_program_id(wallet, mint, &program_id);
    let execute =
        ExecuteAccounts { program: *program, source, mint: *mint, destination, authority: holder, validation };
    let fetch = |key: Pubkey| async move {
        match rpc.get_account_with_commitment(&key, commitment).await {
            Ok(r) => Ok(r.value.map(|a| a.data)),
            Err(e) => Err(Box::new(e) as AccountFetchError),
        }
    };
    let extra = match extra_accounts(&execute, 1, &state.data, fetch).await {
        Ok(extra) => extra,
        Err(why) => return unsimulated(&why),
    };
    let Some(payer) = payer(rpc, &[holder, *wallet]).await? else {
        return unsimulated("neither the holder nor our wallet can pay for a simulated transaction");
    };
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
    use std::collections::HashMap;

    use spl_tlv_account_resolution::{account::ExtraAccountMeta, seeds::Seed};

    use super::*;

    fn list(metas: &[ExtraAccountMeta]) -> Vec<u8> {
        let mut data = vec![0; ExtraAccountMetaList::size_of(metas.len()).unwrap()];
        ExtraAccountMetaList::init::<Execute>(&mut data, metas).unwrap();
        data
    }

    #[tokio::test]
    async fn extra_accounts_resolve_literal_seeded_and_data_derived_accounts() {
        let key = |b: u8| Pubkey::new_from_array([b; 32]);
        let a = ExecuteAccounts {
            program: key(9),
            source: key(1),
            mint: key(2),
            destination: key(3),
            authority: key(4),
            validation: key(5),
        };
        // The source's data (a token account: mint, then owner) is read for one seed.
        let accounts: HashMap<Pubkey, Vec<u8>> = HashMap::from([(a.source, [[2u8; 32], [7u8; 32]].concat())]);
        let fetch = |k: Pubkey| {
            let data = accounts.get(&k).cloned();
            async move { AccountDataResult::Ok(data) }
        };
        let literal = ExtraAccountMeta::new_with_pubkey(&key(6), false, true).unwrap();
        let seeded = ExtraAccountMeta::new_with_seeds(
            &[
                Seed::Literal { bytes: b"counter".to_vec() },
                Seed::AccountKey { index: 1 },
                Seed::AccountKey { index: 3 },
            ],
            false,
            false,
        )
        .unwrap();
        // The owner stored in the source account's data, bytes 32..64.
        let from_data = ExtraAccountMeta::new_with_seeds(
            &[
                Seed::AccountData { account_index: 0, data_index: 32, length: 32 },
                Seed::InstructionData { index: 8, length: 8 },
            ],
            false,
            true,
        )
        .unwrap();
        let got = extra_accounts(&a, 1, &list(&[literal, seeded, from_data]), fetch).await.unwrap();
        let pda = |seeds: &[&[u8]]| Pubkey::find_program_address(seeds, &a.program).0;
        assert_eq!(
            got,
            vec![
                AccountMeta::new(key(6), false),
                AccountMeta::new_readonly(pda(&[b"counter", key(2).as_ref(), key(4).as_ref()]), false),
                AccountMeta::new(pda(&[&[7u8; 32], &1u64.to_le_bytes()]), false),
            ]
        );
        assert_eq!(extra_accounts(&a, 1, &list(&[]), fetch).await.unwrap(), vec![]);

        // Seeds from an account that does not exist, or no Execute entry at all: not resolved.
        let missing = ExtraAccountMeta::new_with_seeds(
            &[Seed::AccountData { account_index: 2, data_index: 0, length: 32 }],
            false,
            false,
        )
        .unwrap();
        assert!(extra_accounts(&a, 1, &list(&[missing]), fetch).await.unwrap_err().contains("cannot be resolved"));
        assert!(extra_accounts(&a, 1, &[0u8; 5], fetch).await.is_err());
    }
}
