//! The audit trail of auth events (`identity.audit_log`): who did what, from where,
//! when, with the request id. Written on the caller's connection, so an event that
//! belongs to a change is committed, or rolled back, with it. Never a password, token
//! or cookie.

use serde_json::Value;
use uuid::Uuid;

use crate::db::audit_log::{self, NewEntry};
use crate::db::GenericClient;
use crate::extract::ClientInfo;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    SignUp,
    SignIn,
    SignInFailed,
    SignOut,
    SessionRevoked,
    PasswordChanged,
    PasswordReset,
    EmailVerified,
    EmailChanged,
    AccountDeleted,
    AccountLinked,
    AccountUnlinked,
    UserBanned,
    UserUnbanned,
    ServiceTokenIssued,
    KeyCreated,
    KeyPromoted,
    KeyRemoved,
}

impl Event {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::SignUp => "sign_up",
            Event::SignIn => "sign_in",
            Event::SignInFailed => "sign_in_failed",
            Event::SignOut => "sign_out",
            Event::SessionRevoked => "session_revoked",
            Event::PasswordChanged => "password_changed",
            Event::PasswordReset => "password_reset",
            Event::EmailVerified => "email_verified",
            Event::EmailChanged => "email_changed",
            Event::AccountDeleted => "account_deleted",
            Event::AccountLinked => "account_linked",
            Event::AccountUnlinked => "account_unlinked",
            Event::UserBanned => "user_banned",
            Event::UserUnbanned => "user_unbanned",
            Event::ServiceTokenIssued => "service_token_issued",
            Event::KeyCreated => "key_created",
            Event::KeyPromoted => "key_promoted",
            Event::KeyRemoved => "key_removed",
        }
    }
}

/// Records an event about a user.
pub async fn user_event(
    db: &impl GenericClient,
    event: Event,
    user_id: Option<Uuid>,
    client: &ClientInfo,
    detail: Value,
) -> Result<(), tokio_postgres::Error> {
    write(db, event, user_id, None, client, detail).await
}

/// Records an event about a service client.
pub async fn client_event(
    db: &impl GenericClient,
    event: Event,
    client_id: Uuid,
    client: &ClientInfo,
    detail: Value,
) -> Result<(), tokio_postgres::Error> {
    write(db, event, None, Some(client_id), client, detail).await
}

/// Records an event of the server itself (no caller): the key lifecycle.
pub async fn system_event(
    db: &impl GenericClient,
    event: Event,
    detail: Value,
) -> Result<(), tokio_postgres::Error> {
    without_request(db, event, None, "", detail).await
}

/// Records an operator's action on a user (the `auth-server users` command): no
/// request, so the user agent names the command.
pub async fn operator_event(
    db: &impl GenericClient,
    event: Event,
    user_id: Uuid,
    detail: Value,
) -> Result<(), tokio_postgres::Error> {
    without_request(db, event, Some(user_id), "auth-server users (CLI)", detail).await
}

async fn without_request(
    db: &impl GenericClient,
    event: Event,
    user_id: Option<Uuid>,
    user_agent: &str,
    detail: Value,
) -> Result<(), tokio_postgres::Error> {
    audit_log::insert(
        db,
        &NewEntry {
            event: event.as_str(),
            user_id,
            client_id: None,
            ip: "",
            user_agent,
            request_id: "",
            detail: &detail,
        },
    )
    .await
}

async fn write(
    db: &impl GenericClient,
    event: Event,
    user_id: Option<Uuid>,
    client_id: Option<Uuid>,
    client: &ClientInfo,
    detail: Value,
) -> Result<(), tokio_postgres::Error> {
    let detail = if detail.is_object() {
        detail
    } else {
        Value::Object(Default::default())
    };
    audit_log::insert(
        db,
        &NewEntry {
            event: event.as_str(),
            user_id,
            client_id,
            ip: &client.ip_text(),
            user_agent: &client.user_agent,
            request_id: &client.request_id,
            detail: &detail,
        },
    )
    .await
}
