//! Macros both services declare their routes and their OpenAPI endpoint with.

/// Declares every route once: the same list registers the handlers and becomes
/// `ROUTES`, which each service's OpenAPI test checks against its document.
///
/// ```ignore
/// service_kit::routes! {
///     wrap: [service_kit::Deadline],   // each resource's middleware
///     default: method_not_allowed;     // a known path with another method
///     "/healthz" => { get: health::healthz },
///     profile::PATH => { get: profile::get, put: profile::put },
/// }
/// ```
///
/// Expands to `pub const ROUTES: &[(&str, &str)]` (lower-case method, path) and
/// `pub fn configure(&mut web::ServiceConfig)`.
#[macro_export]
macro_rules! routes {
    (
        wrap: $wraps:tt,
        default: $default:path;
        $( $path:expr => { $( $method:ident : $handler:path ),+ $(,)? } ),* $(,)?
    ) => {
        /// Every `(method, path)` this service answers.
        pub const ROUTES: &[(&str, &str)] = &[$( $( (stringify!($method), $path), )+ )*];

        /// Registers every route; another method on a known path reaches the
        /// `default` handler named in the route list.
        pub fn configure(cfg: &mut ::actix_web::web::ServiceConfig) {
            $(
                cfg.service(
                    $crate::__wrap_resource!(::actix_web::web::resource($path), $wraps)
                        $( .route(::actix_web::web::$method().to($handler)) )+
                        .default_service(::actix_web::web::to($default)),
                );
            )*
        }
    };
}

/// `resource.wrap(a).wrap(b)…` for `[a, b, …]`; an internal step of [`routes!`],
/// which cannot repeat its wraps inside its per-path repetition directly.
#[doc(hidden)]
#[macro_export]
macro_rules! __wrap_resource {
    ($resource:expr, [$($wrap:expr),* $(,)?]) => {
        $resource $( .wrap($wrap) )*
    };
}

/// Defines `openapi_json`, the `GET /openapi.json` handler (annotated for utoipa,
/// so the document lists itself) serving the given `utoipa::OpenApi` type's
/// document, built once. The calling crate needs `utoipa` and `actix-web`.
#[macro_export]
macro_rules! openapi_json {
    ($doc:ty) => {
        /// `GET /openapi.json`.
        #[utoipa::path(get, path = "/openapi.json", tag = "ops",
                            responses((status = 200, description = "This OpenAPI 3.1 document")))]
        pub async fn openapi_json() -> ::actix_web::HttpResponse {
            // Built once: the document never changes while the process runs.
            static DOCUMENT: ::std::sync::LazyLock<String> = ::std::sync::LazyLock::new(|| {
                <$doc as utoipa::OpenApi>::openapi()
                    .to_json()
                    .unwrap_or_default()
            });
            $crate::json_document(DOCUMENT.as_str())
        }
    };
}

/// A 200 with a JSON document that is already serialised.
pub fn json_document(document: &'static str) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(document)
}

#[cfg(test)]
mod tests {
    use actix_web::{test, App, HttpResponse};

    async fn hello() -> HttpResponse {
        HttpResponse::Ok().body("hi")
    }

    async fn teapot() -> HttpResponse {
        HttpResponse::ImATeapot().finish()
    }

    mod api {
        crate::routes! {
            wrap: [crate::Deadline],
            default: super::teapot;
            "/hello" => { get: super::hello, post: super::hello },
            "/openapi.json" => { get: super::openapi_json },
        }
    }

    #[derive(utoipa::OpenApi)]
    #[openapi(paths(openapi_json))]
    struct Doc;

    crate::openapi_json!(Doc);

    #[actix_web::test]
    async fn routes_register_their_list_and_the_document_lists_itself() {
        assert_eq!(
            api::ROUTES,
            [
                ("get", "/hello"),
                ("post", "/hello"),
                ("get", "/openapi.json")
            ]
        );
        let app = test::init_service(App::new().configure(api::configure)).await;
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/hello").to_request()).await;
        assert_eq!(test::read_body(res).await, "hi");
        let res =
            test::call_service(&app, test::TestRequest::delete().uri("/hello").to_request()).await;
        assert_eq!(res.status(), 418, "a known path's other methods");
        let res = test::call_service(
            &app,
            test::TestRequest::get().uri("/openapi.json").to_request(),
        )
        .await;
        assert_eq!(
            res.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
        let doc: serde_json::Value = test::read_body_json(res).await;
        let op = &doc["paths"]["/openapi.json"]["get"];
        assert_eq!(op["operationId"], "openapi_json");
        assert_eq!(op["summary"], "`GET /openapi.json`.");
        assert_eq!(op["tags"][0], "ops");
    }
}
