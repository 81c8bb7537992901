//! Unsigned transactions for a wallet to sign, the way aggregator swap APIs hand them to wallets.
//! The server never sees a key. Each Solana transaction is a v0 message built, measured and
//! simulated by [`crate::wallet_tx`] against the configured Solana RPC; the pools and configs
//! are read from the chain at that moment, never from the mirror, so the slippage bounds are
//! computed on the state the transaction will meet.
//! - `POST /api/v1/tx/swap`: a swap on one of our pools ([`swap`]);
//! - `POST /api/v1/tx/deposit`, `/tx/withdraw`: liquidity in and out ([`liquidity`]);
//! - `POST /api/v1/tx/create-pool`: a new pool with its first liquidity ([`create_pool`]);
//! - `POST /api/v1/tx/transfer`: an SPL transfer ([`transfer`]);
//! - `POST /api/v1/tx/evm/swap`: calldata for the Uniswap V2-style router of a mirrored EVM pair
//!   ([`evm_swap`]).
//!
//! Every amount and bound is an integer of base units, as a decimal string.

pub mod create_pool;
pub mod evm_swap;
pub mod liquidity;
pub mod swap;
pub mod transfer;

use amm::{client::PoolAddresses, AmmConfig, Pool};
use anchor_lang::prelude::Pubkey;
use anchor_spl::{associated_token, token::spl_token, token_2022};
use axum::{routing::post, Router};

use crate::{
    error::{ApiError, ApiResult},
    solana_rpc, AppState,
};

/// The default slippage tolerance, in basis points.
const DEFAULT_SLIPPAGE_BPS: u16 = 50;
/// The widest slippage tolerance accepted, in basis points.
const MAX_SLIPPAGE_BPS: u16 = 5_000;

pub(crate) fn pubkey(field: &str, v: &str) -> ApiResult<Pubkey> {
    v.parse().map_err(|_| ApiError::invalid(field, "must be a base58 public key"))
}

/// A positive amount of base units below 2^64, from its decimal string.
pub(crate) fn positive_amount(field: &str, v: &str) -> ApiResult<u64> {
    v.parse().ok().filter(|a| *a > 0).ok_or_else(|| ApiError::invalid(field, "must be a positive integer below 2^64"))
}

/// The slippage tolerance in basis points: the default when absent, at most 5,000.
pub(crate) fn slippage_bps(v: Option<u16>) -> ApiResult<u64> {
    let bps = v.unwrap_or(DEFAULT_SLIPPAGE_BPS);
    if bps > MAX_SLIPPAGE_BPS {
        return Err(ApiError::invalid("slippage_bps", format!("must be 0-{MAX_SLIPPAGE_BPS}")));
    }
    Ok(u64::from(bps))
}

/// `amount` less `bps` basis points, rounded down: a minimum to receive.
pub(crate) fn at_least(amount: u64, bps: u64) -> u64 {
    // bps <= 10_000, so the result never exceeds `amount`.
    u64::try_from(u128::from(amount) * u128::from(10_000 - bps) / 10_000).unwrap_or(amount)
}

/// `amount` plus `bps` basis points, rounded up: a maximum to spend.
pub(crate) fn at_most(amount: u64, bps: u64) -> ApiResult<u64> {
    u64::try_from((u128::from(amount) * u128::from(10_000 + bps)).div_ceil(10_000))
        .map_err(|_| ApiError::Unprocessable("the slippage bound overflows u64".into()))
}

/// The Solana RPC that transactions are built and simulated against.
pub(crate) fn rpc(state: &AppState) -> ApiResult<&str> {
    state.solana_rpc.as_deref().ok_or_else(|| ApiError::Unavailable("no Solana RPC is configured".into()))
}

/// One of our pools as it is on chain now, with its config.
pub(crate) struct OnChainPool {
    pub addresses: PoolAddresses,
    pub pool: Pool,
    pub config: AmmConfig,
}

/// The pool at `address` (the request's field `field`) and its config, read from the chain;
/// 404 when no pool of ours is there.
pub(crate) async fn pool_on_chain(url: &str, field: &str, address: &str) -> ApiResult<OnChainPool> {
    let key = pubkey(field, address)?;
    let pool: Pool = solana_rpc::amm_account(url, &key).await?.ok_or_else(|| ApiError::NotFound("AMM pool".into()))?;
    let config: AmmConfig = solana_rpc::amm_account(url, &pool.config)
        .await?
        .ok_or_else(|| ApiError::Unprocessable("the pool's config is missing on chain".into()))?;
    Ok(OnChainPool { addresses: PoolAddresses::from_pool(key, &pool), pool, config })
}

/// The config at `address`, read from the chain; 404 when there is none.
pub(crate) async fn config_on_chain(url: &str, address: &Pubkey) -> ApiResult<AmmConfig> {
    solana_rpc::amm_account(url, address).await?.ok_or_else(|| ApiError::NotFound("AMM config".into()))
}

/// Whether any account exists at `address`.
pub(crate) async fn exists(url: &str, address: &Pubkey) -> ApiResult<bool> {
    Ok(solana_rpc::account(url, address).await?.is_some())
}

/// A mint read from the chain: its token program and decimals.
pub(crate) struct MintInfo {
    pub program: Pubkey,
    pub decimals: u8,
}

/// Where an SPL mint keeps its decimals (after the mint authority option and the supply), the
/// same in SPL Token and Token-2022.
const MINT_DECIMALS_OFFSET: usize = 36 + 8;
/// The size of an SPL Token mint (a Token-2022 mint is at least this, plus extensions).
const MINT_LEN: usize = 82;

/// The SPL Token or Token-2022 mint at `mint` (the request's field `field`): 404 when no account
/// is there, 400 naming the field when the account is not a mint.
pub(crate) async fn mint_on_chain(url: &str, field: &str, mint: &Pubkey) -> ApiResult<MintInfo> {
    let (program, data) = solana_rpc::account(url, mint).await?.ok_or_else(|| ApiError::NotFound("mint".into()))?;
    let is_mint =
        (program == spl_token::ID && data.len() == MINT_LEN) || (program == token_2022::ID && data.len() >= MINT_LEN);
    if !is_mint {
        return Err(ApiError::invalid(field, "is not an SPL Token or Token-2022 mint"));
    }
    Ok(MintInfo { program, decimals: data[MINT_DECIMALS_OFFSET] })
}

/// Creates `owner`'s associated account of `mint` (under token `program`) if it has none.
pub(crate) fn create_ata(
    payer: &Pubkey,
    owner: &Pubkey,
    mint: &Pubkey,
    program: &Pubkey,
) -> anchor_lang::solana_program::instruction::Instruction {
    associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent(
        payer, owner, mint, program,
    )
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tx/swap", post(swap::swap))
        .route("/tx/deposit", post(liquidity::deposit))
        .route("/tx/withdraw", post(liquidity::withdraw))
        .route("/tx/create-pool", post(create_pool::create_pool))
        .route("/tx/transfer", post(transfer::transfer))
        .route("/tx/evm/swap", post(evm_swap::evm_swap))
}
