//! Outgoing mail behind one trait: SMTP (lettre) when configured, otherwise a dev mailbox that
//! writes each message to a JSON-lines file, so flows that need an emailed link can be finished
//! locally. Neither logs a message body: bodies carry one-time tokens.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;

use crate::config::Secret;

/// One outgoing message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Sends mail.
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    async fn send(&self, mail: Mail) -> anyhow::Result<()>;
}

/// Mail settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// Sender address.
    pub from: String,
    /// An SMTP relay; when absent, mail goes to the dev mailbox.
    pub smtp: Option<SmtpConfig>,
    /// Where the dev mailbox writes `mailbox.jsonl`.
    pub mailbox_dir: PathBuf,
    /// Base URL of the page that completes emailed links; the token is appended as `?token=`.
    pub link_base_url: String,
}

impl MailConfig {
    /// Refuses the dev mailbox, which writes every link in clear to a file: a service run in
    /// production must send its mail through SMTP.
    pub fn check_production(&self) -> anyhow::Result<()> {
        if self.smtp.is_none() {
            anyhow::bail!(
                "production: mail.smtp is not configured, and the dev mailbox would write \
                 verification and reset links in clear to {}",
                self.mailbox_dir.join("mailbox.jsonl").display()
            );
        }
        Ok(())
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            from: "Tessera <no-reply@tessera.invalid>".to_owned(),
            smtp: None,
            mailbox_dir: PathBuf::from(".tessera/mailbox"),
            link_base_url: "http://localhost:8080/account".to_owned(),
        }
    }
}

/// An SMTP relay.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// How the connection is secured.
    #[serde(default)]
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret<String>>,
}

/// SMTP transport security.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Implicit TLS (port 465).
    Tls,
    /// STARTTLS upgrade (port 587).
    #[default]
    Starttls,
    /// No encryption: only for a relay on the same host.
    Plain,
}

/// The notifier a configuration asks for.
pub fn notifier(config: &MailConfig) -> anyhow::Result<Arc<dyn Notifier>> {
    let from: Mailbox = config.from.parse().context("mail.from is not an address")?;
    match &config.smtp {
        Some(smtp) => Ok(Arc::new(SmtpNotifier::new(smtp, from)?)),
        None => Ok(Arc::new(DevMailbox {
            path: config.mailbox_dir.join("mailbox.jsonl"),
        })),
    }
}

/// SMTP through lettre.
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpNotifier {
    fn new(config: &SmtpConfig, from: Mailbox) -> anyhow::Result<Self> {
        let builder = match config.security {
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)?,
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)?
            }
            SmtpSecurity::Plain => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            }
        };
        let mut builder = builder
            .port(config.port)
            .timeout(Some(std::time::Duration::from_secs(10)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().clone()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(mail.to.parse().context("recipient is not an address")?)
            .subject(mail.subject)
            .body(mail.body)?;
        self.transport
            .send(message)
            .await
            .context("SMTP relay refused the message")?;
        Ok(())
    }
}

/// Writes mail to a file instead of sending it.
pub struct DevMailbox {
    path: PathBuf,
}

impl DevMailbox {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

#[async_trait]
impl Notifier for DevMailbox {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let mut line = serde_json::to_vec(&mail)?;
        line.push(b'\n');
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await?;
        file.write_all(&line).await?;
        // tokio's file hands writes to a blocking thread; without the flush the line may not
        // have reached the file when `send` returns, and a reader right after would miss it.
        file.flush().await?;
        tracing::info!(mailbox = %self.path.display(), subject = %mail.subject, "mail written to the dev mailbox");
        Ok(())
    }
}

/// Reads the dev mailbox (tests and local use).
pub async fn read_mailbox(dir: &std::path::Path) -> anyhow::Result<Vec<Mail>> {
    let text = match tokio::fs::read_to_string(dir.join("mailbox.jsonl")).await {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(err) => return Err(err.into()),
    };
    text.lines()
        .map(|l| serde_json::from_str(l).context("corrupt mailbox line"))
        .collect()
}
