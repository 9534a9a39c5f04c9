//! E-mail verification and e-mail change: sending the links and acting on them
//! when they are opened (`GET /verify-email` handles every kind).

use std::time::Duration;

use chrono::Utc;

use crate::audit::{self, Event};
use crate::credentials;
use crate::db::sessions::SessionRow;
use crate::db::users::{self, UserRow};
use crate::db::verifications::{self, Purpose};
use crate::db::GenericClient;
use crate::error::ApiError;
use crate::extract::{ClientInfo, CurrentSession};
use crate::forms::{ChangeEmail, SendVerificationEmail};
use crate::mail::MailKind;
use crate::one_time_tokens::{self, verify_link, LinkMail};
use crate::session_service;
use crate::state::AppState;

/// Queues the verification mail for `user` on `client` (the caller's transaction).
/// The link lands on `callback` (default `/`) once opened.
pub async fn queue_verification(
    client: &impl GenericClient,
    state: &AppState,
    user: &UserRow,
    callback: Option<&str>,
) -> Result<(), ApiError> {
    one_time_tokens::mail_link(
        client,
        state,
        LinkMail {
            purpose: Purpose::EmailVerification,
            kind: MailKind::VerifyEmail,
            user,
            to: &user.email,
            new_email: None,
            ttl_secs: state.settings.verification_token_ttl,
        },
        |token| verify_link(state, token, callback),
    )
    .await
}

/// Sends the verification mail to `user` in a transaction of its own.
pub async fn send_to(
    state: &AppState,
    user: &UserRow,
    callback: Option<&str>,
) -> Result<(), ApiError> {
    let mut db = state.pool.get().await?;
    let tx = db.transaction().await?;
    queue_verification(&tx, state, user, callback).await?;
    tx.commit().await?;
    state.mailer.wake();
    Ok(())
}

/// Re-sends the verification mail after a correct password met an unverified
/// address, within the mail limits; a refusal or failure only skips the mail (the
/// sign-in answers 403 either way).
pub async fn resend_at_sign_in(
    state: &AppState,
    user: &UserRow,
    callback: Option<&str>,
    client: &ClientInfo,
) {
    if !state.mailer.enabled() {
        return;
    }
    if state
        .check_mail_limit("verify", client.ip, &user.email)
        .await
        .is_err()
    {
        tracing::info!(user_id = %user.id, "verification mail not re-sent: over the mail limit");
        return;
    }
    if let Err(e) = send_to(state, user, callback).await {
        tracing::warn!(user_id = %user.id, error = %e, "verification mail not re-sent");
    }
}

/// `POST /send-verification-email`. With a session: only for the session's own,
/// unverified address. Without: the same answer, in the same time, for unknown,
/// verified and unverified addresses; only the last get a mail.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn send_verification_email(
    state: &AppState,
    form: &SendVerificationEmail,
    session: Option<&CurrentSession>,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    if !state.mailer.enabled() {
        return Err(ApiError::VerificationEmailNotEnabled);
    }
    let callback = form.callback_url.as_ref().map(|c| c.as_str());
    if let Some(current) = session {
        if current.user.email != form.email.as_str() {
            return Err(ApiError::EmailMismatch);
        }
        if current.user.email_verified {
            return Err(ApiError::EmailAlreadyVerified);
        }
        state
            .check_mail_limit("verify", client.ip, form.email.as_str())
            .await?;
        return send_to(state, &current.user, callback).await;
    }
    let floor = Duration::from_millis(state.settings.mail_request_floor_ms);
    one_time_tokens::with_floor(floor, async {
        state
            .check_mail_limit("verify", client.ip, form.email.as_str())
            .await?;
        let user = users::find_by_email(&state.pool.get().await?, form.email.as_str()).await?;
        match user {
            Some(user) if !user.email_verified => send_to(state, &user, callback).await,
            _ => Ok(()),
        }
    })
    .await
}

/// What opening a verification or change link did.
pub enum Verified {
    /// The address is verified now; with auto sign-in, a new session.
    Verified {
        user: UserRow,
        new_session: Option<(String, SessionRow)>,
    },
    /// The same verification link again: nothing done, no session.
    AlreadyVerified,
    /// The old address confirmed a change; the new address has been mailed.
    ChangeConfirmed,
    /// The user now has the new address.
    EmailChanged { user: UserRow },
}

/// Why a link was refused, as the redirect's `?error=` and the JSON error.
pub struct LinkError {
    /// The code in the redirect.
    pub code: &'static str,
    /// The JSON answer without a callback.
    pub error: ApiError,
}

impl From<ApiError> for LinkError {
    fn from(error: ApiError) -> Self {
        Self {
            code: error.code(),
            error,
        }
    }
}

const LINK_PURPOSES: [Purpose; 3] = [
    Purpose::EmailVerification,
    Purpose::ChangeEmailConfirmation,
    Purpose::ChangeEmailVerification,
];

/// `GET /verify-email?token=…`: acts on a verification or change link once, inside
/// one transaction with consuming it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn verify(
    state: &AppState,
    token: &str,
    callback: Option<&str>,
    session: Option<&CurrentSession>,
    client: &ClientInfo,
) -> Result<Verified, LinkError> {
    let invalid = || {
        LinkError::from(ApiError::InvalidToken(
            actix_web::http::StatusCode::UNAUTHORIZED,
        ))
    };
    let hash = credentials::token_hash(token);
    let mut db = state.pool.get().await.map_err(ApiError::from)?;
    let tx = db.transaction().await.map_err(ApiError::from)?;
    let Some(row) = verifications::lock_live(&tx, &hash, &LINK_PURPOSES)
        .await
        .map_err(ApiError::from)?
    else {
        // Not live: tell a second click, an expired link and a forged one apart.
        let found = verifications::find(&tx, &hash, &LINK_PURPOSES)
            .await
            .map_err(ApiError::from)?;
        return match found {
            Some(r)
                if r.used_at.is_some()
                    && r.purpose == Purpose::EmailVerification
                    && r.matches_user() =>
            {
                Ok(Verified::AlreadyVerified)
            }
            Some(r) if r.used_at.is_none() && r.expires_at <= Utc::now() => {
                Err(ApiError::TokenExpired.into())
            }
            _ => Err(invalid()),
        };
    };
    if !row.matches_user() {
        return Err(invalid());
    }
    let other_user = session.is_some_and(|s| s.user.id != row.user_id);
    let outcome = match row.purpose {
        Purpose::EmailVerification => {
            let user = users::set_email_verified(&tx, row.user_id)
                .await
                .map_err(ApiError::from)?
                .ok_or(ApiError::UserNotFound(
                    actix_web::http::StatusCode::UNAUTHORIZED,
                ))?;
            verifications::mark_used(&tx, row.id)
                .await
                .map_err(ApiError::from)?;
            audit::user_event(
                &tx,
                Event::EmailVerified,
                Some(user.id),
                client,
                serde_json::json!({}),
            )
            .await
            .map_err(ApiError::from)?;
            let signed_in_already = session.is_some_and(|s| s.user.id == user.id);
            let new_session =
                if state.settings.auto_sign_in_after_verification && !signed_in_already {
                    Some(session_service::create(&tx, state, user.id, true, client).await?)
                } else {
                    None
                };
            tracing::info!(user_id = %user.id, "e-mail verified");
            Verified::Verified { user, new_session }
        }
        _ if other_user => {
            return Err(LinkError {
                code: "INVALID_USER",
                error: ApiError::InvalidToken(actix_web::http::StatusCode::UNAUTHORIZED),
            })
        }
        Purpose::ChangeEmailConfirmation => {
            let new_email = row.new_email.clone().ok_or_else(invalid)?;
            verifications::delete(&tx, row.id)
                .await
                .map_err(ApiError::from)?;
            let user = users::find_by_email(&tx, &row.email)
                .await
                .map_err(ApiError::from)?
                .ok_or_else(invalid)?;
            queue_change_verification(&tx, state, &user, &new_email, callback).await?;
            tracing::info!(user_id = %user.id, "e-mail change confirmed from the old address");
            Verified::ChangeConfirmed
        }
        Purpose::ChangeEmailVerification => {
            let new_email = row.new_email.clone().ok_or_else(invalid)?;
            let Some(user) = users::set_verified_email(&tx, row.user_id, &new_email)
                .await
                .map_err(ApiError::from)?
            else {
                return Err(ApiError::UserAlreadyExists.into());
            };
            // Links mailed to the old address (reset, verification, other changes)
            // die with it.
            verifications::delete_unused_for_user(
                &tx,
                user.id,
                &[
                    Purpose::EmailVerification,
                    Purpose::PasswordReset,
                    Purpose::ChangeEmailConfirmation,
                    Purpose::ChangeEmailVerification,
                    Purpose::DeleteAccount,
                ],
            )
            .await
            .map_err(ApiError::from)?;
            verifications::delete(&tx, row.id)
                .await
                .map_err(ApiError::from)?;
            // The addresses themselves are not copied into the trail.
            audit::user_event(
                &tx,
                Event::EmailChanged,
                Some(user.id),
                client,
                serde_json::json!({}),
            )
            .await
            .map_err(ApiError::from)?;
            tracing::info!(user_id = %user.id, "e-mail address changed");
            Verified::EmailChanged { user }
        }
        Purpose::PasswordReset | Purpose::DeleteAccount => return Err(invalid()),
    };
    tx.commit().await.map_err(ApiError::from)?;
    if matches!(outcome, Verified::ChangeConfirmed) {
        state.mailer.wake();
    }
    Ok(outcome)
}

async fn queue_change_verification(
    client: &impl GenericClient,
    state: &AppState,
    user: &UserRow,
    new_email: &str,
    callback: Option<&str>,
) -> Result<(), ApiError> {
    one_time_tokens::mail_link(
        client,
        state,
        LinkMail {
            purpose: Purpose::ChangeEmailVerification,
            kind: MailKind::ChangeEmailVerification,
            user,
            to: new_email,
            new_email: Some(new_email),
            ttl_secs: state.settings.verification_token_ttl,
        },
        |token| verify_link(state, token, callback),
    )
    .await
}

/// `POST /change-email`: mails the old address for confirmation (a verified user,
/// by default) or the new address for verification; the address changes only when
/// the new address's link is opened. A taken address gets the same answer and no
/// mail.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %current.user.id))]
pub async fn request_change(
    state: &AppState,
    current: &CurrentSession,
    form: &ChangeEmail,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    if !state.settings.change_email_enabled {
        return Err(ApiError::ChangeEmailDisabled);
    }
    let user = &current.user;
    let new_email = form.new_email.as_str();
    if new_email == user.email {
        return Err(ApiError::EmailIsTheSame);
    }
    if !state.mailer.enabled() {
        return Err(ApiError::VerificationEmailNotEnabled);
    }
    let confirm_old = user.email_verified && state.settings.change_email_confirm_old_address;
    let recipient = if confirm_old {
        user.email.as_str()
    } else {
        new_email
    };
    state
        .check_mail_limit("change-email", client.ip, recipient)
        .await?;
    let callback = form.callback_url.as_ref().map(|c| c.as_str());
    let mut db = state.pool.get().await?;
    if users::email_exists(&db, new_email).await? {
        tracing::info!(user_id = %user.id, "e-mail change to a taken address: nothing sent");
        return Ok(());
    }
    let tx = db.transaction().await?;
    if confirm_old {
        one_time_tokens::mail_link(
            &tx,
            state,
            LinkMail {
                purpose: Purpose::ChangeEmailConfirmation,
                kind: MailKind::ChangeEmailConfirmation,
                user,
                to: &user.email,
                new_email: Some(new_email),
                ttl_secs: state.settings.verification_token_ttl,
            },
            |token| verify_link(state, token, callback),
        )
        .await?;
    } else {
        queue_change_verification(&tx, state, user, new_email, callback).await?;
    }
    tx.commit().await?;
    state.mailer.wake();
    tracing::info!(user_id = %user.id, confirm_old, "e-mail change requested");
    Ok(())
}
