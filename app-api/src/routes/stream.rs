//! `GET /api/v1/stream` (websocket): pushes new discoveries, swaps and the keeper's trades as
//! they are mirrored. One poller per process watches the mirror every 200 ms (new `pools` rows,
//! new `pool_events` rows, new `trades` rows and every status change of a trade in flight) and
//! broadcasts to every client; a client that falls behind is told how many it missed.

use std::{collections::HashMap, sync::Arc, time::Duration};

use axum::{
    extract::{
        ws::{rejection::WebSocketUpgradeRejection, Message, WebSocket, WebSocketUpgrade},
        State,
    },
    response::Response,
    routing::get,
    Router,
};
use mirror::reads::StreamTrade;
use serde_json::{json, Value};
use tokio::sync::{broadcast, OnceCell};

use crate::{params::Params, routes::check_chain, AppState};

/// The broadcaster shared by every connection.
pub struct Stream {
    tx: broadcast::Sender<Arc<Value>>,
    started: OnceCell<()>,
    /// Rounds the poller has finished (0 once it has its baseline, then one per look).
    rounds: tokio::sync::watch::Sender<Option<u64>>,
}

impl Default for Stream {
    fn default() -> Self {
        Self { tx: broadcast::channel(1_024).0, started: OnceCell::new(), rounds: tokio::sync::watch::channel(None).0 }
    }
}

impl Stream {
    /// Waits until the poller has finished `n` rounds after its baseline: whatever the mirror
    /// held before has been looked at `n` times and pushed if it was new.
    pub async fn rounds_done(&self, n: u64) {
        let mut rx = self.rounds.subscribe();
        let _ = rx.wait_for(|r| r.is_some_and(|r| r >= n)).await;
    }

    /// Rounds finished so far (`None`: no baseline yet).
    pub fn rounds(&self) -> Option<u64> {
        *self.rounds.borrow()
    }
}

const TYPES: [&str; 3] = ["discovery", "swap", "trade"];

/// Follows the `trades` table: rows after the last one seen, and the rows still in flight
/// (`intent`/`sent`) until they settle, so every status change is pushed once.
struct TradeFollower {
    last_id: i64,
    in_flight: HashMap<i64, String>,
}

impl TradeFollower {
    async fn start(db: &sqlx::SqlitePool, last_id: i64) -> Self {
        let in_flight = mirror::reads::trades_in_flight(db).await.unwrap_or_default();
        Self { last_id, in_flight: in_flight.into_iter().collect() }
    }

    /// The trades to push since the last call.
    async fn changes(&mut self, db: &sqlx::SqlitePool) -> Vec<StreamTrade> {
        let ids = serde_json::to_string(&self.in_flight.keys().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into());
        let rows = mirror::reads::trades_after_or_in(db, self.last_id, &ids).await.unwrap_or_default();
        let mut out = Vec::new();
        for t in rows {
            self.last_id = self.last_id.max(t.id);
            let changed = self.in_flight.get(&t.id) != Some(&t.status);
            if matches!(t.status.as_str(), "intent" | "sent") {
                self.in_flight.insert(t.id, t.status.clone());
            } else {
                self.in_flight.remove(&t.id);
            }
            if changed {
                out.push(t);
            }
        }
        out
    }
}

async fn poll(state: AppState) {
    let (mut last_pool, mut last_event, last_trade) = mirror::reads::newest_ids(&state.db).await.unwrap_or_default();
    let mut trades = TradeFollower::start(&state.db, last_trade).await;
    state.stream.rounds.send_replace(Some(0));
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        for p in mirror::reads::pools_after(&state.db, last_pool).await.unwrap_or_default() {
            last_pool = p.id;
            let _ = state.stream.tx.send(Arc::new(json!({"type": "discovery", "chain": p.chain, "venue": p.venue,
                "pool": p.address, "token_a": p.token_a, "token_b": p.token_b, "first_seen_at_ms": p.first_seen_at_ms})));
        }
        for e in mirror::reads::events_after(&state.db, last_event).await.unwrap_or_default() {
            last_event = e.id;
            if e.kind == "swap" {
                let _ =
                    state.stream.tx.send(Arc::new(json!({"type": "swap", "chain": e.chain, "pool": e.pool_address,
                    "tx": e.tx_id, "slot": e.slot, "a_to_b": e.a_to_b, "amount_in": e.amount_in,
                    "amount_out": e.amount_out})));
            }
        }
        for t in trades.changes(&state.db).await {
            if let Ok(Value::Object(mut m)) = serde_json::to_value(&t) {
                m.insert("type".into(), "trade".into());
                let _ = state.stream.tx.send(Arc::new(Value::Object(m)));
            }
        }
        state.stream.rounds.send_modify(|r| *r = Some(r.unwrap_or(0) + 1));
    }
}

/// Upgrades to a websocket streaming `{"type": "discovery" | "swap" | "trade", "chain": ..., ...}`
/// messages (a trade once per status it reaches). Optional `chain` and `types` (comma-separated)
/// filters.
#[utoipa::path(get, path = "/api/v1/stream", tag = "pools",
    params(("chain" = Option<String>, Query, pattern = "^[a-z0-9_-]{1,32}$", description = "only this chain"),
        ("types" = Option<String>, Query, pattern = "^(discovery|swap|trade)(,(discovery|swap|trade))*$", description = "comma-separated: discovery, swap, trade")),
    responses((status = 101, description = "websocket upgrade"), (status = 400, body = crate::error::ErrorBody),
        (status = 426, description = "not a websocket handshake", body = crate::error::ErrorBody)))]
pub async fn stream(
    State(state): State<AppState>,
    params: Params,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, crate::error::ApiError> {
    params.only(&["chain", "types"])?;
    let chain = params.str("chain").map(str::to_string);
    if let Some(c) = &chain {
        check_chain("chain", c)?;
    }
    let types: Vec<String> = match params.str("types") {
        None => TYPES.iter().map(|t| t.to_string()).collect(),
        Some(t) => {
            let v: Vec<String> = t.split(',').map(str::to_string).collect();
            if let Some(bad) = v.iter().find(|t| !TYPES.contains(&t.as_str())) {
                return Err(crate::error::ApiError::invalid(
                    "types",
                    format!("`{bad}` is not one of {}", TYPES.join(", ")),
                ));
            }
            v
        }
    };
    // Parameters first, so a plain GET learns what is wrong with them too.
    let ws =
        ws.map_err(|e| crate::error::ApiError::UpgradeRequired(format!("a websocket handshake is required: {e}")))?;
    let poller_state = state.clone();
    state
        .stream
        .started
        .get_or_init(|| async move {
            tokio::spawn(poll(poller_state));
        })
        .await;
    let rx = state.stream.tx.subscribe();
    Ok(ws.on_upgrade(move |socket| serve(socket, rx, chain, types)))
}

async fn serve(
    mut socket: WebSocket,
    mut rx: broadcast::Receiver<Arc<Value>>,
    chain: Option<String>,
    types: Vec<String>,
) {
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let text = match msg {
                    Ok(v) => {
                        let wanted = types.iter().any(|t| v["type"] == t.as_str())
                            && chain.as_ref().is_none_or(|c| v["chain"] == c.as_str());
                        if !wanted { continue; }
                        v.to_string()
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => json!({"type": "lagged", "missed": n}).to_string(),
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                _ => {}
            },
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/stream", get(stream))
}
