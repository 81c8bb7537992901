//! Private submission of EVM transactions: a Flashbots-compatible relay's
//! `eth_sendPrivateTransaction` instead of the public mempool (`[trading.evm] private_relay_url`,
//! off by default). Each request carries the `X-Flashbots-Signature` header the relays
//! authenticate searchers by: `<address>:<EIP-191 signature of the hex keccak256 of the body>`,
//! signed with the trading key.

use alloy::{
    primitives::keccak256,
    signers::{local::PrivateKeySigner, Signer},
};
use serde_json::json;

/// Blocks a private transaction stays valid for (the relay drops it after).
pub const VALID_FOR_BLOCKS: u64 = 25;

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
    signer: PrivateKeySigner,
    client: reqwest::Client,
}

impl Relay {
    pub fn new(url: &str, signer: PrivateKeySigner) -> Self {
        Self { url: url.to_string(), signer, client: reqwest::Client::new() }
    }

    /// The signature header of `body`.
    pub async fn signature(&self, body: &str) -> Result<String, RelayError> {
        let digest = format!("{:#x}", keccak256(body.as_bytes()));
        let sig =
            self.signer.sign_message(digest.as_bytes()).await.map_err(|e| RelayError::Transport(e.to_string()))?;
        Ok(format!("{:#x}:{}", self.signer.address(), alloy::hex::encode_prefixed(sig.as_bytes())))
    }

    /// Sends the signed transaction `raw` privately, valid up to block `max_block`.
    pub async fn send(&self, raw: &[u8], max_block: u64) -> Result<(), RelayError> {
        let body = json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_sendPrivateTransaction",
            "params": [{
                "tx": alloy::hex::encode_prefixed(raw),
                "maxBlockNumber": format!("{max_block:#x}"),
                "preferences": { "fast": true },
            }],
        })
        .to_string();
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
            (serde_json::Value::String(_), _) => Ok(()),
            (_, serde_json::Value::Object(e)) => {
                Err(RelayError::Refused(e.get("message").and_then(|m| m.as_str()).unwrap_or("error").to_string()))
            }
            _ => Err(RelayError::Transport(format!("unexpected answer: {answer}"))),
        }
    }
}
