//! Request metrics: a count by method, route template and status, and a latency
//! histogram by route template.

use std::collections::HashSet;
use std::future::{ready, Ready};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::Method;
use actix_web::middleware::Condition;
use actix_web::HttpRequest;
use futures_util::future::LocalBoxFuture;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `route` label of a request that matched no route (an unknown path, or an
/// error raised before routing): one series for all of them, whatever the path.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Latency buckets, seconds: from a cached get-session (well under a millisecond)
/// through an argon2 sign-in (tens of ms) to the request deadlines (5–10 s).
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every label value is a `&'static str` from the route list or a fixed set, so
/// building a label set never allocates.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

type Latencies = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Middleware recording `http_requests_total` and
/// `http_request_duration_seconds`. Cheap to clone (one `Arc`); made by
/// [`Metrics::http`](crate::Metrics::http).
#[derive(Clone)]
pub struct HttpMetrics {
    inner: Arc<Inner>,
}

struct Inner {
    requests: Family<RequestLabels, Counter>,
    latency: Latencies,
    /// The route templates, so a template from the router maps to a `'static`
    /// label (and anything else to [`UNMATCHED_ROUTE`]).
    routes: HashSet<&'static str>,
}

impl HttpMetrics {
    pub(crate) fn register(
        registry: &mut Registry,
        routes: &[(&'static str, &'static str)],
    ) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Latencies = Family::new_with_constructor(latency_histogram);
        let routes: HashSet<&'static str> = routes.iter().map(|(_, path)| *path).collect();
        // Every route's histogram exists from the start, so rates and quantiles
        // work before its first request.
        for route in routes.iter().copied().chain([UNMATCHED_ROUTE]) {
            let _ = latency.get_or_create(&RouteLabels { route });
        }
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from receiving a request to its response head, by route template",
            latency.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                requests,
                latency,
                routes,
            }),
        }
    }
}

impl HttpMetrics {
    /// For `App::wrap`: records when `Some`, and when `None` (no metrics
    /// listener) lets requests through untouched, at no cost per request.
    pub fn optional(metrics: Option<HttpMetrics>) -> Condition<HttpMetrics> {
        match metrics {
            Some(metrics) => Condition::new(true, metrics),
            // Never called: a disabled `Condition` bypasses it.
            None => Condition::new(false, Self::register(&mut Registry::default(), &[])),
        }
    }
}

impl Inner {
    /// The template the router matched (`/api/auth/reset-password/{token}`), never
    /// the path itself.
    fn route_of(&self, req: &HttpRequest) -> &'static str {
        req.match_pattern()
            .and_then(|pattern| self.routes.get(pattern.as_str()).copied())
            .unwrap_or(UNMATCHED_ROUTE)
    }

    fn record(&self, method: &'static str, route: &'static str, status: u16, started: Instant) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(started.elapsed().as_secs_f64());
    }
}

/// A fixed set, so a client inventing methods cannot create series.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

impl<S, B> Transform<S, ServiceRequest> for HttpMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = HttpMetricsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(HttpMetricsService {
            service: Rc::new(service),
            inner: self.inner.clone(),
        }))
    }
}

/// The service [`HttpMetrics`] wraps around an app.
pub struct HttpMetricsService<S> {
    service: Rc<S>,
    inner: Arc<Inner>,
}

impl<S, B> Service<ServiceRequest> for HttpMetricsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let method = method_label(req.method());
        // No copy of the request is kept: the router needs it unshared to record
        // the match, and the template is read from the response's request after.
        let response = self.service.call(req);
        let inner = self.inner.clone();
        Box::pin(async move {
            let result = response.await;
            let (route, status) = match &result {
                Ok(res) => (inner.route_of(res.request()), res.status().as_u16()),
                Err(e) => (
                    UNMATCHED_ROUTE,
                    e.as_response_error().status_code().as_u16(),
                ),
            };
            inner.record(method, route, status, started);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{test, web, App, HttpResponse};

    use crate::Metrics;

    async fn ok() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[actix_web::test]
    async fn requests_are_counted_by_template_never_by_path() {
        let mut metrics = Metrics::new();
        let http = metrics.http(&[("get", "/items/{id}"), ("post", "/items")]);
        let app = test::init_service(
            App::new()
                .wrap(http)
                .route("/items/{id}", web::get().to(ok))
                .route("/items", web::post().to(ok)),
        )
        .await;
        for uri in ["/items/secret-1", "/items/secret-2", "/nowhere/secret-3"] {
            test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        }
        test::call_service(
            &app,
            test::TestRequest::default()
                .method(actix_web::http::Method::from_bytes(b"BREW").expect("method"))
                .uri("/items")
                .to_request(),
        )
        .await;
        let text = metrics.scrape().await;
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/items/{id}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"http_requests_total{method="OTHER",route="/items",status="404"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"http_request_duration_seconds_count{route="/items/{id}"} 2"#),
            "{text}"
        );
        // Registered routes have a histogram before any request.
        assert!(
            text.contains(r#"http_request_duration_seconds_count{route="/items"} 1"#),
            "{text}"
        );
        assert!(!text.contains("secret"), "{text}");
    }
}
