//! Who is calling: the `sub` of a verified bearer token.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use jwt_verifier::actix::{AuthenticatedUser, ServiceCaller};
use uuid::Uuid;

use crate::error::ApiError;

/// The authenticated user, from `Authorization: Bearer <jwt>` verified by the
/// [`jwt_verifier::Verifier`] in app data. Failures become [`ApiError::Auth`]
/// (401 with `WWW-Authenticate`), so handlers see one error type.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The token's `sub`: the id of the user in `identity.users`.
    pub user_id: Uuid,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let verified = AuthenticatedUser::from_request(req, payload);
        Box::pin(async move {
            let AuthenticatedUser(claims) = verified.await?;
            // The root span declares `user_id` (service_kit::RequestSpan); the token
            // itself is never recorded.
            tracing::Span::current().record("user_id", tracing::field::display(claims.sub));
            Ok(Caller {
                user_id: claims.sub,
            })
        })
    }
}

/// A service (OAuth client) with a token from the auth-server's `/oauth2/token`.
/// A learner's token is 403 `WRONG_TOKEN_KIND`; handlers then ask for a scope with
/// [`Service::require`].
#[derive(Debug, Clone)]
pub struct Service(pub ServiceCaller);

impl Service {
    /// 403 `INSUFFICIENT_SCOPE` unless the token grants `scope`.
    pub fn require(&self, scope: &'static str) -> Result<(), ApiError> {
        self.0.require_scope(scope)?;
        Ok(())
    }
}

impl FromRequest for Service {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let verified = ServiceCaller::from_request(req, payload);
        Box::pin(async move {
            let caller = verified.await?;
            tracing::Span::current().record(
                "user_id",
                tracing::field::display(format_args!("client:{}", caller.0.client_id)),
            );
            Ok(Service(caller))
        })
    }
}
