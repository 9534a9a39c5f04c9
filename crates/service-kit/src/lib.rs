//! HTTP plumbing the auth-server and the profile-api share, so the two never drift:
//! security headers, the request deadline and header limit, telemetry, request ids,
//! CORS, JSON framework errors, the route list and the OpenAPI endpoint.

pub mod cors;
mod errors;
mod macros;
mod request;
pub mod settings;
pub mod telemetry;

pub use cors::{CorsPolicy, Origins};
pub use errors::json_errors;
pub use macros::json_document;
pub use request::{request_id_header, request_logger, RequestSpan, X_REQUEST_ID};

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::HttpResponse;

/// Headers every API response carries. Our responses are JSON for programs, never
/// pages: nothing may sniff, frame, embed or refer from them. `Cache-Control:
/// no-store` is the default because most responses carry a credential or personal
/// data; the few public documents (JWKS, discovery) set their own, which wins.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::CACHE_CONTROL, "no-store"))
}

/// The most header bytes (names, values and separators) a request may carry.
/// Browsers send a few KiB at most; 32 KiB leaves room for many cookies on a shared
/// `localhost` while refusing the oversized headers that only cost us memory.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Answers 431 with a JSON body when a request's headers exceed
/// [`MAX_HEADER_BYTES`]. actix's HTTP parser already refuses more than 96 headers;
/// this bounds their size, before any handler, cookie parser or token check runs.
/// Use with `App::wrap(actix_web::middleware::from_fn(service_kit::limit_headers))`.
pub async fn limit_headers(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let size: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size > MAX_HEADER_BYTES {
        let response =
            HttpResponse::build(actix_web::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({
                    "code": "REQUEST_HEADER_FIELDS_TOO_LARGE",
                    "message": "Request headers too large",
                }));
        return Ok(req.into_response(response));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// How long a request may run; put it in app data (`App::app_data`) and wrap the
/// routes with [`Deadline`].
#[derive(Debug, Clone, Copy)]
pub struct RequestDeadline(pub Duration);

/// Middleware that answers 503 with `Retry-After: 1` for any request still running
/// after its [`RequestDeadline`], dropping the handler's work (an open transaction
/// rolls back).
///
/// This is what bounds a request when the database stalls without closing its
/// sockets (a frozen server, a paused Neon compute): the kernel still acknowledges
/// TCP, so neither keepalive nor a server-side statement timeout can fire. Set the
/// deadline below the shutdown grace period and every accepted request is answered
/// before the process exits.
///
/// Wrap each resource (`web::resource(..).wrap(Deadline)`), not the `App`: the
/// 503 needs the request, and a copy of it held before routing would stop the
/// router from matching it.
#[derive(Debug, Clone, Copy)]
pub struct Deadline;

impl<S, B> Transform<S, ServiceRequest> for Deadline
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = DeadlineService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(DeadlineService {
            service: Rc::new(service),
        }))
    }
}

/// The service [`Deadline`] wraps around a resource.
pub struct DeadlineService<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for DeadlineService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let Some(RequestDeadline(limit)) = req.app_data::<RequestDeadline>().copied() else {
            return Box::pin(async move {
                service
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_boxed_body)
            });
        };
        let http_req = req.request().clone();
        Box::pin(async move {
            match tokio::time::timeout(limit, service.call(req)).await {
                Ok(result) => result.map(ServiceResponse::map_into_boxed_body),
                Err(_) => {
                    tracing::warn!(
                        path = http_req.path(),
                        limit_ms = limit.as_millis() as u64,
                        "request exceeded its deadline; answering 503"
                    );
                    let response = HttpResponse::ServiceUnavailable()
                        .insert_header((header::RETRY_AFTER, "1"))
                        .insert_header((header::CACHE_CONTROL, "no-store"))
                        .json(serde_json::json!({
                            "code": "SERVICE_UNAVAILABLE",
                            "message": "The service could not answer in time; try again shortly",
                        }));
                    Ok(ServiceResponse::new(http_req, response))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{test, web, App, HttpResponse};

    #[actix_web::test]
    async fn a_request_past_its_deadline_gets_a_json_503_and_fast_ones_pass() {
        let app = test::init_service(
            App::new()
                .app_data(RequestDeadline(Duration::from_millis(100)))
                .service(
                    web::resource("/fast/{id}")
                        .wrap(Deadline)
                        .route(web::get().to(|id: web::Path<u32>| async move {
                            HttpResponse::Ok().body(id.to_string())
                        })),
                )
                .service(
                    web::resource("/stalled")
                        .wrap(Deadline)
                        .route(web::get().to(|| async {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            HttpResponse::Ok().finish()
                        })),
                ),
        )
        .await;
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/fast/7").to_request()).await;
        assert_eq!(res.status(), 200);
        assert_eq!(test::read_body(res).await, "7");
        let started = std::time::Instant::now();
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/stalled").to_request()).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(res.status(), 503);
        assert_eq!(
            res.headers().get(header::RETRY_AFTER).map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
    }

    #[actix_web::test]
    async fn headers_are_added_and_handler_cache_control_wins() {
        let app = test::init_service(
            App::new()
                .wrap(security_headers())
                .route("/private", web::get().to(HttpResponse::Ok))
                .route(
                    "/public",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
                            .finish()
                    }),
                ),
        )
        .await;
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/private").to_request()).await;
        let h = res.headers();
        assert_eq!(
            h.get(header::X_CONTENT_TYPE_OPTIONS).map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );
        assert_eq!(
            h.get(header::X_FRAME_OPTIONS).map(|v| v.as_bytes()),
            Some(&b"DENY"[..])
        );
        assert_eq!(
            h.get(header::REFERRER_POLICY).map(|v| v.as_bytes()),
            Some(&b"no-referrer"[..])
        );
        assert_eq!(
            h.get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
            Some(&b"no-store"[..])
        );
        assert!(h.get(header::CONTENT_SECURITY_POLICY).is_some());
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/public").to_request()).await;
        assert_eq!(
            res.headers()
                .get(header::CACHE_CONTROL)
                .map(|v| v.as_bytes()),
            Some(&b"public, max-age=60"[..])
        );
    }

    #[actix_web::test]
    async fn oversized_headers_get_a_json_431_before_the_handler() {
        let app = test::init_service(
            App::new()
                .wrap(actix_web::middleware::from_fn(limit_headers))
                .route(
                    "/",
                    web::get().to(|| async { HttpResponse::Ok().body("reached") }),
                ),
        )
        .await;
        let just_under = "a".repeat(MAX_HEADER_BYTES - 64);
        let res = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/")
                .insert_header(("cookie", just_under.as_str()))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), 200);
        let res = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/")
                .insert_header(("cookie", just_under.as_str()))
                .insert_header(("x-more", "b".repeat(128).as_str()))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), 431);
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["code"], "REQUEST_HEADER_FIELDS_TOO_LARGE");
    }
}
