//! `GET /api/v1/wallets/{chain}/{address}/balances`: what a Solana wallet holds, read from the
//! configured Solana JSON-RPC (native SOL and every SPL Token and Token-2022 account), with each
//! mint's decimals, and its symbol and name where the mirror knows them. Amounts are exact
//! decimal strings of base units, with the decimal rendering beside them as a string.

use anchor_lang::prelude::Pubkey;
use axum::{
    extract::{Path, State},
    routing::get,
    Json, Router,
};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::check_chain;
use crate::{
    error::{ApiError, ApiResult},
    params::Params,
    solana_rpc, AppState,
};

/// SPL Token and Token-2022.
const TOKEN_PROGRAMS: [Pubkey; 2] = [anchor_spl::token::ID, anchor_spl::token_2022::ID];

/// A token account of the wallet.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenBalance {
    pub account: String,
    pub mint: String,
    /// The token program that owns the account.
    pub program: String,
    /// Base units, exact.
    pub amount: String,
    pub decimals: u8,
    /// `amount` with the decimals applied, exact (a string, never a float).
    pub ui_amount: String,
    /// initialized or frozen.
    pub state: String,
    /// From the mirror, when it has seen the mint (chain text: untrusted, render as text).
    pub symbol: Option<String>,
    pub name: Option<String>,
}

/// A wallet's balances.
#[derive(Debug, Serialize, ToSchema)]
pub struct Balances {
    pub chain: String,
    pub address: String,
    /// The slot the RPC answered at.
    pub slot: u64,
    /// Native SOL in lamports, exact, and in SOL.
    pub lamports: String,
    pub sol: String,
    pub tokens: Vec<TokenBalance>,
}

/// `amount` with `decimals` applied, exactly, in decimal text.
pub fn ui_amount(amount: u64, decimals: u8) -> String {
    let digits = amount.to_string();
    let d = usize::from(decimals);
    if d == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = d + 1);
    let (int, frac) = padded.split_at(padded.len() - d);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

/// A wallet's SOL and token accounts.
#[utoipa::path(get, path = "/api/v1/wallets/{chain}/{address}/balances", tag = "wallets",
    params(("chain" = String, Path, pattern = "^[a-z0-9_-]{1,32}$", description = "the Solana chain's name"),
        ("address" = String, Path, pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$", description = "wallet (base58)")),
    responses((status = 200, body = Balances), (status = 400, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn balances(
    State(state): State<AppState>,
    Path((chain, address)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Balances>> {
    params.only(&[])?;
    check_chain("chain", &chain)?;
    if chain != state.solana_chain {
        return Err(ApiError::invalid("chain", format!("wallet balances are served for {}", state.solana_chain)));
    }
    let wallet: Pubkey = address.parse().map_err(|_| ApiError::invalid("address", "must be a base58 public key"))?;
    let url = state.solana_rpc.as_deref().ok_or_else(|| ApiError::Unavailable("no Solana RPC is configured".into()))?;
    let balance =
        solana_rpc::call(url, "getBalance", json!([wallet.to_string(), { "commitment": "confirmed" }])).await?;
    let lamports = balance["value"].as_u64().ok_or_else(|| ApiError::Unavailable("solana rpc: no balance".into()))?;
    let slot = balance["context"]["slot"].as_u64().unwrap_or(0);
    let mut tokens = Vec::new();
    for program in TOKEN_PROGRAMS.map(|p| p.to_string()) {
        let config = json!({ "encoding": "jsonParsed", "commitment": "confirmed" });
        let r = solana_rpc::call(
            url,
            "getTokenAccountsByOwner",
            json!([wallet.to_string(), { "programId": program }, config]),
        )
        .await?;
        for item in r["value"].as_array().into_iter().flatten() {
            let info = &item["account"]["data"]["parsed"]["info"];
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            let amount = text(&info["tokenAmount"]["amount"]);
            let (Ok(raw), Some(decimals)) =
                (amount.parse::<u64>(), info["tokenAmount"]["decimals"].as_u64().and_then(|d| u8::try_from(d).ok()))
            else {
                continue;
            };
            let mint = text(&info["mint"]);
            let known = mirror::reads::token(&state.db, &chain, &mint).await?;
            tokens.push(TokenBalance {
                account: text(&item["pubkey"]),
                program: program.clone(),
                ui_amount: ui_amount(raw, decimals),
                amount,
                decimals,
                state: text(&info["state"]),
                symbol: known.as_ref().and_then(|t| t.symbol.clone()),
                name: known.and_then(|t| t.name),
                mint,
            });
        }
    }
    tokens.sort_by(|a, b| a.mint.cmp(&b.mint).then(a.account.cmp(&b.account)));
    Ok(Json(Balances {
        chain,
        address: wallet.to_string(),
        slot,
        lamports: lamports.to_string(),
        sol: ui_amount(lamports, 9),
        tokens,
    }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/wallets/{chain}/{address}/balances", get(balances))
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_render_exactly_at_any_decimals() {
        assert_eq!(super::ui_amount(1_500_000, 6), "1.5");
        assert_eq!(super::ui_amount(5, 9), "0.000000005");
        assert_eq!(
            super::ui_amount(u64::MAX, 9),
            "18446744073709551615".to_string()[..11].to_string() + "." + "709551615"
        );
        assert_eq!(super::ui_amount(7, 0), "7");
        assert_eq!(super::ui_amount(0, 6), "0");
    }
}
