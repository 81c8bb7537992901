//! Runs a mint's authorities instead of reading them: the mint authority mints one unit to our
//! wallet's token account, and the freeze authority freezes that account, each in one
//! `simulateTransaction` (`sigVerify: false`, so the authority's signature is not needed, and
//! `replaceRecentBlockhash`). Nothing is ever sent.
//!
//! An authority whose simulated instruction succeeds can act now, without any condition the
//! chain would enforce: that is what the scorer calls critical. An authority held by a
//! program-derived address (a program decides when it signs) or by a multisig cannot be run
//! this way and stays a high risk; one whose instruction fails (for example, an authority
//! account that cannot pay, or a program that refuses) is reported with the failure.

use anchor_lang::{prelude::Pubkey, solana_program::instruction::Instruction};
use anchor_spl::associated_token::{
    get_associated_token_address_with_program_id, spl_associated_token_account::instruction as ata,
};
use anchor_spl::token_2022::spl_token_2022;
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::{client_error::Error as ClientError, config::RpcSimulateTransactionConfig};
use solana_sdk::transaction::{Transaction, VersionedTransaction};

use crate::risk::rules::solana::AuthoritySimulation;

/// The token account owner the probes use when the keeper has no Solana wallet (dry-run): an
/// ordinary address with no key anyone holds. Its associated token account is created inside
/// the simulation, like a first buy would.
pub const PROBE_OWNER: Pubkey = anchor_lang::pubkey!("Probe11111111111111111111111111111111111111");

/// What a fee payer must hold to pay for the simulated transaction and the token account's rent
/// (a Token-2022 account with extensions is larger than 165 bytes; this covers common ones).
pub const PAYER_MIN_LAMPORTS: u64 = 5_000_000;

const SYSTEM_PROGRAM: Pubkey = anchor_lang::pubkey!("11111111111111111111111111111111");

/// Which power of a mint is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    Mint,
    Freeze,
}

/// Simulates `ixs` with `payer` as fee payer and every signer unsigned: `Ok(())` when the
/// transaction succeeds, `Err(why)` with the error and the last error line of its logs.
pub async fn simulate(
    rpc: &RpcClient,
    commitment: CommitmentConfig,
    ixs: &[Instruction],
    payer: &Pubkey,
) -> Result<Result<(), String>, ClientError> {
    let tx = VersionedTransaction::from(Transaction::new_unsigned(solana_sdk::message::Message::new(ixs, Some(payer))));
    let config = RpcSimulateTransactionConfig {
        sig_verify: false,
        replace_recent_blockhash: true,
        commitment: Some(commitment),
        ..Default::default()
    };
    let r = rpc.simulate_transaction_with_config(&tx, config).await?.value;
    Ok(match r.err {
        None => Ok(()),
        Some(err) => {
            let last = r.logs.as_ref().and_then(|l| l.iter().rev().find(|l| l.contains("rror")).cloned());
            let why = format!("{err}{}", last.map(|l| format!(": {l}")).unwrap_or_default());
            Err(why.chars().take(200).collect())
        }
    })
}

/// Picks who pays for a simulation: `first` if it is an ordinary funded account, else `then`.
/// `None` when neither can pay.
pub async fn payer(rpc: &RpcClient, candidates: &[Pubkey]) -> Result<Option<Pubkey>, ClientError> {
    let accounts = rpc.get_multiple_accounts(candidates).await?;
    Ok(candidates
        .iter()
        .zip(accounts)
        .find(|(_, a)| a.as_ref().is_some_and(|a| a.owner == SYSTEM_PROGRAM && a.lamports >= PAYER_MIN_LAMPORTS))
        .map(|(k, _)| *k))
}

/// Runs `power` of `mint` (owned by `token_program`), held by `authority`, against `owner`'s
/// associated token account.
pub async fn simulate_authority(
    rpc: &RpcClient,
    commitment: CommitmentConfig,
    mint: &Pubkey,
    token_program: &Pubkey,
    authority: &Pubkey,
    owner: &Pubkey,
    power: Power,
) -> Result<AuthoritySimulation, ClientError> {
    if !authority.is_on_curve() {
        return Ok(AuthoritySimulation::Unsimulated {
            reason: "held by a program-derived address: its program decides when it signs".into(),
        });
    }
    let held = rpc.get_account_with_commitment(authority, commitment).await?.value;
    if held.as_ref().is_some_and(|a| a.owner == *token_program) {
        return Ok(AuthoritySimulation::Unsimulated { reason: "held by a token multisig".into() });
    }
    let Some(payer) = payer(rpc, &[*authority, *owner]).await? else {
        return Ok(AuthoritySimulation::Unsimulated {
            reason: "neither the authority nor our wallet can pay for a simulated transaction".into(),
        });
    };
    let account = get_associated_token_address_with_program_id(owner, mint, token_program);
    let create = ata::create_associated_token_account_idempotent(&payer, owner, mint, token_program);
    let act = match power {
        Power::Mint => spl_token_2022::instruction::mint_to(token_program, mint, &account, authority, &[], 1),
        Power::Freeze => spl_token_2022::instruction::freeze_account(token_program, &account, mint, authority, &[]),
    };
    let Ok(act) = act else {
        return Ok(AuthoritySimulation::Unsimulated { reason: "unknown token program".into() });
    };
    Ok(match simulate(rpc, commitment, &[create, act], &payer).await? {
        Ok(()) => AuthoritySimulation::Effective,
        Err(error) => AuthoritySimulation::Refused { error },
    })
}
