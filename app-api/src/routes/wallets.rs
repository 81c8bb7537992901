//! What a Solana wallet holds, read from the configured Solana JSON-RPC:
//! - `GET /api/v1/wallets/{chain}/{address}/balances`: native SOL and every SPL Token and
//!   Token-2022 account, with each mint's decimals, and its symbol and name where the mirror
//!   knows them;
//! - `GET /api/v1/wallets/{chain}/{address}/liquidity`: its LP tokens of our AMM's pools, with
//!   its share of each pool and what they redeem for now (the pools read from the chain).
//!
//! Amounts are exact decimal strings of base units, with the decimal rendering beside them as a
//! string.

use anchor_lang::prelude::Pubkey;
use anchor_lang::Space;
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

/// Where a pool account keeps its LP mint: after the 8-byte discriminator and six 32-byte keys
/// (config, creator, mint_a, mint_b, vault_a, vault_b). A unit test pins it to the layout.
const LP_MINT_OFFSET: usize = 8 + 6 * 32;

/// One side of an LP position: what the wallet's LP tokens redeem for now.
#[derive(Debug, Serialize, ToSchema)]
pub struct Underlying {
    pub mint: String,
    /// Base units, exact (floored, as a withdrawal pays).
    pub amount: String,
    pub decimals: u8,
    pub ui_amount: String,
    /// The pool's reserve of this mint, base units.
    pub reserve: String,
    /// From the mirror, when it knows the mint (chain text: untrusted, render as text).
    pub symbol: Option<String>,
}

/// The wallet's LP tokens of one of our pools.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiquidityPosition {
    pub pool: String,
    pub lp_mint: String,
    /// The wallet's LP token account.
    pub lp_account: String,
    /// LP tokens held, and the pool's whole LP supply (base units, exact).
    pub lp_amount: String,
    pub lp_supply: String,
    /// lp_amount / lp_supply, exact to 10^-9 (floored), as a decimal string.
    pub share: String,
    pub token_a: Underlying,
    pub token_b: Underlying,
    /// The position's value counted in token B at the pool's price: B's amount plus A's amount
    /// times reserve B / reserve A (floored), base units of B.
    pub value_in_b: String,
}

/// A wallet's liquidity in our pools.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liquidity {
    pub chain: String,
    pub address: String,
    pub slot: u64,
    pub positions: Vec<LiquidityPosition>,
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
    let (wallet, url) = solana_wallet(&state, &chain, &address)?;
    let balance =
        solana_rpc::call(url, "getBalance", json!([wallet.to_string(), { "commitment": "confirmed" }])).await?;
    let lamports = balance["value"].as_u64().ok_or_else(|| ApiError::Unavailable("solana rpc: no balance".into()))?;
    let slot = balance["context"]["slot"].as_u64().unwrap_or(0);
    let mut tokens = Vec::new();
    for h in token_accounts(url, &wallet).await? {
        let known = mirror::reads::token(&state.db, &chain, &h.mint).await?;
        tokens.push(TokenBalance {
            account: h.account,
            program: h.program,
            ui_amount: ui_amount(h.amount, h.decimals),
            amount: h.amount.to_string(),
            decimals: h.decimals,
            state: h.state,
            symbol: known.as_ref().and_then(|t| t.symbol.clone()),
            name: known.and_then(|t| t.name),
            mint: h.mint,
        });
    }
    Ok(Json(Balances {
        chain,
        address: wallet.to_string(),
        slot,
        lamports: lamports.to_string(),
        sol: ui_amount(lamports, 9),
        tokens,
    }))
}

/// The Solana wallet a wallet route is asked about, and the RPC to read it from.
fn solana_wallet<'a>(state: &'a AppState, chain: &str, address: &str) -> ApiResult<(Pubkey, &'a str)> {
    check_chain("chain", chain)?;
    if chain != state.solana_chain {
        return Err(ApiError::invalid("chain", format!("wallets are served for {}", state.solana_chain)));
    }
    let wallet: Pubkey = address.parse().map_err(|_| ApiError::invalid("address", "must be a base58 public key"))?;
    let url = state.solana_rpc.as_deref().ok_or_else(|| ApiError::Unavailable("no Solana RPC is configured".into()))?;
    Ok((wallet, url))
}

/// A token account of the wallet as the RPC's `jsonParsed` shape gives it.
struct Held {
    account: String,
    mint: String,
    program: String,
    amount: u64,
    decimals: u8,
    state: String,
}

/// Every SPL Token and Token-2022 account `wallet` owns.
async fn token_accounts(url: &str, wallet: &Pubkey) -> ApiResult<Vec<Held>> {
    let mut out = Vec::new();
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
            let (Ok(amount), Some(decimals)) = (
                text(&info["tokenAmount"]["amount"]).parse::<u64>(),
                info["tokenAmount"]["decimals"].as_u64().and_then(|d| u8::try_from(d).ok()),
            ) else {
                continue;
            };
            out.push(Held {
                account: text(&item["pubkey"]),
                mint: text(&info["mint"]),
                program: program.clone(),
                amount,
                decimals,
                state: text(&info["state"]),
            });
        }
    }
    out.sort_by(|a, b| a.mint.cmp(&b.mint).then(a.account.cmp(&b.account)));
    Ok(out)
}

/// A wallet's LP positions in our AMM's pools.
#[utoipa::path(get, path = "/api/v1/wallets/{chain}/{address}/liquidity", tag = "wallets",
    params(("chain" = String, Path, pattern = "^[a-z0-9_-]{1,32}$", description = "the Solana chain's name"),
        ("address" = String, Path, pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$", description = "wallet (base58)")),
    responses((status = 200, body = Liquidity), (status = 400, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn liquidity(
    State(state): State<AppState>,
    Path((chain, address)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Liquidity>> {
    params.only(&[])?;
    let (wallet, url) = solana_wallet(&state, &chain, &address)?;
    let held = token_accounts(url, &wallet).await?;
    // Every pool's LP mint in one call: the pool accounts by size, sliced to the LP mint.
    let config = json!({
        "encoding": "base64",
        "commitment": "confirmed",
        "withContext": true,
        "dataSlice": { "offset": LP_MINT_OFFSET, "length": 32 },
        "filters": [{ "dataSize": 8 + amm::Pool::INIT_SPACE }],
    });
    let r = solana_rpc::call(url, "getProgramAccounts", json!([amm::ID.to_string(), config])).await?;
    let slot = r["context"]["slot"].as_u64().unwrap_or(0);
    let mut pool_of: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for item in r["value"].as_array().into_iter().flatten() {
        let lp = item["account"]["data"][0]
            .as_str()
            .and_then(|d| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, d).ok());
        let (Some(pool), Some(lp)) = (item["pubkey"].as_str(), lp) else { continue };
        if let Ok(lp) = <[u8; 32]>::try_from(lp.as_slice()) {
            pool_of.insert(Pubkey::new_from_array(lp).to_string(), pool.to_string());
        }
    }
    let mut positions = Vec::new();
    for h in held.iter().filter(|h| h.amount > 0) {
        let Some(pool_address) = pool_of.get(&h.mint) else { continue };
        let Ok(pool_key) = pool_address.parse::<Pubkey>() else { continue };
        let Some(pool) = solana_rpc::amm_account::<amm::Pool>(url, &pool_key).await? else { continue };
        if pool.lp_supply == 0 || pool.lp_mint.to_string() != h.mint {
            continue;
        }
        let part =
            |reserve: u64| u64::try_from(u128::from(h.amount) * u128::from(reserve) / u128::from(pool.lp_supply));
        let (Ok(a), Ok(b)) = (part(pool.reserve_a), part(pool.reserve_b)) else { continue };
        let a_in_b = if pool.reserve_a == 0 {
            0
        } else {
            u128::from(a) * u128::from(pool.reserve_b) / u128::from(pool.reserve_a)
        };
        let share = u128::from(h.amount) * 1_000_000_000 / u128::from(pool.lp_supply);
        let side = |mint: Pubkey, amount: u64, decimals: u8, reserve: u64, symbol: Option<String>| Underlying {
            mint: mint.to_string(),
            amount: amount.to_string(),
            decimals,
            ui_amount: ui_amount(amount, decimals),
            reserve: reserve.to_string(),
            symbol,
        };
        let symbol = |mint: Pubkey| {
            let (db, chain) = (state.db.clone(), chain.clone());
            async move { mirror::reads::token(&db, &chain, &mint.to_string()).await.map(|t| t.and_then(|t| t.symbol)) }
        };
        positions.push(LiquidityPosition {
            pool: pool_address.clone(),
            lp_mint: h.mint.clone(),
            lp_account: h.account.clone(),
            lp_amount: h.amount.to_string(),
            lp_supply: pool.lp_supply.to_string(),
            share: ui_amount(u64::try_from(share).unwrap_or(u64::MAX), 9),
            token_a: side(pool.mint_a, a, pool.mint_a_decimals, pool.reserve_a, symbol(pool.mint_a).await?),
            token_b: side(pool.mint_b, b, pool.mint_b_decimals, pool.reserve_b, symbol(pool.mint_b).await?),
            value_in_b: (a_in_b + u128::from(b)).to_string(),
        });
    }
    Ok(Json(Liquidity { chain, address: wallet.to_string(), slot, positions }))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/wallets/{chain}/{address}/balances", get(balances))
        .route("/wallets/{chain}/{address}/liquidity", get(liquidity))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_lp_mint_sits_where_the_liquidity_scan_slices_it() {
        use anchor_lang::{prelude::Pubkey, AccountSerialize};
        let lp_mint = Pubkey::new_unique();
        let k = Pubkey::new_unique;
        let pool = amm::Pool {
            config: k(),
            creator: k(),
            mint_a: k(),
            mint_b: k(),
            vault_a: k(),
            vault_b: k(),
            lp_mint,
            reserve_a: 1,
            reserve_b: 2,
            lp_supply: 3,
            protocol_fees_a: 0,
            protocol_fees_b: 0,
            status: 0,
            open_time: 0,
            price_a_cumulative: 0,
            price_b_cumulative: 0,
            last_update_timestamp: 0,
            bump: 1,
            authority_bump: 1,
            mint_a_decimals: 6,
            mint_b_decimals: 9,
        };
        let mut data = Vec::new();
        pool.try_serialize(&mut data).unwrap();
        assert_eq!(data.len(), 8 + <amm::Pool as anchor_lang::Space>::INIT_SPACE);
        assert_eq!(&data[super::LP_MINT_OFFSET..super::LP_MINT_OFFSET + 32], lp_mint.as_ref());
    }

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
