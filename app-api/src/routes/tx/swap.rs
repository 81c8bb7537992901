//! `POST /api/v1/tx/swap`: a swap on one of our pools, priced on the pool as it is on chain, with
//! the integer slippage bound written into the instruction. The output token's associated
//! account is created idempotently, so a wallet can buy a token it has never held.

use amm::{
    client,
    math::curve::{swap_exact_in, swap_exact_out},
};
use anchor_lang::prelude::Pubkey;
use anchor_spl::{associated_token, token::spl_token};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{at_least, at_most, create_ata, pool_on_chain, positive_amount, pubkey, rpc, slippage_bps, OnChainPool};
use crate::{
    error::{ApiError, ApiResult},
    json::ApiJson,
    wallet_tx::{self, WalletTransaction},
    AppState,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwapRequest {
    /// The pool (base58).
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub pool: String,
    /// The wallet that signs and pays (base58).
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub wallet: String,
    /// Swap token_a for token_b.
    pub a_to_b: bool,
    /// exact_in (default): `amount` is spent; exact_out: `amount` is received.
    #[serde(default)]
    #[schema(pattern = "^(exact_in|exact_out)$")]
    pub mode: Option<String>,
    /// Base units, a positive integer below 2^64, as a decimal string.
    #[schema(pattern = "^[1-9][0-9]{0,18}$")]
    pub amount: String,
    /// Slippage tolerance in basis points (default 50, at most 5000).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 5000)]
    pub slippage_bps: Option<u16>,
    /// Compute-unit price in micro-lamports; the recent median for the accounts when absent.
    #[serde(default)]
    pub priority_fee_micro_lamports: Option<u64>,
}

/// The swap and the quote it was built from.
#[derive(Debug, Serialize, ToSchema)]
pub struct SwapTransaction {
    #[serde(flatten)]
    pub tx: WalletTransaction,
    pub input_mint: String,
    pub output_mint: String,
    /// exact_in or exact_out.
    pub mode: String,
    /// The quote on the pool's reserves on chain (base units).
    pub quoted_amount_in: String,
    pub quoted_amount_out: String,
    /// The bound the program enforces: the minimum received (exact_in) or the maximum spent (exact_out).
    pub other_amount_threshold: String,
}

/// What a swap asks for.
pub(crate) struct SwapOrder {
    pub wallet: Pubkey,
    pub a_to_b: bool,
    pub exact_in: bool,
    pub amount: u64,
    pub slippage_bps: u64,
    pub micro_lamports: Option<u64>,
}

/// Quotes `order` on `p` and builds it into a simulated, unsigned transaction.
pub(crate) async fn build(url: &str, p: &OnChainPool, order: &SwapOrder) -> ApiResult<SwapTransaction> {
    let SwapOrder { wallet, a_to_b, exact_in, amount, slippage_bps, micro_lamports } = *order;
    let (reserve_in, reserve_out, mint_in, mint_out) = if a_to_b {
        (p.pool.reserve_a, p.pool.reserve_b, p.pool.mint_a, p.pool.mint_b)
    } else {
        (p.pool.reserve_b, p.pool.reserve_a, p.pool.mint_b, p.pool.mint_a)
    };
    let fees = p.config.fees();
    let q = if exact_in {
        swap_exact_in(amount, reserve_in, reserve_out, fees)
    } else {
        swap_exact_out(amount, reserve_in, reserve_out, fees)
    }
    .map_err(|e| ApiError::Unprocessable(format!("no quote: {e}")))?;
    // Integer slippage bounds: floor for the minimum out, ceiling for the maximum in.
    let threshold = if exact_in { at_least(q.amount_out, slippage_bps) } else { at_most(q.amount_in, slippage_bps)? };
    let user_in = associated_token::get_associated_token_address(&wallet, &mint_in);
    let user_out = associated_token::get_associated_token_address(&wallet, &mint_out);
    let swap = if exact_in {
        client::swap_exact_in(&p.addresses, wallet, a_to_b, user_in, user_out, amount, threshold)
    } else {
        client::swap_exact_out(&p.addresses, wallet, a_to_b, user_in, user_out, amount, threshold)
    };
    let tx = wallet_tx::build(
        url,
        &wallet,
        &[create_ata(&wallet, &wallet, &mint_out, &spl_token::ID), swap],
        micro_lamports,
    )
    .await?;
    Ok(SwapTransaction {
        tx,
        input_mint: mint_in.to_string(),
        output_mint: mint_out.to_string(),
        mode: if exact_in { "exact_in" } else { "exact_out" }.into(),
        quoted_amount_in: q.amount_in.to_string(),
        quoted_amount_out: q.amount_out.to_string(),
        other_amount_threshold: threshold.to_string(),
    })
}

/// Builds an unsigned, simulated swap transaction.
#[utoipa::path(post, path = "/api/v1/tx/swap", tag = "wallets", request_body = SwapRequest,
    responses((status = 200, body = SwapTransaction), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn swap(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SwapRequest>,
) -> ApiResult<Json<SwapTransaction>> {
    let wallet = pubkey("wallet", &req.wallet)?;
    pubkey("pool", &req.pool)?;
    let amount = positive_amount("amount", &req.amount)?;
    let exact_in = match req.mode.as_deref() {
        None | Some("exact_in") => true,
        Some("exact_out") => false,
        Some(_) => return Err(ApiError::invalid("mode", "must be exact_in or exact_out")),
    };
    let slippage_bps = slippage_bps(req.slippage_bps)?;
    let url = rpc(&state)?;
    let p = pool_on_chain(url, "pool", &req.pool).await?;
    let order = SwapOrder {
        wallet,
        a_to_b: req.a_to_b,
        exact_in,
        amount,
        slippage_bps,
        micro_lamports: req.priority_fee_micro_lamports,
    };
    Ok(Json(build(url, &p, &order).await?))
}
