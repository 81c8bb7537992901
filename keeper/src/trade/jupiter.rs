//! Solana swaps routed through Jupiter, for tokens without a pool on our AMM: quote, swap
//! transaction, a simulation that measures what the transaction does to the wallet, the checks
//! of [`jupiter::verify_swap`], and only then the wallet's signature, the send and the
//! confirmation. A transaction that does not match its quote is refused unsigned.

use std::time::Duration;

use anchor_lang::prelude::Pubkey;
use anchor_spl::associated_token;
use solana_account_decoder_client_types::UiAccountEncoding;
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::config::{RpcSimulateTransactionAccountsConfig, RpcSimulateTransactionConfig};
use solana_sdk::{
    signature::{Keypair, Signature, Signer},
    transaction::VersionedTransaction,
};

use crate::external::{
    jupiter::{self, Jupiter, Quote, QuoteRequest, SimulatedSwap},
    ExternalError,
};

/// Programs a Jupiter swap transaction may invoke unless configured otherwise: the runtime's
/// own, the token programs, and Jupiter's aggregator v6.
pub fn default_allowed_programs() -> Vec<Pubkey> {
    [
        "11111111111111111111111111111111",
        "ComputeBudget111111111111111111111111111111",
        "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
        "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb",
        "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL",
        "JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4",
    ]
    .iter()
    .filter_map(|k| k.parse().ok())
    .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum JupiterSwapError {
    #[error(transparent)]
    Service(#[from] ExternalError),
    #[error("refused to sign the swap transaction: {0}")]
    Refused(String),
    #[error("solana rpc: {0}")]
    Rpc(String),
    #[error("the swap transaction failed on chain: {0}")]
    Failed(String),
    #[error("the swap transaction expired unconfirmed (last valid block height {0})")]
    Expired(u64),
}

/// A confirmed Jupiter swap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JupiterFill {
    pub signature: Signature,
    pub quote: Quote,
    /// What the simulation measured, which the checks passed.
    pub simulated: SimulatedSwap,
}

pub struct JupiterSwapper<'a> {
    pub jupiter: &'a Jupiter,
    pub rpc: &'a RpcClient,
    pub wallet: &'a Keypair,
    pub allowed_programs: Vec<Pubkey>,
    /// SOL the transaction may cost beyond the input (fees, new token accounts).
    pub max_lamports: u64,
    pub confirm_poll: Duration,
}

/// A swap transaction that passed every check, signed and not yet sent.
#[derive(Debug, Clone)]
pub struct PreparedSwap {
    pub tx: VersionedTransaction,
    pub quote: Quote,
    pub simulated: SimulatedSwap,
    /// The last block height at which the transaction can land.
    pub last_valid: u64,
}

impl JupiterSwapper<'_> {
    /// Quote, build, simulate, check, sign, send and confirm one ExactIn swap.
    pub async fn swap(&self, req: &QuoteRequest) -> Result<JupiterFill, JupiterSwapError> {
        let quote = self.jupiter.quote(req).await?;
        let p = self.prepare(quote, req).await?;
        let signature = self.rpc.send_transaction(&p.tx).await.map_err(|e| JupiterSwapError::Rpc(e.to_string()))?;
        self.confirm(&signature, p.last_valid).await?;
        Ok(JupiterFill { signature, quote: p.quote, simulated: p.simulated })
    }

    /// Turns a quote into a signed transaction, only if the transaction Jupiter builds for it
    /// passes the static checks and, simulated, moves what the quote says.
    pub async fn prepare(&self, quote: Quote, req: &QuoteRequest) -> Result<PreparedSwap, JupiterSwapError> {
        let me = self.wallet.pubkey();
        let (tx, last_valid) = self.jupiter.swap(&quote, &me).await?;
        jupiter::verify_static(&tx, &me, &self.allowed_programs).map_err(JupiterSwapError::Refused)?;
        let simulated = self.simulate(&tx, req).await?;
        jupiter::verify_swap(&tx, &me, &self.allowed_programs, &quote, Some(simulated), self.max_lamports)
            .map_err(JupiterSwapError::Refused)?;
        let tx = VersionedTransaction::try_new(tx.message, &[self.wallet])
            .map_err(|e| JupiterSwapError::Refused(format!("cannot sign: {e}")))?;
        Ok(PreparedSwap { tx, quote, simulated, last_valid })
    }

    /// Quotes and simulates, never signs, the swap of `req`: what the wallet would receive, or
    /// `Err(why)` when Jupiter's transaction fails in simulation. A transaction that fails the
    /// static checks is an error, not a verdict on the token.
    pub async fn simulate_swap(&self, req: &QuoteRequest) -> Result<Result<SimulatedSwap, String>, JupiterSwapError> {
        let me = self.wallet.pubkey();
        let quote = self.jupiter.quote(req).await?;
        let (tx, _) = self.jupiter.swap(&quote, &me).await?;
        jupiter::verify_static(&tx, &me, &self.allowed_programs).map_err(JupiterSwapError::Refused)?;
        match self.simulate(&tx, req).await {
            Ok(s) => Ok(Ok(s)),
            Err(JupiterSwapError::Refused(why)) => Ok(Err(why)),
            Err(e) => Err(e),
        }
    }

    /// What the wallet holds of `mint` (0 without a token account).
    pub async fn held(&self, mint: &Pubkey) -> Result<u64, JupiterSwapError> {
        use anchor_lang::solana_program::program_pack::Pack;
        let ata = self.ata(mint).await?;
        let acc = self
            .rpc
            .get_account_with_commitment(&ata, self.rpc.commitment())
            .await
            .map_err(|e| JupiterSwapError::Rpc(e.to_string()))?
            .value;
        Ok(acc
            .and_then(|a| anchor_spl::token::spl_token::state::Account::unpack_from_slice(a.data.get(..165)?).ok())
            .map_or(0, |t| t.amount))
    }

    /// The wallet's token accounts for a mint (its ATA under the mint's token program).
    async fn ata(&self, mint: &Pubkey) -> Result<Pubkey, JupiterSwapError> {
        let acc = self.rpc.get_account(mint).await.map_err(|e| JupiterSwapError::Rpc(format!("mint {mint}: {e}")))?;
        Ok(associated_token::get_associated_token_address_with_program_id(&self.wallet.pubkey(), mint, &acc.owner))
    }

    /// Runs the unsigned transaction and reads the wallet's balances before and after.
    async fn simulate(&self, tx: &VersionedTransaction, req: &QuoteRequest) -> Result<SimulatedSwap, JupiterSwapError> {
        let me = self.wallet.pubkey();
        let (input, output) = (self.ata(&req.input_mint).await?, self.ata(&req.output_mint).await?);
        let watched = [me, input, output];
        let before =
            self.rpc.get_multiple_accounts(&watched).await.map_err(|e| JupiterSwapError::Rpc(e.to_string()))?;
        let config = RpcSimulateTransactionConfig {
            sig_verify: false,
            replace_recent_blockhash: false,
            commitment: Some(CommitmentConfig::processed()),
            accounts: Some(RpcSimulateTransactionAccountsConfig {
                encoding: Some(UiAccountEncoding::Base64),
                addresses: watched.iter().map(ToString::to_string).collect(),
            }),
            ..RpcSimulateTransactionConfig::default()
        };
        let sim = self
            .rpc
            .simulate_transaction_with_config(tx, config)
            .await
            .map_err(|e| JupiterSwapError::Rpc(e.to_string()))?
            .value;
        if let Some(err) = sim.err {
            return Err(JupiterSwapError::Refused(format!("the transaction fails in simulation: {err}")));
        }
        let after: Vec<Option<solana_sdk::account::Account>> = sim
            .accounts
            .ok_or_else(|| JupiterSwapError::Refused("the simulation returned no accounts".into()))?
            .into_iter()
            .map(|a| a.and_then(|a| a.decode()))
            .collect();
        // [wallet lamports, input tokens, output tokens], before and after.
        let figures = |accounts: &[Option<solana_sdk::account::Account>]| {
            use anchor_lang::solana_program::program_pack::Pack;
            let get = |i: usize| accounts.get(i).and_then(Option::as_ref);
            let tokens = |i: usize| {
                get(i)
                    .and_then(|a| {
                        anchor_spl::token::spl_token::state::Account::unpack_from_slice(a.data.get(..165)?).ok()
                    })
                    .map_or(0, |t| t.amount)
            };
            [get(0).map_or(0, |a| a.lamports), tokens(1), tokens(2)]
        };
        let ([lamports0, in0, out0], [lamports1, in1, out1]) = (figures(&before), figures(&after));
        let (spent, received, lamports_spent) =
            (in0.saturating_sub(in1), out1.saturating_sub(out0), lamports0.saturating_sub(lamports1));
        Ok(SimulatedSwap { spent, received, lamports_spent })
    }

    async fn confirm(&self, signature: &Signature, last_valid: u64) -> Result<(), JupiterSwapError> {
        loop {
            let status = self
                .rpc
                .get_signature_statuses(&[*signature])
                .await
                .map_err(|e| JupiterSwapError::Rpc(e.to_string()))?
                .value
                .into_iter()
                .next()
                .flatten();
            if let Some(s) = status {
                return match s.err {
                    None => Ok(()),
                    Some(e) => Err(JupiterSwapError::Failed(e.to_string())),
                };
            }
            let height = self.rpc.get_block_height().await.map_err(|e| JupiterSwapError::Rpc(e.to_string()))?;
            if height > last_valid {
                return Err(JupiterSwapError::Expired(last_valid));
            }
            tokio::time::sleep(self.confirm_poll).await;
        }
    }
}
