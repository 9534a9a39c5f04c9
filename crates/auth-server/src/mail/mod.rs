//! Mail: what the account flows send (verification, reset, e-mail change, account
//! deletion), through a durable outbox. A request that causes a mail renders it,
//! seals it and inserts it in its own transaction ([`Mailer::enqueue`]), then
//! returns without waiting on SMTP; [`worker`] delivers it from every instance,
//! retrying with backoff, so a slow or dead relay never slows a request or loses a
//! mail.

pub mod templates;
pub mod transport;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use lettre::message::Mailbox;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::Settings;
use crate::db::mail_outbox::{self, NewMail};
use crate::db::GenericClient;
use crate::error::ApiError;
use crate::keys::Sealer;
pub use templates::{MailContext, Rendered, Templates};
use transport::{SmtpTarget, Transport};

/// The kinds of mail, each with its templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    VerifyEmail,
    ResetPassword,
    ChangeEmailConfirmation,
    ChangeEmailVerification,
    DeleteAccount,
}

impl MailKind {
    /// Every kind.
    pub const ALL: [MailKind; 5] = [
        MailKind::VerifyEmail,
        MailKind::ResetPassword,
        MailKind::ChangeEmailConfirmation,
        MailKind::ChangeEmailVerification,
        MailKind::DeleteAccount,
    ];

    /// The templates' base name and the outbox `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::VerifyEmail => "verify-email",
            MailKind::ResetPassword => "reset-password",
            MailKind::ChangeEmailConfirmation => "change-email-confirmation",
            MailKind::ChangeEmailVerification => "change-email-verification",
            MailKind::DeleteAccount => "delete-account",
        }
    }
}

/// Delivery timing, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// The first retry's delay; each next one doubles, up to `max`.
    pub initial: Duration,
    pub max: Duration,
    /// A mail not delivered this long after it was queued is given up (logged).
    pub give_up_after: Duration,
    /// How long one SMTP conversation may take.
    pub send_timeout: Duration,
    /// How often an idle worker looks for due mail (other instances' retries).
    pub poll: Duration,
}

impl Retry {
    /// The delay after `attempts` failed attempts.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        self.initial.saturating_mul(1 << exp).min(self.max)
    }
}

/// The mailer every instance holds.
pub struct Mailer {
    templates: Templates,
    transport: Option<Arc<Transport>>,
    from: Mailbox,
    retry: Retry,
    wake: Notify,
    product_name: String,
    base_url: String,
}

impl Mailer {
    /// Builds the mailer from the settings: SMTP when `AUTH_SMTP_URL` is set, else
    /// the outbox folder when `AUTH_MAIL_OUTBOX_DIR` is, else none (mail-sending
    /// endpoints then answer that mail is not enabled).
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let templates = Templates::load(
            settings
                .mail_templates_dir
                .as_deref()
                .map(std::path::Path::new),
        )?;
        let retry = Retry {
            initial: Duration::from_secs_f64(settings.mail_retry_initial),
            max: Duration::from_secs_f64(settings.mail_retry_max),
            give_up_after: Duration::from_secs(settings.mail_give_up_after),
            send_timeout: Duration::from_secs(settings.smtp_timeout),
            poll: Duration::from_secs_f64(settings.mail_poll_interval),
        };
        let transport = match (&settings.smtp_url, &settings.mail_outbox_dir) {
            (Some(url), _) => Some(Transport::smtp(
                &SmtpTarget::parse(url)?,
                settings.smtp_ca_file.as_deref().map(std::path::Path::new),
                retry.send_timeout,
            )?),
            (None, Some(dir)) => Some(Transport::files(PathBuf::from(dir))?),
            (None, None) => None,
        };
        let from: Mailbox = settings.mail_from().parse().with_context(|| {
            format!("AUTH_MAIL_FROM {:?} is not a mailbox", settings.mail_from())
        })?;
        Ok(Self {
            templates,
            transport: transport.map(Arc::new),
            from,
            retry,
            wake: Notify::new(),
            product_name: settings.product_name.clone(),
            base_url: settings.base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Whether mail can be sent at all.
    pub fn enabled(&self) -> bool {
        self.transport.is_some()
    }

    /// Renders a mail and queues it on `client` (the caller's transaction), sealed.
    /// Call [`Mailer::wake`] once that transaction has committed.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(level = "debug", skip_all, fields(kind = kind.as_str()))]
    pub async fn enqueue(
        &self,
        client: &impl GenericClient,
        sealer: &Sealer,
        kind: MailKind,
        to: &str,
        name: &str,
        email: &str,
        new_email: Option<&str>,
        url: &str,
        lifetime: Duration,
    ) -> Result<(), ApiError> {
        let rendered = self.templates.render(
            kind,
            &MailContext {
                product_name: &self.product_name,
                base_url: &self.base_url,
                name,
                email,
                new_email,
                url,
                expires_in_minutes: i64::try_from(lifetime.as_secs() / 60).unwrap_or(i64::MAX),
            },
        )?;
        let id = Uuid::new_v4();
        let plain = serde_json::to_vec(&rendered).map_err(|e| ApiError::Internal(e.into()))?;
        let sealed = sealer
            .seal(&seal_id(id), &plain)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("sealing a mail: {e}")))?;
        let give_up_at = Utc::now()
            + chrono::Duration::from_std(self.retry.give_up_after)
                .map_err(|e| ApiError::Internal(e.into()))?;
        mail_outbox::insert(
            client,
            &NewMail {
                id,
                kind: kind.as_str(),
                recipient: to,
                sealed: &sealed,
                kek_id: sealer.current_id(),
                give_up_at,
            },
        )
        .await?;
        Ok(())
    }

    /// Tells this instance's worker that mail is waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// What a sealed mail is bound to: its own id, so a sealed body cannot be moved to
/// another row.
fn seal_id(id: Uuid) -> String {
    format!("mail:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = Retry {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(60),
            give_up_after: Duration::from_secs(3600),
            send_timeout: Duration::from_secs(10),
            poll: Duration::from_secs(1),
        };
        let secs: Vec<u64> = (1..=6).map(|a| r.backoff(a).as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 60, 60]);
        assert_eq!(r.backoff(1000).as_secs(), 60);
    }
}
