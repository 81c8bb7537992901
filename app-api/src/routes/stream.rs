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
use serde::Serialize;
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

/// A trade as streamed: each status it reaches (`intent`, `sent`, `confirmed`, `failed`) once.
#[derive(sqlx::FromRow, Serialize)]
struct TradeMsg {
    id: i64,
    chain: String,
    mode: String,
    side: String,
    reason: String,
    status: String,
    token: String,
    position_id: i64,
    amount_in: String,
    min_out: String,
    amount_out: Option<String>,
    tx_id: Option<String>,
    block: Option<i64>,
    error: Option<String>,
}

const TRADE_COLUMNS: &str =
    "id, chain, mode, side, reason, status, token, position_id, amount_in, min_out, amount_out, tx_id, block, error";

/// Follows the `trades` table: rows after the last one seen, and the rows still in flight
/// (`intent`/`sent`) until they settle, so every status change is pushed once.
struct TradeFollower {
    last_id: i64,
    in_flight: HashMap<i64, String>,
}

impl TradeFollower {
    async fn start(db: &sqlx::SqlitePool) -> Self {
        let last_id: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM trades").fetch_one(db).await.ok().flatten();
        let in_flight: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, status FROM trades WHERE status IN ('intent', 'sent')")
                .fetch_all(db)
                .await
                .unwrap_or_default();
        Self { last_id: last_id.unwrap_or(0), in_flight: in_flight.into_iter().collect() }
    }

    /// The trades to push since the last call.
    async fn changes(&mut self, db: &sqlx::SqlitePool) -> Vec<TradeMsg> {
        let ids = serde_json::to_string(&self.in_flight.keys().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into());
        let rows: Vec<TradeMsg> = sqlx::query_as(&format!(
            "SELECT {TRADE_COLUMNS} FROM trades WHERE id > ? OR id IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT 500"
        ))
        .bind(self.last_id)
        .bind(ids)
        .fetch_all(db)
        .await
        .unwrap_or_default();
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
    let max = |sql: &'static str| {
        let db = state.db.clone();
        async move { sqlx::query_scalar::<_, Option<i64>>(sql).fetch_one(&db).await.ok().flatten().unwrap_or(0) }
    };
    let mut last_pool = max("SELECT max(id) FROM pools").await;
    let mut last_event = max("SELECT max(id) FROM pool_events").await;
    let mut trades = TradeFollower::start(&state.db).await;
    state.stream.rounds.send_replace(Some(0));
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let pools: Vec<(i64, String, String, String, String, String, i64)> = sqlx::query_as(
            "SELECT id, chain, venue, address, token_a, token_b, first_seen_at_ms FROM pools WHERE id > ? ORDER BY id LIMIT 500",
        )
        .bind(last_pool)
        .fetch_all(&state.db)
        .await
        .unwrap_or_default();
        for (id, chain, venue, address, token_a, token_b, seen) in pools {
            last_pool = id;
            let _ = state.stream.tx.send(Arc::new(json!({"type": "discovery", "chain": chain, "venue": venue,
                "pool": address, "token_a": token_a, "token_b": token_b, "first_seen_at_ms": seen})));
        }
        type Row = (i64, String, Option<String>, String, i64, String, Option<bool>, Option<String>, Option<String>);
        let events: Vec<Row> = sqlx::query_as(
            "SELECT id, chain, pool_address, tx_id, slot, kind, a_to_b, amount_in, amount_out FROM pool_events
             WHERE id > ? ORDER BY id LIMIT 500",
        )
        .bind(last_event)
        .fetch_all(&state.db)
        .await
        .unwrap_or_default();
        for (id, chain, pool, tx, slot, kind, a_to_b, amount_in, amount_out) in events {
            last_event = id;
            if kind == "swap" {
                let _ = state.stream.tx.send(Arc::new(json!({"type": "swap", "chain": chain, "pool": pool, "tx": tx,
                    "slot": slot, "a_to_b": a_to_b, "amount_in": amount_in, "amount_out": amount_out})));
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
