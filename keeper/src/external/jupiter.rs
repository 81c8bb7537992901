//! Jupiter Swap API (`/quote`, `/swap`; base `https://lite-api.jup.ag/swap/v1`, or
//! `https://api.jup.ag/swap/v1` with an `x-api-key`).
//!
//! A quote names the route and the guaranteed minimum (`otherAmountThreshold`); `/swap` turns it
//! into a serialized, unsigned versioned transaction for the user. The keeper never signs that
//! transaction blindly: [`verify_swap`] checks it against the quote first.

use serde::{Deserialize, Serialize};
use solana_sdk::{pubkey::Pubkey, transaction::VersionedTransaction};

use super::{amount_str, http::KeyStyle, ExternalError, Failure, Http, Service, ServiceConfig};

/// `GET /quote` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    pub input_mint: String,
    #[serde(with = "amount_str")]
    pub in_amount: u64,
    pub output_mint: String,
    #[serde(with = "amount_str")]
    pub out_amount: u64,
    /// The least the swap may deliver (ExactIn) after slippage.
    #[serde(with = "amount_str")]
    pub other_amount_threshold: u64,
    pub swap_mode: String,
    pub slippage_bps: u32,
    #[serde(default)]
    pub price_impact_pct: String,
    pub route_plan: Vec<RoutePlanStep>,
    #[serde(default)]
    pub context_slot: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutePlanStep {
    pub swap_info: SwapInfo,
    pub percent: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwapInfo {
    pub amm_key: String,
    #[serde(default)]
    pub label: String,
    pub input_mint: String,
    pub output_mint: String,
    #[serde(with = "amount_str")]
    pub in_amount: u64,
    #[serde(with = "amount_str")]
    pub out_amount: u64,
}

/// `POST /swap` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwapResponse {
    /// Base64 of a bincode `VersionedTransaction`, signatures empty.
    pub swap_transaction: String,
    pub last_valid_block_height: u64,
    #[serde(default)]
    pub prioritization_fee_lamports: Option<u64>,
}

/// What the keeper asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRequest {
    pub input_mint: Pubkey,
    pub output_mint: Pubkey,
    pub amount: u64,
    pub slippage_bps: u32,
}

pub struct Jupiter {
    http: Http,
}

impl Jupiter {
    pub fn new(cfg: &ServiceConfig, key: Option<String>) -> Result<Self, ExternalError> {
        Ok(Self { http: Http::new(Service::Jupiter, cfg, key, KeyStyle::Header("x-api-key"), &[])? })
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    /// An ExactIn quote, checked against the request (mints, amount, slippage, a threshold
    /// that really is the slippage floor of the quoted output).
    pub async fn quote(&self, req: &QuoteRequest) -> Result<Quote, ExternalError> {
        let query = [
            ("inputMint", req.input_mint.to_string()),
            ("outputMint", req.output_mint.to_string()),
            ("amount", req.amount.to_string()),
            ("slippageBps", req.slippage_bps.to_string()),
            ("swapMode", "ExactIn".to_string()),
        ];
        let quote: Quote = self.http.get("/quote", &query).await?;
        check_quote(req, &quote).map_err(|m| self.http.error(Failure::Rejected(m)))?;
        Ok(quote)
    }

    /// The swap transaction for `quote`, paid and signed by `user`, with its expiry height.
    pub async fn swap(&self, quote: &Quote, user: &Pubkey) -> Result<(VersionedTransaction, u64), ExternalError> {
        let body = serde_json::json!({
            "quoteResponse": quote,
            "userPublicKey": user.to_string(),
            // The wallet trades from its wrapped-SOL token account, as on our AMM: every input
            // and output is a token account whose balance the checks and the fill can read.
            "wrapAndUnwrapSol": false,
            "dynamicComputeUnitLimit": true,
        });
        let r: SwapResponse = self.http.post("/swap", &body).await?;
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &r.swap_transaction)
            .map_err(|e| self.http.error(Failure::Malformed(format!("swapTransaction is not base64: {e}"))))?;
        let tx: VersionedTransaction = bincode::deserialize(&bytes)
            .map_err(|e| self.http.error(Failure::Malformed(format!("swapTransaction is not a transaction: {e}"))))?;
        Ok((tx, r.last_valid_block_height))
    }
}

/// The quote answers the request, and its threshold is the slippage floor it claims.
pub fn check_quote(req: &QuoteRequest, q: &Quote) -> Result<(), String> {
    if q.input_mint != req.input_mint.to_string() || q.output_mint != req.output_mint.to_string() {
        return Err(format!("quote is for {} -> {}, not the requested pair", q.input_mint, q.output_mint));
    }
    if q.swap_mode != "ExactIn" || q.in_amount != req.amount {
        return Err(format!("quote is {} of {}, not ExactIn of {}", q.swap_mode, q.in_amount, req.amount));
    }
    if q.slippage_bps > req.slippage_bps {
        return Err(format!(
            "quote allows {} bps of slippage, more than the {} asked",
            q.slippage_bps, req.slippage_bps
        ));
    }
    let floor = u128::from(q.out_amount) * u128::from(10_000 - req.slippage_bps.min(10_000)) / 10_000;
    if u128::from(q.other_amount_threshold) < floor || q.other_amount_threshold > q.out_amount {
        return Err(format!(
            "quote threshold {} is not within {} bps of its output {}",
            q.other_amount_threshold, req.slippage_bps, q.out_amount
        ));
    }
    if q.out_amount == 0 || q.route_plan.is_empty() {
        return Err("quote has no output or no route".into());
    }
    Ok(())
}

/// What a swap transaction did to the user's balances in a simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulatedSwap {
    /// Input token the user's accounts lost.
    pub spent: u64,
    /// Output token they gained.
    pub received: u64,
    /// Lamports the fee payer lost beyond the input (fees, rent of new accounts).
    pub lamports_spent: u64,
}

/// The checks on a swap transaction before the keeper signs it: `user` pays the fee and is the
/// only signer, every program it invokes is in `allowed_programs`, it references no address
/// lookup table the keeper cannot inspect, and (from a simulation) it spends no more than the
/// quote's input and delivers at least its threshold without draining more than
/// `max_lamports` of SOL.
pub fn verify_swap(
    tx: &VersionedTransaction,
    user: &Pubkey,
    allowed_programs: &[Pubkey],
    quote: &Quote,
    simulated: Option<SimulatedSwap>,
    max_lamports: u64,
) -> Result<(), String> {
    verify_static(tx, user, allowed_programs)?;
    let sim = simulated.ok_or("the simulation did not report balances")?;
    if sim.spent > quote.in_amount {
        return Err(format!("spends {} of the input, more than the quoted {}", sim.spent, quote.in_amount));
    }
    if sim.received < quote.other_amount_threshold {
        return Err(format!(
            "delivers {} of the output, less than the quote's minimum {}",
            sim.received, quote.other_amount_threshold
        ));
    }
    if sim.lamports_spent > max_lamports {
        return Err(format!("costs {} lamports in SOL, more than the {} allowed", sim.lamports_spent, max_lamports));
    }
    Ok(())
}

/// The checks that need no simulation: fee payer, signers, lookup tables, programs.
pub fn verify_static(tx: &VersionedTransaction, user: &Pubkey, allowed_programs: &[Pubkey]) -> Result<(), String> {
    let msg = &tx.message;
    let keys = msg.static_account_keys();
    if keys.first() != Some(user) {
        return Err(format!(
            "fee payer is {}, not the keeper's wallet",
            keys.first().map(ToString::to_string).unwrap_or_default()
        ));
    }
    let header = msg.header();
    if header.num_required_signatures != 1 {
        return Err(format!("needs {} signatures; only the wallet's is expected", header.num_required_signatures));
    }
    if msg.address_table_lookups().is_some_and(|l| !l.is_empty()) {
        return Err("uses address lookup tables; cannot check every account".into());
    }
    for ix in msg.instructions() {
        let program = keys.get(usize::from(ix.program_id_index)).ok_or("instruction names a missing program")?;
        if !allowed_programs.contains(program) {
            return Err(format!("invokes program {program}, which is not allowed"));
        }
    }
    Ok(())
}
