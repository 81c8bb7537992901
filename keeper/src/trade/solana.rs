//! Solana execution on our AMM: exact quotes with the program crate's own math, the swap
//! instruction behind compute-budget and priority-fee instructions, confirmation by signature
//! status, and a fresh signature when the blockhash expires unlanded.
//!
//! Safety rule: a transaction is signed again only once its blockhash is no longer valid and
//! none of the trade's signatures has landed, so at most one of them can ever execute. Every
//! signature is in the mirror before it is sent.

use std::{str::FromStr, time::Duration, time::Instant};

use alloy::primitives::U256;
use amm::{
    client::{self, PoolAddresses},
    math::curve::swap_exact_in,
    state::{AmmConfig, Pool},
};
use anchor_lang::{prelude::Pubkey, solana_program::instruction::Instruction, AccountDeserialize};
use anchor_spl::{associated_token, token::spl_token};
use serde::{Deserialize, Serialize};
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::{
    client_error::{Error as ClientError, ErrorKind},
    config::{RpcSendTransactionConfig, RpcTransactionConfig},
    request::RpcError,
};
use solana_sdk::{
    hash::Hash,
    signature::{Keypair, Signature, Signer},
    transaction::Transaction,
};
use solana_transaction_status_client_types::UiTransactionEncoding;
use sqlx::SqlitePool;

use super::{
    amount,
    store::{self, Signed, TradeRow},
    Outcome, SolanaExecConfig, TradeError,
};
use crate::solana::indexer::decode_events;

const COMPUTE_BUDGET: Pubkey = anchor_lang::pubkey!("ComputeBudget111111111111111111111111111111");
/// JSON-RPC code of a transaction refused by preflight simulation (never forwarded).
const PREFLIGHT_FAILURE: i64 = -32002;

fn rpc(e: ClientError) -> TradeError {
    TradeError::Rpc(e.to_string())
}

fn key(s: &str) -> Result<Pubkey, TradeError> {
    Pubkey::from_str(s).map_err(|_| TradeError::Invalid(format!("bad public key {s}")))
}

/// What was signed last, persisted with the trade.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    blockhash: String,
}

pub struct SolanaTrader {
    pub chain: String,
    rpc: RpcClient,
    key: Option<Keypair>,
    pub owner: Pubkey,
    cfg: SolanaExecConfig,
    commitment: CommitmentConfig,
}

/// `SetComputeUnitLimit` and `SetComputeUnitPrice` (borsh: tag, little-endian value).
fn compute_budget(limit: u32, micro_lamports: u64) -> [Instruction; 2] {
    let mut price = vec![3u8];
    price.extend_from_slice(&micro_lamports.to_le_bytes());
    let mut units = vec![2u8];
    units.extend_from_slice(&limit.to_le_bytes());
    [
        Instruction { program_id: COMPUTE_BUDGET, accounts: vec![], data: units },
        Instruction { program_id: COMPUTE_BUDGET, accounts: vec![], data: price },
    ]
}

impl SolanaTrader {
    pub fn new(
        chain: &str,
        rpc_url: &str,
        commitment: CommitmentConfig,
        key: Option<Keypair>,
        cfg: SolanaExecConfig,
    ) -> Self {
        let owner = key.as_ref().map(|k| k.pubkey()).unwrap_or_default();
        Self {
            chain: chain.to_string(),
            rpc: RpcClient::new_with_commitment(rpc_url.to_string(), commitment),
            key,
            owner,
            cfg,
            commitment,
        }
    }

    async fn pool(&self, pool: &Pubkey) -> Result<(Pool, AmmConfig), TradeError> {
        let p = self.rpc.get_account(pool).await.map_err(rpc)?;
        let state = Pool::try_deserialize(&mut p.data.as_slice()).map_err(|e| TradeError::Invalid(e.to_string()))?;
        let c = self.rpc.get_account(&state.config).await.map_err(rpc)?;
        let config =
            AmmConfig::try_deserialize(&mut c.data.as_slice()).map_err(|e| TradeError::Invalid(e.to_string()))?;
        Ok((state, config))
    }

    /// Exact output of swapping `amount_in` into (`buy`) or out of `token` with the program's
    /// own math, and the pool's quote-side reserve.
    pub async fn quote(&self, pool: &str, token: &str, amount_in: U256, buy: bool) -> Result<(U256, U256), TradeError> {
        let (p, config) = self.pool(&key(pool)?).await?;
        let token = key(token)?;
        let token_is_b = p.mint_b == token;
        let (r_quote, r_token) = if token_is_b { (p.reserve_a, p.reserve_b) } else { (p.reserve_b, p.reserve_a) };
        let (r_in, r_out) = if buy { (r_quote, r_token) } else { (r_token, r_quote) };
        let amount_in = u64::try_from(amount_in).map_err(|_| TradeError::Invalid("amount above u64".into()))?;
        let q = swap_exact_in(amount_in, r_in, r_out, config.fees()).map_err(|e| TradeError::Invalid(e.to_string()))?;
        Ok((U256::from(q.amount_out), U256::from(r_quote)))
    }

    /// The instructions of a trade row: budget, the output account (created if missing), swap.
    async fn instructions(&self, t: &TradeRow) -> Result<Vec<Instruction>, TradeError> {
        let pool = key(&t.pool_address)?;
        let (p, _) = self.pool(&pool).await?;
        let addresses = PoolAddresses::from_pool(pool, &p);
        let token = key(&t.token)?;
        let quote = key(&t.quote_token)?;
        let (mint_in, mint_out) = if t.is_buy() { (quote, token) } else { (token, quote) };
        let a_to_b = p.mint_a == mint_in;
        let user_in = associated_token::get_associated_token_address(&self.owner, &mint_in);
        let user_out = associated_token::get_associated_token_address(&self.owner, &mint_out);
        let amount_in =
            u64::try_from(amount(&t.amount_in)).map_err(|_| TradeError::Invalid("amount above u64".into()))?;
        let min_out = u64::try_from(amount(&t.min_out)).map_err(|_| TradeError::Invalid("amount above u64".into()))?;
        let mut ixs = compute_budget(self.cfg.compute_unit_limit, self.cfg.priority_micro_lamports).to_vec();
        ixs.push(
            associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent(
                &self.owner,
                &self.owner,
                &mint_out,
                &spl_token::ID,
            ),
        );
        ixs.push(client::swap_exact_in(&addresses, self.owner, a_to_b, user_in, user_out, amount_in, min_out));
        Ok(ixs)
    }

    /// Executes a fresh trade (or resumes one: `resume` waits out the last blockhash first).
    pub async fn execute(
        &self,
        db: &SqlitePool,
        t: &TradeRow,
        seen_at: Option<Instant>,
    ) -> Result<Outcome, TradeError> {
        self.run(db, t, seen_at, Vec::new(), None).await
    }

    /// Resumes a trade found unsettled after a restart.
    pub async fn resume(&self, db: &SqlitePool, t: &TradeRow) -> Result<Outcome, TradeError> {
        let sigs: Vec<Signature> = t.tx_ids().iter().filter_map(|s| Signature::from_str(s).ok()).collect();
        let last = t
            .request
            .as_deref()
            .and_then(|r| serde_json::from_str::<Request>(r).ok())
            .and_then(|r| Hash::from_str(&r.blockhash).ok())
            .zip(t.valid_until.and_then(|v| u64::try_from(v).ok()));
        self.run(db, t, None, sigs, last).await
    }

    async fn run(
        &self,
        db: &SqlitePool,
        t: &TradeRow,
        mut seen_at: Option<Instant>,
        mut sigs: Vec<Signature>,
        mut pending: Option<(Hash, u64)>,
    ) -> Result<Outcome, TradeError> {
        let signer = self.key.as_ref().ok_or_else(|| TradeError::Invalid("live trading without a key".into()))?;
        let poll = Duration::from_millis(self.cfg.confirm_poll_ms);
        let ixs = self.instructions(t).await?;
        loop {
            // Wait for the signatures so far to land, or for their blockhash to expire.
            if let Some((hash, last_valid)) = pending {
                loop {
                    if let Some(outcome) = self.landed(&sigs).await? {
                        return Ok(outcome);
                    }
                    if self.expired(&hash, last_valid).await? {
                        // Looked once more after expiry: nothing landed, nothing can.
                        if let Some(outcome) = self.landed(&sigs).await? {
                            return Ok(outcome);
                        }
                        metrics::counter!("keeper_solana_blockhash_retries_total", "chain" => self.chain.clone())
                            .increment(1);
                        tracing::info!(chain = %self.chain, trade = t.id, "blockhash expired before the transaction landed; signing again");
                        break;
                    }
                    tokio::time::sleep(poll).await;
                }
            }
            let (hash, last_valid) =
                self.rpc.get_latest_blockhash_with_commitment(self.commitment).await.map_err(rpc)?;
            let tx = Transaction::new_signed_with_payer(&ixs, Some(&self.owner), &[signer], hash);
            let sig = tx.signatures[0];
            let request = serde_json::to_string(&Request { blockhash: hash.to_string() })
                .map_err(|e| TradeError::Invalid(e.to_string()))?;
            store::record_signed(
                db,
                t.id,
                &Signed {
                    tx_id: &sig.to_string(),
                    raw: "",
                    request: &request,
                    nonce: None,
                    valid_until: Some(last_valid),
                },
            )
            .await?;
            sigs.push(sig);
            pending = Some((hash, last_valid));
            let config = RpcSendTransactionConfig {
                skip_preflight: false,
                preflight_commitment: Some(self.commitment.commitment),
                ..Default::default()
            };
            let at = Instant::now();
            let sent = self.rpc.send_transaction_with_config(&tx, config).await;
            store::record_latency(db, &self.chain, t.id, seen_at.take(), at).await;
            if let Err(e) = sent {
                if let ErrorKind::RpcError(RpcError::RpcResponseError { code, message, .. }) = e.kind() {
                    if *code == PREFLIGHT_FAILURE && !message.contains("Blockhash not found") {
                        // Refused by simulation: never forwarded, so it cannot land.
                        return Ok(Outcome::Failed { tx_id: None, error: message.clone() });
                    }
                }
                tracing::warn!(chain = %self.chain, trade = t.id, error = %e, "send failed; confirming by signature");
            }
        }
    }

    async fn expired(&self, hash: &Hash, last_valid: u64) -> Result<bool, TradeError> {
        let valid = self.rpc.is_blockhash_valid(hash, self.commitment).await.map_err(rpc)?;
        if !valid {
            return Ok(true);
        }
        Ok(self.rpc.get_block_height().await.map_err(rpc)? > last_valid)
    }

    /// The outcome of whichever signature landed, if any.
    async fn landed(&self, sigs: &[Signature]) -> Result<Option<Outcome>, TradeError> {
        if sigs.is_empty() {
            return Ok(None);
        }
        let statuses = self.rpc.get_signature_statuses(sigs).await.map_err(rpc)?.value;
        for (sig, status) in sigs.iter().zip(statuses) {
            let Some(status) = status else { continue };
            if !status.satisfies_commitment(self.commitment) {
                continue;
            }
            if let Some(err) = status.err {
                return Ok(Some(Outcome::Failed { tx_id: Some(sig.to_string()), error: err.to_string() }));
            }
            return Ok(Some(self.fill(sig, status.slot).await?));
        }
        Ok(None)
    }

    /// The program's `Swapped` event for our wallet in the landed transaction.
    async fn fill(&self, sig: &Signature, slot: u64) -> Result<Outcome, TradeError> {
        let config = RpcTransactionConfig {
            encoding: Some(UiTransactionEncoding::Base64),
            commitment: Some(self.commitment),
            max_supported_transaction_version: Some(0),
        };
        let tx = self.rpc.get_transaction_with_config(sig, config).await.map_err(rpc)?;
        let fee = tx.transaction.meta.as_ref().map(|m| m.fee).unwrap_or(0);
        let mut out = 0u64;
        let events = decode_events(&tx, &amm::ID).map_err(|e| TradeError::Invalid(e.to_string()))?;
        for (_, e) in events {
            if let client::AmmEvent::Swapped(s) = e {
                if s.trader == self.owner {
                    out = out.saturating_add(s.amount_out);
                }
            }
        }
        if let Some(meta) = &tx.transaction.meta {
            if let Some(err) = &meta.err {
                return Ok(Outcome::Failed { tx_id: Some(sig.to_string()), error: format!("{err:?}") });
            }
        }
        Ok(Outcome::Confirmed {
            tx_id: sig.to_string(),
            block: slot,
            amount_out: U256::from(out),
            fee_paid: U256::from(fee),
        })
    }
}
