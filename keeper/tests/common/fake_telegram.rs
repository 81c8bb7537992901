//! A fake Telegram Bot API (the service cannot be reached from here) on a [`FakeApi`], answering
//! in the documented shapes: `{"ok":true,"result":...}`, or `{"ok":false,"error_code":...,
//! "description":...,"parameters":{"retry_after":...}}`. `getUpdates` serves the updates a test
//! queued from the request's `offset` on, waiting a little when there are none (long polling).
#![allow(dead_code)]

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use super::fake_api::{FakeApi, Reply};

pub const TOKEN: &str = "123456:TEST-token";

#[derive(Clone)]
pub struct FakeTelegram {
    pub api: FakeApi,
    updates: Arc<Mutex<Vec<Value>>>,
}

/// One `sendMessage` the bot received.
#[derive(Debug, Clone)]
pub struct Sent {
    pub chat: i64,
    pub text: String,
    pub silent: bool,
    pub keyboard: Option<Value>,
    pub at: Instant,
}

pub fn path(method: &str) -> String {
    format!("/bot{TOKEN}/{method}")
}

impl FakeTelegram {
    pub async fn start() -> Self {
        let api = FakeApi::start().await;
        let updates: Arc<Mutex<Vec<Value>>> = Arc::default();
        let queued = updates.clone();
        api.respond(&path("getUpdates"), move |seen| {
            let body: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
            let offset = body["offset"].as_i64().unwrap_or(0);
            let due: Vec<Value> =
                queued.lock().unwrap().iter().filter(|u| u["update_id"].as_i64() >= Some(offset)).cloned().collect();
            let reply = Reply::json(json!({ "ok": true, "result": due }).to_string());
            if due.is_empty() {
                reply.delayed(Duration::from_millis(100))
            } else {
                reply
            }
        });
        let counter = Arc::new(Mutex::new(0i64));
        api.respond(&path("sendMessage"), move |seen| {
            let body: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
            let mut n = counter.lock().unwrap();
            *n += 1;
            let message_id = *n;
            Reply::json(
                json!({ "ok": true, "result": {
                    "message_id": message_id, "date": 1_700_000_000,
                    "chat": { "id": body["chat_id"], "type": "private" }, "text": body["text"],
                }})
                .to_string(),
            )
        });
        api.default(&path("answerCallbackQuery"), Reply::json(r#"{"ok":true,"result":true}"#));
        Self { api, updates }
    }

    pub fn url(&self) -> String {
        self.api.url.clone()
    }

    /// A text message from `chat` to the bot; returns its update id.
    pub fn say(&self, chat: i64, text: &str) -> i64 {
        let mut u = self.updates.lock().unwrap();
        let id = 1_000 + i64::try_from(u.len()).unwrap();
        u.push(json!({
            "update_id": id,
            "message": {
                "message_id": id, "date": 1_700_000_000, "text": text,
                "chat": { "id": chat, "type": "private" },
                "from": { "id": chat, "is_bot": false, "first_name": "op" },
            },
        }));
        id
    }

    /// A press on an inline-keyboard button with `data`, under a message in `chat`.
    pub fn press(&self, chat: i64, data: &str) -> i64 {
        let mut u = self.updates.lock().unwrap();
        let id = 1_000 + i64::try_from(u.len()).unwrap();
        u.push(json!({
            "update_id": id,
            "callback_query": {
                "id": format!("cb{id}"), "chat_instance": "1", "data": data,
                "from": { "id": chat, "is_bot": false, "first_name": "op" },
                "message": { "message_id": id, "date": 1_700_000_000, "chat": { "id": chat, "type": "private" } },
            },
        }));
        id
    }

    /// Every `sendMessage` received (scripted refusals included), oldest first.
    pub fn sent(&self) -> Vec<Sent> {
        self.api
            .seen(&path("sendMessage"))
            .into_iter()
            .map(|s| {
                let b: Value = serde_json::from_slice(&s.body).unwrap_or_default();
                Sent {
                    chat: b["chat_id"].as_i64().unwrap_or(0),
                    text: b["text"].as_str().unwrap_or("").to_string(),
                    silent: b["disable_notification"].as_bool().unwrap_or(false),
                    keyboard: b.get("reply_markup").cloned(),
                    at: s.at,
                }
            })
            .collect()
    }

    /// The `offset` of every `getUpdates` call, oldest first.
    pub fn offsets(&self) -> Vec<i64> {
        self.api
            .seen(&path("getUpdates"))
            .iter()
            .map(|s| serde_json::from_slice::<Value>(&s.body).unwrap_or_default()["offset"].as_i64().unwrap_or(-1))
            .collect()
    }
}
