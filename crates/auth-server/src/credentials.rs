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
/// is acceptable. An `Authorization: Bearer` header wins over the cookie.
pub fn presented_token(
    req: &HttpRequest,
    signer: &CookieSigner,
    cookie_name: &str,
) -> Option<(String, Carrier)> {
    if let Some(value) = bearer(req) {
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
        // The bare token, as the JSON `token` field hands it out.
        return is_token_shaped(&decoded).then_some((decoded, Carrier::Bearer));
    }
    let raw = cookie_value(req, cookie_name)?;
    let decoded = if raw.contains('%') {
        percent_decode_str(&raw).decode_utf8().ok()?.into_owned()
    } else {
        raw
    };
    let unquoted = decoded.trim_matches('"');
    signer
        .verify(unquoted)
        .map(|t| (t.to_owned(), Carrier::Cookie))
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
