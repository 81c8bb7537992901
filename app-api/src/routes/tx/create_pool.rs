//! `POST /api/v1/tx/create-pool`: a new pool of two classic SPL Token mints under one of the
//! program's configs, seeded with the wallet's first liquidity. The mints may come in either
//! order: the pool keeps them sorted, and the response says which became A and which B.

use amm::{
    client::{self, config_address, sort_mints, PoolAddresses},
    math::liquidity::initial_liquidity,
};
use anchor_spl::{associated_token::get_associated_token_address, token::spl_token};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{config_on_chain, exists, mint_on_chain, positive_amount, pubkey, rpc};
use crate::{
    error::{ApiError, ApiResult},
    json::ApiJson,
    wallet_tx::{self, WalletTransaction},
    AppState,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePoolRequest {
    /// The wallet that creates the pool, provides its first liquidity, signs and pays (base58).
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub wallet: String,
    /// One mint of the pair (base58, classic SPL Token).
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub mint_x: String,
    /// The other mint.
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub mint_y: String,
    /// The first liquidity of `mint_x` (base units, a positive integer below 2^64).
    #[schema(pattern = "^[1-9][0-9]{0,18}$")]
    pub amount_x: String,
    /// The first liquidity of `mint_y`.
    #[schema(pattern = "^[1-9][0-9]{0,18}$")]
    pub amount_y: String,
    /// The config the pool is created under, by index (default 0); it sets the fees.
    #[serde(default)]
    pub config_index: Option<u16>,
    /// Unix time before which the pool refuses swaps (default 0: open at once).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub open_time: Option<i64>,
    /// Compute-unit price in micro-lamports; the recent median for the accounts when absent.
    #[serde(default)]
    pub priority_fee_micro_lamports: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatePoolTransaction {
    #[serde(flatten)]
    pub tx: WalletTransaction,
    pub pool: String,
    pub config: String,
    pub lp_mint: String,
    /// The mints in the pool's order (`mint_a < mint_b`) and the amounts of each.
    pub mint_a: String,
    pub mint_b: String,
    pub amount_a: String,
    pub amount_b: String,
    /// LP tokens minted to the creator (the LP supply less the 1,000 locked forever).
    pub lp_amount: String,
}

/// Builds an unsigned, simulated pool creation.
#[utoipa::path(post, path = "/api/v1/tx/create-pool", tag = "wallets", request_body = CreatePoolRequest,
    responses((status = 200, body = CreatePoolTransaction), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn create_pool(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreatePoolRequest>,
) -> ApiResult<Json<CreatePoolTransaction>> {
    let wallet = pubkey("wallet", &req.wallet)?;
    let x = pubkey("mint_x", &req.mint_x)?;
    let y = pubkey("mint_y", &req.mint_y)?;
    let amount_x = positive_amount("amount_x", &req.amount_x)?;
    let amount_y = positive_amount("amount_y", &req.amount_y)?;
    let open_time = req.open_time.unwrap_or(0);
    if open_time < 0 {
        return Err(ApiError::invalid("open_time", "must be a unix time, at least 0"));
    }
    let (mint_a, mint_b) = sort_mints(x, y).ok_or_else(|| ApiError::invalid("mint_y", "must differ from mint_x"))?;
    let (amount_a, amount_b) = if mint_a == x { (amount_x, amount_y) } else { (amount_y, amount_x) };
    let lp = initial_liquidity(amount_a, amount_b)
        .map_err(|e| ApiError::invalid("amount_x", format!("the first liquidity is too small: {e}")))?;
    let url = rpc(&state)?;
    for (field, mint) in [("mint_x", &x), ("mint_y", &y)] {
        if mint_on_chain(url, field, mint).await?.program != spl_token::ID {
            return Err(ApiError::invalid(field, "must be a classic SPL Token mint (the pools refuse Token-2022)"));
        }
    }
    let config = config_address(req.config_index.unwrap_or(0));
    config_on_chain(url, &config).await?;
    let p = PoolAddresses::derive(config, mint_a, mint_b);
    if exists(url, &p.pool).await? {
        return Err(ApiError::Conflict(format!("a pool of these mints already exists under this config: {}", p.pool)));
    }
    let ix = client::initialize_pool(
        wallet,
        &p,
        get_associated_token_address(&wallet, &mint_a),
        get_associated_token_address(&wallet, &mint_b),
        amount_a,
        amount_b,
        open_time,
    );
    let tx = wallet_tx::build(url, &wallet, &[ix], req.priority_fee_micro_lamports).await?;
    Ok(Json(CreatePoolTransaction {
        tx,
        pool: p.pool.to_string(),
        config: config.to_string(),
        lp_mint: p.lp_mint.to_string(),
        mint_a: mint_a.to_string(),
        mint_b: mint_b.to_string(),
        amount_a: amount_a.to_string(),
        amount_b: amount_b.to_string(),
        lp_amount: lp.lp_to_creator.to_string(),
    }))
}
