//! Solana Actions (the blinks spec, version 2.4) for swaps on our pools, so any Action-aware
//! wallet, site or bot can offer them:
//! - `GET /actions.json` (at the root): maps the site's action URLs to these routes;
//! - `GET /api/v1/actions/swap/{pool}`: the pool's action metadata (icon, title, description,
//!   label) and its two linked actions, one per direction, each asking for an amount;
//! - `POST /api/v1/actions/swap/{pool}?side=a_to_b|b_to_a&amount=N` with `{"account": "..."}`:
//!   the unsigned swap for that account, built by [`super::tx::swap::build`];
//! - `GET /api/v1/actions/icon.svg`: the icon the metadata points at.
//!
//! `amount` is what a person types: a decimal number of the input token (e.g. `1.5`), turned
//! into base units with the mint's decimals by string arithmetic, never through a float. Every
//! response carries `X-Action-Version` and `X-Blockchain-Ids`, and CORS is open to any origin, as
//! the spec requires of Action APIs. Errors are the spec's `ActionError` (`{"message": ...}`,
//! here with the API's `code` and `field` beside it).

use anchor_lang::prelude::Pubkey;
use axum::{
    extract::{Path, Query, Request, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, Method},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_http::cors::{Any, CorsLayer};

use super::tx::{
    pool_on_chain, pubkey, rpc,
    swap::{self, SwapOrder},
};
use crate::{
    error::{ApiError, ApiResult},
    solana_rpc, AppState,
};

/// The version of the Actions spec these routes follow.
pub const ACTION_VERSION: &str = "2.4";
const ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 256 256"><rect width="256" height="256" rx="48" fill="#14151a"/><path d="M56 168 L128 72 L200 168 Z" fill="none" stroke="#19fb9b" stroke-width="16" stroke-linejoin="round"/><circle cx="128" cy="148" r="20" fill="#9945ff"/></svg>"##;

/// The spec's `ActionGetResponse`.
#[derive(Debug, Serialize)]
pub struct ActionGetResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub icon: String,
    pub title: String,
    pub description: String,
    pub label: String,
    pub links: ActionLinks,
}

#[derive(Debug, Serialize)]
pub struct ActionLinks {
    pub actions: Vec<LinkedAction>,
}

/// The spec's `LinkedAction` of type `transaction`, with its `ActionParameter`s.
#[derive(Debug, Serialize)]
pub struct LinkedAction {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub href: String,
    pub label: String,
    pub parameters: Vec<serde_json::Value>,
}

/// The spec's `ActionPostRequest`.
#[derive(Debug, Deserialize)]
pub struct ActionPostRequest {
    pub account: String,
}

/// The spec's `ActionPostResponse` of type `transaction`.
#[derive(Debug, Serialize)]
pub struct ActionPostResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub transaction: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
pub struct SwapQuery {
    pub side: Option<String>,
    pub amount: Option<String>,
    pub slippage_bps: Option<u16>,
}

/// Base units of a decimal amount with `decimals` places, exact: `"1.5"` at 6 decimals is
/// 1,500,000; more places than the mint has, or zero, is refused.
pub fn base_units(field: &str, text: &str, decimals: u8) -> ApiResult<u64> {
    let bad = |m: &str| ApiError::invalid(field, m.to_string());
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
        return Err(bad("must be a decimal number such as 1.5"));
    }
    if frac.len() > usize::from(decimals) {
        return Err(bad(&format!("has more than the token's {decimals} decimal places")));
    }
    let padded = format!("{whole}{frac:0<width$}", width = usize::from(decimals));
    let units: u64 = padded.trim_start_matches('0').parse().or_else(|e: std::num::ParseIntError| {
        if padded.bytes().all(|b| b == b'0') {
            Ok(0)
        } else {
            Err(bad(&format!("is out of range: {e}")))
        }
    })?;
    if units == 0 {
        return Err(bad("must be more than zero"));
    }
    Ok(units)
}

/// `scheme://host` the client reached us at, for the absolute URLs the spec asks for.
fn origin(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let https = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) == Some("https");
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// A token's name for people: the mirror's symbol (chain text, untrusted: it goes out as JSON
/// text only) or the start of its mint.
async fn symbol(state: &AppState, mint: &Pubkey) -> String {
    let row = mirror::reads::token(&state.db, &state.solana_chain, &mint.to_string()).await.ok().flatten();
    row.and_then(|t| t.symbol).filter(|s| !s.trim().is_empty()).unwrap_or_else(|| {
        let m = mint.to_string();
        format!("{}…", &m[..4])
    })
}

async fn metadata(
    State(state): State<AppState>,
    Path(pool): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<ActionGetResponse>> {
    let url = rpc(&state)?;
    let p = pool_on_chain(url, "pool", &pool).await?;
    let (a, b) = (symbol(&state, &p.pool.mint_a).await, symbol(&state, &p.pool.mint_b).await);
    let href = |side: &str| format!("/api/v1/actions/swap/{pool}?side={side}&amount={{amount}}");
    let amount = |sym: &str| json!({ "type": "number", "name": "amount", "label": format!("Amount of {sym}"), "required": true });
    let fee = p.config.trade_fee_bps;
    Ok(Json(ActionGetResponse {
        kind: "action",
        icon: format!("{}/api/v1/actions/icon.svg", origin(&headers)),
        title: format!("Swap {a} / {b}"),
        description: format!(
            "Constant-product pool {pool}: {} {a} and {} {b} in reserve (base units), {fee} bps trade fee, 0.5% slippage limit.",
            p.pool.reserve_a, p.pool.reserve_b
        ),
        label: "Swap".into(),
        links: ActionLinks {
            actions: vec![
                LinkedAction { kind: "transaction", href: href("a_to_b"), label: format!("Sell {a} for {b}"), parameters: vec![amount(&a)] },
                LinkedAction { kind: "transaction", href: href("b_to_a"), label: format!("Sell {b} for {a}"), parameters: vec![amount(&b)] },
            ],
        },
    }))
}

async fn transaction(
    State(state): State<AppState>,
    Path(pool): Path<String>,
    Query(q): Query<SwapQuery>,
    crate::json::ApiJson(body): crate::json::ApiJson<ActionPostRequest>,
) -> ApiResult<Json<ActionPostResponse>> {
    let wallet = pubkey("account", &body.account)?;
    let a_to_b = match q.side.as_deref() {
        Some("a_to_b") => true,
        Some("b_to_a") => false,
        _ => return Err(ApiError::invalid("side", "must be a_to_b or b_to_a")),
    };
    let amount_text = q.amount.as_deref().ok_or_else(|| ApiError::invalid("amount", "is required"))?;
    let slippage_bps = super::tx::slippage_bps(q.slippage_bps)?;
    let url = rpc(&state)?;
    let p = pool_on_chain(url, "pool", &pool).await?;
    let decimals = if a_to_b { p.pool.mint_a_decimals } else { p.pool.mint_b_decimals };
    let amount = base_units("amount", amount_text, decimals)?;
    let order = SwapOrder { wallet, a_to_b, exact_in: true, amount, slippage_bps, micro_lamports: None };
    let built = swap::build(url, &p, &order).await?;
    let (sell, buy) = if a_to_b { (p.pool.mint_a, p.pool.mint_b) } else { (p.pool.mint_b, p.pool.mint_a) };
    let (sell, buy) = (symbol(&state, &sell).await, symbol(&state, &buy).await);
    Ok(Json(ActionPostResponse {
        kind: "transaction",
        transaction: built.tx.transaction,
        message: format!(
            "Sell {amount_text} {sell} for at least {} base units of {buy} (quoted {}).",
            built.other_amount_threshold, built.quoted_amount_out
        ),
    }))
}

async fn actions_json() -> impl IntoResponse {
    Json(json!({ "rules": [
        { "pathPattern": "/api/v1/actions/**", "apiPath": "/api/v1/actions/**" },
    ] }))
}

async fn icon() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "image/svg+xml")], ICON)
}

/// The CAIP-2 id of the chain the RPC serves: `solana:` and the first 32 characters of its
/// genesis hash. A node's genesis never changes, so it is asked once per RPC URL.
async fn blockchain_id(state: &AppState) -> Option<String> {
    static KNOWN: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, String>>> =
        std::sync::LazyLock::new(Default::default);
    let url = state.solana_rpc.as_deref()?;
    if let Some(id) = KNOWN.lock().ok()?.get(url) {
        return Some(id.clone());
    }
    let hash = solana_rpc::call(url, "getGenesisHash", json!([])).await.ok()?;
    let id = hash.as_str().map(|h| format!("solana:{}", &h[..h.len().min(32)]))?;
    KNOWN.lock().ok()?.insert(url.to_string(), id.clone());
    Some(id)
}

/// Adds the Actions headers to every response of these routes.
async fn action_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(HeaderName::from_static("x-action-version"), HeaderValue::from_static(ACTION_VERSION));
    if let Some(id) = blockchain_id(&state).await.and_then(|id| HeaderValue::from_str(&id).ok()) {
        h.insert(HeaderName::from_static("x-blockchain-ids"), id);
    }
    resp
}

/// CORS as the spec requires of Action APIs: any origin, and the Actions headers exposed.
pub fn cors() -> CorsLayer {
    let action_headers = [HeaderName::from_static("x-action-version"), HeaderName::from_static("x-blockchain-ids")];
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::CONTENT_ENCODING,
            header::ACCEPT_ENCODING,
            action_headers[0].clone(),
            action_headers[1].clone(),
        ])
        .expose_headers(action_headers)
}

/// The Actions routes at their full paths (they sit outside `/api/v1`'s CORS policy).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/actions.json", get(actions_json))
        .route("/api/v1/actions/icon.svg", get(icon))
        .route("/api/v1/actions/swap/{pool}", get(metadata).post(transaction))
        .layer(axum::middleware::from_fn_with_state(state, action_headers))
}

#[cfg(test)]
mod tests {
    use super::base_units;

    #[test]
    fn decimal_amounts_become_exact_base_units() {
        assert_eq!(base_units("a", "1.5", 6).unwrap(), 1_500_000);
        assert_eq!(base_units("a", "0.000000001", 9).unwrap(), 1);
        assert_eq!(base_units("a", ".25", 2).unwrap(), 25);
        assert_eq!(base_units("a", "18446744073709551615", 0).unwrap(), u64::MAX);
        assert_eq!(base_units("a", "18446744073.709551615", 9).unwrap(), u64::MAX);
        for bad in ["", ".", "1e6", "-1", "1.2.3", "0", "0.000", "1.0000001", "18446744073709551616", " 1"] {
            assert!(base_units("a", bad, 6).is_err(), "{bad:?}");
        }
    }
}
