//! Sessions as the endpoints use them: create one after a successful sign-in, resolve
//! the one a request presents (expiring and sliding as Better Auth does), revoke.

use actix_web::HttpRequest;
use chrono::{Duration, Utc};

use crate::credentials::{self, Carrier};
use crate::db::sessions::{self, NewSession, SessionRow};
use crate::db::users::UserRow;
use crate::db::GenericClient;
use crate::error::ApiError;
use crate::state::AppState;

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

/// Client details stored with a session.
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

impl ClientInfo {
    /// The client IP (see [`crate::client_ip`]) and the user agent, truncated to
    /// what the table keeps.
    pub fn of(req: &HttpRequest, state: &AppState) -> Self {
        let ip = state
            .client_ip(req)
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        Self {
            ip: truncate(&ip, 64),
            user_agent: truncate(user_agent, 512),
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Creates a session for `user_id` and returns its raw token with the row.
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
            ip_address: &info.ip,
            user_agent: &info.user_agent,
        },
    )
    .await?;
    Ok((token, row))
}

/// Resolves the request's session. With `allow_refresh`, a remembered session whose
/// expiry was last pushed more than `updateAge` ago gets a new expiry.
pub async fn resolve(
    state: &AppState,
    req: &HttpRequest,
    allow_refresh: bool,
) -> Result<Resolved, ApiError> {
    let Some((token, carrier)) =
        credentials::presented_token(req, &state.signer, &state.cookies.session_token)
    else {
        return Ok(Resolved::Anonymous);
    };
    let hash = credentials::token_hash(&token);
    let client = state.pool.get().await?;
    let Some((session, user)) = sessions::find_with_user(&client, &hash).await? else {
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

/// The request's live session, or 401 `UNAUTHORIZED`.
pub async fn require(state: &AppState, req: &HttpRequest) -> Result<CurrentSession, ApiError> {
    match resolve(state, req, false).await? {
        Resolved::Live { current, .. } => Ok(*current),
        Resolved::Anonymous | Resolved::Stale => Err(ApiError::Unauthorized),
    }
}
