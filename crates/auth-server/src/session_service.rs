//! Sessions as the endpoints use them: create one after a successful sign-in, resolve
//! the one a request presents (expiring and sliding as Better Auth does), revoke.

use actix_web::HttpRequest;
use chrono::{Duration, Utc};

use crate::audit::{self, Event};
use crate::credentials::{self, Carrier};
use crate::db::sessions::{self, NewSession, SessionRow};
use crate::db::users::UserRow;
use crate::db::GenericClient;
use crate::error::ApiError;
use crate::extract::ClientInfo;
use crate::state::AppState;
use serde_json::json;

/// A request's valid session.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub session: SessionRow,
    pub user: UserRow,
    /// The raw token the request presented.
    pub token: String,
    pub carrier: Carrier,
}

/// What resolving a request's credential found.
pub enum Resolved {
    /// No credential, or one whose signature does not verify.
    Anonymous,
    /// A well-signed credential whose session is gone or expired: clear the cookies.
    Stale,
    /// A live session; `refreshed` when its expiry was just pushed forward.
    Live {
        current: Box<CurrentSession>,
        refreshed: bool,
    },
}

/// Creates a session for `user_id` and returns its raw token with the row.
#[tracing::instrument(level = "debug", skip_all, fields(%user_id, remember))]
pub async fn create(
    client: &impl GenericClient,
    state: &AppState,
    user_id: uuid::Uuid,
    remember: bool,
    info: &ClientInfo,
) -> Result<(String, SessionRow), ApiError> {
    let token = credentials::new_token();
    let hash = credentials::token_hash(&token);
    let ttl = state.settings.session_ttl(remember);
    let expires_at =
        Utc::now() + Duration::from_std(ttl).map_err(|e| ApiError::Internal(e.into()))?;
    let row = sessions::insert(
        client,
        &NewSession {
            user_id,
            token_hash: &hash,
            expires_at,
            remember,
            ip_address: &info.ip_text(),
            user_agent: &info.user_agent,
        },
    )
    .await?;
    Ok((token, row))
}

/// Resolves the request's session. With `allow_refresh`, a remembered session whose
/// expiry was last pushed more than `updateAge` ago gets a new expiry.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn resolve(
    state: &AppState,
    req: &HttpRequest,
    allow_refresh: bool,
) -> Result<Resolved, ApiError> {
    let presented = credentials::presented_tokens(req, &state.signer, &state.cookies.session_token);
    if presented.is_empty() {
        return Ok(Resolved::Anonymous);
    }
    let client = state.pool.get().await?;
    // The bearer first; a bearer that names no session does not hide the cookie.
    let mut live = None;
    for (token, carrier) in presented {
        let hash = credentials::token_hash(&token);
        if let Some(found) = sessions::find_with_user(&client, &hash).await? {
            live = Some((token, carrier, found));
            break;
        }
    }
    let Some((token, carrier, (session, user))) = live else {
        return Ok(Resolved::Stale);
    };
    let now = Utc::now();
    if session.expires_at <= now {
        sessions::delete(&client, session.id).await?;
        return Ok(Resolved::Stale);
    }
    let settings = &state.settings;
    let mut refreshed = false;
    let mut session = session;
    // Better Auth's rule: refresh once `expiresAt - expiresIn + updateAge <= now`.
    let due = session.expires_at - Duration::seconds(settings.session_expires_in)
        + Duration::seconds(settings.session_update_age)
        <= now;
    if allow_refresh && session.remember && due {
        let new_expiry = now + Duration::seconds(settings.session_expires_in);
        if let Some(updated) = sessions::extend(&client, session.id, new_expiry).await? {
            session = updated;
            refreshed = true;
        }
    }
    Ok(Resolved::Live {
        current: Box::new(CurrentSession {
            session,
            user,
            token,
            carrier,
        }),
        refreshed,
    })
}

/// Ends the session the request presents, if any (sign-out: 200 even without one).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn end_presented(
    state: &AppState,
    req: &HttpRequest,
    info: &ClientInfo,
) -> Result<(), ApiError> {
    if let Some((token, _)) =
        credentials::presented_token(req, &state.signer, &state.cookies.session_token)
    {
        let mut client = state.pool.get().await?;
        let tx = client.transaction().await?;
        if let Some(user_id) =
            sessions::delete_by_hash(&tx, &credentials::token_hash(&token)).await?
        {
            audit::user_event(&tx, Event::SignOut, Some(user_id), info, json!({})).await?;
            tracing::info!("session signed out");
        }
        tx.commit().await?;
    }
    Ok(())
}

/// The user's live sessions, each with a revocation handle (its id) in place of
/// the token. 403 `SESSION_NOT_FRESH` when the caller's session is older than
/// `freshAge`.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %current.user.id))]
pub async fn list(
    state: &AppState,
    current: &CurrentSession,
) -> Result<Vec<auth_wire::Session>, ApiError> {
    let fresh_age = state.settings.session_fresh_age;
    if fresh_age > 0 && Utc::now() - current.session.created_at > Duration::seconds(fresh_age) {
        return Err(ApiError::SessionNotFresh);
    }
    let client = state.pool.get().await?;
    Ok(sessions::list_active(&client, current.user.id)
        .await?
        .into_iter()
        .map(|s| {
            let handle = s.id.to_string();
            s.to_wire(handle)
        })
        .collect())
}

/// Revokes one of the caller's sessions by handle (session id) or raw token;
/// returns whether that was the caller's current session.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %current.user.id))]
pub async fn revoke(
    state: &AppState,
    current: &CurrentSession,
    token_or_handle: &str,
    info: &ClientInfo,
) -> Result<bool, ApiError> {
    let handle = uuid::Uuid::parse_str(token_or_handle).ok();
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let deleted = sessions::delete_for_user(
        &tx,
        current.user.id,
        handle,
        &credentials::token_hash(token_or_handle),
    )
    .await?;
    if let Some(id) = deleted {
        let detail = json!({"session_id": id, "current": id == current.session.id});
        audit::user_event(
            &tx,
            Event::SessionRevoked,
            Some(current.user.id),
            info,
            detail,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(deleted == Some(current.session.id))
}

/// Ends every session of the caller's user, or every one but `keep`.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %current.user.id))]
pub async fn revoke_all(
    state: &AppState,
    current: &CurrentSession,
    keep: Option<uuid::Uuid>,
    info: &ClientInfo,
) -> Result<(), ApiError> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let n = sessions::delete_all_for_user(&tx, current.user.id, keep).await?;
    let detail = json!({"sessions": n, "kept_current": keep.is_some()});
    audit::user_event(
        &tx,
        Event::SessionRevoked,
        Some(current.user.id),
        info,
        detail,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
