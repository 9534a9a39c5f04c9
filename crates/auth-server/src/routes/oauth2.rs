//! `POST /oauth2/token`: the client-credentials grant (RFC 6749 §4.4).

use actix_web::http::header;
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde_json::json;

use crate::client_credentials::{self, OAuthError};
use crate::extract::ClientInfo;
use crate::state::AppState;

/// Issues a service access token to an authenticated client.
#[utoipa::path(post, path = "/oauth2/token", tag = "keys",
    request_body(content_type = "application/x-www-form-urlencoded", description = "grant_type=client_credentials, scope?, resource? | audience?, and client_id + client_secret unless sent as Authorization: Basic"),
    responses(
        (status = 200, description = "`{access_token, token_type: \"Bearer\", expires_in, scope}` (RFC 6749 §5.1); the token is an RS256 JWT with `typ: at+jwt`"),
        (status = 400, description = "`{error: invalid_request | unsupported_grant_type | invalid_scope | invalid_target, error_description}`"),
        (status = 401, description = "`{error: invalid_client}` with `WWW-Authenticate: Basic`"),
        (status = 429, body = auth_wire::ErrorBody),
        (status = 503, body = auth_wire::ErrorBody),
    ))]
#[tracing::instrument(name = "oauth2_token", level = "debug", skip_all)]
pub async fn token(
    req: HttpRequest,
    body: Bytes,
    client: ClientInfo,
    state: Data<AppState>,
) -> HttpResponse {
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    let result = if form {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match client_credentials::parse(&body, authorization) {
            Ok(request) => client_credentials::issue(&state, request, &client).await,
            Err(e) => Err(e),
        }
    } else {
        Err(OAuthError::InvalidRequest(
            "The body must be application/x-www-form-urlencoded",
        ))
    };
    match result {
        Ok(issued) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(json!({
                "access_token": issued.token.token,
                "token_type": "Bearer",
                "expires_in": issued.token.expires_in,
                "scope": issued.scope,
            })),
        Err(OAuthError::Api(e)) => e.error_response(),
        Err(e) => {
            let (error, description) = e.parts();
            let mut res = HttpResponse::build(e.status());
            res.insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::PRAGMA, "no-cache"));
            if matches!(e, OAuthError::InvalidClient) {
                res.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="auth-server""#));
            }
            // RFC 6749's fields, plus our `code`/`message` like every other error.
            res.json(json!({
                "error": error,
                "error_description": description,
                "code": error.to_ascii_uppercase(),
                "message": description,
            }))
        }
    }
}
