//! One-time tokens for the mailed links: 32 random alphanumeric characters (~190
//! bits), stored only as SHA-256 in `identity.verifications`, bound to the user and
//! to the address they were mailed for, expiring, and consumed inside the
//! transaction that acts on them.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use crate::credentials;
use crate::db::users::UserRow;
use crate::db::verifications::{self, NewToken, Purpose};
use crate::db::GenericClient;
use crate::error::ApiError;
use crate::mail::MailKind;
use crate::state::AppState;

/// A token stored and ready to mail.
pub struct Issued {
    /// The raw token (only ever in the mail).
    pub token: String,
    /// Its lifetime, for the mail's text.
    pub lifetime: Duration,
}

/// Stores a new token for `user_id` mailed to `email`.
pub async fn issue(
    client: &impl GenericClient,
    purpose: Purpose,
    user_id: Uuid,
    email: &str,
    new_email: Option<&str>,
    ttl_secs: i64,
) -> Result<Issued, ApiError> {
    let token = credentials::new_token();
    let lifetime = Duration::from_secs(ttl_secs.unsigned_abs());
    let expires_at = Utc::now()
        + chrono::Duration::from_std(lifetime).map_err(|e| ApiError::Internal(e.into()))?;
    verifications::insert(
        client,
        &NewToken {
            purpose,
            token_hash: &credentials::token_hash(&token),
            user_id,
            email,
            new_email,
            expires_at,
        },
    )
    .await?;
    Ok(Issued { token, lifetime })
}

/// A mailed link: which token, which mail, to whom.
pub struct LinkMail<'a> {
    pub purpose: Purpose,
    pub kind: MailKind,
    pub user: &'a UserRow,
    /// The recipient: the user's address, or the new one for a change.
    pub to: &'a str,
    /// change-email: the address asked for.
    pub new_email: Option<&'a str>,
    pub ttl_secs: i64,
}

/// Stores a token for `mail.user` and queues the mail carrying the link `link`
/// builds from it, both on `client` (the caller's transaction; call
/// [`crate::mail::Mailer::wake`] once it has committed).
pub async fn mail_link(
    client: &impl GenericClient,
    state: &AppState,
    mail: LinkMail<'_>,
    link: impl FnOnce(&str) -> String,
) -> Result<(), ApiError> {
    let user = mail.user;
    let issued = issue(
        client,
        mail.purpose,
        user.id,
        &user.email,
        mail.new_email,
        mail.ttl_secs,
    )
    .await?;
    let url = link(&issued.token);
    state
        .mailer
        .enqueue(
            client,
            state.keys.sealer(),
            mail.kind,
            mail.to,
            &user.name,
            &user.email,
            mail.new_email,
            &url,
            issued.lifetime,
        )
        .await
}

/// `<base>/api/auth/verify-email?token=…&callbackURL=…` (callback default `/`).
pub fn verify_link(state: &AppState, token: &str, callback: Option<&str>) -> String {
    auth_link(
        state,
        "verify-email",
        &[("token", token), ("callbackURL", callback.unwrap_or("/"))],
    )
}

/// `<base>/api/auth/<path>` with query parameters (values URI-encoded).
pub fn auth_link(state: &AppState, path: &str, params: &[(&str, &str)]) -> String {
    let mut link = format!(
        "{}/api/auth/{path}",
        state.settings.base_url.trim_end_matches('/')
    );
    for (i, (name, value)) in params.iter().enumerate() {
        link.push(if i == 0 { '?' } else { '&' });
        link.push_str(name);
        link.push('=');
        link.push_str(&credentials::encode_uri_component(value));
    }
    link
}

/// Runs `work` and answers no sooner than `floor` after the start, so an answer's
/// time does not tell which branch ran (a known address or not).
pub async fn with_floor<T>(floor: Duration, work: impl Future<Output = T>) -> T {
    let start = Instant::now();
    let out = work.await;
    tokio::time::sleep_until((start + floor).into()).await;
    out
}
