//! Deleting a user: at once (fresh session or password), or through a mailed link
//! that works only in the browser that is signed in as that user. The user's
//! accounts, sessions, tokens and learner profile go with them (cascades).

use actix_web::http::StatusCode;
use chrono::Utc;

use crate::audit::{self, Event};
use crate::credentials;
use crate::db::verifications::{self, Purpose};
use crate::db::{accounts, users};
use crate::error::ApiError;
use crate::extract::{ClientInfo, CurrentSession};
use crate::forms::DeleteUser;
use crate::mail::MailKind;
use crate::one_time_tokens::{self, auth_link, LinkMail};
use crate::rate_limit::Account;
use crate::state::AppState;
use serde_json::json;

/// What `POST /delete-user` did.
pub enum Deletion {
    /// The user is gone.
    Deleted,
    /// A confirmation link was mailed.
    VerificationSent,
}

/// `POST /delete-user`, in Better Auth's order: a given password must match; a
/// given token deletes; with confirmation by mail a link is sent; otherwise the
/// session must be fresh.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %current.user.id))]
pub async fn delete_user(
    state: &AppState,
    current: &CurrentSession,
    form: &DeleteUser,
    client: &ClientInfo,
) -> Result<Deletion, ApiError> {
    if !state.settings.delete_user_enabled {
        return Err(ApiError::Disabled);
    }
    let user = &current.user;
    if let Some(password) = &form.password {
        state
            .check_rate_limit(client.ip, Account::User(user.id))
            .await?;
        let stored = accounts::credential_hash(&state.pool.get().await?, user.id)
            .await?
            .ok_or(ApiError::CredentialAccountNotFound)?;
        if password.encode_utf16().count() > state.settings.password_max_length
            || !state.hasher.verify(password, Some(&stored)).await?
        {
            return Err(ApiError::InvalidPassword);
        }
    }
    if let Some(token) = &form.token {
        delete_with_token(state, current, token, client).await?;
        return Ok(Deletion::Deleted);
    }
    if state.settings.delete_user_confirm_by_email {
        state
            .check_mail_limit("delete", client.ip, &user.email)
            .await?;
        let mut db = state.pool.get().await?;
        let tx = db.transaction().await?;
        let callback = form.callback_url.as_ref().map_or("/", |c| c.as_str());
        one_time_tokens::mail_link(
            &tx,
            state,
            LinkMail {
                purpose: Purpose::DeleteAccount,
                kind: MailKind::DeleteAccount,
                user,
                to: &user.email,
                new_email: None,
                ttl_secs: state.settings.delete_token_ttl,
            },
            |token| {
                auth_link(
                    state,
                    "delete-user/callback",
                    &[("token", token), ("callbackURL", callback)],
                )
            },
        )
        .await?;
        tx.commit().await?;
        state.mailer.wake();
        tracing::info!(user_id = %user.id, "account deletion link mailed");
        return Ok(Deletion::VerificationSent);
    }
    if form.password.is_none() {
        let fresh_age = state.settings.session_fresh_age;
        if fresh_age > 0
            && Utc::now() - current.session.created_at > chrono::Duration::seconds(fresh_age)
        {
            return Err(ApiError::SessionExpired);
        }
    }
    let mut db = state.pool.get().await?;
    let tx = db.transaction().await?;
    users::delete(&tx, user.id).await?;
    let how = if form.password.is_some() {
        "password"
    } else {
        "fresh_session"
    };
    audit::user_event(
        &tx,
        Event::AccountDeleted,
        Some(user.id),
        client,
        json!({"confirmed_by": how}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "user deleted");
    Ok(Deletion::Deleted)
}

/// Deletes the signed-in user with a token mailed to them. A token of another user
/// is refused without being spent, so a click in the wrong browser does not burn
/// the owner's link.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %current.user.id))]
pub async fn delete_with_token(
    state: &AppState,
    current: &CurrentSession,
    token: &str,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let invalid = ApiError::InvalidToken(StatusCode::NOT_FOUND);
    let mut db = state.pool.get().await?;
    let tx = db.transaction().await?;
    let row = verifications::lock_live(
        &tx,
        &credentials::token_hash(token),
        &[Purpose::DeleteAccount],
    )
    .await?
    .filter(|r| r.user_id == current.user.id && r.matches_user())
    .ok_or(invalid)?;
    users::delete(&tx, row.user_id).await?;
    audit::user_event(
        &tx,
        Event::AccountDeleted,
        Some(row.user_id),
        client,
        json!({"confirmed_by": "mailed_link"}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = %row.user_id, "user deleted by mailed link");
    Ok(())
}
