//! `POST /api/v1/tx/transfer`: an SPL transfer (`transfer_checked`, SPL Token or Token-2022)
//! that creates the recipient's associated account idempotently.

use anchor_spl::{associated_token, token_2022};
use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{create_ata, mint_on_chain, positive_amount, pubkey, rpc};
use crate::{
    error::{ApiError, ApiResult},
    json::ApiJson,
    wallet_tx::{self, WalletTransaction},
    AppState,
};

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
    let super::MintInfo { program, decimals } = mint_on_chain(url, "mint", &mint).await?;
    let source = associated_token::get_associated_token_address_with_program_id(&wallet, &mint, &program);
    let destination = associated_token::get_associated_token_address_with_program_id(&to, &mint, &program);
    let create = create_ata(&wallet, &to, &mint, &program);
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
