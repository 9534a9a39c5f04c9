//! Everything a handler needs, built once at start-up and shared (no statics).

use actix_web::HttpRequest;
use deadpool_postgres::Pool;

use crate::config::Settings;
use crate::cookies::SessionCookies;
use crate::credentials::CookieSigner;
use crate::csrf::TrustedOrigins;
use crate::error::ApiError;
use crate::jwt::TokenIssuer;
use crate::keys::KeyStore;
use crate::password::PasswordHasher;

/// Shared application state.
pub struct AppState {
    pub settings: Settings,
    pub pool: Pool,
    pub signer: CookieSigner,
    pub hasher: PasswordHasher,
    pub origins: TrustedOrigins,
    pub cookies: SessionCookies,
    pub keys: KeyStore,
    pub tokens: TokenIssuer,
    /// `None` when rate limiting is off.
    pub rate_limiter: Option<crate::rate_limit::RateLimiter>,
    /// Who the client is behind our trusted proxies.
    pub client_ip: crate::client_ip::ClientIpResolver,
    /// Renders and queues mail; its worker delivers it.
    pub mailer: crate::mail::Mailer,
    /// The social sign-in providers.
    pub providers: crate::social::Providers,
    /// Counts what the background tasks (mail worker, sweeper) do, for metrics.
    pub metrics: crate::metrics::AuthMetrics,
}

impl AppState {
    /// CSRF rule for state-changing endpoints (unless turned off).
    pub fn check_origin(&self, req: &HttpRequest) -> Result<(), ApiError> {
        if self.settings.csrf_check {
            self.origins.check(req)
        } else {
            Ok(())
        }
    }

    /// CSRF rule for sign-in and sign-up (unless turned off).
    pub fn check_login_origin(&self, req: &HttpRequest) -> Result<(), ApiError> {
        if self.settings.csrf_check {
            self.origins.check_login(req)
        } else {
            Ok(())
        }
    }

    /// The request's client IP (see [`crate::client_ip`]).
    pub fn client_ip(&self, req: &HttpRequest) -> Option<std::net::IpAddr> {
        self.client_ip
            .resolve(req.peer_addr().map(|a| a.ip()), req.headers())
    }

    /// Counts a password-checking request against its client IP's and account's
    /// limits (a no-op when rate limiting is off).
    pub async fn check_rate_limit(
        &self,
        ip: Option<std::net::IpAddr>,
        account: crate::rate_limit::Account<'_>,
    ) -> Result<(), ApiError> {
        match &self.rate_limiter {
            Some(limiter) => limiter.check(ip, Some(account)).await,
            None => Ok(()),
        }
    }

    /// Counts a mail about to be sent by `endpoint` against the client IP's and the
    /// recipient's mail budget (a no-op when rate limiting is off).
    pub async fn check_mail_limit(
        &self,
        endpoint: &str,
        ip: Option<std::net::IpAddr>,
        recipient: &str,
    ) -> Result<(), ApiError> {
        match &self.rate_limiter {
            Some(limiter) => limiter.check_mail(endpoint, ip, recipient).await,
            None => Ok(()),
        }
    }

    /// Counts a social sign-in step against the client IP's budget (a no-op when
    /// rate limiting is off).
    pub async fn check_social_limit(&self, ip: Option<std::net::IpAddr>) -> Result<(), ApiError> {
        match &self.rate_limiter {
            Some(limiter) => limiter.check_social(ip).await,
            None => Ok(()),
        }
    }

    /// Validates a password's length in UTF-16 code units, as the JS client counts.
    pub fn check_password_length(&self, password: &str) -> Result<(), ApiError> {
        let len = password.encode_utf16().count();
        if len < self.settings.password_min_length {
            Err(ApiError::PasswordTooShort)
        } else if len > self.settings.password_max_length {
            Err(ApiError::PasswordTooLong)
        } else {
            Ok(())
        }
    }
}
