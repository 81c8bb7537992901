//! Webhooks: a generic JSON body from a template, Discord's embed (coloured by profit) and
//! Slack's incoming-webhook shape. Each POST has a timeout; a failure (a transport error or a
//! non-2xx status) is retried with exponential backoff, `retries` times.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use mirror::notify::NotificationRow;

use super::channel::Channel;
use crate::config::notify::{Level, WebhookConfig, WebhookFormat};

/// Discord embed colours: green for a profit, red for a loss, blue otherwise.
pub const GREEN: u32 = 0x2e_cc_71;
pub const RED: u32 = 0xe7_4c_3c;
pub const BLUE: u32 = 0x34_98_db;

/// A webhook URL, never printed (it is its own credential).
#[derive(Clone)]
pub struct WebhookUrl(pub String);

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookUrl(<redacted>)")
    }
}

pub struct Webhook {
    pub cfg: WebhookConfig,
    url: WebhookUrl,
    http: reqwest::Client,
}

impl Webhook {
    pub fn new(cfg: WebhookConfig, url: WebhookUrl) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { cfg, url, http })
    }

    async fn post(&self, body: &Value) -> Result<(), String> {
        let mut backoff = Duration::from_millis(self.cfg.backoff_ms);
        let mut attempt = 0;
        loop {
            let outcome = match self.http.post(&self.url.0).json(body).send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => format!("status {}", r.status()),
                // Without the URL: it is a secret.
                Err(e) => format!("transport: {}", e.without_url()),
            };
            if attempt >= self.cfg.retries {
                return Err(format!("gave up after {} attempts: {outcome}", attempt + 1));
            }
            attempt += 1;
            metrics::counter!("keeper_notify_retries_total", "channel" => self.name()).increment(1);
            tracing::warn!(webhook = %self.cfg.name, attempt, error = %outcome, "webhook failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    }
}

/// The body `format` sends for `n`.
pub fn body(format: WebhookFormat, template: &str, n: &NotificationRow) -> Value {
    match format {
        WebhookFormat::Discord => {
            let colour = match n.profit {
                Some(1) => GREEN,
                Some(-1) => RED,
                _ => BLUE,
            };
            json!({
                "username": "amm-sniper keeper",
                "allowed_mentions": { "parse": [] },
                "embeds": [{
                    "title": n.title,
                    "description": n.body,
                    "color": colour,
                    "fields": [{ "name": "type", "value": n.kind, "inline": true }],
                    "timestamp": super::producer::civil_date(n.created_at_ms.div_euclid(86_400_000)),
                }],
            })
        }
        WebhookFormat::Slack => json!({
            "text": format!("*{}*", slack_escape(&n.title)),
            "attachments": [{
                "color": match n.profit { Some(1) => "good", Some(-1) => "danger", _ => "#3498db" },
                "text": slack_escape(&n.body),
                "footer": n.kind,
            }],
        }),
        WebhookFormat::Generic => {
            let mut values: Map<String, Value> = serde_json::from_str(&n.fields).unwrap_or_default();
            values.insert("kind".into(), n.kind.clone().into());
            values.insert("title".into(), n.title.clone().into());
            values.insert("body".into(), n.body.clone().into());
            values.insert("id".into(), n.id.into());
            let filled = fill(template, &values);
            serde_json::from_str(&filled)
                .unwrap_or_else(|_| json!({ "kind": n.kind, "title": n.title, "text": n.body }))
        }
    }
}

/// Slack's three control characters.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `template` with each `{field}` replaced by the field's value, escaped as the inside of a JSON
/// string (so chain text can never break out of it); unknown fields become empty.
pub fn fill(template: &str, values: &Map<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) if j > 0 && after[..j].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                let v = match values.get(&after[..j]) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                let quoted = Value::String(v).to_string();
                out.push_str(&quoted[1..quoted.len() - 1]);
                rest = &after[j + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Channel for Webhook {
    fn name(&self) -> String {
        format!("webhook:{}", self.cfg.name)
    }

    fn send<'a>(&'a self, n: &'a NotificationRow, _level: Level) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.post(&body(self.cfg.format, &self.cfg.template, n)).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(profit: Option<i64>) -> NotificationRow {
        NotificationRow {
            id: 9,
            kind: "sell".into(),
            dedupe_key: "trade:9".into(),
            title: "Sold <X>".into(),
            body: "PnL: 5".into(),
            fields: r#"{"symbol":"\"},\"evil\":{\"","pnl":"5","score":12}"#.into(),
            profit,
            created_at_ms: 0,
        }
    }

    #[test]
    fn bodies_have_each_services_shape() {
        let d = body(WebhookFormat::Discord, "", &n(Some(1)));
        assert_eq!(d["embeds"][0]["color"], GREEN);
        assert_eq!(d["embeds"][0]["title"], "Sold <X>");
        assert_eq!(body(WebhookFormat::Discord, "", &n(Some(-1)))["embeds"][0]["color"], RED);
        let s = body(WebhookFormat::Slack, "", &n(Some(-1)));
        assert_eq!(
            (s["text"].as_str(), s["attachments"][0]["color"].as_str()),
            (Some("*Sold &lt;X&gt;*"), Some("danger"))
        );
        let g = body(
            WebhookFormat::Generic,
            r#"{"what":"{title}","sym":"{symbol}","score":"{score}","x":"{missing}"}"#,
            &n(None),
        );
        assert_eq!(g["what"], "Sold <X>");
        assert_eq!(g["sym"], "\"},\"evil\":{\"", "chain text stays inside its string");
        assert_eq!((g["score"].as_str(), g["x"].as_str()), (Some("12"), Some("")));
        assert!(g.get("evil").is_none());
    }
}
