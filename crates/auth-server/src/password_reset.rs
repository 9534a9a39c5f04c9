//! Password reset: the mailed link, the landing redirect, and setting the new
//! password (which also lets OAuth-only and magic-link imports in: the reset
//! creates their credential).

use std::time::Duration;

use actix_web::http::StatusCode;

use crate::audit::{self, Event};
use crate::credentials;
use crate::db::verifications::{self, Purpose};
use crate::db::{accounts, sessions, users};
use crate::error::ApiError;
use crate::extract::ClientInfo;
use crate::forms::{NewPassword, RequestPasswordReset, ResetPassword};
use crate::mail::MailKind;
use crate::one_time_tokens::{self, auth_link, LinkMail};
use crate::state::AppState;

/// `POST /request-password-reset`: mails a link to a known address; the same
/// answer, no sooner than the request floor, for every address.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn request(
    state: &AppState,
    form: &RequestPasswordReset,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    if !state.mailer.enabled() {
        return Err(ApiError::ResetPasswordDisabled);
    }
    let floor = Duration::from_millis(state.settings.mail_request_floor_ms);
    one_time_tokens::with_floor(floor, async {
        state
            .check_mail_limit("reset", client.ip, form.email.as_str())
            .await?;
        let mut db = state.pool.get().await?;
        let Some(user) = users::find_by_email(&db, form.email.as_str()).await? else {
            tracing::info!("password reset for an unknown address: nothing sent");
            return Ok(());
        };
        let tx = db.transaction().await?;
        let landing = form
            .redirect_to
            .as_ref()
            .map(|r| r.as_str())
            .or(state.settings.password_reset_page.as_deref())
            .unwrap_or("");
        one_time_tokens::mail_link(
            &tx,
            state,
            LinkMail {
                purpose: Purpose::PasswordReset,
                kind: MailKind::ResetPassword,
                user: &user,
                to: &user.email,
                new_email: None,
                ttl_secs: state.settings.reset_token_ttl,
            },
            |token| {
                auth_link(
                    state,
                    &format!("reset-password/{token}"),
                    &[("callbackURL", landing)],
                )
            },
        )
        .await?;
        tx.commit().await?;
        state.mailer.wake();
        tracing::info!(user_id = %user.id, "password reset mailed");
        Ok(())
    })
    .await
}

/// Whether a reset token can still be used (the landing redirect carries it on).
pub async fn token_is_usable(state: &AppState, token: &str) -> Result<bool, ApiError> {
    let client = state.pool.get().await?;
    let row = verifications::find(
        &client,
        &credentials::token_hash(token),
        &[Purpose::PasswordReset],
    )
    .await?;
    Ok(row.is_some_and(|r| r.is_live(chrono::Utc::now()) && r.matches_user()))
}

/// `POST /reset-password`: checks the token's presence, then the password's
/// length (without consuming the token), then the token; hashes, and in one
/// transaction consumes the token, sets (or creates) the credential, marks the
/// address verified (the link proved the mailbox) and, by default, ends every
/// session of the user.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn reset(
    state: &AppState,
    form: ResetPassword,
    query_token: Option<String>,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let invalid = ApiError::InvalidToken(StatusCode::BAD_REQUEST);
    let Some(token) = form.token.or(query_token).filter(|t| !t.is_empty()) else {
        return Err(invalid);
    };
    let password = NewPassword::parse(form.new_password, state)?;
    let hash = credentials::token_hash(&token);
    if !token_is_usable(state, &token).await? {
        return Err(invalid);
    }
    let new_hash = state.hasher.hash(password.expose()).await?;

    let mut db = state.pool.get().await?;
    let tx = db.transaction().await?;
    let Some(row) = verifications::lock_live(&tx, &hash, &[Purpose::PasswordReset]).await? else {
        return Err(invalid);
    };
    if !row.matches_user() {
        return Err(invalid);
    }
    accounts::upsert_credential(&tx, row.user_id, &new_hash).await?;
    users::set_email_verified(&tx, row.user_id)
        .await?
        .ok_or(ApiError::UserNotFound(StatusCode::BAD_REQUEST))?;
    verifications::delete_unused_for_user(&tx, row.user_id, &[Purpose::PasswordReset]).await?;
    let revoked = if state.settings.reset_revokes_sessions {
        sessions::delete_all_for_user(&tx, row.user_id, None).await?
    } else {
        0
    };
    let detail = serde_json::json!({"sessions_ended": revoked});
    audit::user_event(&tx, Event::PasswordReset, Some(row.user_id), client, detail).await?;
    tx.commit().await?;
    tracing::info!(user_id = %row.user_id, sessions_ended = revoked, "password reset");
    Ok(())
}
