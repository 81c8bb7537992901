//! Websocket subscriptions of the localnet: `logsSubscribe` (all, or mentions of one address),
//! `signatureSubscribe` (one-shot), `accountSubscribe` (the account after every transaction that
//! touches it), `programSubscribe` (each account of a program a transaction leaves behind, with
//! `dataSize`/`memcmp` filters), `slotSubscribe`, and their unsubscribes, in the shape `solana-pubsub-client`
//! expects. `drop_all` closes every open connection, to test clients' reconnect paths.

use std::{collections::HashMap, sync::Arc};

use anchor_lang::prelude::Pubkey;
use axum::{
    extract::{
        ws::{Message, WebSocket, WebSocketUpgrade},
        State,
    },
    response::IntoResponse,
};
use serde_json::{json, Value};
use solana_rpc_client_api::response::{
    ProcessedSignatureResult, Response, RpcLogsResponse, RpcResponseContext, RpcSignatureResult,
};
use solana_sdk::{signature::Signature, transaction::TransactionError};
use tokio::sync::{broadcast, watch};

/// What subscribers learn about a committed transaction.
#[derive(Debug, Clone)]
pub struct Notice {
    pub signature: Signature,
    pub slot: u64,
    pub err: Option<TransactionError>,
    pub logs: Vec<String>,
    pub accounts: Vec<Pubkey>,
    /// Those accounts after the transaction.
    pub after: Vec<(Pubkey, solana_sdk::account::Account)>,
}

#[derive(Clone)]
pub struct WsState {
    pub notices: broadcast::Sender<Arc<Notice>>,
    /// Bumped to close every open connection.
    pub generation: watch::Sender<u64>,
    /// `logsSubscribe` subscriptions open right now, over every connection (what a test waits
    /// on before it relies on notifications).
    pub log_subscriptions: Arc<std::sync::atomic::AtomicUsize>,
}

/// Keeps [`WsState::log_subscriptions`] right for one connection, whichever way it ends.
struct LogCount<'a>(&'a std::sync::atomic::AtomicUsize, usize);

impl LogCount<'_> {
    fn add(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.1 += 1;
    }

    fn remove(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.1 -= 1;
    }
}

impl Drop for LogCount<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, std::sync::atomic::Ordering::SeqCst);
    }
}

enum Filter {
    Logs(Option<Pubkey>),
    Signature(Signature),
    Account(Pubkey, Option<solana_account_decoder_client_types::UiAccountEncoding>),
    Program(Pubkey, Vec<super::filters::Compiled>, Option<solana_account_decoder_client_types::UiAccountEncoding>),
    Slot,
}

pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<WsState>) -> impl IntoResponse {
    ws.on_upgrade(move |socket| session(socket, state))
}

fn response(id: &Value, result: Value) -> Message {
    Message::Text(json!({"jsonrpc": "2.0", "result": result, "id": id}).to_string().into())
}

fn error(id: &Value, message: &str) -> Message {
    Message::Text(json!({"jsonrpc": "2.0", "error": {"code": -32602, "message": message}, "id": id}).to_string().into())
}

fn parse_filter(method: &str, params: &Value) -> Result<Filter, String> {
    match method {
        "logsSubscribe" => match params.get(0) {
            Some(Value::String(s)) if s == "all" || s == "allWithVotes" => Ok(Filter::Logs(None)),
            Some(Value::Object(o)) => {
                let keys = o.get("mentions").and_then(Value::as_array).ok_or("expected {\"mentions\": [address]}")?;
                let [key] = keys.as_slice() else { return Err("mentions takes exactly one address".into()) };
                let key = key.as_str().and_then(|k| k.parse().ok()).ok_or("invalid address")?;
                Ok(Filter::Logs(Some(key)))
            }
            _ => Err("invalid logs filter".into()),
        },
        "signatureSubscribe" => {
            let sig = params.get(0).and_then(Value::as_str).and_then(|s| s.parse().ok()).ok_or("invalid signature")?;
            Ok(Filter::Signature(sig))
        }
        "accountSubscribe" => {
            let key = params.get(0).and_then(Value::as_str).and_then(|s| s.parse().ok()).ok_or("invalid address")?;
            let config: solana_rpc_client_api::config::RpcAccountInfoConfig = match params.get(1) {
                None | Some(Value::Null) => Default::default(),
                Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("invalid config: {e}"))?,
            };
            Ok(Filter::Account(key, config.encoding))
        }
        "programSubscribe" => {
            let program =
                params.get(0).and_then(Value::as_str).and_then(|s| s.parse().ok()).ok_or("invalid program id")?;
            let config: super::filters::ProgramAccountsConfig = match params.get(1) {
                None | Some(Value::Null) => Default::default(),
                Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("invalid config: {e}"))?,
            };
            let filters = super::filters::compile_filters(config.filters.unwrap_or_default())?;
            Ok(Filter::Program(program, filters, config.account.encoding))
        }
        "slotSubscribe" => Ok(Filter::Slot),
        _ => Err(format!("Method not found: {method}")),
    }
}

async fn session(mut socket: WebSocket, state: WsState) {
    let mut notices = state.notices.subscribe();
    let mut generation = state.generation.subscribe();
    let mut subscriptions: HashMap<u64, Filter> = HashMap::new();
    let mut logs_open = LogCount(&state.log_subscriptions, 0);
    let mut next_id = 1u64;
    loop {
        tokio::select! {
            msg = socket.recv() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Ping(p))) => { let _ = socket.send(Message::Pong(p)).await; continue; }
                    Some(Ok(_)) => continue,
                    _ => break,
                };
                let Ok(req) = serde_json::from_str::<Value>(&text) else { continue };
                let id = req.get("id").cloned().unwrap_or(Value::Null);
                let method = req.get("method").and_then(Value::as_str).unwrap_or_default().to_string();
                let params = req.get("params").cloned().unwrap_or(Value::Null);
                let reply = if method.ends_with("Unsubscribe") {
                    let sid = params.get(0).and_then(Value::as_u64).unwrap_or(0);
                    let removed = subscriptions.remove(&sid);
                    if matches!(removed, Some(Filter::Logs(_))) {
                        logs_open.remove();
                    }
                    response(&id, json!(removed.is_some()))
                } else {
                    match parse_filter(&method, &params) {
                        Ok(filter) => {
                            let sid = next_id;
                            next_id += 1;
                            if matches!(filter, Filter::Logs(_)) {
                                logs_open.add();
                            }
                            subscriptions.insert(sid, filter);
                            response(&id, json!(sid))
                        }
                        Err(e) => error(&id, &e),
                    }
                };
                if socket.send(reply).await.is_err() { break; }
            }
            notice = notices.recv() => {
                let notice = match notice {
                    Ok(n) => n,
                    // A subscriber too slow to keep up is disconnected, as validators do.
                    Err(_) => break,
                };
                let mut done = Vec::new();
                for (sid, filter) in &subscriptions {
                    let context = RpcResponseContext::new(notice.slot);
                    let (method, result) = match filter {
                        Filter::Logs(mentions) if mentions.is_none_or(|k| notice.accounts.contains(&k)) => {
                            let value = RpcLogsResponse {
                                signature: notice.signature.to_string(),
                                err: notice.err.clone().map(Into::into),
                                logs: notice.logs.clone(),
                            };
                            ("logsNotification", serde_json::to_value(Response { context, value }))
                        }
                        Filter::Signature(sig) if *sig == notice.signature => {
                            done.push(*sid);
                            let value = RpcSignatureResult::ProcessedSignature(ProcessedSignatureResult {
                                err: notice.err.clone().map(Into::into),
                            });
                            ("signatureNotification", serde_json::to_value(Response { context, value }))
                        }
                        Filter::Account(key, encoding) => {
                            let Some((_, account)) = notice.after.iter().find(|(k, _)| k == key) else { continue };
                            let value = super::encoding::ui_account(account, *encoding);
                            ("accountNotification", serde_json::to_value(Response { context, value }))
                        }
                        Filter::Program(program, filters, encoding) => {
                            // One notification per matching account the transaction left behind.
                            for (key, account) in &notice.after {
                                if account.owner != *program || !filters.iter().all(|f| f.matches(&account.data)) {
                                    continue;
                                }
                                let value = json!({
                                    "pubkey": key.to_string(),
                                    "account": super::encoding::ui_account(account, *encoding),
                                });
                                let result = json!({ "context": context, "value": value });
                                let text = json!({"jsonrpc": "2.0", "method": "programNotification",
                                    "params": {"result": result, "subscription": sid}});
                                if socket.send(Message::Text(text.to_string().into())).await.is_err() { return; }
                            }
                            continue;
                        }
                        Filter::Slot => {
                            let value = json!({ "parent": notice.slot.saturating_sub(1), "root": notice.slot, "slot": notice.slot });
                            ("slotNotification", Ok(value))
                        }
                        _ => continue,
                    };
                    let Ok(result) = result else { continue };
                    let text = json!({"jsonrpc": "2.0", "method": method, "params": {"result": result, "subscription": sid}});
                    if socket.send(Message::Text(text.to_string().into())).await.is_err() { return; }
                }
                for sid in done { subscriptions.remove(&sid); }
            }
            _ = generation.changed() => break,
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
