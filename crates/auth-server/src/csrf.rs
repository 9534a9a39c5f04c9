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
    /// Paths are also judged percent-decoded (Better Auth refuses these too): whatever
    /// decodes before redirecting would turn `/%2F/evil.example` into `//evil.example`.
    pub fn is_safe_redirect(&self, target: &str) -> bool {
        if target.is_empty()
            || target
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return false;
        }
        if target.starts_with('/') {
            let mut decoded = percent_encoding::percent_decode_str(target)
                .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'));
            return !matches!(
                (decoded.next(), decoded.next()),
                (Some(b'/'), Some(b'/' | b'\\'))
            );
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
        for encoded in ["/%2fevil.example/", "/%5Cevil.example", "/%09/evil.example"] {
            assert!(!o.is_safe_redirect(encoded), "{encoded}");
        }
        assert!(o.is_safe_redirect("/docs/a%2Fb?next=%2F%2Fx"));
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

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::{select, Index};

    use crate::test_config::config;

    const BASE: &str = "http://localhost:4100";
    const CONFIGURED: [&str; 2] = ["http://localhost:3000", "https://app.example.com"];

    fn origins() -> TrustedOrigins {
        TrustedOrigins::new(BASE, &CONFIGURED.map(String::from))
    }

    /// Authorities that must never be reached.
    fn evil_host() -> impl Strategy<Value = &'static str> {
        select(vec![
            "evil.example",
            "evil.example:3000",
            "localhost.evil.example",
            "localhost:3000.evil.example",
            "app.example.com.evil.example",
            "localhost:3001",
            "localhost:30000",
            "127.0.0.1:4100",
            "[::1]:3000",
        ])
    }

    fn trusted_authority() -> impl Strategy<Value = &'static str> {
        select(vec!["localhost:4100", "localhost:3000", "app.example.com"])
    }

    /// `http` or `https` in any letter case.
    fn scheme() -> impl Strategy<Value = String> {
        "[hH][tT][tT][pP][sS]?"
    }

    /// Characters browsers strip from URLs, read as `/`, or that are whitespace.
    fn forbidden_char() -> impl Strategy<Value = char> {
        prop_oneof![
            (0u8..=0x1f).prop_map(char::from),
            Just('\u{7f}'),
            Just('\\'),
            Just(' '),
            select(vec![
                '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{2028}', '\u{3000}'
            ]),
            // C1 controls.
            (0x80u8..=0x9f).prop_map(char::from),
        ]
    }

    /// Path-safe junk, appended after something that ends the authority.
    fn junk() -> impl Strategy<Value = String> {
        "[A-Za-z0-9._~!$&'()*+,;=:@/?#%-]{0,24}"
    }

    fn end_of_authority() -> impl Strategy<Value = &'static str> {
        select(vec!["/", "?", "#"])
    }

    fn attack() -> impl Strategy<Value = String> {
        prop_oneof![
            // Scheme-relative.
            (
                select(vec!["//", "///", "////"]),
                evil_host(),
                end_of_authority(),
                junk()
            )
                .prop_map(|(p, h, e, j)| format!("{p}{h}{e}{j}")),
            // Characters a browser drops (or reads as `/`) between the slashes.
            (forbidden_char(), evil_host(), junk()).prop_map(|(c, h, j)| format!("/{c}/{h}/{j}")),
            (forbidden_char(), evil_host(), junk()).prop_map(|(c, h, j)| format!("{c}//{h}/{j}")),
            // Encoded `/`, `\` or dropped characters right after the leading `/`.
            (
                select(vec![
                    "%2f", "%2F", "%5c", "%5C", "%2F%2F", "%09/", "%0a/", "%0D%2f", "/%2F"
                ]),
                evil_host(),
                junk(),
            )
                .prop_map(|(enc, h, j)| format!("/{enc}{h}/{j}")),
            // Absolute, on a host we do not trust.
            (scheme(), evil_host(), end_of_authority(), junk())
                .prop_map(|(s, h, e, j)| format!("{s}://{h}{e}{j}")),
            // A trusted name as user info, or as a prefix of the host.
            (
                scheme(),
                trusted_authority(),
                evil_host(),
                end_of_authority(),
                junk()
            )
                .prop_map(|(s, t, h, e, j)| format!("{s}://{t}@{h}{e}{j}")),
            (scheme(), trusted_authority(), end_of_authority(), junk())
                .prop_map(|(s, t, e, j)| format!("{s}://{t}.evil.example{e}{j}")),
            // Slash-less or extra-slash absolute forms that name the evil host.
            (
                scheme(),
                select(vec![":", ":/", ":///", ":////"]),
                evil_host(),
                end_of_authority(),
                junk()
            )
                .prop_map(|(s, sl, h, e, j)| format!("{s}{sl}{h}{e}{j}")),
            // A trusted host under the wrong scheme.
            (
                select(vec![
                    "https://localhost:4100",
                    "https://localhost:3000",
                    "http://app.example.com"
                ]),
                junk()
            )
                .prop_map(|(o, j)| format!("{o}/{j}")),
            // Schemes that are not navigation to a page.
            (
                select(vec![
                    "javascript",
                    "JavaScript",
                    "JAVASCRIPT",
                    "data",
                    "vbscript",
                    "file",
                    "blob",
                    "ftp",
                    "ws"
                ]),
                select(vec![":", "://localhost:3000/", ":http://localhost:3000/"]),
                junk(),
            )
                .prop_map(|(s, sep, j)| format!("{s}{sep}{j}")),
            // Not a path and not an absolute URL.
            (
                select(vec![
                    "",
                    ".",
                    "..",
                    "./",
                    "../",
                    "evil.example",
                    "localhost:3000"
                ]),
                junk()
            )
                .prop_map(|(p, j)| format!("{p}{j}"))
                .prop_filter("not a path", |t| !t.starts_with('/')),
        ]
    }

    /// A same-site path: `/`, then anything but `/` or `\`, then safe path characters,
    /// percent escapes, a query and a fragment.
    fn legit_path() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("/".to_owned()),
            (
                "[A-Za-z0-9._~!$&'()*+,;=:@-]",
                "([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2}){0,40}",
                "(\\?[A-Za-z0-9._~!$&'()*+,;=:@/?%-]{0,24})?",
                "(#[A-Za-z0-9._~/?-]{0,12})?",
            )
                .prop_map(|(first, rest, q, f)| format!("/{first}{rest}{q}{f}")),
        ]
    }

    fn mix_case(s: &str, mask: &[bool]) -> String {
        s.chars()
            .zip(mask.iter().cycle())
            .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c })
            .collect()
    }

    /// A trusted origin, letter case shuffled, default port sometimes spelled out.
    fn trusted_origin() -> impl Strategy<Value = String> {
        (
            select(vec![
                "http://localhost:4100",
                "http://localhost:3000",
                "https://app.example.com",
                "https://app.example.com:443",
            ]),
            prop::collection::vec(any::<bool>(), 1..8),
        )
            .prop_map(|(o, mask)| mix_case(o, &mask))
    }

    fn trusted_absolute() -> impl Strategy<Value = String> {
        (
            trusted_origin(),
            prop_oneof![Just(String::new()), legit_path()],
        )
            .prop_map(|(o, p)| format!("{o}{p}"))
    }

    fn any_target() -> impl Strategy<Value = String> {
        prop_oneof![
            attack(),
            legit_path(),
            trusted_absolute(),
            "\\PC{0,40}",
            "[a-zA-Z:/\\\\.@%0-9?#\t ]{0,30}",
            "[hH][tT]{2}[pP][sS]?:[/\\\\]{0,3}[a-z.@:0-9%/]{0,30}",
        ]
    }

    fn insert(s: &str, at: &Index, c: char) -> String {
        let mut chars: Vec<char> = s.chars().collect();
        chars.insert(at.index(chars.len() + 1), c);
        chars.into_iter().collect()
    }

    /// The percent-decoded path with the characters browsers drop removed.
    fn decoded_path(target: &str) -> Vec<u8> {
        percent_encoding::percent_decode_str(target)
            .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
            .collect()
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn forbidden_characters_anywhere_are_refused(
            target in prop_oneof![legit_path(), trusted_absolute(), "\\PC{0,40}"],
            at in any::<Index>(),
            c in forbidden_char(),
        ) {
            let t = insert(&target, &at, c);
            prop_assert!(!origins().is_safe_redirect(&t), "{:?} accepted", t);
        }

        #[test]
        fn attacks_are_refused(t in attack()) {
            prop_assert!(!origins().is_safe_redirect(&t), "{:?} accepted", t);
        }

        #[test]
        fn legit_paths_are_accepted_and_stay_home(p in legit_path()) {
            let o = origins();
            prop_assert!(o.is_safe_redirect(&p), "{:?} refused", p);
            for base in o.list() {
                let base = url::Url::parse(base).expect("base URL");
                let landed = base.join(&p).expect("resolvable");
                prop_assert_eq!(landed.origin(), base.origin(), "{}", p);
            }
        }

        #[test]
        fn trusted_absolute_urls_are_accepted(t in trusted_absolute()) {
            prop_assert!(origins().is_safe_redirect(&t), "{:?} refused", t);
        }

        #[test]
        fn accepted_targets_land_on_trusted_origins(t in any_target()) {
            let o = origins();
            if !o.is_safe_redirect(&t) {
                return Ok(());
            }
            prop_assert!(
                !t.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\'),
                "{:?}", t
            );
            if t.starts_with('/') {
                let decoded = decoded_path(&t);
                prop_assert!(
                    !decoded.starts_with(b"//") && !decoded.starts_with(b"/\\"),
                    "{:?} decodes to a scheme-relative URL", t
                );
            } else {
                let u = url::Url::parse(&t).expect("absolute");
                prop_assert!(matches!(u.scheme(), "http" | "https"), "{}", t);
            }
            // Relative targets are resolved against whichever trusted page redirects.
            for base in o.list() {
                let landed = url::Url::parse(base).expect("base URL").join(&t).expect("resolvable");
                let origin = landed.origin().ascii_serialization();
                prop_assert!(o.list().contains(&origin), "{:?} from {} lands on {}", t, base, origin);
            }
        }

        #[test]
        fn origin_of_is_canonical(s in any_target()) {
            if let Some(origin) = origin_of(&s) {
                prop_assert_eq!(origin_of(&origin), Some(origin.clone()));
                prop_assert_eq!(&origin, &origin.to_ascii_lowercase());
                let (scheme, rest) = origin.split_once("://").expect("scheme://host");
                prop_assert!(matches!(scheme, "http" | "https" | "ws" | "wss" | "ftp"), "{}", origin);
                prop_assert!(!rest.is_empty() && !rest.contains('/'), "{}", origin);
            }
        }

        #[test]
        fn trusted_origins_match_in_any_spelling(o in trusted_origin(), rest in legit_path()) {
            let origins = origins();
            prop_assert!(origins.is_trusted(&o), "{}", o);
            prop_assert!(origins.is_trusted(&format!("{o}{rest}")), "{}{}", o, rest);
        }

        #[test]
        fn near_miss_origins_are_not_trusted(
            s in scheme(),
            t in trusted_authority(),
            h in evil_host(),
            e in end_of_authority(),
            j in junk(),
            form in 0u8..4,
        ) {
            let candidate = match form {
                0 => format!("{s}://{h}{e}{j}"),
                1 => format!("{s}://{t}@{h}{e}{j}"),
                2 => format!("{s}://{t}.evil.example{e}{j}"),
                _ => format!("{s}://{h}/{s}://{t}"),
            };
            prop_assert!(!origins().is_trusted(&candidate), "{}", candidate);
        }
    }
}
