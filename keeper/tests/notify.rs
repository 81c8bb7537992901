//! Alerts and remote control against real servers on 127.0.0.1: a fake Telegram Bot API in the
//! documented shapes, a webhook receiver, and a real SMTP server (aiosmtpd, installed by
//! `scripts/test.sh`). The keeper is the one `keeper run` builds, trading live on the Solana
//! localnet.

#[path = "common/fake_api.rs"]
mod fake_api;
#[path = "common/fake_telegram.rs"]
mod fake_telegram;
#[path = "common/keeper.rs"]
mod keeper_run;
#[path = "common/solana_world.rs"]
mod solana_world;

use std::{path::PathBuf, process::Stdio, time::Duration};

use amm::client;
use fake_api::{FakeApi, Reply};
use fake_telegram::{FakeTelegram, TOKEN};
use keeper::{
    config::notify::{EmailConfig, Level, NotifyConfig, SmtpTls, Types, WebhookConfig, WebhookFormat},
    notify::{
        channel,
        email::Email,
        telegram::{html_message, Bot, BotToken, TelegramChannel},
        webhook::{Webhook, WebhookUrl, RED},
        NotifySecrets,
    },
};
use localnet::sim::SolLaunch;
use solana_sdk::signature::Signer;
use solana_world::{SolWorld, MIN_QUOTE};
use sqlx::SqlitePool;
use test_utils::wait_for;
use tokio_util::sync::CancellationToken;

const CHAT: i64 = 4_242;
const STRANGER: i64 = 666;

/// A real SMTP server: aiosmtpd writing every message it accepts into a Maildir.
struct Smtp {
    child: std::process::Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Smtp {
    async fn start() -> Self {
        let bin = std::env::var("AIOSMTPD").unwrap_or_else(|_| "aiosmtpd".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let maildir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(&bin)
            .args(["-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin} (scripts/test.sh installs it): {e}"));
        // Ready once it accepts a connection.
        wait_for("the SMTP server listens", || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok().map(|_| ())
        })
        .await;
        Self { child, port, maildir }
    }

    /// Every message received, as raw text.
    fn messages(&self) -> Vec<String> {
        let dir: PathBuf = self.maildir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        entries.flatten().filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect()
    }

    fn config(&self, tls: SmtpTls) -> EmailConfig {
        EmailConfig {
            enabled: true,
            host: "127.0.0.1".into(),
            port: self.port,
            tls,
            allow_plaintext: tls == SmtpTls::None,
            from: "keeper@example.org".into(),
            to: vec!["ops@example.org".into()],
            ..EmailConfig::default()
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn notify_config(tg: &FakeTelegram, smtp: &Smtp) -> NotifyConfig {
    let mut n = NotifyConfig {
        enabled: true,
        poll_ms: 50,
        daily_at_utc: "00:00".into(),
        down_after_secs: 0,
        ..NotifyConfig::default()
    };
    n.telegram.enabled = true;
    n.telegram.api_url = tg.url();
    n.telegram.chat_ids = vec![CHAT];
    n.telegram.poll_timeout_secs = 1;
    n.telegram.min_interval_ms = 20;
    n.telegram.types.daily = Level::On;
    n.email = smtp.config(SmtpTls::None);
    n
}

fn secrets() -> NotifySecrets {
    NotifySecrets { telegram: Some(BotToken(TOKEN.into())), ..NotifySecrets::default() }
}

async fn start(world: &SolWorld, n: &NotifyConfig) -> keeper_run::Running {
    let mut t = SolWorld::trading(true);
    t.take_profit_bps = 5_000;
    let n = n.clone();
    let builder = world.keeper(t, &world.net.url).configure(move |c| c.notify = n).notify_secrets(secrets());
    keeper_run::start(builder).await
}

/// The first message to `chat` whose text contains `what`.
async fn message(tg: &FakeTelegram, chat: i64, what: &str) -> fake_telegram::Sent {
    wait_for(&format!("a telegram message with {what}"), || async {
        tg.sent().into_iter().find(|s| s.chat == chat && s.text.contains(what))
    })
    .await
}

async fn audits(db: &SqlitePool, action: &str) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT ip, detail FROM audit_log WHERE action = ? ORDER BY id")
        .bind(action)
        .fetch_all(db)
        .await
        .unwrap()
}

async fn paused(db: &SqlitePool) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT paused FROM keeper_controls WHERE id = 1").fetch_one(db).await.unwrap()
}

/// Every notification type a live snipe produces reaches Telegram (HTML, escaped), the daily
/// summary reaches a real SMTP server, and the bot obeys only its chat: `/pause` pauses buying
/// (audited like the API's operator route), the same from another chat is ignored and audited,
/// and a restart does not replay a command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_snipe_is_reported_and_the_bot_obeys_only_its_chat() {
    let world = SolWorld::start().await;
    let tg = FakeTelegram::start().await;
    let smtp = Smtp::start().await;
    let n = notify_config(&tg, &smtp);
    let k = start(&world, &n).await;

    // A buy, then its take-profit sale.
    let (token, pool) = world.launch(SolLaunch::clean(10 * MIN_QUOTE));
    let buy = message(&tg, CHAT, "Bought").await;
    assert!(buy.text.starts_with("<b>Bought ") && buy.text.contains("Risk: "), "{}", buy.text);
    assert!(buy.text.contains(&token.to_string()) && buy.text.contains("(live)"), "{}", buy.text);
    world.launcher().swap(&pool, &token, true, 10 * MIN_QUOTE).unwrap();
    let sold = message(&tg, CHAT, "Sold").await;
    assert!(sold.text.contains("take_profit") && sold.text.contains("PnL: "), "{}", sold.text);

    // A position trapped: its pool stops taking swaps after the buy.
    let (trap, trap_pool) = world.launch(SolLaunch::clean(10 * MIN_QUOTE));
    message(&tg, CHAT, &trap.to_string()).await;
    let disable = client::set_pool_status(world.payer.pubkey(), &trap_pool, amm::state::status::SWAP_DISABLED);
    world.launcher().send(&[disable], &[]).unwrap();
    let trapped = message(&tg, CHAT, "Trapped").await;
    assert!(trapped.text.contains("reverts") && trapped.text.contains(&trap.to_string()), "{}", trapped.text);
    // A breaker opening and a task down, as the trader and the task set record them.
    let now = mirror::now_ms();
    sqlx::query(
        "INSERT INTO trading_state (chain, mode, consecutive_failures, breaker_open_until_ms, updated_at_ms)
         VALUES ('solana', 'live', 3, ?, ?)
         ON CONFLICT (chain, mode) DO UPDATE SET consecutive_failures = 3, breaker_open_until_ms = excluded.breaker_open_until_ms",
    )
    .bind(now + 600_000)
    .bind(now)
    .execute(&world.db)
    .await
    .unwrap();
    message(&tg, CHAT, "Circuit breaker open on solana").await;
    sqlx::query("DELETE FROM trading_state").execute(&world.db).await.unwrap();
    mirror::tasks::record(&world.db, "a-source", "failed", false, 5, Some("gave up")).await.unwrap();
    let down = message(&tg, CHAT, "Task down: a-source").await;
    assert!(down.text.contains("gave up"), "{}", down.text);
    mirror::tasks::record(&world.db, "a-source", "running", false, 5, None).await.unwrap();
    message(&tg, CHAT, "Task back: a-source").await;

    let posted = tg.api.seen(&fake_telegram::path("sendMessage"));
    let body: serde_json::Value = serde_json::from_slice(&posted[0].body).unwrap();
    assert_eq!(body["parse_mode"], "HTML");

    // The daily summary, once the day's last one is behind it: by email and on Telegram.
    let yesterday = mirror::now_ms().div_euclid(86_400_000) - 1;
    mirror::notify::set_state(&world.db, "daily", &yesterday.to_string()).await.unwrap();
    let mail = wait_for("the daily summary by email", || async {
        smtp.messages().into_iter().find(|m| m.contains("Daily summary"))
    })
    .await;
    assert!(mail.contains("Subject: [keeper] Daily summary") && mail.contains("1 closed, 1 won"), "{mail}");
    assert!(mail.contains("To: ops@example.org"), "{mail}");
    message(&tg, CHAT, "Daily summary").await;

    // /exit asks first; only the confirmation from the chat sells, with the reason `operator`.
    let (token2, _) = world.launch(SolLaunch::clean(10 * MIN_QUOTE));
    message(&tg, CHAT, &token2.to_string()).await;
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM positions WHERE token = ? AND status = 'open'")
        .bind(token2.to_string())
        .fetch_one(&world.db)
        .await
        .unwrap();
    tg.say(CHAT, &format!("/exit {id}"));
    let ask = message(&tg, CHAT, "Confirm below").await;
    let button = &ask.keyboard.as_ref().expect("an inline keyboard")["inline_keyboard"][0][0];
    assert_eq!(button["callback_data"], format!("exit:{id}"));
    let asked: i64 = sqlx::query_scalar("SELECT count(*) FROM exit_requests").fetch_one(&world.db).await.unwrap();
    assert_eq!(asked, 0, "nothing is requested before the confirmation");
    tg.press(STRANGER, &format!("exit:{id}"));
    tg.press(CHAT, &format!("exit:{id}"));
    message(&tg, CHAT, "Exit requested").await;
    let exited = wait_for("the position sold on the operator's request", || async {
        let r: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT status, exit_reason FROM positions WHERE id = ?")
                .bind(id)
                .fetch_optional(&world.db)
                .await
                .unwrap();
        r.filter(|(s, _)| s == "closed")
    })
    .await;
    assert_eq!(exited.1.as_deref(), Some("operator"));
    assert_eq!(audits(&world.db, "position_exit").await.len(), 1);
    assert_eq!(world.balance(&token2), 0);

    // Commands.
    tg.say(STRANGER, "/pause");
    let last = tg.say(CHAT, "/pause");
    message(&tg, CHAT, "Paused").await;
    assert!(paused(&world.db).await, "/pause from the chat pauses buying");
    let refused = audits(&world.db, "telegram_refused").await;
    assert_eq!(refused.len(), 2, "the stranger's press and command are audited");
    assert!(refused.iter().all(|r| r.1.as_deref().unwrap_or("").contains(&STRANGER.to_string())));
    assert_eq!(audits(&world.db, "keeper_pause").await.len(), 1);
    tg.say(CHAT, "/status");
    let status_reply = message(&tg, CHAT, "PAUSED").await;
    assert!(status_reply.text.contains("<b>LIVE</b>"), "{}", status_reply.text);
    assert!(tg.sent().iter().all(|s| s.chat != STRANGER), "nothing is sent to the stranger");

    // A restart resumes after the last command handled.
    k.stop().await;
    let calls = tg.offsets().len();
    let k = start(&world, &n).await;
    tg.say(CHAT, "/resume");
    message(&tg, CHAT, "Resumed").await;
    assert!(!paused(&world.db).await);
    assert!(tg.offsets()[calls] > last + 1, "the stored offset is where polling resumes: {:?}", tg.offsets());
    assert_eq!(audits(&world.db, "keeper_pause").await.len(), 1, "no command is replayed");
    assert_eq!(audits(&world.db, "keeper_resume").await.len(), 1);
    k.stop().await;
}

async fn outbox() -> (tempfile::TempDir, SqlitePool) {
    let dir = tempfile::tempdir().unwrap();
    let db = mirror::open_writer(&dir.path().join("keeper.db"), Duration::from_secs(5)).await.unwrap();
    mirror::migrate(&db).await.unwrap();
    (dir, db)
}

fn note(
    kind: &'static str,
    key: &str,
    title: &str,
    body: &str,
    profit: Option<i64>,
) -> mirror::notify::NewNotification {
    mirror::notify::NewNotification {
        kind,
        dedupe_key: key.into(),
        title: title.into(),
        body: body.into(),
        fields: "{}".into(),
        profit,
    }
}

/// Follows the outbox with one channel from its start until cancelled.
fn follow(db: &SqlitePool, ch: std::sync::Arc<dyn channel::Channel>, types: Types) -> CancellationToken {
    let cancel = CancellationToken::new();
    let (db, c) = (db.clone(), cancel.clone());
    tokio::spawn(async move { channel::run(db, ch, types, 100, Duration::from_millis(20), c).await });
    cancel
}

/// A 429 with `retry_after` is waited out; a 10,000-character message arrives whole, in order,
/// in parts of at most 4,096 characters, paced per chat; a notification stored twice is one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_waits_out_a_429_and_splits_long_messages_in_order() {
    let (_dir, db) = outbox().await;
    let tg = FakeTelegram::start().await;
    tg.api.script(
        &fake_telegram::path("sendMessage"),
        [Reply::status(
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#,
        )],
    );
    let bot = std::sync::Arc::new(Bot::new(&tg.url(), BotToken(TOKEN.into()), Duration::from_secs(5)).unwrap());
    let sender = TelegramChannel::new(bot, vec![CHAT], Duration::from_millis(50));
    // The channel starts at the outbox's end: what is stored after it starts is delivered.
    let cancel = follow(&db, std::sync::Arc::new(sender), Types::default());
    wait_for("the channel's cursor", || async {
        mirror::notify::state(&db, "channel:telegram").await.unwrap().map(|_| ())
    })
    .await;
    let body: String = (0..100).map(|i| format!("line {i:03} {}\n", "<&>".repeat(30))).collect();
    assert!(body.chars().count() >= 10_000);
    assert!(mirror::notify::insert(&db, &note("sell", "long", "A long one", &body, Some(1))).await.unwrap());
    assert!(!mirror::notify::insert(&db, &note("sell", "long", "A long one", &body, Some(1))).await.unwrap());
    let whole = html_message("A long one", &body);
    let parts = wait_for("every part delivered", || async {
        let sent: Vec<_> = tg.sent().into_iter().skip(1).collect();
        (sent.iter().map(|s| s.text.clone()).collect::<String>() == whole).then_some(sent)
    })
    .await;
    cancel.cancel();
    let all = tg.sent();
    assert!(parts.len() >= 3, "{} parts", parts.len());
    assert!(parts.iter().all(|p| p.text.chars().count() <= 4_096));
    assert_eq!(all[0].text, parts[0].text, "the refused part is the one sent again");
    assert!(all[1].at - all[0].at >= Duration::from_secs(1), "retry_after waited out");
    assert!(parts.windows(2).all(|w| w[1].at - w[0].at >= Duration::from_millis(50)), "paced");
}

/// A Discord webhook gets an embed coloured by the sale's loss, after two 500s it answered
/// itself, because the keeper retries with backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discord_webhook_survives_its_own_500s() {
    let (_dir, db) = outbox().await;
    let receiver = FakeApi::start().await;
    receiver.script("/hook", [Reply::status(500, "{}"), Reply::status(500, "{}")]);
    receiver.default("/hook", Reply::status(204, ""));
    let cfg = WebhookConfig {
        name: "discord".into(),
        format: WebhookFormat::Discord,
        url_file: PathBuf::new(),
        template: String::new(),
        timeout_ms: 2_000,
        retries: 4,
        backoff_ms: 20,
        types: Types::default(),
    };
    let hook = Webhook::new(cfg, WebhookUrl(format!("{}/hook", receiver.url))).unwrap();
    let cancel = follow(&db, std::sync::Arc::new(hook), Types::default());
    wait_for("the channel's cursor", || async {
        mirror::notify::state(&db, "channel:webhook:discord").await.unwrap().map(|_| ())
    })
    .await;
    mirror::notify::insert(&db, &note("sell", "trade:1", "Sold <X>", "PnL: -5", Some(-1))).await.unwrap();
    let seen = wait_for("three attempts", || async {
        let s = receiver.seen("/hook");
        (s.len() == 3).then_some(s)
    })
    .await;
    let delivered: i64 = wait_for("the cursor moves past it", || async {
        mirror::notify::state(&db, "channel:webhook:discord")
            .await
            .unwrap()
            .and_then(|v| v.parse().ok())
            .filter(|v: &i64| *v >= 1)
    })
    .await;
    cancel.cancel();
    assert_eq!(delivered, 1);
    let body: serde_json::Value = serde_json::from_slice(&seen[2].body).unwrap();
    assert_eq!(body["embeds"][0]["color"], RED);
    assert_eq!(body["embeds"][0]["title"], "Sold <X>");
    assert_eq!(body["embeds"][0]["description"], "PnL: -5");
}

/// Email refuses to send in plain text unless allowed: STARTTLS is required by default, and a
/// server that does not offer it gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_never_falls_back_to_plain_text() {
    let smtp = Smtp::start().await;
    let starttls = Email::new(&smtp.config(SmtpTls::Starttls), None).unwrap();
    let err = starttls.send_text("[keeper] test", "hello").await.unwrap_err();
    assert!(!err.is_empty());
    let mut plain = smtp.config(SmtpTls::None);
    plain.allow_plaintext = false;
    assert!(Email::new(&plain, None).is_err(), "plain text needs allow_plaintext");
    assert!(smtp.messages().is_empty(), "nothing was sent");
    let allowed = Email::new(&smtp.config(SmtpTls::None), None).unwrap();
    allowed.send_text("[keeper] test", "hello").await.unwrap();
    let got = wait_for("the message", || async { smtp.messages().into_iter().next() }).await;
    assert!(got.contains("Subject: [keeper] test") && got.contains("hello"), "{got}");
}

/// The producer reports a breaker that opens, and a task down past the threshold and then back,
/// each once however many scans run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_and_a_task_down_and_back_are_reported_once() {
    use keeper::notify::producer::{scan, ProducerConfig};

    let (_dir, db) = outbox().await;
    let cfg = ProducerConfig { down_after_ms: 1_000, daily_minute: None };
    let now = mirror::now_ms();
    scan(&db, &cfg, now).await.unwrap();
    // What the trader writes when a chain's buys keep failing, and the supervisor when a task fails.
    sqlx::query(
        "INSERT INTO trading_state (chain, mode, consecutive_failures, breaker_open_until_ms, updated_at_ms)
         VALUES ('local', 'live', 3, ?, ?)",
    )
    .bind(now + 60_000)
    .bind(now)
    .execute(&db)
    .await
    .unwrap();
    mirror::tasks::record(&db, "evm-discovery-local", "restarting", false, 2, Some("connection refused"))
        .await
        .unwrap();
    scan(&db, &cfg, now + 500).await.unwrap();
    let kinds = |rows: &[mirror::notify::NotificationRow]| rows.iter().map(|r| r.kind.clone()).collect::<Vec<_>>();
    assert_eq!(kinds(&mirror::notify::after(&db, 0, 100).await.unwrap()), ["breaker"], "not down long enough yet");
    for _ in 0..3 {
        scan(&db, &cfg, now + 2_000).await.unwrap();
    }
    let rows = mirror::notify::after(&db, 0, 100).await.unwrap();
    assert_eq!(kinds(&rows), ["breaker", "health"]);
    assert!(rows[0].title.contains("local") && rows[0].body.contains("Consecutive failures: 3"), "{:?}", rows[0]);
    assert!(rows[1].title == "Task down: evm-discovery-local" && rows[1].body.contains("connection refused"));
    mirror::tasks::record(&db, "evm-discovery-local", "running", false, 2, None).await.unwrap();
    for _ in 0..2 {
        scan(&db, &cfg, now + 3_000).await.unwrap();
    }
    let rows = mirror::notify::after(&db, 0, 100).await.unwrap();
    assert_eq!(kinds(&rows), ["breaker", "health", "health"]);
    assert_eq!(rows[2].title, "Task back: evm-discovery-local");
}
