//! Origin / Fetch-Metadata CSRF rules of Better Auth (wire spec §6). The client
//! sends no CSRF token, so protection rests on `Origin`, `Referer` and `Sec-Fetch-*`.

use actix_web::http::header::{self, HeaderMap};
use actix_web::HttpRequest;

use crate::error::ApiError;

/// The set of origins allowed to make credentialed calls: our own base URL plus the
/// configured trusted origins, each normalised to `scheme://host[:port]`.
#[derive(Debug, Clone)]
pub struct TrustedOrigins {
    own: String,
    all: Vec<String>,
}

/// `scheme://host[:port]` of a URL, lower-cased, default port dropped.
pub fn origin_of(s: &str) -> Option<String> {
    let url = url::Url::parse(s).ok()?;
    match url.origin() {
        o @ url::Origin::Tuple(..) => Some(o.ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

impl TrustedOrigins {
    /// Builds the set from the base URL and the configured origins.
    pub fn new(base_url: &str, configured: &[String]) -> Self {
        let own = origin_of(base_url).unwrap_or_default();
        let mut all = vec![own.clone()];
        all.extend(configured.iter().filter_map(|o| origin_of(o)));
        all.dedup();
        Self { own, all }
    }

    /// Whether a (request-supplied) origin or URL is trusted.
    pub fn is_trusted(&self, value: &str) -> bool {
        origin_of(value).is_some_and(|o| self.all.contains(&o))
    }

    /// Configured origins, for CORS.
    pub fn list(&self) -> &[String] {
        &self.all
    }

    /// A redirect target is acceptable when it is an absolute http(s) URL on a
    /// trusted origin or a same-site path (`/x`, never `//x`). Control characters,
    /// whitespace and backslashes are refused outright: browsers strip the first two
    /// and read `\` as `/`, so `/\t/evil.example` would become `//evil.example`.
    pub fn is_safe_redirect(&self, target: &str) -> bool {
        if target.is_empty()
            || target
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return false;
        }
        if target.starts_with('/') {
            return !target.starts_with("//");
        }
        url::Url::parse(target).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && self.all.contains(&u.origin().ascii_serialization())
        })
    }

    /// Step A: the request's Origin (else Referer) must be present and trusted.
    fn validate_origin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let get = |h: header::HeaderName| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let mut origin = get(header::ORIGIN).or_else(|| get(header::REFERER));
        if origin == Some("null")
            && get(header::HeaderName::from_static("sec-fetch-site")) == Some("same-origin")
        {
            origin = Some(self.own.as_str());
        }
        match origin {
            None | Some("null") => Err(ApiError::MissingOrNullOrigin),
            Some(o) if self.is_trusted(o) => Ok(()),
            Some(_) => Err(ApiError::InvalidOrigin),
        }
    }

    /// Rule B, for every state-changing endpoint: a request carrying any cookie must
    /// come from a trusted origin.
    pub fn check(&self, req: &HttpRequest) -> Result<(), ApiError> {
        if req.headers().contains_key(header::COOKIE) {
            self.validate_origin(req.headers())?;
        }
        Ok(())
    }

    /// Rule C, for sign-in and sign-up: also stop login CSRF from cookieless browsers.
    pub fn check_login(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let h = req.headers();
        if h.contains_key(header::COOKIE) {
            return self.validate_origin(h);
        }
        let fetch = |name: &'static str| {
            h.get(header::HeaderName::from_static(name))
                .and_then(|v| v.to_str().ok())
        };
        let site = fetch("sec-fetch-site");
        let mode = fetch("sec-fetch-mode");
        let dest = fetch("sec-fetch-dest");
        if site.is_some() || mode.is_some() || dest.is_some() {
            if site == Some("cross-site") && mode == Some("navigate") {
                return Err(ApiError::CrossSiteNavigationLoginBlocked);
            }
            return self.validate_origin(h);
        }
        if h.contains_key(header::ORIGIN) || h.contains_key(header::REFERER) {
            return self.validate_origin(h);
        }
        // A plain server-to-server call (curl): nothing a browser could forge.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn origins() -> TrustedOrigins {
        TrustedOrigins::new("http://localhost:4100", &["http://localhost:3000".into()])
    }

    #[test]
    fn normalises_origins() {
        let o = origins();
        assert!(o.is_trusted("http://localhost:3000/"));
        assert!(o.is_trusted("HTTP://LOCALHOST:3000"));
        assert!(o.is_trusted("http://localhost:3000/some/page?x=1"));
        assert!(!o.is_trusted("http://127.0.0.1:4100"));
        assert!(!o.is_trusted("http://evil.example"));
        assert!(!o.is_trusted("null"));
    }

    #[test]
    fn redirects() {
        let o = origins();
        assert!(o.is_safe_redirect("/dashboard"));
        assert!(!o.is_safe_redirect("//evil.example"));
        assert!(!o.is_safe_redirect("/\\evil.example"));
        assert!(o.is_safe_redirect("http://localhost:3000/dashboard"));
        assert!(!o.is_safe_redirect("https://evil.example/"));
        for c in (0u8..=0x20).chain([0x7f]) {
            let payload = format!("/{}/evil.example", c as char);
            assert!(!o.is_safe_redirect(&payload), "{payload:?}");
        }
        assert!(!o.is_safe_redirect("/\u{2028}/evil.example"));
        assert!(!o.is_safe_redirect("http:evil.example"));
        assert!(!o.is_safe_redirect("javascript:alert(1)"));
        assert!(!o.is_safe_redirect("dashboard"));
        assert!(!o.is_safe_redirect(""));
    }

    #[test]
    fn cookie_requires_trusted_origin() {
        let o = origins();
        let req = TestRequest::post()
            .insert_header(("cookie", "foo=bar"))
            .to_http_request();
        assert!(matches!(o.check(&req), Err(ApiError::MissingOrNullOrigin)));
        let req = TestRequest::post()
            .insert_header(("cookie", "foo=bar"))
            .insert_header(("origin", "http://evil.example"))
            .to_http_request();
        assert!(matches!(o.check(&req), Err(ApiError::InvalidOrigin)));
        let req = TestRequest::post()
            .insert_header(("cookie", "foo=bar"))
            .insert_header(("referer", "http://localhost:3000/login"))
            .to_http_request();
        assert!(o.check(&req).is_ok());
        // Bearer-only callers carry no cookie and need no Origin.
        let req = TestRequest::post().to_http_request();
        assert!(o.check(&req).is_ok());
    }

    #[test]
    fn login_rules() {
        let o = origins();
        let plain = TestRequest::post().to_http_request();
        assert!(o.check_login(&plain).is_ok());
        let node_fetch = TestRequest::post()
            .insert_header(("sec-fetch-mode", "cors"))
            .to_http_request();
        assert!(matches!(
            o.check_login(&node_fetch),
            Err(ApiError::MissingOrNullOrigin)
        ));
        let nav = TestRequest::post()
            .insert_header(("sec-fetch-site", "cross-site"))
            .insert_header(("sec-fetch-mode", "navigate"))
            .insert_header(("origin", "http://localhost:3000"))
            .to_http_request();
        assert!(matches!(
            o.check_login(&nav),
            Err(ApiError::CrossSiteNavigationLoginBlocked)
        ));
        let same_origin_null = TestRequest::post()
            .insert_header(("sec-fetch-site", "same-origin"))
            .insert_header(("origin", "null"))
            .to_http_request();
        assert!(o.check_login(&same_origin_null).is_ok());
        let foreign = TestRequest::post()
            .insert_header(("origin", "http://evil.example"))
            .to_http_request();
        assert!(matches!(
            o.check_login(&foreign),
            Err(ApiError::InvalidOrigin)
        ));
    }
}
