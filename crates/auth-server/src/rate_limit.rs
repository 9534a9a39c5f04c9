//! Per-IP rate limiting of the credential endpoints (sign-in, sign-up,
//! change-password), as Better Auth does in production: a password guesser gets a
//! 429 long before argon2 becomes their denial-of-service lever.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse, ResponseError};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ApiError;
use crate::state::AppState;

/// Paths whose requests count against the limit.
const LIMITED: &[&str] = &[
    "/api/auth/sign-in/email",
    "/api/auth/sign-up/email",
    "/api/auth/change-password",
];

/// A keyed token bucket: `max` requests per `window` for each client IP.
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl RateLimiter {
    /// `max` requests per `window` (burst `max`).
    pub fn new(max: u32, window: Duration) -> Self {
        let max = NonZeroU32::new(max.max(1)).unwrap_or(NonZeroU32::MIN);
        let period = window / max.get();
        let quota = Quota::with_period(period.max(Duration::from_millis(1)))
            .unwrap_or_else(|| Quota::per_second(max))
            .allow_burst(max);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
        }
    }

    /// `Ok` if `ip` may go on, else the seconds until it may retry.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.limiter.check_key(&ip).map_err(|not_until| {
            not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                .max(1)
        })
    }

    /// Forgets idle clients (bounded memory).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

fn client_ip(req: &ServiceRequest, trust_proxy: bool) -> Option<IpAddr> {
    if trust_proxy {
        if let Some(ip) = req
            .connection_info()
            .realip_remote_addr()
            .and_then(|s| s.parse().ok())
        {
            return Some(ip);
        }
    }
    req.peer_addr().map(|a| a.ip())
}

/// Middleware: answers 429 (`x-retry-after`) once an IP exceeds its budget.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    if LIMITED.contains(&req.path()) {
        if let Some(state) = req.app_data::<web::Data<AppState>>() {
            if let (Some(limiter), Some(ip)) = (
                state.rate_limiter.as_ref(),
                client_ip(&req, state.settings.trust_proxy),
            ) {
                if let Err(retry_after) = limiter.check(ip) {
                    tracing::info!(%ip, path = req.path(), "rate limited");
                    let mut res: HttpResponse = ApiError::TooManyRequests.error_response();
                    if let Ok(v) = retry_after.to_string().parse() {
                        res.headers_mut().insert(
                            actix_web::http::header::HeaderName::from_static("x-retry-after"),
                            v,
                        );
                    }
                    return Ok(req.into_response(res).map_into_right_body());
                }
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_per_ip() {
        let rl = RateLimiter::new(3, Duration::from_secs(60));
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        for _ in 0..3 {
            assert!(rl.check(a).is_ok());
        }
        let wait = rl.check(a).expect_err("limited");
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(rl.check(b).is_ok(), "other clients unaffected");
    }
}
