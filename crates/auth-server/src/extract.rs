//! Extractors: what every handler used to do by hand before its own work. A
//! [`Form`] checks the origin rule, parses the body and applies the form's rules;
//! [`CurrentSession`] and [`OptionalSession`] resolve the presented session (and,
//! on state-changing requests, check the origin first); [`ClientInfo`] is who is
//! asking. actix runs a handler's extractors in argument order, so the order of
//! the arguments is the order of the checks (and of their errors).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::web::{Bytes, Data};
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::body;
use crate::error::ApiError;
use crate::forms::{FormBody, OriginRule};
use crate::session_service::{self, Resolved};
use crate::state::AppState;

pub use crate::session_service::CurrentSession;

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

fn state_of(req: &HttpRequest) -> Result<Data<AppState>, ApiError> {
    req.app_data::<Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("AppState is not registered")))
}

/// A checked request body of type `T::Valid`.
pub struct Form<T: FormBody>(pub T::Valid);

impl<T: FormBody + 'static> FromRequest for Form<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // The body is read first (its size limit answers 413 before anything else).
        let bytes = Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let bytes = bytes.await?;
            let state = state_of(&req)?;
            match T::ORIGIN {
                OriginRule::Login => state.check_login_origin(&req)?,
                OriginRule::StateChanging => state.check_origin(&req)?,
            }
            let raw = body::parse(&req, &bytes, T::ACCEPTS)?;
            let mut fields = if T::EMPTY_IS_OBJECT {
                raw.object_or_empty()?
            } else {
                raw.object()?
            };
            let form = T::read(&mut fields)?;
            fields.finish()?;
            Ok(Form(form.check(&state)?))
        })
    }
}

/// GET and HEAD change nothing, so only other methods meet the origin rule.
fn changes_state(req: &HttpRequest) -> bool {
    !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The origin rule (on state-changing methods), then the presented session.
async fn presented_session(req: HttpRequest) -> Result<Option<CurrentSession>, ApiError> {
    let state = state_of(&req)?;
    if changes_state(&req) {
        state.check_origin(&req)?;
    }
    Ok(match session_service::resolve(&state, &req, false).await? {
        Resolved::Live { current, .. } => Some(*current),
        Resolved::Anonymous | Resolved::Stale => None,
    })
}

impl FromRequest for CurrentSession {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<Result<Self, Self::Error>>;

    /// The request's live session, or 401 `UNAUTHORIZED`.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = presented_session(req.clone());
        Box::pin(async move { Ok(session.await?.ok_or(ApiError::Unauthorized)?) })
    }
}

/// The request's live session if it presents one (no sliding of its expiry).
pub struct OptionalSession(pub Option<CurrentSession>);

impl FromRequest for OptionalSession {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = presented_session(req.clone());
        Box::pin(async move { Ok(OptionalSession(session.await?)) })
    }
}

/// Who is asking: the client IP (see [`crate::client_ip`]) and user agent, as a
/// session stores them.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The client, behind trusted proxies; `None` only without a socket address.
    pub ip: Option<IpAddr>,
    /// The `User-Agent`, truncated to what the table keeps.
    pub user_agent: String,
    /// The request id (`x-request-id`), for the audit trail.
    pub request_id: String,
}

impl ClientInfo {
    /// The IP as stored with a session (empty when unknown).
    pub fn ip_text(&self) -> String {
        self.ip.map(|ip| ip.to_string()).unwrap_or_default()
    }
}

impl FromRequest for ClientInfo {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(state_of(req).map_err(Into::into).map(|state| {
            let user_agent = req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let request_id = req
                .extensions()
                .get::<tracing_actix_web::RequestId>()
                .map(|id| id.to_string())
                .unwrap_or_default();
            ClientInfo {
                ip: state.client_ip(req),
                user_agent: truncate(user_agent, 512),
                request_id,
            }
        }))
    }
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}
