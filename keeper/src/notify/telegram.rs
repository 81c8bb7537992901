//! The Telegram Bot API, as documented at core.telegram.org/bots/api: `sendMessage` (HTML parse
//! mode), `getUpdates` (long polling), `answerCallbackQuery`. Every answer is
//! `{"ok":true,"result":...}` or `{"ok":false,"error_code":...,"description":...,
//! "parameters":{"retry_after":...}}`; a 429 is waited out for `retry_after` seconds.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

/// The bot token, never printed.
#[derive(Clone)]
pub struct BotToken(pub String);

impl std::fmt::Debug for BotToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotToken(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    /// The request did not get an answer (the token is never part of this text).
    #[error("telegram unreachable: {0}")]
    Transport(String),
    #[error("telegram refused {method}: {code} {description}")]
    Refused { method: &'static str, code: i64, description: String },
}

#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    error_code: i64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Debug, Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

/// One update of `getUpdates`: a message or an inline-keyboard press.
#[derive(Debug, Clone, Deserialize)]
pub struct Update {
    pub update_id: i64,
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub callback_query: Option<CallbackQuery>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub chat: Chat,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Chat {
    pub id: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CallbackQuery {
    pub id: String,
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub data: Option<String>,
}

pub struct Bot {
    http: reqwest::Client,
    base: String,
    token: BotToken,
    /// Retries of a 429 before giving up on one request.
    pub max_waits: u32,
}

impl Bot {
    pub fn new(api_url: &str, token: BotToken, timeout: Duration) -> Result<Self, TelegramError> {
        let http =
            reqwest::Client::builder().timeout(timeout).build().map_err(|e| TelegramError::Transport(e.to_string()))?;
        Ok(Self { http, base: api_url.trim_end_matches('/').to_string(), token, max_waits: 5 })
    }

    async fn call(
        &self,
        method: &'static str,
        body: &Value,
        timeout: Option<Duration>,
    ) -> Result<Value, TelegramError> {
        let url = format!("{}/bot{}/{method}", self.base, self.token.0);
        let mut waits = 0;
        loop {
            let mut req = self.http.post(&url).json(body);
            if let Some(t) = timeout {
                req = req.timeout(t);
            }
            // reqwest's error text can hold the URL, and so the token: never show it.
            let resp = req.send().await.map_err(|e| TelegramError::Transport(redact(&e.to_string(), &self.token)))?;
            let status = resp.status();
            let answer: Answer = resp
                .json()
                .await
                .map_err(|e| TelegramError::Transport(format!("{status}: {}", redact(&e.to_string(), &self.token))))?;
            if answer.ok {
                return Ok(answer.result);
            }
            let retry = answer.parameters.and_then(|p| p.retry_after);
            if answer.error_code == 429 && waits < self.max_waits {
                waits += 1;
                let secs = retry.unwrap_or(1).min(300);
                metrics::counter!("keeper_notify_rate_limited_total", "channel" => "telegram").increment(1);
                tracing::warn!(method, retry_after = secs, "telegram rate limit: waiting");
                tokio::time::sleep(Duration::from_secs(secs)).await;
                continue;
            }
            return Err(TelegramError::Refused { method, code: answer.error_code, description: answer.description });
        }
    }

    /// Sends HTML `text` (already escaped) to `chat`, with an optional inline keyboard.
    pub async fn send(
        &self,
        chat: i64,
        text: &str,
        silent: bool,
        keyboard: Option<Value>,
    ) -> Result<(), TelegramError> {
        let mut body = json!({
            "chat_id": chat, "text": text, "parse_mode": "HTML",
            "disable_notification": silent, "link_preview_options": { "is_disabled": true },
        });
        if let Some(k) = keyboard {
            body["reply_markup"] = json!({ "inline_keyboard": k });
        }
        self.call("sendMessage", &body, None).await.map(|_| ())
    }

    /// Updates from `offset` on, waiting up to `timeout_secs` for the first.
    pub async fn updates(&self, offset: i64, timeout_secs: u64) -> Result<Vec<Update>, TelegramError> {
        let body = json!({
            "offset": offset, "timeout": timeout_secs, "allowed_updates": ["message", "callback_query"],
        });
        let wait = Some(Duration::from_secs(timeout_secs + 10));
        let result = self.call("getUpdates", &body, wait).await?;
        serde_json::from_value(result).map_err(|e| TelegramError::Transport(format!("getUpdates: {e}")))
    }

    pub async fn answer_callback(&self, id: &str, text: &str) -> Result<(), TelegramError> {
        self.call("answerCallbackQuery", &json!({ "callback_query_id": id, "text": text }), None).await.map(|_| ())
    }
}

fn redact(text: &str, token: &BotToken) -> String {
    if token.0.is_empty() {
        text.to_string()
    } else {
        text.replace(&token.0, "<token>")
    }
}

/// Notifications to every configured chat: the title in bold, the body as text, everything
/// escaped, split at 4,096 characters, at most one message per `min_interval` per chat.
pub struct TelegramChannel {
    pub bot: std::sync::Arc<Bot>,
    pub chats: Vec<i64>,
    pub min_interval: Duration,
    last: tokio::sync::Mutex<std::collections::HashMap<i64, tokio::time::Instant>>,
}

impl TelegramChannel {
    pub fn new(bot: std::sync::Arc<Bot>, chats: Vec<i64>, min_interval: Duration) -> Self {
        Self { bot, chats, min_interval, last: tokio::sync::Mutex::default() }
    }

    /// Sends `html` to `chat` in as many parts as it takes, each at least `min_interval` after
    /// the previous message to that chat was answered (so Telegram sees them that far apart).
    pub async fn send_html(&self, chat: i64, html: &str, silent: bool) -> Result<(), TelegramError> {
        for part in super::text::split(html, super::text::TELEGRAM_MAX) {
            // Held across the send: one message at a time, in order.
            let mut last = self.last.lock().await;
            if let Some(at) = last.get(&chat) {
                tokio::time::sleep_until(*at + self.min_interval).await;
            }
            let sent = self.bot.send(chat, &part, silent, None).await;
            last.insert(chat, tokio::time::Instant::now());
            sent?;
        }
        Ok(())
    }
}

/// A notification as Telegram HTML: a bold title, then the body, all escaped.
pub fn html_message(title: &str, body: &str) -> String {
    format!("<b>{}</b>\n{}", super::text::html(title), super::text::html(body))
}

impl super::channel::Channel for TelegramChannel {
    fn name(&self) -> String {
        "telegram".into()
    }

    fn send<'a>(
        &'a self,
        n: &'a mirror::notify::NotificationRow,
        level: crate::config::notify::Level,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let text = html_message(&n.title, &n.body);
            let silent = level == crate::config::notify::Level::Silent;
            for chat in &self.chats {
                self.send_html(*chat, &text, silent).await.map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }
}
