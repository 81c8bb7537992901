//! An RPC fault proxy: a JSON-RPC server on 127.0.0.1 in front of a real node (anvil, or the
//! Solana localnet) that refuses wide `eth_getLogs` and can swallow or refuse sent
//! transactions, so tests can prove how the keeper copes.

use alloy::primitives::keccak256;

/// A JSON-RPC proxy in front of a real node that refuses `eth_getLogs` over more than
/// `max_range` blocks, with the error shape public providers use (code -32005). Lets tests prove
/// that backfill shrinks its ranges. Everything else is forwarded untouched.
pub struct RangeLimitedRpc {
    pub url: String,
    pub refused: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub served: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// What happens to `eth_sendRawTransaction`: see [`SendFault`].
    pub send_fault: std::sync::Arc<std::sync::atomic::AtomicU8>,
    _server: tokio::task::JoinHandle<()>,
}

/// Faults the proxy injects into `eth_sendRawTransaction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SendFault {
    /// Forward it.
    None = 0,
    /// Answer with the transaction's hash but never forward it (a transaction that never
    /// lands), once; then forward again.
    SwallowOnce = 1,
    /// Refuse it with a node error.
    Refuse = 2,
}

impl RangeLimitedRpc {
    pub async fn start(upstream: String, max_range: u64) -> Self {
        use std::sync::{atomic::Ordering, Arc};

        use axum::{extract::State, routing::post, Router};
        type Shared = (
            String,
            u64,
            Arc<std::sync::atomic::AtomicU64>,
            Arc<std::sync::atomic::AtomicU64>,
            Arc<std::sync::atomic::AtomicU8>,
        );

        async fn handle(State(s): State<Arc<Shared>>, body: String) -> ([(&'static str, &'static str); 1], String) {
            let json = [("content-type", "application/json")];
            let req: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if req["method"] == "eth_sendRawTransaction" || req["method"] == "sendTransaction" {
                match s.4.load(Ordering::SeqCst) {
                    1 => {
                        s.4.store(0, Ordering::SeqCst);
                        let param = req["params"][0].as_str().unwrap_or_default();
                        // The id a node would answer: the hash (EVM) or the first signature (Solana).
                        let id = if req["method"] == "sendTransaction" {
                            use base64::Engine;
                            let raw = base64::engine::general_purpose::STANDARD.decode(param).unwrap_or_default();
                            raw.get(1..65)
                                .and_then(|s| solana_sdk::signature::Signature::try_from(s).ok())
                                .map(|s| serde_json::json!(s.to_string()))
                                .unwrap_or_default()
                        } else {
                            serde_json::json!(keccak256(alloy::hex::decode(param).unwrap_or_default()))
                        };
                        let ok = serde_json::json!({"jsonrpc": "2.0", "id": req["id"], "result": id});
                        return (json, ok.to_string());
                    }
                    2 => {
                        let err = serde_json::json!({"jsonrpc": "2.0", "id": req["id"],
                            "error": {"code": -32000, "message": "injected: node refuses transactions"}});
                        return (json, err.to_string());
                    }
                    _ => {}
                }
            }
            if req["method"] == "eth_getLogs" {
                let num = |v: &serde_json::Value| {
                    v.as_str().and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
                };
                let (from, to) = (num(&req["params"][0]["fromBlock"]), num(&req["params"][0]["toBlock"]));
                if let (Some(from), Some(to)) = (from, to) {
                    if to >= from && to - from + 1 > s.1 {
                        s.2.fetch_add(1, Ordering::SeqCst);
                        let err = serde_json::json!({"jsonrpc": "2.0", "id": req["id"],
                            "error": {"code": -32005, "message": format!("query exceeds max block range {}", s.1)}});
                        return (json, err.to_string());
                    }
                }
                s.3.fetch_add(1, Ordering::SeqCst);
            }
            static CLIENT: std::sync::OnceLock<alloy::transports::http::reqwest::Client> = std::sync::OnceLock::new();
            let client = CLIENT.get_or_init(alloy::transports::http::reqwest::Client::new);
            let resp = client.post(&s.0).header("content-type", "application/json").body(body).send().await;
            let text = match resp {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(e) => serde_json::json!({"jsonrpc": "2.0", "id": req["id"],
                    "error": {"code": -32603, "message": e.to_string()}})
                .to_string(),
            };
            (json, text)
        }

        let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let served = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let send_fault = Arc::new(std::sync::atomic::AtomicU8::new(0));
        let state: Arc<Shared> = Arc::new((upstream, max_range, refused.clone(), served.clone(), send_fault.clone()));
        let app = Router::new().route("/", post(handle)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, refused, served, send_fault, _server: server }
    }
}

impl RangeLimitedRpc {
    pub fn set_send_fault(&self, f: SendFault) {
        self.send_fault.store(f as u8, std::sync::atomic::Ordering::SeqCst);
    }
}
