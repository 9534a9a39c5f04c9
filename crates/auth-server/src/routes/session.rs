//! Session endpoints: get-session, sign-out, list and revoke.

use actix_web::web::{Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::respond::SessionResponse;
use crate::error::ApiError;
use crate::extract::{ClientInfo, CurrentSession, Form};
use crate::forms::{NoFields, RevokeSession};
use crate::session_service::{self, Resolved};
use crate::state::AppState;

/// Query flags of `get-session`.
#[derive(Debug, Deserialize)]
pub struct GetSessionQuery {
    #[serde(rename = "disableRefresh", default)]
    disable_refresh: Option<String>,
}

/// `GET /get-session`: `{session, user}` or JSON `null`, always 200.
#[utoipa::path(get, path = "/api/auth/get-session", tag = "auth",
    params(("disableRefresh" = Option<bool>, Query, description = "Do not slide the expiry")),
    security((), ("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, body = Option<auth_wire::SessionWithUser>, description = "The session, or JSON null; `set-auth-jwt` carries an RS256 JWT")))]
#[tracing::instrument(name = "get_session", level = "debug", skip_all)]
pub async fn get_session(
    req: HttpRequest,
    query: Option<Query<GetSessionQuery>>,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let disable_refresh = query
        .and_then(|q| q.into_inner().disable_refresh)
        .is_some_and(|v| v != "false");
    let res = SessionResponse::ok(&state);
    match session_service::resolve(&state, &req, !disable_refresh).await? {
        Resolved::Anonymous => Ok(res.json(serde_json::Value::Null)),
        Resolved::Stale => Ok(res.clear().json(serde_json::Value::Null)),
        Resolved::Live { current, refreshed } => {
            let mut res = res.jwt(&current.session, &current.user);
            if refreshed {
                res = res.session(&current.token, current.session.remember);
            }
            Ok(res.json(auth_wire::SessionWithUser {
                session: current.session.to_wire(current.token.clone()),
                user: current.user.to_wire(),
            }))
        }
    }
}

/// `POST /get-session` exists only with deferred refresh, which we do not offer.
#[utoipa::path(post, path = "/api/auth/get-session", tag = "auth", responses((status = 405, body = auth_wire::ErrorBody, description = "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED")))]
pub async fn post_get_session() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowedDefer)
}

/// `POST /sign-out`: deletes the presented session; 200 even without one.
#[utoipa::path(post, path = "/api/auth/sign-out", tag = "auth",
    security((), ("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, description = "`{\"success\":true}`; clears the cookies"), (status = 403, body = auth_wire::ErrorBody)))]
#[tracing::instrument(name = "sign_out", level = "debug", skip_all)]
pub async fn sign_out(
    req: HttpRequest,
    _: Form<NoFields>,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    session_service::end_presented(&state, &req, &client).await?;
    Ok(SessionResponse::ok(&state)
        .clear()
        .json(json!({"success": true})))
}

/// `GET /list-sessions`: the user's live sessions. Unlike Better Auth, `token` is a
/// revocation handle (the session id): it works with `revoke-session` and nowhere else.
#[utoipa::path(get, path = "/api/auth/list-sessions", tag = "auth",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = Vec<auth_wire::Session>, description = "Live sessions; `token` is a revocation handle, not a credential"),
        (status = 401, body = auth_wire::ErrorBody), (status = 403, body = auth_wire::ErrorBody, description = "SESSION_NOT_FRESH"),
    ))]
#[tracing::instrument(name = "list_sessions", level = "debug", skip_all)]
pub async fn list_sessions(
    current: CurrentSession,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let list = session_service::list(&state, &current).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// `POST /revoke-session` `{token}`: the token may be a handle from `list-sessions`
/// or a raw session token; only the caller's own sessions are touched.
#[utoipa::path(post, path = "/api/auth/revoke-session", tag = "auth",
    request_body(content = RevokeSession, content_type = "application/json"),
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, description = "`{\"status\":true}`"), (status = 400, body = auth_wire::ErrorBody), (status = 401, body = auth_wire::ErrorBody)))]
#[tracing::instrument(name = "revoke_session", level = "debug", skip_all)]
pub async fn revoke_session(
    Form(form): Form<RevokeSession>,
    current: CurrentSession,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let was_current = session_service::revoke(&state, &current, &form.token, &client).await?;
    let res = SessionResponse::ok(&state);
    let res = if was_current { res.clear() } else { res };
    Ok(res.json(json!({"status": true})))
}

/// `POST /revoke-sessions`: every session of the user, the current one included.
#[utoipa::path(post, path = "/api/auth/revoke-sessions", tag = "auth",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, description = "`{\"status\":true}`; every session ended"), (status = 401, body = auth_wire::ErrorBody)))]
#[tracing::instrument(name = "revoke_sessions", level = "debug", skip_all)]
pub async fn revoke_sessions(
    _: Form<NoFields>,
    current: CurrentSession,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    session_service::revoke_all(&state, &current, None, &client).await?;
    Ok(SessionResponse::ok(&state)
        .clear()
        .json(json!({"status": true})))
}

/// `POST /revoke-other-sessions`: every session but the current one.
#[utoipa::path(post, path = "/api/auth/revoke-other-sessions", tag = "auth",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, description = "`{\"status\":true}`"), (status = 401, body = auth_wire::ErrorBody)))]
#[tracing::instrument(name = "revoke_other_sessions", level = "debug", skip_all)]
pub async fn revoke_other_sessions(
    _: Form<NoFields>,
    current: CurrentSession,
    client: ClientInfo,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    session_service::revoke_all(&state, &current, Some(current.session.id), &client).await?;
    Ok(HttpResponse::Ok().json(json!({"status": true})))
}
