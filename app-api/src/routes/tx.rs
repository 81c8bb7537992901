//! Unsigned transactions for a wallet to sign, the way aggregator swap APIs hand them to wallets.
//! The server never sees a key.
//! - `POST /api/v1/tx/swap`: a swap on our AMM (base64, legacy format) with the wallet as fee
//!   payer and only signer, the quote it was built from, and the slippage bounds written into the
//!   instruction.
//! - `POST /api/v1/tx/transfer`: an SPL transfer that creates the recipient's associated account
//!   idempotently; a v0 transaction simulated before it is returned ([`crate::wallet_tx`]).

use amm::{
    client::{self, PoolAddresses},
    math::curve::{swap_exact_in, swap_exact_out, Fees},
};
use anchor_lang::prelude::Pubkey;
use anchor_spl::{associated_token, token::spl_token, token_2022};
use axum::{extract::State, routing::post, Json, Router};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{Deserialize, Serialize};
use solana_sdk::{hash::Hash, message::Message, transaction::Transaction};
use utoipa::ToSchema;

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
    /// A recent blockhash (base58) to build with; otherwise the server's Solana RPC supplies one,
    /// or the zero hash is used and the wallet must replace it before signing.
    #[serde(default)]
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub recent_blockhash: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SwapTransaction {
    /// bincode-serialized legacy transaction, base64, unsigned.
    pub transaction: String,
    pub recent_blockhash: String,
    /// False when the zero hash was used: set a recent blockhash before signing.
    pub blockhash_is_recent: bool,
    pub input_mint: String,
    pub output_mint: String,
    /// The quote on the mirrored reserves (base units).
    pub quoted_amount_in: String,
    pub quoted_amount_out: String,
    /// The bound the program enforces: the minimum received (exact_in) or the maximum spent (exact_out).
    pub other_amount_threshold: String,
}

fn pubkey(field: &str, v: &str) -> ApiResult<Pubkey> {
    v.parse().map_err(|_| ApiError::invalid(field, "must be a base58 public key"))
}

/// A positive amount of base units below 2^64, from its decimal string.
fn positive_amount(field: &str, v: &str) -> ApiResult<u64> {
    v.parse().ok().filter(|a| *a > 0).ok_or_else(|| ApiError::invalid(field, "must be a positive integer below 2^64"))
}

/// The Solana RPC that transactions are built and simulated against.
fn rpc(state: &AppState) -> ApiResult<&str> {
    state.solana_rpc.as_deref().ok_or_else(|| ApiError::Unavailable("no Solana RPC is configured".into()))
}

/// Builds an unsigned swap transaction.
#[utoipa::path(post, path = "/api/v1/tx/swap", tag = "quote", request_body = SwapRequest,
    responses((status = 200, body = SwapTransaction), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn swap(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SwapRequest>,
) -> ApiResult<Json<SwapTransaction>> {
    let pool_key = pubkey("pool", &req.pool)?;
    let wallet = pubkey("wallet", &req.wallet)?;
    let amount = positive_amount("amount", &req.amount)?;
    let exact_in = match req.mode.as_deref() {
        None | Some("exact_in") => true,
        Some("exact_out") => false,
        Some(_) => return Err(ApiError::invalid("mode", "must be exact_in or exact_out")),
    };
    let slippage = u64::from(req.slippage_bps.unwrap_or(50));
    if slippage > 5_000 {
        return Err(ApiError::invalid("slippage_bps", "must be 0-5000"));
    }
    let given_hash = match &req.recent_blockhash {
        Some(h) => Some(h.parse::<Hash>().map_err(|_| ApiError::invalid("recent_blockhash", "must be a base58 hash"))?),
        None => None,
    };
    let mirror::reads::AmmPool { token_a, token_b, reserve_a, reserve_b, fee_bps, config, .. } =
        mirror::reads::amm_pool(&state.db, &state.solana_chain, &pool_key.to_string())
            .await?
            .ok_or_else(|| ApiError::NotFound("AMM pool".into()))?;
    let unprocessable = |m: &str| ApiError::Unprocessable(m.to_string());
    let config: Pubkey =
        config.and_then(|c| c.parse().ok()).ok_or_else(|| unprocessable("the pool's creation is not indexed yet"))?;
    let (mint_a, mint_b): (Pubkey, Pubkey) = (
        token_a.parse().map_err(|_| unprocessable("malformed mint in the mirror"))?,
        token_b.parse().map_err(|_| unprocessable("malformed mint in the mirror"))?,
    );
    let p = PoolAddresses::derive(config, mint_a, mint_b);
    if p.pool != pool_key {
        return Err(unprocessable("the mirrored pool does not derive from its config and mints"));
    }
    let ra: u64 = reserve_a.parse().map_err(|_| unprocessable("reserves out of range"))?;
    let rb: u64 = reserve_b.parse().map_err(|_| unprocessable("reserves out of range"))?;
    let (reserve_in, reserve_out, mint_in, mint_out) =
        if req.a_to_b { (ra, rb, mint_a, mint_b) } else { (rb, ra, mint_b, mint_a) };
    let fees = Fees {
        trade_fee_bps: u16::try_from(fee_bps.unwrap_or(30)).map_err(|_| unprocessable("fee out of range"))?,
        protocol_fee_share_bps: 0,
    };
    let q = if exact_in {
        swap_exact_in(amount, reserve_in, reserve_out, fees)
    } else {
        swap_exact_out(amount, reserve_in, reserve_out, fees)
    }
    .map_err(|e| ApiError::Unprocessable(format!("no quote: {e}")))?;
    // Integer slippage bounds: floor for the minimum out, ceiling for the maximum in.
    let threshold = if exact_in {
        u128::from(q.amount_out) * u128::from(10_000 - slippage) / 10_000
    } else {
        (u128::from(q.amount_in) * u128::from(10_000 + slippage)).div_ceil(10_000)
    };
    let threshold = u64::try_from(threshold).map_err(|_| unprocessable("slippage bound overflows u64"))?;
    let user_in = associated_token::get_associated_token_address(&wallet, &mint_in);
    let user_out = associated_token::get_associated_token_address(&wallet, &mint_out);
    let create_out =
        associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent(
            &wallet,
            &wallet,
            &mint_out,
            &spl_token::ID,
        );
    let swap = if exact_in {
        client::swap_exact_in(&p, wallet, req.a_to_b, user_in, user_out, amount, threshold)
    } else {
        client::swap_exact_out(&p, wallet, req.a_to_b, user_in, user_out, amount, threshold)
    };
    let (blockhash, recent) = match given_hash {
        Some(h) => (h, true),
        None => match &state.solana_rpc {
            Some(url) => (crate::solana_rpc::latest_blockhash(url).await?.0, true),
            None => (Hash::default(), false),
        },
    };
    let tx = Transaction::new_unsigned(Message::new_with_blockhash(&[create_out, swap], Some(&wallet), &blockhash));
    let bytes = bincode::serialize(&tx).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(SwapTransaction {
        transaction: STANDARD.encode(bytes),
        recent_blockhash: blockhash.to_string(),
        blockhash_is_recent: recent,
        input_mint: mint_in.to_string(),
        output_mint: mint_out.to_string(),
        quoted_amount_in: q.amount_in.to_string(),
        quoted_amount_out: q.amount_out.to_string(),
        other_amount_threshold: threshold.to_string(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The wallet that owns the tokens, signs and pays (base58).
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub wallet: String,
    /// The SPL Token or Token-2022 mint (base58).
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub mint: String,
    /// The recipient wallet (base58); its associated account is created if it has none.
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub to: String,
    /// Base units, a positive integer below 2^64, as a decimal string.
    #[schema(pattern = "^[1-9][0-9]{0,18}$")]
    pub amount: String,
    /// Compute-unit price in micro-lamports; the recent median for the accounts when absent.
    #[serde(default)]
    pub priority_fee_micro_lamports: Option<u64>,
}

/// An SPL transfer and the accounts it moves tokens between.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferTransaction {
    #[serde(flatten)]
    pub tx: WalletTransaction,
    pub source: String,
    pub destination: String,
    /// The token program of the mint.
    pub program: String,
    pub amount: String,
    pub decimals: u8,
}

/// Where an SPL mint keeps its decimals (after the mint authority option and the supply), the
/// same in SPL Token and Token-2022.
const MINT_DECIMALS_OFFSET: usize = 36 + 8;

/// Builds an unsigned, simulated SPL transfer (`transfer_checked`), creating the recipient's
/// associated token account idempotently.
#[utoipa::path(post, path = "/api/v1/tx/transfer", tag = "wallets", request_body = TransferRequest,
    responses((status = 200, body = TransferTransaction), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn transfer(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TransferRequest>,
) -> ApiResult<Json<TransferTransaction>> {
    let wallet = pubkey("wallet", &req.wallet)?;
    let mint = pubkey("mint", &req.mint)?;
    let to = pubkey("to", &req.to)?;
    let amount = positive_amount("amount", &req.amount)?;
    let url = rpc(&state)?;
    let (program, data) =
        crate::solana_rpc::account(url, &mint).await?.ok_or_else(|| ApiError::NotFound("mint".into()))?;
    let is_mint = (program == spl_token::ID && data.len() == 82) || (program == token_2022::ID && data.len() >= 82);
    if !is_mint {
        return Err(ApiError::invalid("mint", "is not an SPL Token or Token-2022 mint"));
    }
    let decimals = data[MINT_DECIMALS_OFFSET];
    let source = associated_token::get_associated_token_address_with_program_id(&wallet, &mint, &program);
    let destination = associated_token::get_associated_token_address_with_program_id(&to, &mint, &program);
    let create =
        associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent(
            &wallet, &to, &mint, &program,
        );
    let send = token_2022::spl_token_2022::instruction::transfer_checked(
        &program,
        &source,
        &mint,
        &destination,
        &wallet,
        &[],
        amount,
        decimals,
    )
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let tx = wallet_tx::build(url, &wallet, &[create, send], req.priority_fee_micro_lamports).await?;
    Ok(Json(TransferTransaction {
        tx,
        source: source.to_string(),
        destination: destination.to_string(),
        program: program.to_string(),
        amount: amount.to_string(),
        decimals,
    }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/tx/swap", post(swap)).route("/tx/transfer", post(transfer))
}
