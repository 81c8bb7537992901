//! Exact-in and exact-out quotes on our AMM's pools, computed with the program crate's own curve
//! math on the mirrored reserves (the same integer arithmetic the program runs on-chain).

use amm::math::curve::{swap_exact_in, swap_exact_out, Fees};
use axum::{extract::State, routing::get, Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::{check_chain, normalize_address};
use crate::{
    error::{ApiError, ApiResult},
    params::Params,
    AppState,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct Quote {
    pub chain: String,
    pub pool: String,
    /// exact_in or exact_out.
    pub mode: &'static str,
    pub input_mint: String,
    pub output_mint: String,
    /// Base units, decimal strings.
    pub amount_in: String,
    pub amount_out: String,
    pub fee: String,
    pub fee_bps: i64,
    /// The reserves the quote was computed on, and the slot they are from.
    pub reserve_in: String,
    pub reserve_out: String,
    pub reserves_slot: i64,
}

/// Quote a swap on one of our pools. `a_to_b` picks the direction; `amount` is the exact input
/// (mode=exact_in, default) or the exact output (mode=exact_out).
#[utoipa::path(get, path = "/api/v1/quote", tag = "quote",
    params(("pool" = String, Query, pattern = "^[A-Za-z0-9]{1,64}$", description = "pool address"),
        ("chain" = Option<String>, Query, pattern = "^[a-z0-9_-]{1,32}$", description = "chain name, default solana"),
        ("a_to_b" = bool, Query, description = "swap token_a for token_b"),
        ("amount" = String, Query, pattern = "^[1-9][0-9]{0,18}$", description = "base units, a positive integer below 2^64"),
        ("mode" = Option<String>, Query, pattern = "^(exact_in|exact_out)$", description = "exact_in (default) or exact_out")),
    responses((status = 200, body = Quote), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn quote(State(state): State<AppState>, params: Params) -> ApiResult<Json<Quote>> {
    params.only(&["pool", "chain", "a_to_b", "amount", "mode"])?;
    let chain = params.str("chain").unwrap_or("solana").to_string();
    check_chain("chain", &chain)?;
    let pool = normalize_address("pool", params.str("pool").ok_or_else(|| ApiError::invalid("pool", "is required"))?)?;
    let a_to_b: bool =
        params.parse("a_to_b", "true or false")?.ok_or_else(|| ApiError::invalid("a_to_b", "is required"))?;
    let amount: u64 = params
        .parse("amount", "a positive integer below 2^64")?
        .ok_or_else(|| ApiError::invalid("amount", "is required"))?;
    if amount == 0 {
        return Err(ApiError::invalid("amount", "must be a positive integer below 2^64"));
    }
    let mode = params.choice("mode", &["exact_in", "exact_out"])?;
    let mirror::reads::AmmPool { token_a, token_b, reserve_a, reserve_b, fee_bps, reserves_slot: slot, .. } =
        mirror::reads::amm_pool(&state.db, &chain, &pool)
            .await?
            .ok_or_else(|| ApiError::NotFound("AMM pool".into()))?;
    let parse = |s: &str| s.parse::<u64>().map_err(|_| ApiError::Unprocessable("pool reserves out of range".into()));
    let (ra, rb) = (parse(&reserve_a)?, parse(&reserve_b)?);
    let (reserve_in, reserve_out, input, output) =
        if a_to_b { (ra, rb, token_a, token_b) } else { (rb, ra, token_b, token_a) };
    let fee_bps_value = fee_bps.unwrap_or(30);
    // The protocol's share changes where the fee goes, not how much the trader pays or gets.
    let fees = Fees {
        trade_fee_bps: u16::try_from(fee_bps_value)
            .map_err(|_| ApiError::Unprocessable("pool fee out of range".into()))?,
        protocol_fee_share_bps: 0,
    };
    let result = match mode {
        "exact_in" => swap_exact_in(amount, reserve_in, reserve_out, fees),
        _ => swap_exact_out(amount, reserve_in, reserve_out, fees),
    };
    let q = result.map_err(|e| ApiError::Unprocessable(format!("no quote: {e}")))?;
    Ok(Json(Quote {
        chain,
        pool,
        mode,
        input_mint: input,
        output_mint: output,
        amount_in: q.amount_in.to_string(),
        amount_out: q.amount_out.to_string(),
        fee: q.trade_fee.to_string(),
        fee_bps: fee_bps_value,
        reserve_in: reserve_in.to_string(),
        reserve_out: reserve_out.to_string(),
        reserves_slot: slot,
    }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/quote", get(quote))
}
