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
