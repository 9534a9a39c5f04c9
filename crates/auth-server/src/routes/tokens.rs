//! JWTs for backends and the keys to verify them: `/token`, JWKS, OIDC discovery.

use actix_web::http::header;
use actix_web::web::Data;
use actix_web::HttpResponse;
use serde_json::json;

use crate::error::ApiError;
use crate::extract::CurrentSession;
use crate::state::AppState;

/// `GET /api/auth/token`: `{token}` for the request's session, 401 without one.
#[utoipa::path(get, path = "/api/auth/token", tag = "keys",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses((status = 200, body = auth_wire::JwtResponse, description = "An RS256 JWT for backends"), (status = 401, body = auth_wire::ErrorBody)))]
#[tracing::instrument(name = "token", level = "debug", skip_all)]
pub async fn token(
    current: CurrentSession,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = state
        .tokens
        .token_for(&state.keys, &current.session, &current.user)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(auth_wire::JwtResponse {
            token: token.to_string(),
        }))
}

/// `GET /api/auth/jwks` and `/.well-known/jwks.json`: every published key
/// (next, current, retired), cacheable for the advertised max-age.
#[utoipa::path(get, path = "/api/auth/jwks", tag = "keys", responses((status = 200, description = "JWK set of every published key")))]
pub async fn jwks(state: Data<AppState>) -> HttpResponse {
    let set = state.keys.snapshot();
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", state.settings.jwks_max_age),
        ))
        .body(set.jwks.clone())
}

/// `GET /.well-known/jwks.json`: the same set at the standard location.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "keys", responses((status = 200, description = "JWK set of every published key")))]
pub async fn well_known_jwks(state: Data<AppState>) -> HttpResponse {
    jwks(state).await
}

/// `GET /.well-known/openid-configuration`: enough discovery for standard JWT
/// libraries to find and pin our keys.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "keys", responses((status = 200, description = "OIDC discovery: issuer, jwks_uri, algorithms")))]
pub async fn openid_configuration(state: Data<AppState>) -> HttpResponse {
    let issuer = state.tokens.issuer();
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", state.settings.jwks_max_age),
        ))
        .json(json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "token_endpoint": format!("{issuer}/oauth2/token"),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["profiles:read"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "response_types_supported": ["token"],
            "claims_supported": [
                "iss", "aud", "sub", "iat", "nbf", "exp", "jti", "sid", "role",
                "name", "email", "emailVerified", "image"
            ],
        }))
}
