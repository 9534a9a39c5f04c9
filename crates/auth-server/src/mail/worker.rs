//! The outbox worker, one per instance: claims due mails (`FOR UPDATE SKIP
//! LOCKED`, leased for longer than a send can take, so two instances never send
//! one mail twice), sends them, and records the outcome: sent (body erased), a
//! retry with exponential backoff, or given up once past its deadline (logged as an
//! error). A database outage only pauses it.

use std::sync::Arc;

use actix_web::web::Data;
use chrono::Utc;
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;

use super::{seal_id, Rendered};
use crate::db::mail_outbox::{self, ClaimedMail};
use crate::state::AppState;

/// Mails claimed per round.
const BATCH: i64 = 16;

/// Runs until the task is dropped.
pub async fn run(state: Data<AppState>) {
    let mailer = &state.mailer;
    let Some(transport) = mailer.transport.clone() else {
        return;
    };
    // A claim outlives a send: the SMTP timeout covers connect, each command and the
    // data, so three of them plus a margin is a safe bound.
    let lease = mailer.retry.send_timeout.as_secs_f64() * 3.0 + 30.0;
    loop {
        let claimed = match claim(&state, lease).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "mail outbox: cannot claim mail; retrying");
                Vec::new()
            }
        };
        let full = claimed.len() as i64 == BATCH;
        let sends = claimed
            .into_iter()
            .map(|mail| deliver(&state, &transport, mail));
        futures_util::future::join_all(sends).await;
        if !full {
            tokio::select! {
                _ = mailer.wake.notified() => {}
                _ = tokio::time::sleep(mailer.retry.poll) => {}
            }
        }
    }
}

async fn claim(state: &AppState, lease: f64) -> anyhow::Result<Vec<ClaimedMail>> {
    let client = state.pool.get().await?;
    Ok(mail_outbox::claim_due(&client, BATCH, lease).await?)
}

async fn deliver(state: &AppState, transport: &Arc<super::Transport>, mail: ClaimedMail) {
    let mailer = &state.mailer;
    let outcome = match open(state, &mail)
        .and_then(|r| message(&mailer.from, &mail, &r).map(|m| (m, r)))
    {
        Ok((message, rendered)) => {
            let name = format!(
                "{}-{}-{}",
                Utc::now().timestamp_millis(),
                mail.kind,
                mail.id
            );
            // lettre's timeout bounds each command; this bounds the whole send, so
            // no relay can hold a mail past its lease.
            let bound = mailer.retry.send_timeout * 2;
            match tokio::time::timeout(bound, transport.send(message, &name, &rendered.link)).await
            {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {bound:?}")),
            }
        }
        // A mail that cannot be opened or built never will be: give up now.
        Err(e) => {
            state.metrics.mail_failed(true);
            record(state, &mail, Record::GiveUp(&e)).await;
            return;
        }
    };
    match outcome {
        Ok(()) => {
            tracing::info!(mail_id = %mail.id, kind = mail.kind, attempts = mail.attempts, "mail sent");
            state.metrics.mail_sent();
            record(state, &mail, Record::Sent).await;
        }
        Err(e) => {
            let delay = mailer.retry.backoff(mail.attempts);
            let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            let give_up = next > mail.give_up_at;
            state.metrics.mail_failed(give_up);
            if give_up {
                record(state, &mail, Record::GiveUp(&e)).await;
            } else {
                tracing::warn!(mail_id = %mail.id, kind = mail.kind, attempts = mail.attempts,
                    retry_in_secs = delay.as_secs_f64(), error = %e, "mail not sent; will retry");
                record(state, &mail, Record::Retry(delay.as_secs_f64(), &e)).await;
            }
        }
    }
}

enum Record<'a> {
    Sent,
    Retry(f64, &'a str),
    GiveUp(&'a str),
}

/// Writes the outcome. If the database is gone the lease runs out and the mail is
/// claimed again (for a sent mail: sent twice, the one case at-least-once allows).
async fn record(state: &AppState, mail: &ClaimedMail, what: Record<'_>) {
    let result = async {
        let client = state.pool.get().await?;
        match what {
            Record::Sent => mail_outbox::mark_sent(&client, mail.id).await?,
            Record::Retry(secs, e) => mail_outbox::retry_later(&client, mail.id, secs, e).await?,
            Record::GiveUp(e) => {
                tracing::error!(mail_id = %mail.id, kind = mail.kind, attempts = mail.attempts,
                    error = %e, "mail given up: not delivered before its deadline");
                mail_outbox::give_up(&client, mail.id, e).await?
            }
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(mail_id = %mail.id, error = %e, "mail outbox: cannot record the outcome");
    }
}

fn open(state: &AppState, mail: &ClaimedMail) -> Result<Rendered, String> {
    let plain = state
        .keys
        .sealer()
        .open(&seal_id(mail.id), &mail.kek_id, &mail.sealed)
        .map_err(|e| format!("cannot open the sealed mail: {e}"))?;
    serde_json::from_slice(&plain).map_err(|e| format!("sealed mail is not a mail: {e}"))
}

fn message(from: &Mailbox, mail: &ClaimedMail, rendered: &Rendered) -> Result<Message, String> {
    let to: Mailbox = mail
        .recipient
        .parse()
        .map_err(|e| format!("recipient is not a mailbox: {e}"))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(rendered.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            rendered.text.clone(),
            rendered.html.clone(),
        ))
        .map_err(|e| format!("building the mail: {e}"))
}
