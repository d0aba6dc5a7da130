//! Outgoing mail, off the request path. Handlers put a message on a bounded
//! queue (a full queue is their 503); one worker sends each with a timeout
//! and retries, over SMTP (lettre) or, in development, to the log.
//! Failures are counted in `tenk_mail_send_failures_total` and logged
//! without the message body, which may hold a code or token.

mod message;

use std::time::Duration;

use anyhow::Context;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use prometheus::IntCounter;
use secrecy::ExposeSecret;
use tokio::sync::mpsc;

pub use self::message::Mail;
use crate::config::{MailSettings, MailTransport};
use crate::domain::email::Email;

/// How a message leaves the process.
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Log,
}

/// A message waiting to be sent.
struct Job {
    message: Message,
    /// Masked recipient, for logs.
    recipient: String,
    /// Subject and plain text, for the log transport (no headers: they name
    /// the recipient).
    preview: String,
}

/// The sending side of the mail queue.
#[derive(Clone)]
pub struct Mailer {
    queue: mpsc::Sender<Job>,
    from: Mailbox,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the mail queue is full")]
    QueueFull,
    #[error("cannot build the message: {0}")]
    Build(String),
}

impl Mailer {
    /// Starts the worker and returns the queue's sending side.
    ///
    /// # Errors
    /// An unusable `SMTP_URL` or `MAIL_FROM`.
    pub fn start(
        settings: &MailSettings,
        failures: IntCounter,
    ) -> anyhow::Result<(Self, tokio::task::JoinHandle<()>)> {
        let transport = match (settings.transport, &settings.smtp_url) {
            (MailTransport::Smtp, Some(url)) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .context("invalid SMTP_URL")?
                    .timeout(Some(settings.timeout))
                    .build(),
            ),
            (MailTransport::Smtp, None) => anyhow::bail!("MAIL_TRANSPORT=smtp needs SMTP_URL"),
            (MailTransport::Log, _) => Transport::Log,
        };
        let from: Mailbox = settings.from.parse().context("invalid MAIL_FROM")?;
        let (queue, jobs) = mpsc::channel(settings.queue_size);
        let worker = Worker {
            transport,
            failures,
            retries: settings.retries,
            timeout: settings.timeout,
        };
        let handle = tokio::spawn(worker.run(jobs));
        Ok((Self { queue, from }, handle))
    }

    /// Whether a message could be queued right now.
    pub fn has_room(&self) -> bool {
        self.queue.capacity() > 0
    }

    /// Queues `mail` for `to`. The recipient is the [`Email`] itself, parsed
    /// once by lettre when it entered the system, so an address tenk accepted
    /// is always one it can send to.
    ///
    /// # Errors
    /// The queue is full, or the message cannot be built.
    pub fn send(&self, to: &Email, mail: &Mail) -> Result<(), MailError> {
        let message = mail
            .build(self.from.clone(), to.mailbox())
            .map_err(|error| MailError::Build(error.to_string()))?;
        self.queue
            .try_send(Job {
                message,
                recipient: to.masked(),
                preview: format!("{}\n\n{}", mail.subject, mail.text),
            })
            .map_err(|_| MailError::QueueFull)
    }
}

struct Worker {
    transport: Transport,
    failures: IntCounter,
    retries: u32,
    timeout: Duration,
}

impl Worker {
    async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        while let Some(job) = jobs.recv().await {
            self.deliver(job).await;
        }
    }

    async fn deliver(&self, job: Job) {
        let Transport::Smtp(smtp) = &self.transport else {
            // Development only (production refuses MAIL_TRANSPORT=log).
            tracing::info!(target: "mail", to = %job.recipient, message = %job.preview, "mail (log transport)");
            return;
        };
        let mut delay = Duration::from_millis(500);
        for attempt in 0..=self.retries {
            match tokio::time::timeout(self.timeout, smtp.send(job.message.clone())).await {
                Ok(Ok(_)) => {
                    tracing::info!(target: "mail", to = %job.recipient, "mail sent");
                    return;
                }
                Ok(Err(error)) => {
                    tracing::warn!(target: "mail", to = %job.recipient, attempt, error = %error, "mail not sent");
                }
                Err(_) => {
                    tracing::warn!(target: "mail", to = %job.recipient, attempt, "mail timed out")
                }
            }
            if attempt < self.retries {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        self.failures.inc();
        tracing::error!(target: "mail", to = %job.recipient, "mail given up after retries");
    }
}
