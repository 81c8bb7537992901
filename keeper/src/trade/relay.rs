//! Private submission of EVM transactions: a Flashbots-compatible relay instead of the public
//! mempool (`[trading.evm] private_relay_url`, off by default), by `eth_sendPrivateTransaction`
//! (the relay keeps it for [`VALID_FOR_BLOCKS`]) or, with `private_relay_method = "bundle"`,
//! `eth_sendBundle` of the one transaction for each of the next [`BUNDLE_BLOCKS`] blocks (a
//! bundle targets one block). Each request carries the `X-Flashbots-Signature` header the relays
//! authenticate searchers by: `<address>:<EIP-191 signature of the hex keccak256 of the body>`,
//! signed with the trading key.

use alloy::{
    primitives::keccak256,
    signers::{local::PrivateKeySigner, Signer},
};
use serde_json::json;

/// Blocks a private transaction stays valid for (the relay drops it after).
pub const VALID_FOR_BLOCKS: u64 = 25;

/// Blocks a transaction is bundled for, one bundle each (the replacement after
/// `replace_after_ms` sends it again).
pub const BUNDLE_BLOCKS: u64 = 5;

pub use crate::config::trading::RelayMethod as Method;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// The relay answered with an error: the transaction was not taken.
    #[error("the relay refused it: {0}")]
    Refused(String),
    /// No answer: it may or may not have been taken.
    #[error("relay transport: {0}")]
    Transport(String),
}

pub struct Relay {
    url: String,
    method: Method,
    signer: PrivateKeySigner,
    client: reqwest::Client,
}

impl Relay {
    pub fn new(url: &str, method: Method, signer: PrivateKeySigner) -> Self {
        Self { url: url.to_string(), method, signer, client: reqwest::Client::new() }
    }

    /// The signature header of `body`.
    pub async fn signature(&self, body: &str) -> Result<String, RelayError> {
        let digest = format!("{:#x}", keccak256(body.as_bytes()));
        let sig =
            self.signer.sign_message(digest.as_bytes()).await.map_err(|e| RelayError::Transport(e.to_string()))?;
        Ok(format!("{:#x}:{}", self.signer.address(), alloy::hex::encode_prefixed(sig.as_bytes())))
    }

    /// Sends the signed transaction `raw` privately, for the blocks after `head`.
    pub async fn send(&self, raw: &[u8], head: u64) -> Result<(), RelayError> {
        let tx = alloy::hex::encode_prefixed(raw);
        match self.method {
            Method::PrivateTransaction => {
                let params = json!([{
                    "tx": tx,
                    "maxBlockNumber": format!("{:#x}", head + VALID_FOR_BLOCKS),
                    "preferences": { "fast": true },
                }]);
                self.call("eth_sendPrivateTransaction", params).await
            }
            Method::Bundle => {
                // One bundle per block; taken when any is, refused only when every one is.
                let mut taken = false;
                let mut last = Ok(());
                for block in head + 1..=head + BUNDLE_BLOCKS {
                    let params = json!([{ "txs": [tx], "blockNumber": format!("{block:#x}") }]);
                    match self.call("eth_sendBundle", params).await {
                        Ok(()) => taken = true,
                        Err(e) => last = Err(e),
                    }
                }
                if taken {
                    Ok(())
                } else {
                    last
                }
            }
        }
    }

    async fn call(&self, method: &str, params: serde_json::Value) -> Result<(), RelayError> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string();
        let signature = self.signature(&body).await?;
        let resp = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("X-Flashbots-Signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| RelayError::Transport(e.to_string()))?;
        let answer: serde_json::Value = resp.json().await.map_err(|e| RelayError::Transport(e.to_string()))?;
        match (&answer["result"], &answer["error"]) {
            // A transaction hash, or a bundle's `{ "bundleHash" }`.
            (serde_json::Value::String(_) | serde_json::Value::Object(_), _) => Ok(()),
            (_, serde_json::Value::Object(e)) => {
                Err(RelayError::Refused(e.get("message").and_then(|m| m.as_str()).unwrap_or("error").to_string()))
            }
            _ => Err(RelayError::Transport(format!("unexpected answer: {answer}"))),
        }
    }
}
