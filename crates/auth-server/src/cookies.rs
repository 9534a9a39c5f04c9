//! The cookies and headers that carry a session to the client: the signed
//! `better-auth.session_token` cookie (`__Secure-` prefixed over https), the
//! `dont_remember` marker, and the bearer plugin's `set-auth-token` header.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::HttpResponseBuilder;

use crate::credentials::{encode_uri_component, CookieSigner};

/// Header that hands bearer clients their signed session token.
pub const SET_AUTH_TOKEN: HeaderName = HeaderName::from_static("set-auth-token");
/// Header that carries a fresh JWT on `get-session`.
pub const SET_AUTH_JWT: HeaderName = HeaderName::from_static("set-auth-jwt");

/// Cookie names and attributes, fixed at start-up.
#[derive(Debug, Clone)]
pub struct SessionCookies {
    secure: bool,
    /// `[__Secure-]better-auth.session_token`
    pub session_token: String,
    dont_remember: String,
    session_data: String,
    /// `[__Secure-]better-auth.state`: binds a social sign-in to the browser.
    pub oauth_state: String,
}

impl SessionCookies {
    /// Names with or without the `__Secure-` prefix.
    pub fn new(secure: bool) -> Self {
        let name = |kind: &str| {
            let prefix = if secure { "__Secure-" } else { "" };
            format!("{prefix}better-auth.{kind}")
        };
        Self {
            secure,
            session_token: name("session_token"),
            dont_remember: name("dont_remember"),
            session_data: name("session_data"),
            oauth_state: name("state"),
        }
    }

    fn cookie(&self, name: String, value: String, max_age: Option<i64>) -> Cookie<'static> {
        let mut c = Cookie::build(name, value)
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .finish();
        if let Some(secs) = max_age {
            c.set_max_age(actix_web::cookie::time::Duration::seconds(secs));
        }
        c
    }

    /// Sets the session cookie (and `set-auth-token`) for `token`. Remembered
    /// sessions get `Max-Age`; others a browser-session cookie plus `dont_remember`.
    pub fn set_session(
        &self,
        res: &mut HttpResponseBuilder,
        signer: &CookieSigner,
        token: &str,
        remember: bool,
        max_age: i64,
    ) {
        let signed = signer.sign(token);
        res.append_header((
            header::SET_COOKIE,
            self.cookie(
                self.session_token.clone(),
                encode_uri_component(&signed),
                remember.then_some(max_age),
            )
            .to_string(),
        ));
        if !remember {
            res.append_header((
                header::SET_COOKIE,
                self.cookie(
                    self.dont_remember.clone(),
                    encode_uri_component(&signer.sign("true")),
                    None,
                )
                .to_string(),
            ));
        }
        if let Ok(v) = HeaderValue::from_str(&signed) {
            res.insert_header((SET_AUTH_TOKEN, v));
        }
    }

    /// Sets the signed state cookie of a social sign-in in flight.
    pub fn set_oauth_state(
        &self,
        res: &mut HttpResponseBuilder,
        signer: &CookieSigner,
        state: &str,
        max_age: i64,
    ) {
        let value = encode_uri_component(&signer.sign(state));
        let cookie = self.cookie(self.oauth_state.clone(), value, Some(max_age));
        res.append_header((header::SET_COOKIE, cookie.to_string()));
    }

    /// Clears the state cookie (the callback is done with it).
    pub fn clear_oauth_state(&self, res: &mut HttpResponseBuilder) {
        let cookie = self.cookie(self.oauth_state.clone(), String::new(), Some(0));
        res.append_header((header::SET_COOKIE, cookie.to_string()));
    }

    /// Clears the three auth cookies (sign-out, revocation, expired session).
    pub fn clear(&self, res: &mut HttpResponseBuilder) {
        for name in [&self.session_token, &self.session_data, &self.dont_remember] {
            res.append_header((
                header::SET_COOKIE,
                self.cookie(name.clone(), String::new(), Some(0))
                    .to_string(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::HttpResponse;

    #[test]
    fn secure_prefix_over_https() {
        assert_eq!(
            SessionCookies::new(true).session_token,
            "__Secure-better-auth.session_token"
        );
        assert_eq!(
            SessionCookies::new(false).session_token,
            "better-auth.session_token"
        );
    }

    #[test]
    fn session_cookie_attributes() {
        let signer = CookieSigner::new(
            b"wire-test-secret-0123456789abcdefghijklmnopqrstuvwxyz",
            &[],
        );
        let cookies = SessionCookies::new(false);
        let mut b = HttpResponse::Ok();
        cookies.set_session(
            &mut b,
            &signer,
            "LReSsMIIRr3fCwXVBuCSycZCrnv57f7h",
            true,
            604_800,
        );
        let res = b.finish();
        let set: Vec<_> = res
            .headers()
            .get_all(header::SET_COOKIE)
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect();
        assert_eq!(set.len(), 1);
        let c = &set[0];
        assert!(c.starts_with("better-auth.session_token=LReSsMIIRr3fCwXVBuCSycZCrnv57f7h.jHc5M0aoRxnsRYdfjfNcDSFQDx%2FWHLIoT1TZlpnB8hY%3D;"), "{c}");
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
            assert!(c.contains(attr), "{c} lacks {attr}");
        }
        assert!(!c.contains("Secure"));
        assert_eq!(
            res.headers().get(SET_AUTH_TOKEN).expect("header"),
            "LReSsMIIRr3fCwXVBuCSycZCrnv57f7h.jHc5M0aoRxnsRYdfjfNcDSFQDx/WHLIoT1TZlpnB8hY="
        );
    }

    #[test]
    fn forgetful_session_has_no_max_age_and_a_marker() {
        let signer = CookieSigner::new(
            b"wire-test-secret-0123456789abcdefghijklmnopqrstuvwxyz",
            &[],
        );
        let cookies = SessionCookies::new(true);
        let mut b = HttpResponse::Ok();
        cookies.set_session(&mut b, &signer, "tok", false, 604_800);
        let res = b.finish();
        let set: Vec<String> = res
            .headers()
            .get_all(header::SET_COOKIE)
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect();
        assert_eq!(set.len(), 2);
        assert!(!set[0].contains("Max-Age"));
        assert!(set[0].contains("Secure"));
        assert!(set[1].starts_with(
            "__Secure-better-auth.dont_remember=true.e60Qaj2Jowu9Y%2Bf%2ByWq%2Fzr%2B7yIflqmpuBvu62vZlxr0%3D"
        ));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use crate::credentials::{cookie_value, presented_token, Carrier};
    use actix_web::test::TestRequest;
    use actix_web::HttpResponse;
    use proptest::prelude::*;

    use crate::test_config::config;

    fn secret() -> impl Strategy<Value = Vec<u8>> {
        "[!-~]{32,80}".prop_map(String::into_bytes)
    }

    fn set_cookies(res: &HttpResponse) -> Vec<String> {
        res.headers()
            .get_all(header::SET_COOKIE)
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect()
    }

    /// The `Cookie` header a browser sends back for these `Set-Cookie`s.
    fn echoed(set: &[String]) -> TestRequest {
        let pairs: Vec<&str> = set
            .iter()
            .map(|c| c.split(';').next().unwrap_or_default())
            .collect();
        TestRequest::get().insert_header((header::COOKIE, pairs.join("; ")))
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn issued_session_reads_back_by_cookie_and_bearer(
            key in secret(),
            token in "[A-Za-z0-9]{1,128}",
            secure in any::<bool>(),
            remember in any::<bool>(),
            max_age in 0i64..100_000_000,
        ) {
            let signer = CookieSigner::new(&key, &[]);
            let cookies = SessionCookies::new(secure);
            let mut b = HttpResponse::Ok();
            cookies.set_session(&mut b, &signer, &token, remember, max_age);
            let res = b.finish();
            let set = set_cookies(&res);
            prop_assert_eq!(set.len(), if remember { 1 } else { 2 });
            for raw in &set {
                let c = Cookie::parse(raw.as_str()).expect("a valid Set-Cookie");
                prop_assert_eq!(c.http_only(), Some(true));
                prop_assert_eq!(c.secure().unwrap_or(false), secure);
                prop_assert_eq!(c.same_site(), Some(SameSite::Lax));
                prop_assert_eq!(c.path(), Some("/"));
                prop_assert_eq!(c.name().starts_with("__Secure-"), secure);
            }
            let session = Cookie::parse(set[0].as_str()).expect("a valid Set-Cookie");
            prop_assert_eq!(session.name(), cookies.session_token.as_str());
            prop_assert_eq!(
                session.max_age(),
                remember.then(|| actix_web::cookie::time::Duration::seconds(max_age))
            );

            let req = echoed(&set).to_http_request();
            prop_assert_eq!(
                presented_token(&req, &signer, &cookies.session_token),
                Some((token.clone(), Carrier::Cookie))
            );
            if !remember {
                let marker = cookie_value(&req, &cookies.dont_remember).expect("marker sent");
                let decoded = percent_encoding::percent_decode_str(&marker)
                    .decode_utf8()
                    .expect("utf-8");
                prop_assert_eq!(signer.verify(&decoded), Some("true"));
            }

            let header = res.headers().get(SET_AUTH_TOKEN).expect("set-auth-token");
            let req = TestRequest::get()
                .insert_header((header::AUTHORIZATION, format!("Bearer {}", header.to_str().expect("ascii"))))
                .to_http_request();
            prop_assert_eq!(
                presented_token(&req, &signer, &cookies.session_token),
                Some((token, Carrier::Bearer))
            );
        }

        #[test]
        fn any_signed_value_survives_the_cookie_jar(
            key in secret(),
            // RFC 6265 quotes around a cookie value are dropped, so no leading `"`.
            value in prop::collection::vec(any::<char>(), 1..64)
                .prop_map(String::from_iter)
                .prop_filter("no leading quote", |v| !v.starts_with('"')),
            secure in any::<bool>(),
        ) {
            let signer = CookieSigner::new(&key, &[]);
            let cookies = SessionCookies::new(secure);
            let mut b = HttpResponse::Ok();
            cookies.set_session(&mut b, &signer, &value, true, 60);
            let res = b.finish();
            let set = set_cookies(&res);
            let req = echoed(&set).to_http_request();
            prop_assert_eq!(
                presented_token(&req, &signer, &cookies.session_token),
                Some((value.clone(), Carrier::Cookie))
            );
            // The header carries the value unencoded, so only when that is legal.
            prop_assert_eq!(
                res.headers().get(SET_AUTH_TOKEN).is_some(),
                HeaderValue::from_str(&signer.sign(&value)).is_ok()
            );
        }
    }
}
