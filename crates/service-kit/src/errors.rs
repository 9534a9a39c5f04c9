//! Framework errors (actix's own 400/404/405/413/415 …, CORS refusals) as JSON.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::HttpResponse;

/// Replaces the body of every 4xx/5xx response that is not already JSON with the
/// response `render` gives for its status, keeping the status (e.g. 400 vs 403 from
/// CORS); `render` returns `None` to leave a response as it is. Responses our
/// handlers built (JSON already) pass untouched.
pub fn json_errors<B, F>(render: F) -> ErrorHandlers<B>
where
    B: MessageBody + 'static,
    F: Fn(StatusCode) -> Option<HttpResponse> + 'static,
{
    ErrorHandlers::new().default_handler(move |res: ServiceResponse<B>| {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        let status = res.status();
        let Some(mut body) = (!is_json).then(|| render(status)).flatten() else {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        };
        let (req, _) = res.into_parts();
        *body.status_mut() = status;
        Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(req, body).map_into_right_body(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{test, web, App};

    #[actix_web::test]
    async fn non_json_errors_get_the_rendered_body_and_keep_their_status() {
        let app = test::init_service(
            App::new()
                .wrap(json_errors(|status| {
                    (status != StatusCode::NOT_FOUND)
                        .then(|| HttpResponse::BadRequest().json(serde_json::json!({"code": "X"})))
                }))
                .route("/plain", web::get().to(HttpResponse::Conflict))
                .route(
                    "/json",
                    web::get().to(|| async {
                        HttpResponse::Conflict().json(serde_json::json!({"code": "MINE"}))
                    }),
                ),
        )
        .await;
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/plain").to_request()).await;
        assert_eq!(res.status(), 409);
        assert_eq!(test::read_body(res).await, r#"{"code":"X"}"#);
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/json").to_request()).await;
        assert_eq!(test::read_body(res).await, r#"{"code":"MINE"}"#);
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/nope").to_request()).await;
        assert_eq!(res.status(), 404);
        assert!(test::read_body(res).await.is_empty());
    }
}
