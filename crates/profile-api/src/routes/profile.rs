//! `/api/profile`: the caller's own profile. Handlers are thin: authenticate, parse
//! preconditions and body, call `db::profiles`, shape the response.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::Caller;
use crate::body::{self, Accepts};
use crate::conditional::{Outcome, Preconditions};
use crate::db::{profiles, GenericClient};
use crate::error::ApiError;
use crate::profile::ProfilePatch;
use crate::state::AppState;

/// Path of the resource (also its `Location`).
pub const PATH: &str = "/api/profile";

/// The profile with its ETag. Private and revalidated on every use: the same URL
/// names a different profile for every bearer.
fn respond(status: StatusCode, stored: &profiles::Stored) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::ETAG, stored.etag.header_value()))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header((header::VARY, "Authorization"));
    if status == StatusCode::CREATED {
        response.insert_header((header::LOCATION, PATH));
    }
    response.json(&stored.profile)
}

/// A write matched no row: was there no profile (404), or did a precondition fail
/// (412)? Preconditions are ignored when the answer would be 404 anyway
/// (RFC 9110 §13.2.1).
async fn explain_no_match(
    client: &impl GenericClient,
    caller: Caller,
    pre: &Preconditions,
) -> ApiError {
    if pre.is_empty() {
        return ApiError::ProfileNotFound;
    }
    match profiles::exists(client, caller.user_id).await {
        Ok(true) => ApiError::PreconditionFailed,
        Ok(false) => ApiError::ProfileNotFound,
        Err(e) => e.into(),
    }
}

/// `GET /api/profile` (and HEAD): 200 with the profile and its ETag, 304 for a
/// matching `If-None-Match`, 404 `PROFILE_NOT_FOUND`.
#[utoipa::path(get, path = "/api/profile", tag = "profile", security(("bearer_jwt" = [])),
    params(("If-None-Match" = Option<String>, Header, description = "ETag of a cached copy: 304 if unchanged")),
    responses(
        (status = 200, body = crate::profile::Profile, headers(("ETag" = String))),
        (status = 304, description = "Not modified"),
        (status = 401, body = crate::openapi::ProblemBody), (status = 404, body = crate::openapi::ProblemBody, description = "PROFILE_NOT_FOUND"),
    ))]
#[tracing::instrument(name = "profile_get", level = "debug", skip_all)]
pub async fn get(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pre = Preconditions::from_request(&req)?;
    let client = state.pool.get().await?;
    let stored = profiles::get(&client, caller.user_id)
        .await?
        .ok_or(ApiError::ProfileNotFound)?;
    match pre.evaluate(Some(stored.etag), true) {
        Outcome::Proceed => Ok(respond(StatusCode::OK, &stored)),
        Outcome::NotModified => Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, stored.etag.header_value()))
            .insert_header((header::CACHE_CONTROL, "private, no-cache"))
            .insert_header((header::VARY, "Authorization"))
            .finish()),
        Outcome::Failed => Err(ApiError::PreconditionFailed),
    }
}

/// `PUT /api/profile`: creates (201) or replaces (200) the whole profile; fields
/// the body leaves out take their defaults. `If-Match` makes it a replace of that
/// version only; `If-None-Match: *` makes it create-only.
#[utoipa::path(put, path = "/api/profile", tag = "profile", security(("bearer_jwt" = [])),
    request_body(content = crate::openapi::ProfileInput, content_type = "application/json"),
    params(
        ("If-Match" = Option<String>, Header, description = "Replace only this version (412 otherwise)"),
        ("If-None-Match" = Option<String>, Header, description = "`*`: create only (412 if it exists)"),
    ),
    responses(
        (status = 200, body = crate::profile::Profile, description = "Replaced"),
        (status = 201, body = crate::profile::Profile, description = "Created"),
        (status = 400, body = crate::openapi::ProblemBody), (status = 401, body = crate::openapi::ProblemBody), (status = 412, body = crate::openapi::ProblemBody), (status = 413, body = crate::openapi::ProblemBody),
        (status = 415, body = crate::openapi::ProblemBody), (status = 422, body = crate::openapi::ProblemBody, description = "VALIDATION_ERROR naming the field"),
    ))]
#[tracing::instrument(name = "profile_put", level = "debug", skip_all)]
pub async fn put(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pre = Preconditions::from_request(&req)?;
    let body = body::read_json(&req, payload, state.settings.body_limit, Accepts::Json).await?;
    let fields = ProfilePatch::from_json(body)?.into_replacement();
    let client = state.pool.get().await?;
    if pre.if_match.is_some() {
        // If-Match needs a current representation: an update of that row or 412.
        let stored = profiles::update(&client, caller.user_id, &fields.into(), &pre)
            .await?
            .ok_or(ApiError::PreconditionFailed)?;
        return Ok(respond(StatusCode::OK, &stored));
    }
    let stored = profiles::upsert(&client, caller.user_id, &fields, &pre)
        .await?
        .ok_or(ApiError::PreconditionFailed)?;
    let status = if stored.is_new() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(respond(status, &stored))
}

/// `PATCH /api/profile`: JSON merge patch (RFC 7396) of the existing profile:
/// absent members stay, `null` resets to the default, values replace.
#[utoipa::path(patch, path = "/api/profile", tag = "profile", security(("bearer_jwt" = [])),
    request_body(content = crate::openapi::ProfileInput, content_type = "application/merge-patch+json"),
    params(("If-Match" = Option<String>, Header, description = "Update only this version (412 otherwise)")),
    responses(
        (status = 200, body = crate::profile::Profile),
        (status = 400, body = crate::openapi::ProblemBody), (status = 401, body = crate::openapi::ProblemBody), (status = 404, body = crate::openapi::ProblemBody), (status = 412, body = crate::openapi::ProblemBody),
        (status = 415, body = crate::openapi::ProblemBody), (status = 422, body = crate::openapi::ProblemBody),
    ))]
#[tracing::instrument(name = "profile_patch", level = "debug", skip_all)]
pub async fn patch(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pre = Preconditions::from_request(&req)?;
    let body = body::read_json(
        &req,
        payload,
        state.settings.body_limit,
        Accepts::MergePatch,
    )
    .await?;
    let patch = ProfilePatch::from_json(body)?;
    let client = state.pool.get().await?;
    match profiles::update(&client, caller.user_id, &patch, &pre).await? {
        Some(stored) => Ok(respond(StatusCode::OK, &stored)),
        None => Err(explain_no_match(&client, caller, &pre).await),
    }
}

/// `DELETE /api/profile`: 204, or 404 when there is none.
#[utoipa::path(delete, path = "/api/profile", tag = "profile", security(("bearer_jwt" = [])),
    params(("If-Match" = Option<String>, Header, description = "Delete only this version (412 otherwise)")),
    responses((status = 204, description = "Deleted"), (status = 401, body = crate::openapi::ProblemBody), (status = 404, body = crate::openapi::ProblemBody), (status = 412, body = crate::openapi::ProblemBody)))]
#[tracing::instrument(name = "profile_delete", level = "debug", skip_all)]
pub async fn delete(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pre = Preconditions::from_request(&req)?;
    let client = state.pool.get().await?;
    if profiles::delete(&client, caller.user_id, &pre).await? {
        Ok(HttpResponse::NoContent()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish())
    } else {
        Err(explain_no_match(&client, caller, &pre).await)
    }
}

/// `HEAD /api/profile`: the headers of a GET.
#[utoipa::path(head, path = "/api/profile", tag = "profile", security(("bearer_jwt" = [])),
    responses((status = 200, description = "Exists", headers(("ETag" = String))), (status = 304, description = "Not modified"), (status = 401, body = crate::openapi::ProblemBody), (status = 404, body = crate::openapi::ProblemBody)))]
#[tracing::instrument(name = "profile_head", level = "debug", skip_all)]
pub async fn head(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    get(caller, req, state).await
}
