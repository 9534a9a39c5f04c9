//! Session credentials: random tokens, their stored hash, and the HMAC signature that
//! Better Auth puts on the cookie (`token.base64(HMAC-SHA256(secret, token))`).
//! Signatures from previous secrets still verify, so the secret can be rotated.

use actix_web::http::header;
use actix_web::HttpRequest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Length of a session token (Better Auth: 32 alphanumerics, ~190 bits).
pub const TOKEN_LEN: usize = 32;
/// Length of a padded base64 HMAC-SHA256.
const SIG_LEN: usize = 44;

/// A fresh random session token.
pub fn new_token() -> String {
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(TOKEN_LEN)
        .map(char::from)
        .collect()
}

/// What the database stores instead of the token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Signs and verifies cookie values with the current secret and any previous ones.
#[derive(Clone)]
pub struct CookieSigner {
    current: HmacSha256,
    previous: Vec<HmacSha256>,
}

impl CookieSigner {
    /// Builds a signer; `previous` secrets verify but never sign.
    pub fn new(current: &[u8], previous: &[Vec<u8>]) -> Self {
        let mac = |k: &[u8]| HmacSha256::new_from_slice(k).expect("HMAC accepts any key length");
        Self {
            current: mac(current),
            previous: previous.iter().map(|k| mac(k)).collect(),
        }
    }

    /// `base64(HMAC-SHA256(secret, value))`, 44 characters.
    pub fn signature(&self, value: &str) -> String {
        let mut mac = self.current.clone();
        mac.update(value.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    /// `value.signature`, unencoded: the `set-auth-token` header value.
    pub fn sign(&self, value: &str) -> String {
        format!("{value}.{}", self.signature(value))
    }

    /// Checks `signed` (`value.sig`) against every secret in constant time and
    /// returns `value` when one matches.
    pub fn verify<'a>(&self, signed: &'a str) -> Option<&'a str> {
        let (value, sig) = signed.rsplit_once('.')?;
        if sig.len() != SIG_LEN || !sig.ends_with('=') {
            return None;
        }
        let given = STANDARD.decode(sig).ok()?;
        let mut ok = subtle::Choice::from(0);
        for key in std::iter::once(&self.current).chain(&self.previous) {
            let mut mac = key.clone();
            mac.update(value.as_bytes());
            ok |= mac.finalize().into_bytes().as_slice().ct_eq(&given);
        }
        bool::from(ok).then_some(value)
    }
}

/// The characters JavaScript's `encodeURIComponent` leaves alone.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// `encodeURIComponent`.
pub fn encode_uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// Where a request's session credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    Cookie,
    Bearer,
}

/// The raw session token a request presents, if its signature (or bare-token form)
/// is acceptable. An acceptable `Authorization: Bearer` header wins over the cookie.
pub fn presented_token(
    req: &HttpRequest,
    signer: &CookieSigner,
    cookie_name: &str,
) -> Option<(String, Carrier)> {
    presented_tokens(req, signer, cookie_name)
        .into_iter()
        .next()
}

/// Every acceptable credential the request presents, the bearer first. A bearer
/// value that is not a well-formed credential (a stale header a client keeps
/// sending, another service's JWT) is skipped; session resolution also falls back
/// to the cookie when the bearer names no live session, so neither hides a valid
/// cookie on the same request.
pub fn presented_tokens(
    req: &HttpRequest,
    signer: &CookieSigner,
    cookie_name: &str,
) -> Vec<(String, Carrier)> {
    let mut found = Vec::with_capacity(2);
    if let Some(t) = bearer(req).and_then(|value| bearer_token(value, signer)) {
        found.push(t);
    }
    if let Some(t) = cookie_token(req, signer, cookie_name) {
        found.push(t);
    }
    found
}

fn cookie_token(
    req: &HttpRequest,
    signer: &CookieSigner,
    cookie_name: &str,
) -> Option<(String, Carrier)> {
    signed_cookie(req, signer, cookie_name).map(|t| (t, Carrier::Cookie))
}

/// The value of a signed cookie whose signature verifies.
pub fn signed_cookie(
    req: &HttpRequest,
    signer: &CookieSigner,
    cookie_name: &str,
) -> Option<String> {
    let raw = cookie_value(req, cookie_name)?;
    let decoded = if raw.contains('%') {
        percent_decode_str(&raw).decode_utf8().ok()?.into_owned()
    } else {
        raw
    };
    let unquoted = decoded.trim_matches('"');
    signer.verify(unquoted).map(str::to_owned)
}

/// The session token of a bearer value: `token.signature` whose signature
/// verifies, or the bare token (as the JSON `token` field hands it out).
fn bearer_token(value: &str, signer: &CookieSigner) -> Option<(String, Carrier)> {
    let decoded = if value.contains('%') {
        percent_decode_str(value).decode_utf8().ok()?.into_owned()
    } else {
        value.to_owned()
    };
    if decoded.contains('.') {
        return signer
            .verify(&decoded)
            .map(|t| (t.to_owned(), Carrier::Bearer));
    }
    is_token_shaped(&decoded).then_some((decoded, Carrier::Bearer))
}

fn is_token_shaped(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The value of `Authorization: Bearer <x>` (scheme case-insensitive, trimmed).
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let h = req
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, rest) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|v| !v.is_empty())
}

/// The value of a named cookie across all `Cookie` headers.
pub fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    for h in req.headers().get_all(header::COOKIE) {
        let Ok(s) = h.to_str() else { continue };
        for pair in s.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                if k == name {
                    return Some(v.to_owned());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_SECRET: &str = "wire-test-secret-0123456789abcdefghijklmnopqrstuvwxyz";

    #[test]
    fn spec_cookie_vector() {
        let signer = CookieSigner::new(SPEC_SECRET.as_bytes(), &[]);
        let token = "LReSsMIIRr3fCwXVBuCSycZCrnv57f7h";
        assert_eq!(
            signer.signature(token),
            "jHc5M0aoRxnsRYdfjfNcDSFQDx/WHLIoT1TZlpnB8hY="
        );
        assert_eq!(
            encode_uri_component(&signer.sign(token)),
            "LReSsMIIRr3fCwXVBuCSycZCrnv57f7h.jHc5M0aoRxnsRYdfjfNcDSFQDx%2FWHLIoT1TZlpnB8hY%3D"
        );
        assert_eq!(
            encode_uri_component(&signer.sign("true")),
            "true.e60Qaj2Jowu9Y%2Bf%2ByWq%2Fzr%2B7yIflqmpuBvu62vZlxr0%3D"
        );
    }

    #[test]
    fn verify_accepts_current_and_previous_secrets_only() {
        let old = CookieSigner::new(b"old-secret-old-secret-old-secret!", &[]);
        let rotated = CookieSigner::new(
            b"new-secret-new-secret-new-secret!",
            &[b"old-secret-old-secret-old-secret!".to_vec()],
        );
        let stranger = CookieSigner::new(b"another-secret-another-secret-xx!", &[]);
        let signed = old.sign("abc");
        assert_eq!(rotated.verify(&signed), Some("abc"));
        assert_eq!(stranger.verify(&signed), None);
        assert_eq!(rotated.verify("abc.short="), None);
        assert_eq!(rotated.verify("no-dot"), None);
        // A flipped bit in the value fails.
        assert_eq!(rotated.verify(&signed.replacen('a', "b", 1)), None);
    }

    #[test]
    fn tokens_are_random_alphanumerics_and_hash_to_32_bytes() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), TOKEN_LEN);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 32);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use actix_web::test::TestRequest;
    use proptest::prelude::*;
    use proptest::sample::Index;

    use crate::test_config::config;

    const NAME: &str = "better-auth.session_token";
    const BASE64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// Printable secrets, because HMAC zero-pads short keys: `k` and `k\0` are the
    /// same key, and "another secret" must really be another one.
    fn secret() -> impl Strategy<Value = Vec<u8>> {
        "[!-~]{32,80}".prop_map(String::into_bytes)
    }

    /// A string of arbitrary chars, control characters and NUL included.
    fn any_chars(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
    }

    /// Server tokens are alphanumeric (see `new_token`).
    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9]{1,40}"
    }

    /// Bytes a header value may carry, including non-UTF-8 `obs-text`.
    fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff], 0..96)
    }

    #[derive(Debug, Clone)]
    enum Edit {
        Replace(Index, char),
        Insert(Index, char),
        Delete(Index),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        // Base64 characters keep the signature decodable, so the MAC itself is tested.
        let ch = || {
            prop_oneof![
                prop::sample::select(BASE64.chars().chain(['=', '.']).collect::<Vec<_>>()),
                any::<char>(),
            ]
        };
        prop_oneof![
            (any::<Index>(), ch()).prop_map(|(i, c)| Edit::Replace(i, c)),
            (any::<Index>(), ch()).prop_map(|(i, c)| Edit::Insert(i, c)),
            any::<Index>().prop_map(Edit::Delete),
        ]
    }

    fn apply(s: &str, edit: &Edit) -> String {
        let mut chars: Vec<char> = s.chars().collect();
        match edit {
            Edit::Replace(i, c) => {
                let i = i.index(chars.len());
                chars[i] = *c;
            }
            Edit::Insert(i, c) => chars.insert(i.index(chars.len() + 1), *c),
            Edit::Delete(i) => {
                chars.remove(i.index(chars.len()));
            }
        }
        chars.into_iter().collect()
    }

    fn with_cookies(headers: &[Vec<u8>]) -> TestRequest {
        headers.iter().fold(TestRequest::get(), |req, h| {
            let value = header::HeaderValue::from_bytes(h).expect("valid header bytes");
            req.append_header((header::COOKIE, value))
        })
    }

    /// How one cookie pair is written.
    #[derive(Debug, Clone)]
    enum Pair {
        /// No `=` at all.
        Bare(String),
        Junk(String, String),
        /// Our signature on `token`, written in one of several legitimate ways.
        Ours(String, String, u8),
        Stranger(String, String),
        Tampered(String, String, Edit),
    }

    fn cookie_name() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => Just(NAME.to_owned()),
            1 => Just(format!("__Secure-{NAME}")),
            1 => Just(format!("{NAME}_x")),
            1 => Just("Better-Auth.session_token".to_owned()),
            2 => "[A-Za-z0-9_.-]{1,12}",
        ]
    }

    fn pair() -> impl Strategy<Value = Pair> {
        prop_oneof![
            "[A-Za-z0-9_.-]{0,12}".prop_map(Pair::Bare),
            (cookie_name(), "[!-:<-~]{0,60}").prop_map(|(n, v)| Pair::Junk(n, v)),
            (cookie_name(), token(), 0u8..4).prop_map(|(n, t, f)| Pair::Ours(n, t, f)),
            (cookie_name(), token()).prop_map(|(n, t)| Pair::Stranger(n, t)),
            (cookie_name(), token(), edit()).prop_map(|(n, t, e)| Pair::Tampered(n, t, e)),
        ]
    }

    /// Renders a pair; returns `(text, name, value, token it legitimately carries)`.
    fn render(
        p: &Pair,
        ours: &CookieSigner,
        stranger: &CookieSigner,
    ) -> (String, Option<(String, String)>, Option<String>) {
        let (name, value, token) = match p {
            Pair::Bare(n) => return (n.clone(), None, None),
            Pair::Junk(n, v) => (n, v.clone(), None),
            Pair::Ours(n, t, form) => {
                let encoded = encode_uri_component(&ours.sign(t));
                let value = match form {
                    0 => encoded,
                    1 => ours.sign(t),
                    2 => format!("\"{encoded}\""),
                    _ => encoded.replace("%2F", "%2f").replace("%3D", "%3d"),
                };
                (n, value, Some(t.clone()))
            }
            Pair::Stranger(n, t) => (n, encode_uri_component(&stranger.sign(t)), None),
            Pair::Tampered(n, t, e) => {
                let signed = ours.sign(t);
                let tampered = apply(&signed, e);
                // RFC 6265 quotes are not part of the value, so an added `"` at either end is no change.
                let carried = (tampered.trim_matches('"') == signed).then(|| t.clone());
                (n, encode_uri_component(&tampered), carried)
            }
        };
        (
            format!("{name}={value}"),
            Some((name.clone(), value)),
            token,
        )
    }

    fn non_canonical(sig: &str, bits: u8) -> String {
        // 32 bytes leave 2 unused low bits in the last data character (index 42).
        let mut chars: Vec<char> = sig.chars().collect();
        let pos = BASE64.find(chars[42]).expect("base64 char");
        chars[42] = char::from(BASE64.as_bytes()[pos | usize::from(bits)]);
        chars.into_iter().collect()
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn sign_then_verify_round_trips(key in secret(), value in any_chars(64)) {
            let signer = CookieSigner::new(&key, &[]);
            let signed = signer.sign(&value);
            let sig = signer.signature(&value);
            prop_assert_eq!(sig.len(), SIG_LEN);
            prop_assert!(sig.ends_with('=') && !sig.ends_with("=="));
            prop_assert_eq!(&signed, &format!("{value}.{sig}"));
            prop_assert_eq!(signer.verify(&signed), Some(value.as_str()));
        }

        #[test]
        fn any_single_char_edit_is_refused(key in secret(), value in any_chars(32), e in edit()) {
            let signer = CookieSigner::new(&key, &[]);
            let signed = signer.sign(&value);
            let tampered = apply(&signed, &e);
            prop_assume!(tampered != signed);
            prop_assert_eq!(signer.verify(&tampered), None, "{:?} accepted", tampered);
        }

        #[test]
        fn non_canonical_base64_signature_is_refused(key in secret(), value in any_chars(32), bits in 1u8..4) {
            let signer = CookieSigner::new(&key, &[]);
            let sig = signer.signature(&value);
            let odd = non_canonical(&sig, bits);
            prop_assume!(odd != sig);
            let forged = format!("{value}.{odd}");
            prop_assert_eq!(signer.verify(&forged), None);
        }

        #[test]
        fn verify_refuses_unsigned_strings(
            key in secret(),
            s in prop_oneof![
                any_chars(128),
                "[A-Za-z0-9.]{0,40}\\.[A-Za-z0-9+/]{43}=",
                "[A-Za-z0-9.]{0,40}\\.[A-Za-z0-9+/]{42}==",
                "[!-~]{0,40}\\.[!-~]{0,50}",
            ],
        ) {
            let signer = CookieSigner::new(&key, &[]);
            prop_assert_eq!(signer.verify(&s), None);
        }

        #[test]
        fn previous_secrets_verify_and_unknown_ones_never_do(
            old_key in secret(),
            new_key in secret(),
            other_key in secret(),
            unrelated in prop::collection::vec(secret(), 0..3),
            value in any_chars(32),
        ) {
            prop_assume!(old_key != new_key && old_key != other_key && new_key != other_key);
            prop_assume!(!unrelated.contains(&other_key));
            let old = CookieSigner::new(&old_key, &[]);
            let mut previous = unrelated.clone();
            previous.push(old_key.clone());
            let rotated = CookieSigner::new(&new_key, &previous);
            let stranger = CookieSigner::new(&other_key, &unrelated);

            let by_old = old.sign(&value);
            let by_rotated = rotated.sign(&value);
            prop_assert_eq!(rotated.verify(&by_old), Some(value.as_str()));
            prop_assert_eq!(rotated.verify(&by_rotated), Some(value.as_str()));
            // Previous secrets verify but never sign.
            prop_assert_ne!(&by_rotated, &by_old);
            prop_assert_eq!(old.verify(&by_rotated), None);
            prop_assert_eq!(stranger.verify(&by_old), None);
            prop_assert_eq!(stranger.verify(&by_rotated), None);
            let by_stranger = stranger.sign(&value);
            prop_assert_eq!(rotated.verify(&by_stranger), None);
        }

        #[test]
        fn encode_uri_component_is_javascripts(s in any_chars(64)) {
            let out = encode_uri_component(&s);
            let bytes = out.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    let hex = &out[i + 1..i + 3];
                    prop_assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)), "{}", out);
                    i += 3;
                } else {
                    prop_assert!(bytes[i].is_ascii_alphanumeric() || b"-_.!~*'()".contains(&bytes[i]), "{}", out);
                    i += 1;
                }
            }
            let expected_len: usize = s
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || "-_.!~*'()".contains(c) { 1 } else { 3 * c.len_utf8() })
                .sum();
            prop_assert_eq!(out.len(), expected_len);
            prop_assert_eq!(percent_decode_str(&out).decode_utf8().expect("utf-8"), s.as_str());
        }

        #[test]
        fn arbitrary_cookie_headers_yield_no_token(
            key in secret(),
            headers in prop::collection::vec(
                prop_oneof![
                    header_bytes(),
                    ("[ -~]{0,40}", "[ -~]{0,60}")
                        .prop_map(|(a, b)| format!("{a}{NAME}={b}").into_bytes()),
                ],
                0..4,
            ),
        ) {
            let signer = CookieSigner::new(&key, &[]);
            let req = with_cookies(&headers).to_http_request();
            if let Some(v) = cookie_value(&req, NAME) {
                // What it returns was written after our name in some header.
                let needle = format!("{NAME}={v}");
                prop_assert!(
                    headers.iter().any(|h| String::from_utf8_lossy(h).contains(&needle)),
                    "{:?} not in {:?}", needle, headers
                );
            }
            prop_assert_eq!(presented_token(&req, &signer, NAME), None);
        }

        #[test]
        fn only_our_first_named_cookie_counts(
            key in secret(),
            other_key in secret(),
            headers in prop::collection::vec(prop::collection::vec(pair(), 0..5), 1..4),
            sep in prop::sample::select(vec!["; ", ";", " ;  ", ";;"]),
        ) {
            prop_assume!(key != other_key);
            let ours = CookieSigner::new(&key, &[]);
            let stranger = CookieSigner::new(&other_key, &[]);
            let mut expected: Option<(String, Option<String>)> = None;
            let mut texts = Vec::new();
            for pairs in &headers {
                let mut parts = Vec::new();
                for p in pairs {
                    let (text, nv, token) = render(p, &ours, &stranger);
                    if let Some((n, v)) = nv {
                        if n == NAME && expected.is_none() {
                            expected = Some((v, token));
                        }
                    }
                    parts.push(text);
                }
                texts.push(parts.join(sep).into_bytes());
            }
            let req = with_cookies(&texts).to_http_request();
            prop_assert_eq!(
                cookie_value(&req, NAME),
                expected.as_ref().map(|(v, _)| v.clone())
            );
            prop_assert_eq!(
                presented_token(&req, &ours, NAME),
                expected.and_then(|(_, t)| t).map(|t| (t, Carrier::Cookie))
            );
        }

        #[test]
        fn arbitrary_authorization_never_yields_a_signed_looking_token(
            key in secret(),
            cookie_token in token(),
            auth in prop_oneof![
                header_bytes(),
                (
                    prop::sample::select(vec!["Bearer", "bearer", "BEARER", "Basic", "Bearerx", ""]),
                    prop::sample::select(vec![" ", "  ", "\t", ""]),
                    "[ -~]{0,80}",
                )
                    .prop_map(|(s, sp, rest)| format!("{s}{sp}{rest}").into_bytes()),
            ],
        ) {
            let signer = CookieSigner::new(&key, &[]);
            let cookie = format!("{NAME}={}", encode_uri_component(&signer.sign(&cookie_token)));
            let req = TestRequest::get()
                .insert_header((header::COOKIE, cookie))
                .insert_header((
                    header::AUTHORIZATION,
                    header::HeaderValue::from_bytes(&auth).expect("valid header bytes"),
                ))
                .to_http_request();
            let found = presented_token(&req, &signer, NAME);
            match bearer(&req) {
                Some(v) => {
                    prop_assert!(!v.is_empty() && v.trim() == v, "{:?}", v);
                    let h = std::str::from_utf8(&auth).expect("bearer read it as text");
                    let scheme = h.trim().split(' ').next().unwrap_or_default();
                    prop_assert!(scheme.eq_ignore_ascii_case("bearer"), "{:?}", h);
                    // An acceptable header wins over the cookie (unsigned it can only
                    // be a bare token); an unusable one leaves the cookie in charge.
                    match found {
                        Some((t, Carrier::Bearer)) => {
                            prop_assert!(is_token_shaped(&t), "{:?}", t);
                            if !v.contains('%') {
                                prop_assert_eq!(t.as_str(), v);
                            }
                        }
                        other => prop_assert_eq!(other, Some((cookie_token, Carrier::Cookie))),
                    }
                }
                None => prop_assert_eq!(found, Some((cookie_token, Carrier::Cookie))),
            }
        }

        #[test]
        fn bearer_round_trips_signed_and_bare_tokens(
            key in secret(),
            other_key in secret(),
            t in token(),
            scheme in prop::sample::select(vec!["Bearer", "bearer", "BEARER", "bEaReR"]),
            pad in "[ ]{1,3}",
            encoded in any::<bool>(),
            e in edit(),
        ) {
            prop_assume!(key != other_key);
            let signer = CookieSigner::new(&key, &[]);
            let stranger = CookieSigner::new(&other_key, &[]);
            // `None` when the value cannot go into a header at all.
            let send = |value: &str| {
                let value = if encoded { encode_uri_component(value) } else { value.to_owned() };
                let h = header::HeaderValue::from_str(&format!("{scheme}{pad}{value}{pad}")).ok()?;
                let req = TestRequest::get()
                    .insert_header((header::AUTHORIZATION, h))
                    .to_http_request();
                Some(presented_token(&req, &signer, NAME))
            };
            let signed = signer.sign(&t);
            prop_assert_eq!(send(&signed), Some(Some((t.clone(), Carrier::Bearer))));
            prop_assert_eq!(send(&t), Some(Some((t.clone(), Carrier::Bearer))));
            prop_assert_eq!(send(&stranger.sign(&t)), Some(None));
            let tampered = apply(&signed, &e);
            // The header value is trimmed, so edge whitespace is no change.
            if tampered.trim() != signed {
                prop_assert!(matches!(send(&tampered), None | Some(None)), "{:?} accepted", tampered);
            }
        }
    }
}
