//! Email over SMTP with lettre: STARTTLS (required, never downgraded) or implicit TLS as
//! configured; a plain connection only when `allow_plaintext` says so.

use std::time::Duration;

use futures::future::BoxFuture;
use lettre::{
    message::{header::ContentType, Mailbox},
    transport::smtp::authentication::Credentials,
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};

use mirror::notify::NotificationRow;

use super::channel::Channel;
use crate::config::notify::{EmailConfig, Level, SmtpTls};

/// The SMTP password, never printed.
#[derive(Clone)]
pub struct SmtpPassword(pub String);

impl std::fmt::Debug for SmtpPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpPassword(<redacted>)")
    }
}

pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Email {
    pub fn new(cfg: &EmailConfig, password: Option<SmtpPassword>) -> Result<Self, String> {
        let builder = match cfg.tls {
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.host).map_err(|e| e.to_string())?
            }
            SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.host).map_err(|e| e.to_string())?,
            SmtpTls::None if cfg.allow_plaintext => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host),
            SmtpTls::None => return Err("email.tls = \"none\" needs email.allow_plaintext = true".into()),
        };
        let mut builder = builder.port(cfg.port).timeout(Some(Duration::from_millis(cfg.timeout_ms)));
        if !cfg.username.is_empty() {
            let password = password.ok_or("email.username is set but no password (KEEPER_SMTP_PASSWORD)")?;
            builder = builder.credentials(Credentials::new(cfg.username.clone(), password.0));
        }
        let from: Mailbox = cfg.from.parse().map_err(|e| format!("email.from: {e}"))?;
        let to = cfg
            .to
            .iter()
            .map(|t| t.parse::<Mailbox>().map_err(|e| format!("email.to: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { transport: builder.build(), from, to })
    }

    /// Sends one plain-text message.
    pub async fn send_text(&self, subject: &str, text: &str) -> Result<(), String> {
        let mut m = Message::builder().from(self.from.clone()).subject(subject).header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            m = m.to(to.clone());
        }
        let message = m.body(text.to_string()).map_err(|e| e.to_string())?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

impl Channel for Email {
    fn name(&self) -> String {
        "email".into()
    }

    fn send<'a>(&'a self, n: &'a NotificationRow, _level: Level) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            // Subjects are one line: chain text with a newline cannot add headers.
            let subject: String = format!("[keeper] {}", n.title).chars().filter(|c| !c.is_control()).collect();
            self.send_text(&subject, &n.body).await
        })
    }
}
