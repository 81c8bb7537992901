//! Jito-style bundles for live Solana swaps (`[trading.solana] jito_url`, off by default): each
//! swap transaction carries a tip, a SOL transfer of `jito_tip_lamports` to one of the block
//! engine's tip accounts (`getTipAccounts`, read once, used in turn), and is sent as a
//! one-transaction bundle with `sendBundle` instead of the RPC's `sendTransaction`. A bundle lands
//! whole or not at all, so the tip is paid only when the swap lands; confirmation is by signature
//! status, as for any send.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Mutex,
};

use anchor_lang::solana_program::system_instruction;
use base64::Engine as _;
use serde_json::{json, Value};
use solana_sdk::{instruction::Instruction, pubkey::Pubkey, transaction::VersionedTransaction};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JitoError {
    #[error("the block engine refused it: {0}")]
    Refused(String),
    #[error("block engine transport: {0}")]
    Transport(String),
}

pub struct Jito {
    url: String,
    tip_lamports: u64,
    client: reqwest::Client,
    tip_accounts: Mutex<Vec<Pubkey>>,
    next: AtomicUsize,
}

impl Jito {
    pub fn new(url: &str, tip_lamports: u64) -> Self {
        Self {
            url: url.to_string(),
            tip_lamports,
            client: reqwest::Client::new(),
            tip_accounts: Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
        }
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, JitoError> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let resp =
            self.client.post(&self.url).json(&body).send().await.map_err(|e| JitoError::Transport(e.to_string()))?;
        let answer: Value = resp.json().await.map_err(|e| JitoError::Transport(e.to_string()))?;
        match (&answer["result"], &answer["error"]) {
            (Value::Null, Value::Object(e)) => {
                Err(JitoError::Refused(e.get("message").and_then(Value::as_str).unwrap_or("error").to_string()))
            }
            (Value::Null, _) => Err(JitoError::Transport(format!("unexpected answer: {answer}"))),
            (result, _) => Ok(result.clone()),
        }
    }

    /// The tip instruction for a transaction paid by `payer`: to the next of the engine's tip
    /// accounts.
    pub async fn tip(&self, payer: &Pubkey) -> Result<Instruction, JitoError> {
        let known = self.tip_accounts.lock().map(|a| a.clone()).unwrap_or_default();
        let accounts = if known.is_empty() {
            let result = self.call("getTipAccounts", json!([])).await?;
            let accounts: Vec<Pubkey> = result
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(|a| a.parse().ok())
                .collect();
            if accounts.is_empty() {
                return Err(JitoError::Refused("getTipAccounts named no account".into()));
            }
            if let Ok(mut a) = self.tip_accounts.lock() {
                a.clone_from(&accounts);
            }
            accounts
        } else {
            known
        };
        let i = self.next.fetch_add(1, Ordering::Relaxed) % accounts.len();
        Ok(system_instruction::transfer(payer, &accounts[i], self.tip_lamports))
    }

    /// Sends `tx` as a one-transaction bundle; the bundle's id.
    pub async fn send(&self, tx: &VersionedTransaction) -> Result<String, JitoError> {
        let wire = bincode::serialize(tx).map_err(|e| JitoError::Transport(e.to_string()))?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(wire);
        let result = self.call("sendBundle", json!([[encoded], { "encoding": "base64" }])).await?;
        Ok(result.as_str().unwrap_or_default().to_string())
    }
}
