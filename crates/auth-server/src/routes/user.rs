//! `POST /api/auth/update-user`.

use actix_web::web::Data;
use actix_web::HttpResponse;
use serde_json::json;

use super::respond::SessionResponse;
use crate::accounts;
use crate::error::ApiError;
use crate::extract::{CurrentSession, Form};
use crate::forms::UpdateUser;
use crate::state::AppState;

/// Updates `name` and/or `image` (null clears it); e-mail cannot change here.
#[utoipa::path(post, path = "/api/auth/update-user", tag = "auth",
    request_body(content = UpdateUser, content_type = "application/json"),
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, description = "`{\"status\":true}`"), (status = 400, body = auth_wire::ErrorBody, description = "EMAIL_CAN_NOT_BE_UPDATED, NO_FIELDS_TO_UPDATE, VALIDATION_ERROR"), (status = 401, body = auth_wire::ErrorBody)))]
#[tracing::instrument(name = "update_user", level = "debug", skip_all)]
pub async fn update_user(
    Form(form): Form<UpdateUser>,
    current: CurrentSession,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    accounts::update_user(&state, &current, &form).await?;
    // Better Auth re-sends the session cookie with the updated user.
    Ok(SessionResponse::ok(&state)
        .session(&current.token, current.session.remember)
        .json(json!({"status": true})))
}
