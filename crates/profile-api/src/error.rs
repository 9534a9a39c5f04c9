//! The one error type of the profile-api. Each variant maps to a status, a code and
//! a `{"code", "message"}` body (plus `"field"` for validation errors), in one place.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use jwt_verifier::actix::AuthError;
use serde::Serialize;
use tokio_postgres::error::SqlState;

/// Every 4xx/5xx body.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// Stable, machine-readable code (`VALIDATION_ERROR`, `PROFILE_NOT_FOUND`, …).
    pub code: &'static str,
    /// Human-readable explanation; never echoes tokens or database errors.
    pub message: &'a str,
    /// The offending JSON field of a validation error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No usable bearer token; the verifier's reason is logged by the extractor.
    #[error("{0}")]
    Auth(AuthError),
    /// The token verified, but its user has been deleted since it was minted.
    #[error("The user of this token no longer exists")]
    UserGone,
    /// The caller has no profile.
    #[error("No profile exists for this user")]
    ProfileNotFound,
    /// No such route.
    #[error("Not found")]
    RouteNotFound,
    /// The route exists, the method does not; the route's methods, for `Allow`.
    #[error("Method not allowed")]
    MethodNotAllowed(&'static str),
    /// Unparseable input: JSON syntax, a malformed precondition header.
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed JSON that breaks a rule; `message` starts with the field name.
    #[error("{message}")]
    Validation {
        /// The JSON field at fault, if the error is about one.
        field: Option<String>,
        /// `"<field>: <rule>"`.
        message: String,
    },
    /// The body's media type is not one the endpoint takes.
    #[error("Content-Type must be {allowed}")]
    UnsupportedMediaType {
        /// The accepted media types, comma-separated.
        allowed: &'static str,
        /// Whether to advertise them in `Accept-Patch` (RFC 5789 §2.2).
        patch: bool,
    },
    /// The body exceeds the configured limit.
    #[error("Request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// `If-Match` / `If-None-Match` did not hold.
    #[error("The profile has changed (or does not exist) since the given ETag; fetch it again")]
    PreconditionFailed,
    /// The database (or the JWKS, for readiness) cannot be reached right now.
    #[error("{0}")]
    Unavailable(String),
    /// Anything unexpected: logged with its cause chain, answered with an opaque 500.
    /// Build it with `?`/`into()`: a database outage inside the chain becomes
    /// [`ApiError::Unavailable`] instead.
    #[error("Internal server error")]
    Internal(anyhow::Error),
}

impl ApiError {
    /// A validation error about `field`.
    pub fn invalid(field: &str, rule: impl std::fmt::Display) -> Self {
        ApiError::Validation {
            field: Some(field.to_owned()),
            message: format!("{field}: {rule}"),
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Auth(AuthError::MissingCredentials) => "UNAUTHORIZED",
            ApiError::Auth(AuthError::InvalidToken) => "INVALID_TOKEN",
            ApiError::Auth(AuthError::Unavailable) => "SERVICE_UNAVAILABLE",
            ApiError::Auth(AuthError::WrongKind) => "WRONG_TOKEN_KIND",
            ApiError::Auth(AuthError::InsufficientScope(_)) => "INSUFFICIENT_SCOPE",
            ApiError::Auth(AuthError::Misconfigured) | ApiError::Internal(_) => {
                "INTERNAL_SERVER_ERROR"
            }
            ApiError::UserGone => "USER_NOT_FOUND",
            ApiError::ProfileNotFound => "PROFILE_NOT_FOUND",
            ApiError::RouteNotFound => "NOT_FOUND",
            ApiError::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::Validation { .. } => "VALIDATION_ERROR",
            ApiError::UnsupportedMediaType { .. } => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            ApiError::PreconditionFailed => "PRECONDITION_FAILED",
            ApiError::Unavailable(_) => "SERVICE_UNAVAILABLE",
        }
    }
}

/// Methods of `/api/profile`, for `Allow`.
pub const PROFILE_METHODS: &str = "GET, HEAD, PUT, PATCH, DELETE";
/// Methods of every other route (probes, the document, the service endpoints).
pub const READ_ONLY_METHODS: &str = "GET";

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Auth(e) => e.status_code(),
            ApiError::UserGone => StatusCode::UNAUTHORIZED,
            ApiError::ProfileNotFound | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::Internal(e) => tracing::error!(error = ?e, "request failed"),
            // RFC 6750 §3: no error code when no credentials were sent.
            ApiError::Auth(AuthError::MissingCredentials) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::Auth(AuthError::InvalidToken) | ApiError::UserGone => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#));
            }
            ApiError::Auth(AuthError::WrongKind) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    r#"Bearer error="invalid_token", error_description="wrong kind of token""#,
                ));
            }
            ApiError::Auth(AuthError::InsufficientScope(scope)) => {
                let challenge = format!(r#"Bearer error="insufficient_scope", scope="{scope}""#);
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    response.insert_header((header::WWW_AUTHENTICATE, v));
                }
            }
            ApiError::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, *allow));
            }
            ApiError::UnsupportedMediaType {
                allowed,
                patch: true,
            } => {
                response.insert_header(("accept-patch", HeaderValue::from_static(allowed)));
            }
            ApiError::Unavailable(_) | ApiError::Auth(AuthError::Unavailable) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        let message = match self {
            ApiError::Auth(AuthError::InsufficientScope(scope)) => {
                format!("The token lacks the scope {scope}")
            }
            other => other.to_string(),
        };
        let field = match self {
            ApiError::Validation { field, .. } => field.as_deref(),
            _ => None,
        };
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(ErrorBody {
                code: self.code(),
                message: &message,
                field,
            })
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Auth(e)
    }
}

/// Constraint of `learner.profiles.user_id`'s foreign key to `identity.users`.
const USER_FK: &str = "profiles_user_id_fkey";

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        match database::classify_chain(e.as_ref()) {
            database::Failure::Unavailable => unavailable(&e),
            database::Failure::Bug => ApiError::Internal(e),
        }
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            if *code == SqlState::FOREIGN_KEY_VIOLATION && db.constraint() == Some(USER_FK) {
                return ApiError::UserGone;
            }
            if *code == SqlState::CHECK_VIOLATION {
                // Validation mirrors every CHECK, so this is a drift between the two;
                // still the client's input, so still a 422, but worth a warning.
                tracing::warn!(constraint = ?db.constraint(), "CHECK violated despite validation");
                let field = db
                    .constraint()
                    .and_then(|c| c.strip_prefix("profiles_"))
                    .and_then(|c| c.strip_suffix("_check"))
                    .unwrap_or("profile");
                return ApiError::invalid(field, "is not accepted by the database");
            }
        }
        match database::classify(&e) {
            database::Failure::Unavailable => unavailable(&e),
            database::Failure::Bug => ApiError::Internal(e.into()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match database::classify_pool(&e) {
            database::Failure::Unavailable => unavailable(&e),
            database::Failure::Bug => ApiError::Internal(e.into()),
        }
    }
}

/// The database cannot serve now: one rate-limited WARN, a 503 for the client.
fn unavailable(e: &dyn std::fmt::Display) -> ApiError {
    database::warn_unavailable(e);
    ApiError::Unavailable("Database temporarily unavailable".into())
}
