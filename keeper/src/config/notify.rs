//! `[notify]`: alerts and remote control (Telegram, webhooks, email). Secrets (the bot token,
//! webhook URLs, the SMTP password) are never read from this file: each comes from a file named
//! here or from an environment variable (see `crate::notify::secrets`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How a channel treats one type of notification (freqtrade's model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Sent, with the channel's usual alert.
    On,
    /// Sent without a sound or a mention (Telegram `disable_notification`).
    Silent,
    /// Not sent.
    Off,
}

/// One level per notification type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Types {
    pub buy: Level,
    pub sell: Level,
    /// A position trapped (or sellable again).
    pub trapped: Level,
    /// A chain's circuit breaker opened.
    pub breaker: Level,
    /// A task down for more than `notify.down_after_secs`, and back again.
    pub health: Level,
    /// The daily summary.
    pub daily: Level,
    /// The anomaly watch flagged a young or held pool (absent from older configs: on).
    #[serde(default = "on")]
    pub anomaly: Level,
}

fn on() -> Level {
    Level::On
}

impl Default for Types {
    fn default() -> Self {
        Self {
            buy: Level::On,
            sell: Level::On,
            trapped: Level::On,
            breaker: Level::On,
            health: Level::On,
            daily: Level::Silent,
            anomaly: Level::On,
        }
    }
}

impl Types {
    pub fn level(&self, kind: &str) -> Level {
        match kind {
            "buy" => self.buy,
            "sell" => self.sell,
            "trapped" => self.trapped,
            "breaker" => self.breaker,
            "health" => self.health,
            "daily" => self.daily,
            "anomaly" => self.anomaly,
            _ => Level::Off,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    pub enabled: bool,
    /// How often the mirror is read for new events, in milliseconds.
    pub poll_ms: u64,
    /// The most notifications a channel may be behind; older ones are dropped (and counted).
    pub queue: usize,
    /// A task not running for this long is reported down.
    pub down_after_secs: u64,
    /// When the daily summary is sent, `HH:MM` in UTC; empty: never.
    pub daily_at_utc: String,
    pub telegram: TelegramConfig,
    pub webhooks: Vec<WebhookConfig>,
    pub email: EmailConfig,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            poll_ms: 500,
            queue: 1_000,
            down_after_secs: 60,
            daily_at_utc: "08:00".into(),
            telegram: TelegramConfig::default(),
            webhooks: Vec::new(),
            email: EmailConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    pub enabled: bool,
    /// The Bot API's base URL.
    pub api_url: String,
    /// A file holding the bot token; empty: the `KEEPER_TELEGRAM_TOKEN` environment variable.
    pub token_file: PathBuf,
    /// The chats notified, and the only ones whose commands are obeyed.
    pub chat_ids: Vec<i64>,
    /// Accept commands (`/status`, `/pause`, `/exit`...) from those chats.
    pub commands: bool,
    /// `getUpdates` long-polling timeout, in seconds.
    pub poll_timeout_secs: u64,
    /// Least time between two messages to one chat, in milliseconds (Telegram allows about one
    /// per second).
    pub min_interval_ms: u64,
    pub timeout_ms: u64,
    pub types: Types,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            api_url: "https://api.telegram.org".into(),
            token_file: PathBuf::new(),
            chat_ids: Vec::new(),
            commands: true,
            poll_timeout_secs: 30,
            min_interval_ms: 1_000,
            timeout_ms: 10_000,
            types: Types::default(),
        }
    }
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `template`, with `{field}` replaced by the notification's values (JSON-escaped).
    Generic,
    /// A Discord webhook: one embed, green for a profit and red for a loss.
    Discord,
    /// A Slack incoming webhook: `text` and one attachment.
    Slack,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Its name (letters, digits, `_`): the URL comes from `url_file` or from the
    /// `KEEPER_WEBHOOK_URL_<NAME>` environment variable (upper case).
    pub name: String,
    pub format: WebhookFormat,
    #[serde(default)]
    pub url_file: PathBuf,
    /// The generic format's JSON body; fields: kind, title, body, and the notification's values.
    #[serde(default = "default_template")]
    pub template: String,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts after the first, with exponential backoff from `backoff_ms`.
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    #[serde(default)]
    pub types: Types,
}

fn default_template() -> String {
    r#"{"kind":"{kind}","title":"{title}","text":"{body}"}"#.into()
}
fn default_timeout_ms() -> u64 {
    5_000
}
fn default_retries() -> u32 {
    4
}
fn default_backoff_ms() -> u64 {
    500
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server cannot.
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No encryption: only with `allow_plaintext = true`.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Send over an unencrypted connection (a local relay); off unless set.
    pub allow_plaintext: bool,
    /// Empty: no authentication. The password comes from `password_file` or
    /// `KEEPER_SMTP_PASSWORD`.
    pub username: String,
    pub password_file: PathBuf,
    pub from: String,
    pub to: Vec<String>,
    pub timeout_ms: u64,
    pub types: Types,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            allow_plaintext: false,
            username: String::new(),
            password_file: PathBuf::new(),
            from: String::new(),
            to: Vec::new(),
            timeout_ms: 10_000,
            types: Types {
                buy: Level::Off,
                sell: Level::Off,
                trapped: Level::On,
                breaker: Level::On,
                health: Level::On,
                daily: Level::On,
                anomaly: Level::On,
            },
        }
    }
}

/// The validation of `[notify]`: `Err((field, reason))`.
pub fn validate(n: &NotifyConfig) -> Result<(), (String, String)> {
    let bad = |f: &str, why: &str| Err((format!("notify.{f}"), why.to_string()));
    if n.poll_ms == 0 || n.poll_ms > 60_000 {
        return bad("poll_ms", "must be between 1 and 60000");
    }
    if n.queue == 0 || n.queue > 1_000_000 {
        return bad("queue", "must be between 1 and 1000000");
    }
    if !n.daily_at_utc.is_empty() && daily_minute(&n.daily_at_utc).is_none() {
        return bad("daily_at_utc", "must be HH:MM (UTC), or empty");
    }
    let t = &n.telegram;
    if t.enabled {
        if t.chat_ids.is_empty() {
            return bad("telegram.chat_ids", "must name at least one chat when telegram is enabled");
        }
        if !(t.api_url.starts_with("http://") || t.api_url.starts_with("https://")) {
            return bad("telegram.api_url", "must be an http(s) URL");
        }
        if t.poll_timeout_secs > 600 {
            return bad("telegram.poll_timeout_secs", "must be at most 600");
        }
    }
    for (i, w) in n.webhooks.iter().enumerate() {
        if w.name.is_empty() || !w.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return bad(&format!("webhooks[{i}].name"), "must be letters, digits and _");
        }
        if w.format == WebhookFormat::Generic
            && serde_json::from_str::<serde_json::Value>(&fill_probe(&w.template)).is_err()
        {
            return bad(&format!("webhooks[{i}].template"), "must be JSON once its {fields} are filled");
        }
        if w.timeout_ms == 0 {
            return bad(&format!("webhooks[{i}].timeout_ms"), "must be above 0");
        }
    }
    let e = &n.email;
    if e.enabled {
        if e.host.is_empty() {
            return bad("email.host", "must be set when email is enabled");
        }
        if e.tls == SmtpTls::None && !e.allow_plaintext {
            return bad("email.tls", "\"none\" sends in plain text: set email.allow_plaintext = true to allow it");
        }
        if e.from.parse::<lettre::message::Mailbox>().is_err() {
            return bad("email.from", "must be an email address");
        }
        if e.to.is_empty() {
            return bad("email.to", "must name at least one address");
        }
        for (i, to) in e.to.iter().enumerate() {
            if to.parse::<lettre::message::Mailbox>().is_err() {
                return bad(&format!("email.to[{i}]"), "must be an email address");
            }
        }
    }
    Ok(())
}

/// The minute of the day of `HH:MM`.
pub fn daily_minute(at: &str) -> Option<u32> {
    let (h, m) = at.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && at.len() == 5).then_some(h * 60 + m)
}

/// A template with every `{field}` replaced by a string, to check it is JSON.
fn fill_probe(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        match rest[i + 1..].find('}') {
            Some(j) if rest[i + 1..i + 1 + j].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && j > 0 => {
                out.push('0');
                rest = &rest[i + 2 + j..];
            }
            _ => {
                out.push('{');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}
