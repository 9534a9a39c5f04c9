//! actix-web integration: the [`AuthenticatedUser`] extractor.
//!
//! ```no_run
//! use actix_web::{get, web, App, HttpServer};
//! use jwt_verifier::{actix::AuthenticatedUser, Verifier, VerifierConfig};
//!
//! #[get("/me")]
//! async fn me(user: AuthenticatedUser) -> String {
//!     user.0.email
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let verifier = Verifier::new(VerifierConfig::new(
//!     "https://auth.example.com/api/auth/jwks",
//!     "https://auth.example.com",
//!     "profile-api",
//! ))
//! .expect("valid config");
//! HttpServer::new(move || {
//!     App::new()
//!         .app_data(web::Data::new(verifier.clone()))
//!         .service(me)
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderValue, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use auth_wire::{AccessClaims, ErrorBody, ServiceClaims};

use crate::{Verifier, VerifyError};

/// The verified claims of the request's `Authorization: Bearer` token.
///
/// Needs a [`Verifier`] in app data, as `web::Data<Verifier>` (or a plain
/// `Verifier`). A bad or missing token answers 401 via [`AuthError`]; keys that
/// cannot be loaded (the issuer is down and nothing is cached) answer 503.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser(pub AccessClaims);

/// Why [`AuthenticatedUser`] refused a request, shaped as the response.
///
/// Deliberately coarse: the precise [`VerifyError`] is logged, never sent, so a
/// client cannot probe which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` credentials: 401, `WWW-Authenticate: Bearer`,
    /// code `UNAUTHORIZED` (RFC 6750 §3.1: no error code when none were sent).
    #[error("Unauthorized")]
    MissingCredentials,
    /// A bearer token that failed verification: 401,
    /// `WWW-Authenticate: Bearer error="invalid_token"`, code `INVALID_TOKEN`.
    #[error("Invalid or expired token")]
    InvalidToken,
    /// The token could not be checked because no signing keys can be loaded (the
    /// JWKS endpoint is unreachable and nothing usable is cached): 503 with
    /// `Retry-After`, code `SERVICE_UNAVAILABLE`. Not a 401: the token may well be
    /// good, and a 401 would send the user back to sign-in.
    /// A valid token of the other kind (a learner's where a service is required, or
    /// the reverse): 403, it will not do here whoever presents it.
    #[error("This kind of token is not accepted here")]
    WrongKind,
    /// A service token without the scope the endpoint requires.
    #[error("The token lacks the required scope")]
    InsufficientScope(&'static str),
    #[error("Token keys are temporarily unavailable")]
    Unavailable,
    /// No `Verifier` in app data: a wiring bug of the service, so 500, not 401
    /// (which would send clients into a pointless re-login loop).
    #[error("Internal server error")]
    Misconfigured,
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            AuthError::MissingCredentials | AuthError::InvalidToken => StatusCode::UNAUTHORIZED,
            AuthError::WrongKind | AuthError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            AuthError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (challenge, code) = match self {
            AuthError::MissingCredentials => (Some("Bearer"), "UNAUTHORIZED"),
            AuthError::InvalidToken => (Some(r#"Bearer error="invalid_token""#), "INVALID_TOKEN"),
            AuthError::WrongKind => (
                Some(r#"Bearer error="invalid_token", error_description="wrong kind of token""#),
                "WRONG_TOKEN_KIND",
            ),
            AuthError::InsufficientScope(_) => (
                Some(r#"Bearer error="insufficient_scope""#),
                "INSUFFICIENT_SCOPE",
            ),
            AuthError::Unavailable => (None, "SERVICE_UNAVAILABLE"),
            AuthError::Misconfigured => (None, "INTERNAL_SERVER_ERROR"),
        };
        let mut response = HttpResponse::build(self.status_code());
        if *self == AuthError::Unavailable {
            response.insert_header((RETRY_AFTER, HeaderValue::from_static("1")));
        }
        if let Some(challenge) = challenge {
            response.insert_header((WWW_AUTHENTICATE, HeaderValue::from_static(challenge)));
        }
        let message = match self {
            AuthError::InsufficientScope(scope) => format!("The token lacks the scope {scope}"),
            other => other.to_string(),
        };
        response.json(ErrorBody {
            message,
            code: code.to_owned(),
        })
    }
}

impl FromRequest for AuthenticatedUser {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    /// A learner's token; a service token is 403 [`AuthError::WrongKind`].
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verified = verified(req);
        Box::pin(async move {
            match verified.await? {
                crate::Verified::Learner(claims) => Ok(AuthenticatedUser(claims)),
                crate::Verified::Service(_) => {
                    tracing::debug!("service token where a learner's is required");
                    Err(AuthError::WrongKind)
                }
            }
        })
    }
}

/// A service (OAuth client) calling with a token from `/oauth2/token`
/// (`typ: at+jwt`). A learner's token is 403 [`AuthError::WrongKind`].
#[derive(Debug, Clone)]
pub struct ServiceCaller(pub ServiceClaims);

impl ServiceCaller {
    /// 403 `INSUFFICIENT_SCOPE` unless the token grants `scope`.
    pub fn require_scope(&self, scope: &'static str) -> Result<&Self, AuthError> {
        if self.0.has_scope(scope) {
            Ok(self)
        } else {
            tracing::debug!(client_id = %self.0.client_id, scope, "scope missing");
            Err(AuthError::InsufficientScope(scope))
        }
    }
}

impl FromRequest for ServiceCaller {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verified = verified(req);
        Box::pin(async move {
            match verified.await? {
                crate::Verified::Service(claims) => Ok(ServiceCaller(claims)),
                crate::Verified::Learner(_) => {
                    tracing::debug!("learner token where a service's is required");
                    Err(AuthError::WrongKind)
                }
            }
        })
    }
}

/// Verifies the request's bearer token, of either kind.
fn verified(
    req: &HttpRequest,
) -> Pin<Box<dyn Future<Output = Result<crate::Verified, AuthError>>>> {
    let verifier = req
        .app_data::<web::Data<Verifier>>()
        .map(|data| data.get_ref().clone())
        .or_else(|| req.app_data::<Verifier>().cloned());
    let token = bearer_token(req);
    Box::pin(async move {
        let Some(verifier) = verifier else {
            tracing::error!("a token extractor used without a Verifier in app data");
            return Err(AuthError::Misconfigured);
        };
        let token = token?;
        verifier.verify_any(&token).await.map_err(|reason| {
            if matches!(reason, VerifyError::JwksUnavailable(_)) {
                tracing::warn!(%reason, "bearer token not checkable: no keys");
                return AuthError::Unavailable;
            }
            tracing::debug!(%reason, "bearer token rejected");
            AuthError::InvalidToken
        })
    })
}

fn bearer_token(req: &HttpRequest) -> Result<String, AuthError> {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return Err(AuthError::MissingCredentials);
    };
    let Ok(value) = value.to_str() else {
        tracing::debug!("Authorization header is not visible ASCII");
        return Err(AuthError::InvalidToken);
    };
    // The scheme is case-insensitive (RFC 7235 §2.1).
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err(AuthError::MissingCredentials);
    }
    let token = token.trim();
    if token.is_empty() {
        tracing::debug!("Authorization: Bearer without a token");
        return Err(AuthError::InvalidToken);
    }
    Ok(token.to_owned())
}
