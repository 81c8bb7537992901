//! `POST /api/v1/tx/deposit` and `POST /api/v1/tx/withdraw`: liquidity in and out of one of our
//! pools, sized on the pool as it is on chain, with integer bounds the program enforces:
//! - a deposit names the most of each token the wallet will spend; it mints the LP tokens those
//!   maxima buy, less the slippage tolerance, so the price may move by that much before the
//!   program refuses it (`max_amount_a` / `max_amount_b` are written into the instruction);
//! - a withdrawal burns LP tokens for at least the amounts they redeem for now, less the
//!   slippage tolerance (or the explicit minima given).

use amm::{
    client::{self, UserAccounts},
    math::liquidity::{deposit_amounts, lp_for_max_amounts, withdraw_amounts},
};
use anchor_lang::prelude::Pubkey;
use anchor_spl::{associated_token::get_associated_token_address, token::spl_token};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{at_least, create_ata, pool_on_chain, positive_amount, pubkey, rpc, slippage_bps, OnChainPool};
use crate::{
    error::{ApiError, ApiResult},
    json::ApiJson,
    wallet_tx::{self, WalletTransaction},
    AppState,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositRequest {
    /// The pool (base58).
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub pool: String,
    /// The wallet that provides the tokens, signs and pays (base58).
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub wallet: String,
    /// The most of token A to spend (base units, a positive integer below 2^64).
    #[schema(pattern = "^[1-9][0-9]{0,18}$")]
    pub max_amount_a: String,
    /// The most of token B to spend.
    #[schema(pattern = "^[1-9][0-9]{0,18}$")]
    pub max_amount_b: String,
    /// How far the price may move before the deposit is refused, in basis points (default 50,
    /// at most 5000).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 5000)]
    pub slippage_bps: Option<u16>,
    /// Compute-unit price in micro-lamports; the recent median for the accounts when absent.
    #[serde(default)]
    pub priority_fee_micro_lamports: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepositTransaction {
    #[serde(flatten)]
    pub tx: WalletTransaction,
    pub lp_mint: String,
    /// LP tokens minted to the wallet's associated account (created if missing).
    pub lp_amount: String,
    /// What the deposit takes at the current reserves.
    pub amount_a: String,
    pub amount_b: String,
    /// The bounds the program enforces.
    pub max_amount_a: String,
    pub max_amount_b: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// The pool (base58).
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub pool: String,
    /// The wallet that holds the LP tokens, signs and pays (base58).
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub wallet: String,
    /// LP tokens to burn (base units, a positive integer below 2^64).
    #[schema(pattern = "^[1-9][0-9]{0,18}$")]
    pub lp_amount: String,
    /// The minima are what the LP tokens redeem for now less this, in basis points (default 50,
    /// at most 5000), unless they are given.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 5000)]
    pub slippage_bps: Option<u16>,
    /// The least of token A to receive (base units), instead of the slippage tolerance.
    #[serde(default)]
    #[schema(pattern = "^[0-9]{1,20}$")]
    pub min_amount_a: Option<String>,
    /// The least of token B to receive.
    #[serde(default)]
    #[schema(pattern = "^[0-9]{1,20}$")]
    pub min_amount_b: Option<String>,
    /// Compute-unit price in micro-lamports; the recent median for the accounts when absent.
    #[serde(default)]
    pub priority_fee_micro_lamports: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawTransaction {
    #[serde(flatten)]
    pub tx: WalletTransaction,
    pub lp_amount: String,
    /// What the LP tokens redeem for at the current reserves.
    pub amount_a: String,
    pub amount_b: String,
    /// The bounds the program enforces.
    pub min_amount_a: String,
    pub min_amount_b: String,
}

fn user_accounts(wallet: Pubkey, p: &OnChainPool) -> UserAccounts {
    UserAccounts {
        owner: wallet,
        token_a: get_associated_token_address(&wallet, &p.pool.mint_a),
        token_b: get_associated_token_address(&wallet, &p.pool.mint_b),
        lp: get_associated_token_address(&wallet, &p.pool.lp_mint),
    }
}

fn math_error(e: amm::AmmError) -> ApiError {
    ApiError::Unprocessable(format!("the pool cannot take this: {e}"))
}

/// Builds an unsigned, simulated deposit.
#[utoipa::path(post, path = "/api/v1/tx/deposit", tag = "wallets", request_body = DepositRequest,
    responses((status = 200, body = DepositTransaction), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn deposit(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<DepositRequest>,
) -> ApiResult<Json<DepositTransaction>> {
    pubkey("pool", &req.pool)?;
    let wallet = pubkey("wallet", &req.wallet)?;
    let max_a = positive_amount("max_amount_a", &req.max_amount_a)?;
    let max_b = positive_amount("max_amount_b", &req.max_amount_b)?;
    let slippage = slippage_bps(req.slippage_bps)?;
    let url = rpc(&state)?;
    let p = pool_on_chain(url, "pool", &req.pool).await?;
    let (ra, rb, supply) = (p.pool.reserve_a, p.pool.reserve_b, p.pool.lp_supply);
    let lp = at_least(lp_for_max_amounts(max_a, max_b, ra, rb, supply).map_err(math_error)?, slippage);
    if lp == 0 {
        return Err(ApiError::invalid("max_amount_a", "the maxima buy no LP tokens at the current reserves"));
    }
    let (amount_a, amount_b) = deposit_amounts(lp, ra, rb, supply).map_err(math_error)?;
    let user = user_accounts(wallet, &p);
    let ixs = [
        create_ata(&wallet, &wallet, &p.pool.lp_mint, &spl_token::ID),
        client::deposit(&p.addresses, &user, lp, max_a, max_b),
    ];
    let tx = wallet_tx::build(url, &wallet, &ixs, req.priority_fee_micro_lamports).await?;
    Ok(Json(DepositTransaction {
        tx,
        lp_mint: p.pool.lp_mint.to_string(),
        lp_amount: lp.to_string(),
        amount_a: amount_a.to_string(),
        amount_b: amount_b.to_string(),
        max_amount_a: max_a.to_string(),
        max_amount_b: max_b.to_string(),
    }))
}

/// An optional minimum from its decimal string.
fn minimum(field: &str, v: &Option<String>) -> ApiResult<Option<u64>> {
    v.as_deref().map(|s| s.parse().map_err(|_| ApiError::invalid(field, "must be an integer below 2^64"))).transpose()
}

/// Builds an unsigned, simulated withdrawal.
#[utoipa::path(post, path = "/api/v1/tx/withdraw", tag = "wallets", request_body = WithdrawRequest,
    responses((status = 200, body = WithdrawTransaction), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn withdraw(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<WithdrawRequest>,
) -> ApiResult<Json<WithdrawTransaction>> {
    pubkey("pool", &req.pool)?;
    let wallet = pubkey("wallet", &req.wallet)?;
    let lp = positive_amount("lp_amount", &req.lp_amount)?;
    let slippage = slippage_bps(req.slippage_bps)?;
    let given_a = minimum("min_amount_a", &req.min_amount_a)?;
    let given_b = minimum("min_amount_b", &req.min_amount_b)?;
    let url = rpc(&state)?;
    let p = pool_on_chain(url, "pool", &req.pool).await?;
    let (amount_a, amount_b) =
        withdraw_amounts(lp, p.pool.reserve_a, p.pool.reserve_b, p.pool.lp_supply).map_err(math_error)?;
    let min_a = given_a.unwrap_or_else(|| at_least(amount_a, slippage));
    let min_b = given_b.unwrap_or_else(|| at_least(amount_b, slippage));
    let user = user_accounts(wallet, &p);
    let ixs = [
        create_ata(&wallet, &wallet, &p.pool.mint_a, &spl_token::ID),
        create_ata(&wallet, &wallet, &p.pool.mint_b, &spl_token::ID),
        client::withdraw(&p.addresses, &user, lp, min_a, min_b),
    ];
    let tx = wallet_tx::build(url, &wallet, &ixs, req.priority_fee_micro_lamports).await?;
    Ok(Json(WithdrawTransaction {
        tx,
        lp_amount: lp.to_string(),
        amount_a: amount_a.to_string(),
        amount_b: amount_b.to_string(),
        min_amount_a: min_a.to_string(),
        min_amount_b: min_b.to_string(),
    }))
}
