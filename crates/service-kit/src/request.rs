//! Request identity: one root span per request (tracing-actix-web, with a generated
//! request id) and the same id echoed in an `x-request-id` response header, so a
//! client reporting an error can quote the id its log lines carry.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder, TracingLogger};

/// The response header carrying the request id.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request span: tracing-actix-web's fields (method, route, status, request
/// id …) plus `user_id`, which a service records once it knows the caller (an
/// empty field is left out of the log line).
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        tracing_actix_web::root_span!(request, user_id = tracing::field::Empty)
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// The outermost middleware of both services: opens the [`RequestSpan`] and
/// assigns the request id.
pub fn request_logger() -> TracingLogger<RequestSpan> {
    TracingLogger::new()
}

/// Adds `x-request-id` to every response. Wrap it directly inside
/// [`request_logger`] (`.wrap(from_fn(request_id_header)).wrap(request_logger())`),
/// which assigns the id before this runs; every other middleware sits inside, so
/// their responses (CORS refusals, 431s, deadlines) carry it too.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| HeaderValue::from_str(&id.to_string()).ok());
    let Some(id) = id else {
        return next.call(req).await;
    };
    match next.call(req).await {
        Ok(mut res) => {
            res.headers_mut().insert(X_REQUEST_ID, id);
            Ok(res)
        }
        // An error the stack did not turn into a response becomes one outside it;
        // carry the header on that response too, keeping its status and body.
        Err(error) => {
            let mut response = error.error_response();
            response.headers_mut().insert(X_REQUEST_ID, id);
            Err(InternalError::from_response(error.to_string(), response).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::middleware::from_fn;
    use actix_web::{test, web, App, HttpResponse};

    #[actix_web::test]
    async fn every_response_carries_the_request_id_of_its_span() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(request_id_header))
                .wrap(request_logger())
                .route(
                    "/id",
                    web::get()
                        .to(|id: RequestId| async move { HttpResponse::Ok().body(id.to_string()) }),
                )
                .route(
                    "/fails",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(actix_web::error::ErrorConflict("no"))
                    }),
                ),
        )
        .await;
        let res = test::call_service(&app, test::TestRequest::get().uri("/id").to_request()).await;
        let header = res.headers().get(X_REQUEST_ID).cloned().expect("header");
        assert_eq!(test::read_body(res).await, header.as_bytes());
        for uri in ["/fails", "/missing"] {
            let res =
                test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
            assert!(res.status().is_client_error());
            let id = res.headers().get(X_REQUEST_ID).expect("header");
            assert_eq!(id.len(), 36, "a UUID");
        }
    }
}
