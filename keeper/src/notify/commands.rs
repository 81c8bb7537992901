//! The Telegram bot's commands, read by long-polling `getUpdates`. The next offset is stored
//! before a command is handled, so a restart never handles one twice. Only the configured chats
//! are obeyed; anyone else is ignored and written to the audit log. Pausing and resuming go
//! through the API's operator path: `keeper_controls` and the audit log.

use std::{sync::Arc, time::Duration};

use alloy::primitives::U256;
use serde_json::json;
use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use super::{
    producer::{short, summary_text},
    telegram::{Bot, TelegramChannel, Update},
    text::{html, units, untrusted},
};
use crate::config::TradingConfig;

const DAY_MS: i64 = 86_400_000;

pub const HELP: &str = "/status - trading state, tasks and breakers\n\
/positions - open and trapped positions\n\
/profit [days] - realized results (all time without days)\n\
/daily [days] - results per UTC day (7 days)\n\
/balance - spent today against each chain's budget\n\
/limits - the operators' limits and the configured ones\n\
/exit <position> - sell all of it, after a confirmation\n\
/pause - stop buying (exits go on)\n\
/resume - buy again\n\
/help - this list";

pub struct Commands {
    pub db: SqlitePool,
    pub bot: Arc<Bot>,
    /// Replies go through the notification sender, so they share its pacing.
    pub replies: Arc<TelegramChannel>,
    pub chats: Vec<i64>,
    pub poll_timeout_secs: u64,
    pub trading: TradingConfig,
}

impl Commands {
    /// Polls and answers until cancelled.
    pub async fn run(&self, cancel: CancellationToken) {
        let mut backoff = Duration::from_secs(1);
        loop {
            let offset = match mirror::notify::state(&self.db, "telegram:offset").await {
                Ok(v) => v.and_then(|v| v.parse().ok()).unwrap_or(0),
                Err(e) => {
                    tracing::warn!(error = %e, "telegram offset unreadable");
                    0
                }
            };
            let updates = tokio::select! {
                () = cancel.cancelled() => return,
                u = self.bot.updates(offset, self.poll_timeout_secs) => u,
            };
            match updates {
                Ok(updates) => {
                    backoff = Duration::from_secs(1);
                    for u in updates {
                        // Stored first: a crash while handling loses this command rather than
                        // running it twice.
                        if let Err(e) =
                            mirror::notify::set_state(&self.db, "telegram:offset", &(u.update_id + 1).to_string()).await
                        {
                            tracing::warn!(error = %e, "cannot store the telegram offset; not handling the command");
                            break;
                        }
                        if let Err(e) = self.handle(&u).await {
                            tracing::warn!(update = u.update_id, error = %e, "telegram command failed");
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "telegram getUpdates failed; retrying");
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
        }
    }

    async fn handle(&self, u: &Update) -> Result<(), String> {
        if let Some(q) = &u.callback_query {
            return self.confirm(q).await;
        }
        let Some(m) = &u.message else { return Ok(()) };
        let chat = m.chat.id;
        let text = m.text.clone().unwrap_or_default();
        if !self.chats.contains(&chat) {
            metrics::counter!("keeper_telegram_refused_total").increment(1);
            let said: String = text.chars().take(64).collect();
            tracing::warn!(chat, text = %said.escape_debug(), "telegram command from a chat not allowed: ignored");
            let detail = json!({ "chat_id": chat, "text": said }).to_string();
            mirror::api::audit(&self.db, None, "telegram", "telegram_refused", &detail)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(());
        }
        if let Some(id) = text.trim().strip_prefix("/exit") {
            return self.ask_exit(chat, id.trim()).await;
        }
        let reply = self.answer(chat, text.trim()).await.map_err(|e| e.to_string())?;
        self.replies.send_html(chat, &reply, false).await.map_err(|e| e.to_string())
    }

    /// `/exit <position>`: nothing happens until the inline keyboard's confirmation.
    async fn ask_exit(&self, chat: i64, arg: &str) -> Result<(), String> {
        let id = arg.split('@').next().unwrap_or("").trim_start_matches('#').parse::<i64>().ok().filter(|i| *i > 0);
        let Some(id) = id else {
            return self
                .replies
                .send_html(chat, "Usage: /exit &lt;position id&gt; (see /positions)", false)
                .await
                .map_err(|e| e.to_string());
        };
        let found = mirror::notify::position_brief(&self.db, id).await.map_err(|e| e.to_string())?;
        let Some((_, chain, token, size)) = found.filter(|(status, ..)| status == "open" || status == "trapped") else {
            return self
                .replies
                .send_html(chat, &format!("Position #{id} is not open."), false)
                .await
                .map_err(|e| e.to_string());
        };
        let keyboard = json!([[
            { "text": format!("Sell all of #{id}"), "callback_data": format!("exit:{id}") },
            { "text": "Cancel", "callback_data": "cancel" },
        ]]);
        let text = html(&format!("Exit position #{id} ({chain} {}, size {size})? Confirm below.", short(&token)));
        self.bot.send(chat, &text, false, Some(keyboard)).await.map_err(|e| e.to_string())
    }

    /// An inline-keyboard press: only a confirmation from an allowed chat acts.
    async fn confirm(&self, q: &super::telegram::CallbackQuery) -> Result<(), String> {
        let chat = q.message.as_ref().map(|m| m.chat.id);
        let data = q.data.clone().unwrap_or_default();
        let Some(chat) = chat.filter(|c| self.chats.contains(c)) else {
            metrics::counter!("keeper_telegram_refused_total").increment(1);
            let detail = json!({ "chat_id": chat, "callback": data.chars().take(64).collect::<String>() }).to_string();
            mirror::api::audit(&self.db, None, "telegram", "telegram_refused", &detail)
                .await
                .map_err(|e| e.to_string())?;
            return self.bot.answer_callback(&q.id, "Not allowed").await.map_err(|e| e.to_string());
        };
        let Some(id) = data.strip_prefix("exit:").and_then(|i| i.parse::<i64>().ok()) else {
            return self.bot.answer_callback(&q.id, "Cancelled").await.map_err(|e| e.to_string());
        };
        use mirror::api::ExitRequest;
        let by = format!("telegram:{chat}");
        let outcome = mirror::api::request_exit(&self.db, id, &by).await.map_err(|e| e.to_string())?;
        let reply = match outcome {
            ExitRequest::Requested | ExitRequest::AlreadyRequested => {
                let detail = json!({ "position_id": id, "chat_id": chat }).to_string();
                mirror::api::audit(&self.db, None, "telegram", "position_exit", &detail)
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!(chat, position = id, "telegram operator command: exit");
                format!("Exit requested for #{id}: it is sold at the next exit check.")
            }
            ExitRequest::NotOpen(status) => format!("Position #{id} is {status}: nothing to sell."),
            ExitRequest::Unknown => format!("No position #{id}."),
        };
        self.bot.answer_callback(&q.id, "OK").await.map_err(|e| e.to_string())?;
        self.replies.send_html(chat, &html(&reply), false).await.map_err(|e| e.to_string())
    }

    /// The reply to one command, as Telegram HTML.
    pub async fn answer(&self, chat: i64, text: &str) -> mirror::Result<String> {
        let mut words = text.split_whitespace();
        // `/status@MyBot` in groups.
        let command = words.next().unwrap_or("").split('@').next().unwrap_or("");
        let arg = words.next();
        Ok(match command {
            "/start" | "/help" => format!("<b>Commands</b>\n{}", html(HELP)),
            "/status" => self.status().await?,
            "/positions" => self.positions().await?,
            "/profit" => {
                let days = arg.and_then(|d| d.parse::<i64>().ok()).filter(|d| *d > 0);
                let since = days.map_or(0, |d| mirror::now_ms() - d * DAY_MS);
                let closed = mirror::notify::closed_since(&self.db, since).await?;
                let open = usize::try_from(mirror::notify::open_positions(&self.db).await?).unwrap_or(0);
                let what = days.map_or("all time".to_string(), |d| format!("last {d} days"));
                format!("<b>Profit, {what}</b>\n{}", html(&summary_text(&closed, open)))
            }
            "/daily" => self.daily(arg.and_then(|d| d.parse::<i64>().ok()).unwrap_or(7).clamp(1, 31)).await?,
            "/balance" => self.balance().await?,
            "/limits" => self.limits().await?,
            "/pause" | "/resume" => {
                let paused = command == "/pause";
                let by = format!("telegram:{chat}");
                mirror::api::set_paused(&self.db, paused, &by).await?;
                let action = if paused { "keeper_pause" } else { "keeper_resume" };
                mirror::api::audit(&self.db, None, "telegram", action, &json!({ "chat_id": chat }).to_string()).await?;
                tracing::info!(chat, action, "telegram operator command");
                if paused {
                    "<b>Paused</b>: no new buys; exits go on.".into()
                } else {
                    "<b>Resumed</b>: buying again.".into()
                }
            }
            _ => format!("Unknown command {}. Send /help.", html(&untrusted(command))),
        })
    }

    async fn status(&self) -> mirror::Result<String> {
        let c = mirror::api::controls(&self.db).await?;
        let mode = if self.trading.live { "LIVE" } else { "DRY-RUN" };
        let mut lines = vec![format!(
            "<b>{mode}</b>, trading {}{}",
            if self.trading.enabled { "on" } else { "off" },
            if c.paused { ", PAUSED" } else { "" }
        )];
        lines.push(format!("Open positions: {}", mirror::notify::open_positions(&self.db).await?));
        let now = mirror::now_ms();
        for (chain, m, failures, until) in mirror::notify::breakers(&self.db).await? {
            if until > now {
                lines.push(html(&format!(
                    "Breaker OPEN on {chain} ({m}) for {} s, {failures} failures",
                    (until - now) / 1_000
                )));
            }
        }
        let tasks = mirror::tasks::all(&self.db).await?;
        let down: Vec<String> =
            tasks.iter().filter(|t| t.state != "running").map(|t| format!("{} {}", t.name, t.state)).collect();
        lines.push(format!("Tasks: {} running", tasks.len() - down.len()));
        if !down.is_empty() {
            lines.push(html(&format!("Not running: {}", down.join(", "))));
        }
        Ok(lines.join("\n"))
    }

    async fn positions(&self) -> mirror::Result<String> {
        let mut lines = vec!["<b>Positions</b>".to_string()];
        for status in ["trapped", "open"] {
            let f = mirror::reads::TradeFilter { status: Some(status), ..Default::default() };
            for p in mirror::reads::positions_page(&self.db, &f, 20).await? {
                let sym = mirror::reads::token(&self.db, &p.chain, &p.token).await?.and_then(|t| t.symbol);
                lines.push(html(&format!(
                    "#{} {} {} {}: size {}, cost {}, value {}",
                    p.id,
                    p.chain,
                    sym.as_deref().map(untrusted).unwrap_or_else(|| short(&p.token)),
                    p.status.to_uppercase(),
                    p.size,
                    p.cost,
                    p.last_value.as_deref().unwrap_or("?"),
                )));
            }
        }
        if lines.len() == 1 {
            lines.push("None.".into());
        }
        Ok(lines.join("\n"))
    }

    async fn daily(&self, days: i64) -> mirror::Result<String> {
        let today = mirror::now_ms().div_euclid(DAY_MS);
        let closed = mirror::notify::closed_since(&self.db, (today - days + 1) * DAY_MS).await?;
        let mut lines = vec![format!("<b>Daily, last {days} days</b>")];
        for day in (today - days + 1..=today).rev() {
            let of_day: Vec<_> = closed.iter().filter(|c| c.closed_at_ms.div_euclid(DAY_MS) == day).cloned().collect();
            let s = super::producer::summarize(&of_day);
            let text = if s.is_empty() {
                "nothing closed".to_string()
            } else {
                s.iter()
                    .map(|((chain, _), t)| {
                        format!("{chain}: {} closed, {} won, {} (${})", t.closed, t.won, t.pnl, t.usd)
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            lines.push(html(&format!("{}: {text}", super::producer::civil_date(day))));
        }
        Ok(lines.join("\n"))
    }

    async fn balance(&self) -> mirror::Result<String> {
        let mode = if self.trading.live { "live" } else { "dry_run" };
        let since = mirror::now_ms().div_euclid(DAY_MS) * DAY_MS;
        let mut lines = vec!["<b>Spent today</b>".to_string()];
        for (chain, b) in &self.trading.chains {
            let spent: U256 = mirror::notify::spent_since(&self.db, chain, mode, since)
                .await?
                .iter()
                .map(|a| a.parse::<U256>().unwrap_or_default())
                .fold(U256::ZERO, |a, b| a.saturating_add(b));
            lines.push(html(&format!(
                "{chain}: {} of {} (buy size {})",
                units(&spent.to_string(), None),
                b.daily_budget,
                b.buy_amount
            )));
        }
        if lines.len() == 1 {
            lines.push("No chain trades.".into());
        }
        Ok(lines.join("\n"))
    }

    async fn limits(&self) -> mirror::Result<String> {
        let c = mirror::api::controls(&self.db).await?;
        let t = &self.trading;
        Ok(format!(
            "<b>Limits</b>\nOperators' overrides: {}\nMax risk score: {}\nMax open positions: {}\nTake profit: {} bps, stop loss: {} bps, trailing: {} bps, max hold: {} s",
            html(&c.limits),
            t.max_risk_score,
            t.max_open_positions,
            t.take_profit_bps,
            t.stop_loss_bps,
            t.trailing_stop_bps,
            t.max_hold_secs
        ))
    }
}
