//! `POST /api/auth/update-user`.

use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use crate::body::{self, Accepts};
use crate::db::users;
use crate::error::ApiError;
use crate::session_service;
use crate::state::AppState;

/// Updates `name` and/or `image` (null clears it); e-mail cannot change here.
#[utoipa::path(post, path = "/api/auth/update-user", tag = "auth",
    request_body(content = crate::openapi::UpdateUserBody, content_type = "application/json"),
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, description = "`{\"status\":true}`"), (status = 400, body = auth_wire::ErrorBody, description = "EMAIL_CAN_NOT_BE_UPDATED, NO_FIELDS_TO_UPDATE, VALIDATION_ERROR"), (status = 401, body = auth_wire::ErrorBody)))]
pub async fn update_user(
    req: HttpRequest,
    body: Bytes,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.check_origin(&req)?;
    let mut f = body::parse(&req, &body, Accepts::Json)?.object()?;
    if f.has("email") {
        return Err(ApiError::EmailCanNotBeUpdated);
    }
    let name = f.opt_string("name");
    let image = f.opt_nullable_string("image");
    f.finish()?;
    if name.is_none() && image.is_none() {
        return Err(ApiError::NoFieldsToUpdate);
    }
    if name.as_ref().is_some_and(|n| n.chars().count() > 256) {
        return Err(ApiError::Validation(
            "[body.name] Too big: expected string to have <=256 characters".into(),
        ));
    }
    if image
        .as_ref()
        .and_then(|i| i.as_ref())
        .is_some_and(|i| i.len() > 2048)
    {
        return Err(ApiError::Validation(
            "[body.image] Too big: expected string to have <=2048 characters".into(),
        ));
    }
    let current = session_service::require(&state, &req).await?;
    let client = state.pool.get().await?;
    users::update_profile(
        &client,
        current.user.id,
        name.as_deref(),
        image.as_ref().map(|i| i.as_deref()),
    )
    .await?
    .ok_or(ApiError::Unauthorized)?;

    let mut res = HttpResponse::Ok();
    state.cookies.set_session(
        &mut res,
        &state.signer,
        &current.token,
        current.session.remember,
        state.settings.session_expires_in,
    );
    Ok(res.json(json!({"status": true})))
}
