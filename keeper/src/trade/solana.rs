//! Solana execution on our AMM: exact quotes with the program crate's own math, the swap
//! instruction behind compute-budget and priority-fee instructions, confirmation by signature
//! status, and a fresh signature when the blockhash expires unlanded.
//!
//! Tokens whose pool is on another venue (found by DexScreener discovery) trade through Jupiter:
//! its quote prices them, and its swap transaction, checked against the quote and the trade's
//! own minimum by [`super::jupiter::JupiterSwapper::prepare`], goes through the same
//! record-before-send, confirmation and expiry path; the fill is the wallet's token balance
//! change in the landed transaction.
//!
//! Safety rule: a transaction is signed again only once its blockhash is no longer valid and
//! none of the trade's signatures has landed, so at most one of them can ever execute. Every
//! signature is in the mirror before it is sent.

use std::{str::FromStr, time::Duration, time::Instant};

use alloy::primitives::U256;
use amm::{
    client::{self, PoolAddresses},
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
    transaction::{Transaction, VersionedTransaction},
};
use solana_transaction_status_client_types::{
    option_serializer::OptionSerializer, UiTransactionEncoding, UiTransactionTokenBalance,
};
use sqlx::SqlitePool;

use super::{
    amount,
    executor::{SellCheck, Simulated},
    jupiter::{JupiterSwapError, JupiterSwapper, PreparedSwap},
    store::{self, PositionRow, Signed, TradeRow},
    Outcome, SolanaExecConfig, TradeError,
};
use crate::{
    chains::solana::decode::decode_events,
    external::jupiter::{Jupiter, QuoteRequest},
};

/// The venue name of pools on our AMM in the mirror; every other Solana venue goes through
/// Jupiter.
pub use crate::chains::solana::AMM_VENUE;

/// The venue of a sale routed by Jupiter over whichever venues it finds (a trapped AMM
/// position's other route): not a pool of its own.
pub const JUPITER_VENUE: &str = "jupiter";

/// Jupiter, for pools on other venues.
pub struct JupiterRoute {
    pub client: Jupiter,
    /// Programs its transactions may invoke (see [`super::jupiter::default_allowed_programs`]).
    pub allowed_programs: Vec<Pubkey>,
    /// SOL a swap may cost beyond its input (fees, new token accounts).
    pub max_lamports: u64,
    /// Slippage asked of Jupiter's quotes (the trade's own minimum is enforced on top).
    pub slippage_bps: u32,
}

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
    jupiter: Option<JupiterRoute>,
    /// Live swaps on our AMM go as tipped bundles to this block engine (`jito_url`).
    jito: Option<super::jito::Jito>,
}

/// The priority fee to pay: the `percentile` (nearest rank) of `recent` compute-unit prices, at
/// least `floor` and at most `cap`; `floor` when there is nothing to go on.
pub fn priority_price(mut recent: Vec<u64>, percentile: u8, floor: u64, cap: u64) -> u64 {
    if percentile == 0 || recent.is_empty() {
        return floor;
    }
    recent.sort_unstable();
    let n = recent.len();
    // The smallest value with at least `percentile`% of the prices at or under it.
    let rank = (n * usize::from(percentile.min(100))).div_ceil(100).clamp(1, n);
    recent[rank - 1].clamp(floor, cap.max(floor))
}

/// The compute-unit price a transaction's instructions set (0: none).
fn price_of(ixs: &[Instruction]) -> u64 {
    ixs.iter()
        .find(|ix| ix.program_id == COMPUTE_BUDGET && ix.data.first() == Some(&3))
        .and_then(|ix| ix.data.get(1..9))
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
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
        let jito = (!cfg.jito_url.is_empty()).then(|| super::jito::Jito::new(&cfg.jito_url, cfg.jito_tip_lamports));
        Self {
            chain: chain.to_string(),
            rpc: RpcClient::new_with_commitment(rpc_url.to_string(), commitment),
            key,
            owner,
            cfg,
            commitment,
            jupiter: None,
            jito,
        }
    }

    /// Trades pools on other venues through Jupiter.
    pub fn with_jupiter(mut self, route: JupiterRoute) -> Self {
        self.jupiter = Some(route);
        self
    }

    fn route(&self, venue: &str) -> Result<&JupiterRoute, TradeError> {
        self.jupiter.as_ref().ok_or_else(|| {
            TradeError::Invalid(format!(
                "pools on {venue} trade through Jupiter, which is not enabled (external.jupiter)"
            ))
        })
    }

    async fn pool(&self, pool: &Pubkey) -> Result<(Pool, AmmConfig), TradeError> {
        let p = self.rpc.get_account(pool).await.map_err(rpc)?;
        let state = Pool::try_deserialize(&mut p.data.as_slice()).map_err(|e| TradeError::Invalid(e.to_string()))?;
        let c = self.rpc.get_account(&state.config).await.map_err(rpc)?;
        let config =
            AmmConfig::try_deserialize(&mut c.data.as_slice()).map_err(|e| TradeError::Invalid(e.to_string()))?;
        Ok((state, config))
    }

    /// Output of swapping `amount_in` into (`buy`) or out of `token` on `venue`, and the pool's
    /// quote-side reserve when the venue tells it (our AMM: exact, with the program's own math;
    /// other venues: Jupiter's quote, no reserve).
    pub async fn quote(
        &self,
        venue: &str,
        pool: &str,
        token: &str,
        quote_token: &str,
        amount_in: U256,
        buy: bool,
    ) -> Result<(U256, Option<U256>), TradeError> {
        if venue == AMM_VENUE {
            let (out, reserve) = self.quote_amm(pool, token, amount_in, buy).await?;
            return Ok((out, Some(reserve)));
        }
        let route = self.route(venue)?;
        let (token, quote_token) = (key(token)?, key(quote_token)?);
        let (input_mint, output_mint) = if buy { (quote_token, token) } else { (token, quote_token) };
        let amount = u64::try_from(amount_in).map_err(|_| TradeError::Invalid("amount above u64".into()))?;
        let req = QuoteRequest { input_mint, output_mint, amount, slippage_bps: route.slippage_bps };
        let q = route.client.quote(&req).await.map_err(|e| TradeError::Rpc(e.to_string()))?;
        Ok((U256::from(q.out_amount), None))
    }

    /// A mint's decimals (SPL Token or Token-2022).
    pub async fn decimals(&self, mint: &str) -> Result<u8, TradeError> {
        use anchor_lang::solana_program::program_pack::Pack;
        let a = self.rpc.get_account(&key(mint)?).await.map_err(rpc)?;
        a.data
            .get(..spl_token::state::Mint::LEN)
            .and_then(|d| spl_token::state::Mint::unpack_from_slice(d).ok())
            .map(|m| m.decimals)
            .ok_or_else(|| TradeError::Invalid(format!("{mint} is not a mint")))
    }

    async fn quote_amm(&self, pool: &str, token: &str, amount_in: U256, buy: bool) -> Result<(U256, U256), TradeError> {
        let (p, config) = self.pool(&key(pool)?).await?;
        let amount_in = u64::try_from(amount_in).map_err(|_| TradeError::Invalid("amount above u64".into()))?;
        let (q, r_quote) = client::quote_exact_in(&p, &config, &key(token)?, buy, amount_in)
            .map_err(|e| TradeError::Invalid(e.to_string()))?;
        Ok((U256::from(q.amount_out), U256::from(r_quote)))
    }

    /// The instructions of a trade row: budget, the output account (created if missing), swap.
    async fn instructions(&self, t: &TradeRow) -> Result<Vec<Instruction>, TradeError> {
        let amount_in =
            u64::try_from(amount(&t.amount_in)).map_err(|_| TradeError::Invalid("amount above u64".into()))?;
        let min_out = u64::try_from(amount(&t.min_out)).map_err(|_| TradeError::Invalid("amount above u64".into()))?;
        let (ixs, _) =
            self.swap_instructions(&t.pool_address, &t.token, &t.quote_token, t.is_buy(), amount_in, min_out).await?;
        Ok(ixs)
    }

    /// Budget, the output account (created if missing) and the swap on our AMM; also the
    /// wallet's output token account.
    async fn swap_instructions(
        &self,
        pool: &str,
        token: &str,
        quote: &str,
        buy: bool,
        amount_in: u64,
        min_out: u64,
    ) -> Result<(Vec<Instruction>, Pubkey), TradeError> {
        let pool = key(pool)?;
        let (p, _) = self.pool(&pool).await?;
        let addresses = PoolAddresses::from_pool(pool, &p);
        let (token, quote) = (key(token)?, key(quote)?);
        let (mint_in, mint_out) = if buy { (quote, token) } else { (token, quote) };
        let a_to_b = p.mint_a == mint_in;
        let user_in = associated_token::get_associated_token_address(&self.owner, &mint_in);
        let user_out = associated_token::get_associated_token_address(&self.owner, &mint_out);
        let price = self.priority(&[addresses.pool, addresses.vault_a, addresses.vault_b]).await;
        let mut ixs = compute_budget(self.cfg.compute_unit_limit, price).to_vec();
        ixs.push(
            associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent(
                &self.owner,
                &self.owner,
                &mint_out,
                &spl_token::ID,
            ),
        );
        ixs.push(client::swap_exact_in(&addresses, self.owner, a_to_b, user_in, user_out, amount_in, min_out));
        Ok((ixs, user_out))
    }

    /// The priority fee for a transaction writing `writable` (see [`priority_price`]): the
    /// configured one, or a percentile of what the network reports recently paid for them.
    async fn priority(&self, writable: &[Pubkey]) -> u64 {
        let c = &self.cfg;
        if c.priority_fee_percentile == 0 {
            return c.priority_micro_lamports;
        }
        match self.rpc.get_recent_prioritization_fees(writable).await {
            Ok(fees) => priority_price(
                fees.iter().map(|f| f.prioritization_fee).collect(),
                c.priority_fee_percentile,
                c.priority_micro_lamports,
                c.max_priority_micro_lamports,
            ),
            Err(e) => {
                tracing::warn!(chain = %self.chain, error = %e, "no recent priority fees; paying the configured floor");
                c.priority_micro_lamports
            }
        }
    }

    /// Quotes selling `size` of a position and, live, simulates our real sell from our wallet:
    /// on our AMM `simulateTransaction` of the signed-to-be swap (no minimum), on other venues
    /// Jupiter's transaction for the sale; what the wallet's quote account would receive, or why
    /// it fails. Dry-run positions are valued by the quote alone: our wallet holds no paper
    /// tokens to sell, and JSON-RPC simulation cannot lend it any.
    pub async fn check_sell(&self, p: &PositionRow, size: U256, mode: super::Mode) -> Result<SellCheck, TradeError> {
        use solana_account_decoder_client_types::UiAccountEncoding;
        use solana_rpc_client_api::config::{RpcSimulateTransactionAccountsConfig, RpcSimulateTransactionConfig};

        let (quoted, _) = self.quote(&p.venue, &p.pool_address, &p.token, &p.quote_token, size, false).await?;
        let Some(signer) = self.key.as_ref().filter(|_| mode == super::Mode::Live) else {
            return Ok(SellCheck { quoted, block: None, simulated: None });
        };
        if p.venue != AMM_VENUE {
            return self.check_jupiter_sell(p, size, quoted, signer).await;
        }
        let held =
            self.token_balance(&associated_token::get_associated_token_address(&self.owner, &key(&p.token)?)).await?;
        let amount_in = u64::try_from(size.min(U256::from(held))).unwrap_or(u64::MAX);
        if amount_in == 0 {
            return Ok(SellCheck {
                quoted,
                block: None,
                simulated: Some(Simulated::Short { held: U256::from(held), received: U256::ZERO }),
            });
        }
        let (ixs, user_out) =
            self.swap_instructions(&p.pool_address, &p.token, &p.quote_token, false, amount_in, 0).await?;
        let before = self.token_balance(&user_out).await?;
        let tx = VersionedTransaction::from(Transaction::new_unsigned(solana_sdk::message::Message::new(
            &ixs,
            Some(&self.owner),
        )));
        let config = RpcSimulateTransactionConfig {
            sig_verify: false,
            replace_recent_blockhash: true,
            commitment: Some(self.commitment),
            accounts: Some(RpcSimulateTransactionAccountsConfig {
                encoding: Some(UiAccountEncoding::Base64),
                addresses: vec![user_out.to_string()],
            }),
            ..Default::default()
        };
        let r = self.rpc.simulate_transaction_with_config(&tx, config).await.map_err(rpc)?;
        let slot = r.context.slot;
        let r = r.value;
        let simulated = match r.err {
            Some(err) => {
                let last = r.logs.as_ref().and_then(|l| l.iter().rev().find(|l| l.contains("Error")).cloned());
                let reason = format!("{err}{}", last.map(|l| format!(": {l}")).unwrap_or_default());
                Simulated::Reverts { reason: reason.chars().take(200).flat_map(char::escape_debug).collect() }
            }
            None => {
                let after = r
                    .accounts
                    .and_then(|a| a.into_iter().next().flatten())
                    .and_then(|a| a.data.decode())
                    .and_then(|d| d.get(64..72).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())))
                    .unwrap_or(before);
                let received = U256::from(after.saturating_sub(before));
                // The transaction's own cost, in lamports: counted when the quote is wrapped SOL.
                let fee = if key(&p.quote_token)? == spl_token::native_mint::ID {
                    let units = u128::from(r.units_consumed.unwrap_or(0));
                    let priority = units * u128::from(price_of(&ixs)) / 1_000_000;
                    U256::from(r.fee.unwrap_or(5_000)) + U256::from(priority)
                } else {
                    U256::ZERO
                };
                if U256::from(amount_in) < size {
                    Simulated::Short { held: U256::from(held), received }
                } else {
                    Simulated::Sold { received, fee }
                }
            }
        };
        Ok(SellCheck { quoted, block: Some(slot), simulated: Some(simulated) })
    }

    /// A token account's balance (0 when it does not exist).
    async fn token_balance(&self, account: &Pubkey) -> Result<u64, TradeError> {
        match self.rpc.get_account_with_commitment(account, self.commitment).await.map_err(rpc)?.value {
            Some(a) => {
                Ok(a.data.get(64..72).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())).unwrap_or(0))
            }
            None => Ok(0),
        }
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
        let ixs = match (t.venue == AMM_VENUE, &self.jito) {
            (false, _) => None,
            (true, None) => Some(self.instructions(t).await?),
            // The tip goes in the swap's own transaction: paid only if the swap lands.
            (true, Some(jito)) => {
                let mut ixs = self.instructions(t).await?;
                ixs.push(jito.tip(&self.owner).await.map_err(|e| TradeError::Rpc(e.to_string()))?);
                Some(ixs)
            }
        };
        loop {
            // Wait for the signatures so far to land, or for their blockhash to expire.
            if let Some((hash, last_valid)) = pending {
                loop {
                    if let Some(outcome) = self.landed(t, &sigs).await? {
                        return Ok(outcome);
                    }
                    if self.expired(&hash, last_valid).await? {
                        // Looked once more after expiry: nothing landed, nothing can.
                        if let Some(outcome) = self.landed(t, &sigs).await? {
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
            let (tx, hash, last_valid) = match &ixs {
                Some(ixs) => {
                    let (hash, last_valid) =
                        self.rpc.get_latest_blockhash_with_commitment(self.commitment).await.map_err(rpc)?;
                    let tx = Transaction::new_signed_with_payer(ixs, Some(&self.owner), &[signer], hash);
                    (VersionedTransaction::from(tx), hash, last_valid)
                }
                None => match self.jupiter_swap(t, signer).await? {
                    Ok(p) => (p.tx.clone(), *p.tx.message.recent_blockhash(), p.last_valid),
                    // Nothing signed for this attempt, and no earlier one landed.
                    Err(error) => return Ok(Outcome::Failed { tx_id: None, error }),
                },
            };
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
            if let (Some(jito), true) = (&self.jito, ixs.is_some()) {
                let sent = jito.send(&tx).await;
                store::record_latency(db, &self.chain, t.id, seen_at.take(), at, false).await;
                match sent {
                    Ok(bundle) => tracing::debug!(chain = %self.chain, trade = t.id, bundle, "sent as a bundle"),
                    Err(e) => tracing::warn!(chain = %self.chain, trade = t.id, error = %e,
                        "bundle not taken; confirming by signature"),
                }
                continue;
            }
            let sent = self.rpc.send_transaction_with_config(&tx, config).await;
            store::record_latency(db, &self.chain, t.id, seen_at.take(), at, false).await;
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

    /// Jupiter's swaps for our wallet through `route`.
    fn swapper<'a>(&'a self, route: &'a JupiterRoute, signer: &'a Keypair) -> JupiterSwapper<'a> {
        JupiterSwapper {
            jupiter: &route.client,
            rpc: &self.rpc,
            wallet: signer,
            allowed_programs: route.allowed_programs.clone(),
            max_lamports: route.max_lamports,
            confirm_poll: Duration::from_millis(self.cfg.confirm_poll_ms),
        }
    }

    /// A live position on another venue, valued by simulating Jupiter's transaction for the
    /// sale of `size` (or of what the wallet still holds) from our wallet.
    async fn check_jupiter_sell(
        &self,
        p: &PositionRow,
        size: U256,
        quoted: U256,
        signer: &Keypair,
    ) -> Result<SellCheck, TradeError> {
        let route = self.route(&p.venue)?;
        let swapper = self.swapper(route, signer);
        let jupiter = |e: JupiterSwapError| TradeError::Rpc(e.to_string());
        let (token, quote_token) = (key(&p.token)?, key(&p.quote_token)?);
        let held = swapper.held(&token).await.map_err(jupiter)?;
        let amount_in = u64::try_from(size.min(U256::from(held))).unwrap_or(u64::MAX);
        let slot = self.rpc.get_slot().await.map_err(rpc)?;
        if amount_in == 0 {
            let simulated = Simulated::Short { held: U256::from(held), received: U256::ZERO };
            return Ok(SellCheck { quoted, block: Some(slot), simulated: Some(simulated) });
        }
        let req = QuoteRequest {
            input_mint: token,
            output_mint: quote_token,
            amount: amount_in,
            slippage_bps: route.slippage_bps,
        };
        let simulated = match swapper.simulate_swap(&req).await.map_err(jupiter)? {
            Err(reason) => {
                Simulated::Reverts { reason: reason.chars().take(200).flat_map(char::escape_debug).collect() }
            }
            Ok(s) if U256::from(amount_in) < size => {
                Simulated::Short { held: U256::from(held), received: U256::from(s.received) }
            }
            Ok(s) => {
                let fee = if quote_token == spl_token::native_mint::ID { s.lamports_spent } else { 0 };
                Simulated::Sold { received: U256::from(s.received), fee: U256::from(fee) }
            }
        };
        Ok(SellCheck { quoted, block: Some(slot), simulated: Some(simulated) })
    }

    /// A Jupiter swap transaction for the trade, signed, whose on-chain minimum is at least the
    /// trade's; `Err(why)` when Jupiter's route or transaction is refused (nothing signed).
    async fn jupiter_swap(&self, t: &TradeRow, signer: &Keypair) -> Result<Result<PreparedSwap, String>, TradeError> {
        let route = self.route(&t.venue)?;
        let (token, quote_token) = (key(&t.token)?, key(&t.quote_token)?);
        let (input_mint, output_mint) = if t.is_buy() { (quote_token, token) } else { (token, quote_token) };
        let as_u64 = |v: &str| u64::try_from(amount(v)).map_err(|_| TradeError::Invalid("amount above u64".into()));
        let (amount_in, min_out) = (as_u64(&t.amount_in)?, as_u64(&t.min_out)?);
        let service = |e: crate::external::ExternalError| TradeError::Rpc(e.to_string());
        let mut req = QuoteRequest { input_mint, output_mint, amount: amount_in, slippage_bps: route.slippage_bps };
        let mut quote = route.client.quote(&req).await.map_err(service)?;
        if quote.out_amount < min_out {
            return Ok(Err(format!("Jupiter quotes {} out, below the trade's minimum {min_out}", quote.out_amount)));
        }
        if quote.other_amount_threshold < min_out {
            // Ask for less slippage, so the transaction itself enforces the trade's minimum.
            let room = u128::from(quote.out_amount - min_out) * 10_000 / u128::from(quote.out_amount.max(1));
            req.slippage_bps = u32::try_from(room).unwrap_or(0);
            quote = route.client.quote(&req).await.map_err(service)?;
            if quote.other_amount_threshold < min_out {
                return Ok(Err(format!(
                    "Jupiter's minimum {} is below the trade's minimum {min_out}",
                    quote.other_amount_threshold
                )));
            }
        }
        let swapper = self.swapper(route, signer);
        match swapper.prepare(quote, &req).await {
            Ok(p) => Ok(Ok(p)),
            Err(JupiterSwapError::Refused(why)) => {
                metrics::counter!("keeper_jupiter_refused_total", "chain" => self.chain.clone()).increment(1);
                tracing::warn!(chain = %self.chain, trade = t.id, %why, "refused Jupiter's swap transaction");
                Ok(Err(format!("refused Jupiter's swap transaction: {why}")))
            }
            Err(e) => Err(TradeError::Rpc(e.to_string())),
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
    async fn landed(&self, t: &TradeRow, sigs: &[Signature]) -> Result<Option<Outcome>, TradeError> {
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
            return Ok(Some(self.fill(t, sig, status.slot).await?));
        }
        Ok(None)
    }

    /// What the wallet received in the landed transaction: our program's `Swapped` events for
    /// it (AMM), or its output token balance change (any other venue).
    async fn fill(&self, t: &TradeRow, sig: &Signature, slot: u64) -> Result<Outcome, TradeError> {
        let config = RpcTransactionConfig {
            encoding: Some(UiTransactionEncoding::Base64),
            commitment: Some(self.commitment),
            max_supported_transaction_version: Some(0),
        };
        let tx = self.rpc.get_transaction_with_config(sig, config).await.map_err(rpc)?;
        let fee = tx.transaction.meta.as_ref().map(|m| m.fee).unwrap_or(0);
        let mut out = 0u64;
        if t.venue == AMM_VENUE {
            let events = decode_events(&tx, &amm::ID).map_err(TradeError::Invalid)?;
            for (_, e) in events {
                if let client::AmmEvent::Swapped(s) = e {
                    if s.trader == self.owner {
                        out = out.saturating_add(s.amount_out);
                    }
                }
            }
        } else if let Some(meta) = &tx.transaction.meta {
            let output = if t.is_buy() { &t.token } else { &t.quote_token };
            let owner = self.owner.to_string();
            let held = |balances: &OptionSerializer<Vec<UiTransactionTokenBalance>>| -> u64 {
                let balances: Option<&Vec<UiTransactionTokenBalance>> = balances.as_ref().into();
                balances
                    .into_iter()
                    .flatten()
                    .filter(|b| &b.mint == output && Option::<&String>::from(b.owner.as_ref()) == Some(&owner))
                    .map(|b| b.ui_token_amount.amount.parse::<u64>().unwrap_or(0))
                    .fold(0u64, u64::saturating_add)
            };
            out = held(&meta.post_token_balances).saturating_sub(held(&meta.pre_token_balances));
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

use futures::{future::BoxFuture, FutureExt};

use crate::pipeline::PoolRecord;

impl super::executor::Executor for SolanaTrader {
    fn quote_buy<'a>(
        &'a self,
        pool: &'a PoolRecord,
        token: &'a str,
        quote_token: &'a str,
        amount_in: U256,
    ) -> BoxFuture<'a, super::executor::Quoted> {
        self.quote(&pool.venue, &pool.address, token, quote_token, amount_in, true).boxed()
    }

    fn check_sell<'a>(
        &'a self,
        p: &'a PositionRow,
        size: U256,
        mode: super::Mode,
    ) -> BoxFuture<'a, Result<SellCheck, TradeError>> {
        self.check_sell(p, size, mode).boxed()
    }

    fn decimals<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<u8, TradeError>> {
        self.decimals(token).boxed()
    }

    /// A position on our AMM (one pool per pair and config) whose pool will not take its sale
    /// can still be sold through Jupiter, which routes over every venue: the trapped exit's
    /// other route when Jupiter is enabled. Its sale is checked, like every Jupiter sale, by
    /// simulating Jupiter's own transaction from our wallet.
    fn other_routes<'a>(
        &'a self,
        p: &'a PositionRow,
    ) -> BoxFuture<'a, Result<Vec<super::executor::OtherRoute>, TradeError>> {
        let routes = if self.jupiter.is_some() && p.venue == AMM_VENUE {
            vec![super::executor::OtherRoute { venue: JUPITER_VENUE.into(), pool_address: p.pool_address.clone() }]
        } else {
            Vec::new()
        };
        async move { Ok(routes) }.boxed()
    }

    fn execute<'a>(
        &'a self,
        db: &'a SqlitePool,
        t: &'a TradeRow,
        seen_at: Option<Instant>,
    ) -> BoxFuture<'a, Result<Outcome, TradeError>> {
        self.execute(db, t, seen_at).boxed()
    }

    fn resume<'a>(&'a self, db: &'a SqlitePool, t: &'a TradeRow) -> BoxFuture<'a, Result<Outcome, TradeError>> {
        self.resume(db, t).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::{price_of, priority_price};

    #[test]
    fn the_priority_fee_is_a_nearest_rank_percentile_between_the_floor_and_the_cap() {
        let recent = vec![0, 9_000, 1_000, 5_000, 0, 3_000, 7_000, 20_000, 2_000, 4_000];
        // Sorted: 0 0 1000 2000 3000 4000 5000 7000 9000 20000.
        assert_eq!(priority_price(recent.clone(), 50, 0, u64::MAX), 3_000);
        assert_eq!(priority_price(recent.clone(), 75, 0, u64::MAX), 7_000);
        assert_eq!(priority_price(recent.clone(), 100, 0, u64::MAX), 20_000);
        assert_eq!(priority_price(recent.clone(), 1, 0, u64::MAX), 0);
        assert_eq!(priority_price(recent.clone(), 50, 4_000, u64::MAX), 4_000, "the floor");
        assert_eq!(priority_price(recent.clone(), 100, 0, 10_000), 10_000, "the cap");
        assert_eq!(priority_price(recent, 0, 1_234, 10_000), 1_234, "off: the configured fee");
        assert_eq!(priority_price(Vec::new(), 90, 1_234, 10_000), 1_234, "nothing recent");
    }

    #[test]
    fn the_price_is_read_back_from_the_compute_budget_instructions() {
        assert_eq!(price_of(&super::compute_budget(200_000, 42_000)), 42_000);
        assert_eq!(price_of(&[]), 0);
    }
}
