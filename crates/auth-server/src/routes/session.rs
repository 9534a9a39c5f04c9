//! Session endpoints: get-session, sign-out, list and revoke.

use actix_web::http::header;
use actix_web::web::{Bytes, Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use crate::body::{self, Accepts};
use crate::credentials;
use crate::db::sessions;
use crate::error::ApiError;
use crate::session_service::{self, Resolved};
use crate::state::AppState;

/// Query flags of `get-session`.
#[derive(Debug, Deserialize)]
pub struct GetSessionQuery {
    #[serde(rename = "disableRefresh", default)]
    disable_refresh: Option<String>,
}

fn no_store(res: &mut actix_web::HttpResponseBuilder) {
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
}

/// `GET /get-session`: `{session, user}` or JSON `null`, always 200.
#[utoipa::path(get, path = "/api/auth/get-session", tag = "auth",
    params(("disableRefresh" = Option<bool>, Query, description = "Do not slide the expiry")),
    security((), ("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, body = Option<auth_wire::SessionWithUser>, description = "The session, or JSON null; `set-auth-jwt` carries an RS256 JWT")))]
pub async fn get_session(
    req: HttpRequest,
    query: Option<Query<GetSessionQuery>>,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let disable_refresh = query
        .and_then(|q| q.into_inner().disable_refresh)
        .is_some_and(|v| v != "false");
    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    match session_service::resolve(&state, &req, !disable_refresh).await? {
        Resolved::Anonymous => Ok(res.json(serde_json::Value::Null)),
        Resolved::Stale => {
            state.cookies.clear(&mut res);
            Ok(res.json(serde_json::Value::Null))
        }
        Resolved::Live { current, refreshed } => {
            let jwt = state
                .tokens
                .token_for(&state.keys, &current.session, &current.user)?;
            if let Ok(v) = header::HeaderValue::from_str(&jwt) {
                res.insert_header((crate::cookies::SET_AUTH_JWT, v));
            }
            if refreshed {
                state.cookies.set_session(
                    &mut res,
                    &state.signer,
                    &current.token,
                    current.session.remember,
                    state.settings.session_expires_in,
                );
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
pub async fn sign_out(
    req: HttpRequest,
    body: Bytes,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.check_origin(&req)?;
    body::parse(&req, &body, Accepts::Json)?.object_or_empty()?;
    if let Some((token, _)) =
        credentials::presented_token(&req, &state.signer, &state.cookies.session_token)
    {
        let client = state.pool.get().await?;
        if sessions::delete_by_hash(&client, &credentials::token_hash(&token)).await? {
            tracing::info!("session signed out");
        }
    }
    let mut res = HttpResponse::Ok();
    state.cookies.clear(&mut res);
    Ok(res.json(json!({"success": true})))
}

/// `GET /list-sessions`: the user's live sessions. Unlike Better Auth, `token` is a
/// revocation handle (the session id): it works with `revoke-session` and nowhere else.
#[utoipa::path(get, path = "/api/auth/list-sessions", tag = "auth",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = Vec<auth_wire::Session>, description = "Live sessions; `token` is a revocation handle, not a credential"),
        (status = 401, body = auth_wire::ErrorBody), (status = 403, body = auth_wire::ErrorBody, description = "SESSION_NOT_FRESH"),
    ))]
pub async fn list_sessions(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let current = session_service::require(&state, &req).await?;
    let fresh_age = state.settings.session_fresh_age;
    if fresh_age > 0
        && Utc::now() - current.session.created_at > chrono::Duration::seconds(fresh_age)
    {
        return Err(ApiError::SessionNotFresh);
    }
    let client = state.pool.get().await?;
    let list: Vec<_> = sessions::list_active(&client, current.user.id)
        .await?
        .into_iter()
        .map(|s| {
            let handle = s.id.to_string();
            s.to_wire(handle)
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// `POST /revoke-session` `{token}`: the token may be a handle from `list-sessions`
/// or a raw session token; only the caller's own sessions are touched.
#[utoipa::path(post, path = "/api/auth/revoke-session", tag = "auth",
    request_body(content = crate::openapi::RevokeSessionBody, content_type = "application/json"),
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, description = "`{\"status\":true}`"), (status = 400, body = auth_wire::ErrorBody), (status = 401, body = auth_wire::ErrorBody)))]
pub async fn revoke_session(
    req: HttpRequest,
    body: Bytes,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.check_origin(&req)?;
    let mut f = body::parse(&req, &body, Accepts::Json)?.object()?;
    let token = f.string("token");
    f.finish()?;
    let current = session_service::require(&state, &req).await?;
    let handle = uuid::Uuid::parse_str(&token).ok();
    let client = state.pool.get().await?;
    let deleted = sessions::delete_for_user(
        &client,
        current.user.id,
        handle,
        &credentials::token_hash(&token),
    )
    .await?;
    let mut res = HttpResponse::Ok();
    if deleted == Some(current.session.id) {
        state.cookies.clear(&mut res);
    }
    Ok(res.json(json!({"status": true})))
}

/// `POST /revoke-sessions`: every session of the user, the current one included.
#[utoipa::path(post, path = "/api/auth/revoke-sessions", tag = "auth",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, description = "`{\"status\":true}`; every session ended"), (status = 401, body = auth_wire::ErrorBody)))]
pub async fn revoke_sessions(
    req: HttpRequest,
    body: Bytes,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.check_origin(&req)?;
    body::parse(&req, &body, Accepts::Json)?.object_or_empty()?;
    let current = session_service::require(&state, &req).await?;
    let client = state.pool.get().await?;
    sessions::delete_all_for_user(&client, current.user.id, None).await?;
    let mut res = HttpResponse::Ok();
    state.cookies.clear(&mut res);
    Ok(res.json(json!({"status": true})))
}

/// `POST /revoke-other-sessions`: every session but the current one.
#[utoipa::path(post, path = "/api/auth/revoke-other-sessions", tag = "auth",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, description = "`{\"status\":true}`"), (status = 401, body = auth_wire::ErrorBody)))]
pub async fn revoke_other_sessions(
    req: HttpRequest,
    body: Bytes,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.check_origin(&req)?;
    body::parse(&req, &body, Accepts::Json)?.object_or_empty()?;
    let current = session_service::require(&state, &req).await?;
    let client = state.pool.get().await?;
    sessions::delete_all_for_user(&client, current.user.id, Some(current.session.id)).await?;
    Ok(HttpResponse::Ok().json(json!({"status": true})))
}
