//! HTTP plumbing the auth-server and the profile-api share, so the two never drift.

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;

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

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{test, web, App, HttpResponse};

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
}
