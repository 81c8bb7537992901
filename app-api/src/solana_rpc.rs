//! Calls to the configured Solana JSON-RPC (`--solana-rpc`): a failure of the node is a 503.

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};

/// Calls `method` with `params` and returns its `result`; a transport error or a JSON-RPC
/// error is `ApiError::Unavailable`.
pub async fn call(url: &str, method: &str, params: Value) -> ApiResult<Value> {
    let unavailable = |e: &dyn std::fmt::Display| ApiError::Unavailable(format!("solana rpc: {e}"));
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let resp = reqwest::Client::new()
        .post(url)
        .timeout(std::time::Duration::from_secs(5))
        .json(&body)
        .send()
        .await
        .map_err(|e| unavailable(&e))?;
    let mut v: Value = resp.json().await.map_err(|e| unavailable(&e))?;
    if let Some(e) = v.get("error") {
        return Err(unavailable(&format!("{method}: {e}")));
    }
    Ok(v["result"].take())
}

/// The latest blockhash and the block height it is valid until.
pub async fn latest_blockhash(url: &str) -> ApiResult<(solana_sdk::hash::Hash, u64)> {
    let r = call(url, "getLatestBlockhash", json!([{ "commitment": "confirmed" }])).await?;
    let hash = r["value"]["blockhash"]
        .as_str()
        .and_then(|h| h.parse().ok())
        .ok_or_else(|| ApiError::Unavailable("solana rpc: no blockhash in the response".into()))?;
    Ok((hash, r["value"]["lastValidBlockHeight"].as_u64().unwrap_or(0)))
}

/// An account's owner and data, or `None` when it does not exist.
pub async fn account(
    url: &str,
    address: &anchor_lang::prelude::Pubkey,
) -> ApiResult<Option<(anchor_lang::prelude::Pubkey, Vec<u8>)>> {
    use base64::{engine::general_purpose::STANDARD, Engine};
    let r =
        call(url, "getAccountInfo", json!([address.to_string(), { "encoding": "base64", "commitment": "confirmed" }]))
            .await?;
    let v = &r["value"];
    if v.is_null() {
        return Ok(None);
    }
    let owner = v["owner"].as_str().and_then(|o| o.parse().ok());
    let data = v["data"][0].as_str().and_then(|d| STANDARD.decode(d).ok());
    match (owner, data) {
        (Some(owner), Some(data)) => Ok(Some((owner, data))),
        _ => Err(ApiError::Unavailable("solana rpc: malformed account".into())),
    }
}

/// An Anchor account of our AMM program at `address`, or `None` when there is none there, it is
/// another program's, or it is not a `T`.
pub async fn amm_account<T: anchor_lang::AccountDeserialize>(
    url: &str,
    address: &anchor_lang::prelude::Pubkey,
) -> ApiResult<Option<T>> {
    match account(url, address).await? {
        Some((owner, data)) if owner == amm::ID => Ok(T::try_deserialize(&mut data.as_slice()).ok()),
        _ => Ok(None),
    }
}
