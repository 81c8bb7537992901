//! Alerts and remote control, off the hot path: the [`producer`] turns what the mirror records
//! (trades, position health, breakers, tasks) into rows of the `notifications` outbox; each
//! [`channel`] (Telegram, webhooks, email) delivers the outbox from its own cursor; the Telegram
//! [`commands`] bot lets the configured chats query and control the keeper through the same
//! path as the API's operator routes (`keeper_controls` and the audit log).
//!
//! Nothing here is ever awaited by a buy or an exit: the trader writes the mirror as it always
//! does, and the notifier reads it.

pub mod channel;
pub mod commands;
pub mod email;
pub mod producer;
pub mod telegram;
pub mod text;
pub mod webhook;

use std::{collections::HashMap, sync::Arc, time::Duration};

use sqlx::SqlitePool;

use crate::{
    config::{
        notify::{daily_minute, NotifyConfig},
        TradingConfig,
    },
    tasks::{StageId, TaskSet},
    trade::keys::{self, KeyError},
};

/// Environment variables of the notifier's secrets (each may come from a file instead).
pub const TELEGRAM_TOKEN_ENV: &str = "KEEPER_TELEGRAM_TOKEN";
pub const SMTP_PASSWORD_ENV: &str = "KEEPER_SMTP_PASSWORD";
/// Followed by the webhook's name in upper case.
pub const WEBHOOK_URL_ENV_PREFIX: &str = "KEEPER_WEBHOOK_URL_";

/// The notifier's secrets, read from their files or environment variables (never the config).
#[derive(Debug, Default, Clone)]
pub struct NotifySecrets {
    pub telegram: Option<telegram::BotToken>,
    pub webhooks: HashMap<String, webhook::WebhookUrl>,
    pub smtp_password: Option<email::SmtpPassword>,
}

impl NotifySecrets {
    /// The secrets the enabled channels need; a channel without its secret is an error that
    /// names the setting.
    pub fn load(cfg: &NotifyConfig, vars: &dyn Fn(&str) -> Option<String>) -> Result<Self, KeyError> {
        let mut s = Self::default();
        if !cfg.enabled {
            return Ok(s);
        }
        if cfg.telegram.enabled {
            let file = cfg.telegram.token_file.display().to_string();
            let token = keys::secret("notify.telegram.token_file", &file, TELEGRAM_TOKEN_ENV, vars)?
                .ok_or(KeyError::MissingSecret { field: "notify.telegram.token_file", env: TELEGRAM_TOKEN_ENV })?;
            s.telegram = Some(telegram::BotToken(token.0));
        }
        for w in &cfg.webhooks {
            let env = format!("{WEBHOOK_URL_ENV_PREFIX}{}", w.name.to_ascii_uppercase());
            let url = if w.url_file.as_os_str().is_empty() {
                vars(&env).filter(|v| !v.trim().is_empty()).map(|v| v.trim().to_string())
            } else {
                let file = w.url_file.display().to_string();
                keys::secret("notify.webhooks[].url_file", &file, "", vars)?.map(|t| t.0)
            };
            let url = url.ok_or(KeyError::MissingSecret {
                field: "notify.webhooks[].url_file",
                env: "KEEPER_WEBHOOK_URL_<NAME>",
            })?;
            s.webhooks.insert(w.name.clone(), webhook::WebhookUrl(url));
        }
        if cfg.email.enabled && !cfg.email.username.is_empty() {
            let file = cfg.email.password_file.display().to_string();
            s.smtp_password = keys::secret("notify.email.password_file", &file, SMTP_PASSWORD_ENV, vars)?
                .map(|t| email::SmtpPassword(t.0));
        }
        Ok(s)
    }
}

/// Spawns the producer, one delivery task per enabled channel and the Telegram commands, in
/// `stage`. Nothing when `notify.enabled` is off.
pub fn spawn(
    tasks: &mut TaskSet,
    stage: StageId,
    db: &SqlitePool,
    cfg: &NotifyConfig,
    secrets: &NotifySecrets,
    trading: &TradingConfig,
) -> Result<(), String> {
    if !cfg.enabled {
        return Ok(());
    }
    let poll = Duration::from_millis(cfg.poll_ms);
    let producer = producer::ProducerConfig {
        down_after_ms: i64::try_from(cfg.down_after_secs.saturating_mul(1_000)).unwrap_or(i64::MAX),
        daily_minute: daily_minute(&cfg.daily_at_utc),
    };
    let pdb = db.clone();
    tasks.spawn(stage, "notify", false, move |cancel| {
        let (db, producer) = (pdb.clone(), producer.clone());
        async move {
            loop {
                if let Err(e) = producer::scan(&db, &producer, mirror::now_ms()).await {
                    tracing::warn!(error = %e, "notification scan failed");
                }
                tokio::select! {
                    () = cancel.cancelled() => return Ok::<(), String>(()),
                    () = tokio::time::sleep(poll) => {}
                }
            }
        }
    });
    let mut channels: Vec<(Arc<dyn channel::Channel>, crate::config::notify::Types)> = Vec::new();
    if let (true, Some(token)) = (cfg.telegram.enabled, &secrets.telegram) {
        let t = &cfg.telegram;
        let bot = Arc::new(
            telegram::Bot::new(&t.api_url, token.clone(), Duration::from_millis(t.timeout_ms))
                .map_err(|e| e.to_string())?,
        );
        let sender = Arc::new(telegram::TelegramChannel::new(
            Arc::clone(&bot),
            t.chat_ids.clone(),
            Duration::from_millis(t.min_interval_ms),
        ));
        channels.push((sender.clone(), t.types));
        if t.commands {
            let commands = Arc::new(commands::Commands {
                db: db.clone(),
                bot,
                replies: sender,
                chats: t.chat_ids.clone(),
                poll_timeout_secs: t.poll_timeout_secs,
                trading: trading.clone(),
            });
            tasks.spawn(stage, "notify-telegram-commands", false, move |cancel| {
                let commands = Arc::clone(&commands);
                async move {
                    commands.run(cancel).await;
                    Ok::<(), String>(())
                }
            });
        }
    }
    for w in &cfg.webhooks {
        let url =
            secrets.webhooks.get(&w.name).cloned().ok_or_else(|| format!("notify.webhooks: no URL for {}", w.name))?;
        channels.push((Arc::new(webhook::Webhook::new(w.clone(), url)?), w.types));
    }
    if cfg.email.enabled {
        channels.push((Arc::new(email::Email::new(&cfg.email, secrets.smtp_password.clone())?), cfg.email.types));
    }
    for (shared, types) in channels {
        let name = shared.name();
        let (db, queue) = (db.clone(), cfg.queue);
        tasks.spawn(stage, &format!("notify-{}", name.replace(':', "-")), false, move |cancel| {
            let (db, ch) = (db.clone(), Arc::clone(&shared));
            async move {
                channel::run(db, ch, types, queue, poll, cancel).await;
                Ok::<(), String>(())
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_the_environment_or_a_file_and_are_never_shown() {
        let mut cfg = NotifyConfig { enabled: true, ..NotifyConfig::default() };
        cfg.telegram.enabled = true;
        let none = |_: &str| None;
        let err = NotifySecrets::load(&cfg, &none).unwrap_err();
        assert!(err.to_string().contains("notify.telegram.token_file") && err.to_string().contains(TELEGRAM_TOKEN_ENV));
        let env = |n: &str| (n == TELEGRAM_TOKEN_ENV).then(|| "123:SECRET".to_string());
        let s = NotifySecrets::load(&cfg, &env).unwrap();
        assert_eq!(s.telegram.as_ref().map(|t| t.0.as_str()), Some("123:SECRET"));
        assert!(!format!("{s:?}").contains("SECRET"), "redacted: {s:?}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hook");
        std::fs::write(&file, "https://discord.example/api/webhooks/1/SECRET\n").unwrap();
        cfg.webhooks.push(crate::config::notify::WebhookConfig {
            name: "ops".into(),
            format: crate::config::notify::WebhookFormat::Discord,
            url_file: file,
            template: String::new(),
            timeout_ms: 1_000,
            retries: 0,
            backoff_ms: 1,
            types: Default::default(),
        });
        let s = NotifySecrets::load(&cfg, &env).unwrap();
        assert_eq!(s.webhooks["ops"].0, "https://discord.example/api/webhooks/1/SECRET");
        assert!(!format!("{s:?}").contains("SECRET"));
        cfg.enabled = false;
        assert!(NotifySecrets::load(&cfg, &none).unwrap().telegram.is_none(), "nothing read when off");
    }
}
