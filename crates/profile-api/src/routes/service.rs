//! `/api/service/profiles`: profiles for services (graders, analytics, the site's
//! build), with a client-credentials token that grants `profiles:read`. A learner's
//! token is 403 here, as a service token is on `/api/profile`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::Service;
use crate::db::profiles::{self, Cursor};
use crate::error::ApiError;
use crate::profile::Profile;
use crate::state::AppState;

/// The scope both endpoints require.
pub const READ_SCOPE: &str = "profiles:read";
/// Path of the listing.
pub const LIST_PATH: &str = "/api/service/profiles";
/// Path of one profile.
pub const ONE_PATH: &str = "/api/service/profiles/{user_id}";
/// Largest page.
pub const MAX_LIMIT: i64 = 1000;

/// A page of the listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProfilePage {
    /// Profiles by (updatedAt, userId).
    pub profiles: Vec<Profile>,
    /// Where to continue: pass it as `after` (also when the page is short, to pick
    /// up later changes). `null` only when nothing was read yet.
    pub next: Option<String>,
    /// Whether a full page was returned (more may follow right away).
    pub has_more: bool,
}

fn encode(c: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", c.updated_at.timestamp_micros(), c.user_id))
}

fn decode(s: &str) -> Option<Cursor> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
    let (micros, id) = raw.split_once(':')?;
    Some(Cursor {
        updated_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        user_id: Uuid::parse_str(id).ok()?,
    })
}

fn query_param(req: &HttpRequest, name: &str) -> Result<Option<String>, ApiError> {
    let mut found = url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    let first = found.next();
    if found.next().is_some() {
        return Err(ApiError::BadRequest(format!("{name} is given twice")));
    }
    Ok(first)
}

/// `GET /api/service/profiles?updated_since=&after=&limit=`: profiles changed since
/// a time, keyset-paginated by (updatedAt, userId). A profile changed during a walk
/// moves to the end and is seen again; none is skipped.
#[utoipa::path(get, path = "/api/service/profiles", tag = "service", security(("service_token" = ["profiles:read"])),
    params(
        ("updated_since" = Option<String>, Query, description = "RFC 3339; default: the beginning"),
        ("after" = Option<String>, Query, description = "The `next` of the previous page"),
        ("limit" = Option<i64>, Query, description = "1 to 1000, default 100"),
    ),
    responses(
        (status = 200, body = ProfilePage),
        (status = 400, body = crate::openapi::ProblemBody, description = "A bad parameter"),
        (status = 401, body = crate::openapi::ProblemBody),
        (status = 403, body = crate::openapi::ProblemBody, description = "WRONG_TOKEN_KIND (a learner's token), INSUFFICIENT_SCOPE"),
    ))]
#[tracing::instrument(name = "service_list", level = "debug", skip_all)]
pub async fn list(
    service: Service,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    service.require(READ_SCOPE)?;
    let since = match query_param(&req, "updated_since")? {
        None => DateTime::<Utc>::UNIX_EPOCH,
        Some(s) => DateTime::parse_from_rfc3339(&s)
            .map_err(|_| ApiError::BadRequest("updated_since must be an RFC 3339 time".into()))?
            .with_timezone(&Utc),
    };
    let after =
        match query_param(&req, "after")? {
            None => None,
            Some(s) => Some(decode(&s).ok_or_else(|| {
                ApiError::BadRequest("after is not a cursor from this API".into())
            })?),
        };
    let limit = match query_param(&req, "limit")? {
        None => 100,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::BadRequest(format!("limit must be 1 to {MAX_LIMIT}")))?,
    };
    let settle = state.settings.service_list_settle_ms as f64 / 1000.0;
    let client = state.pool.get().await?;
    let rows = profiles::list_updated(&client, since, after, settle, limit).await?;
    let last = rows.last().map(|s| Cursor {
        updated_at: s.profile.updated_at,
        user_id: s.profile.user_id,
    });
    let page = ProfilePage {
        has_more: rows.len() as i64 == limit,
        next: last.or(after).map(|c| encode(&c)),
        profiles: rows.into_iter().map(|s| s.profile).collect(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(page))
}

/// `GET /api/service/profiles/{user_id}`: one learner's profile.
#[utoipa::path(get, path = "/api/service/profiles/{user_id}", tag = "service", security(("service_token" = ["profiles:read"])),
    params(("user_id" = Uuid, Path)),
    responses(
        (status = 200, body = crate::profile::Profile),
        (status = 401, body = crate::openapi::ProblemBody),
        (status = 403, body = crate::openapi::ProblemBody, description = "WRONG_TOKEN_KIND (a learner's token), INSUFFICIENT_SCOPE"),
        (status = 404, body = crate::openapi::ProblemBody, description = "PROFILE_NOT_FOUND"),
    ))]
#[tracing::instrument(name = "service_get", level = "debug", skip_all)]
pub async fn get(
    service: Service,
    user_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    service.require(READ_SCOPE)?;
    let user_id = Uuid::parse_str(&user_id).map_err(|_| ApiError::ProfileNotFound)?;
    let client = state.pool.get().await?;
    let stored = profiles::get(&client, user_id)
        .await?
        .ok_or(ApiError::ProfileNotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::ETAG, stored.etag.header_value()))
        .json(&stored.profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            updated_at: DateTime::from_timestamp_micros(1_795_698_840_467_123).expect("time"),
            user_id: Uuid::new_v4(),
        };
        assert_eq!(decode(&encode(&c)), Some(c));
        for bad in [
            "",
            "x",
            "bm90LWEtY3Vyc29y",
            &URL_SAFE_NO_PAD.encode("12:not-a-uuid"),
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
