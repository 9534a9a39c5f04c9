//! Parsing a compact JWS and checking its header and claims.
//!
//! Order matters: size, shape and header are checked before any key lookup (so a
//! hostile header cannot steer the JWKS client), and the payload is decoded only
//! after the signature verified.

use auth_wire::{AccessClaims, ServiceClaims};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::VerifyError;

/// Header parameters that let the sender choose the key or the key's location
/// (`jku`/`x5u`: SSRF, `jwk`/`x5c`: self-signed tokens), or that demand extensions
/// we do not implement (`crit`). Our issuer sends none of them.
const FORBIDDEN_HEADERS: [&str; 5] = ["jku", "x5u", "jwk", "x5c", "crit"];

/// Longest `kid` we look up; ours are short, and this bounds what reaches logs/maps.
const MAX_KID_LEN: usize = 256;

/// What a token is, by its `typ` header: a learner's session token (`JWT` or
/// none) or a service access token (RFC 9068 `at+jwt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Minted for a signed-in learner (`typ: JWT`).
    Learner,
    /// Minted for an OAuth client by `/oauth2/token` (`typ: at+jwt`).
    Service,
}

/// A token whose header passed, not yet verified.
pub(crate) struct Unverified<'a> {
    /// Learner or service token, by `typ`.
    pub(crate) kind: TokenKind,
    /// `BASE64URL(header) . BASE64URL(payload)`, what the signature covers.
    pub(crate) signing_input: &'a str,
    pub(crate) payload_b64: &'a str,
    pub(crate) signature: Vec<u8>,
    pub(crate) kid: String,
}

/// Splits the token and vets its header; touches no key and trusts no claim.
pub(crate) fn parse(token: &str, max_bytes: usize) -> Result<Unverified<'_>, VerifyError> {
    if token.len() > max_bytes {
        return Err(VerifyError::TooLarge { max: max_bytes });
    }
    let mut segments = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(VerifyError::Malformed("not three dot-separated segments"));
    };
    // An empty payload or signature is checked after the header, so that the usual
    // `alg: none` shape (`header.payload.`) is reported as the algorithm problem.
    let header = json_object(
        header_b64,
        "header is not base64url",
        "header is not a JSON object",
    )?;

    match header.get("alg") {
        Some(Value::String(alg)) if alg == "RS256" => {}
        _ => return Err(VerifyError::UnsupportedAlgorithm),
    }
    if let Some(name) = FORBIDDEN_HEADERS
        .into_iter()
        .find(|name| header.contains_key(*name))
    {
        return Err(VerifyError::ForbiddenHeader(name));
    }
    let kind = match header.get("typ") {
        None => TokenKind::Learner,
        Some(Value::String(typ)) => typ_kind(typ).ok_or(VerifyError::UnsupportedType)?,
        Some(_) => return Err(VerifyError::UnsupportedType),
    };
    let kid = match header.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= MAX_KID_LEN => kid.clone(),
        _ => return Err(VerifyError::MissingKid),
    };
    if payload_b64.is_empty() || signature_b64.is_empty() {
        return Err(VerifyError::Malformed("empty segment"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| VerifyError::Malformed("signature is not base64url"))?;

    Ok(Unverified {
        kind,
        // Safe slicing: `header_b64` and `payload_b64` are a prefix of `token` joined
        // by one '.'.
        signing_input: &token[..header_b64.len() + 1 + payload_b64.len()],
        payload_b64,
        signature,
        kid,
    })
}

/// `JWT` or `at+jwt` (RFC 9068), compared as media types are: case-insensitively,
/// with an optional `application/` prefix (RFC 7515 §4.1.9).
fn typ_kind(typ: &str) -> Option<TokenKind> {
    let short = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    if short.eq_ignore_ascii_case("JWT") {
        Some(TokenKind::Learner)
    } else if short.eq_ignore_ascii_case("at+jwt") {
        Some(TokenKind::Service)
    } else {
        None
    }
}

#[cfg(test)]
fn is_accepted_typ(typ: &str) -> bool {
    typ_kind(typ).is_some()
}

/// Decodes one base64url segment holding a JSON object.
fn json_object(
    segment: &str,
    not_base64: &'static str,
    not_object: &'static str,
) -> Result<Map<String, Value>, VerifyError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| VerifyError::Malformed(not_base64))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(VerifyError::Malformed(not_object)),
    }
}

/// What the claims are checked against.
pub(crate) struct Expectations<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) audience: &'a str,
    pub(crate) leeway_secs: i64,
    pub(crate) now: i64,
}

/// Decodes the (already signature-verified) payload and checks every claim both
/// kinds rely on (josekit's validator skips absent `exp`/`nbf`/`aud`).
fn common_claims(
    payload_b64: &str,
    want: &Expectations<'_>,
) -> Result<Map<String, Value>, VerifyError> {
    let map = json_object(
        payload_b64,
        "payload is not base64url",
        "payload is not a JSON object",
    )?;

    match map.get("iss") {
        None => return Err(VerifyError::MissingClaim("iss")),
        Some(Value::String(iss)) if iss == want.issuer => {}
        Some(Value::String(_)) => return Err(VerifyError::WrongIssuer),
        Some(_) => return Err(VerifyError::InvalidClaim("iss")),
    }

    match map.get("aud") {
        None => return Err(VerifyError::MissingClaim("aud")),
        Some(Value::String(aud)) => {
            if aud != want.audience {
                return Err(VerifyError::WrongAudience);
            }
        }
        Some(Value::Array(list)) => {
            let mut found = false;
            for item in list {
                match item {
                    Value::String(aud) => found |= aud == want.audience,
                    _ => return Err(VerifyError::InvalidClaim("aud")),
                }
            }
            if !found {
                return Err(VerifyError::WrongAudience);
            }
        }
        Some(_) => return Err(VerifyError::InvalidClaim("aud")),
    }

    // Type checks of all three NumericDates come before the time checks, so a
    // malformed claim is reported as such even when another one is out of range.
    let exp = numeric_date(&map, "exp")?;
    let iat = numeric_date(&map, "iat")?;
    let nbf = numeric_date(&map, "nbf")?;
    // RFC 7519: now must be before `exp`, and not before `nbf`. A token issued in
    // the future (beyond the leeway) comes from a broken clock or a forger that
    // chose its own times: refused like an early `nbf`, as PyJWT does.
    if want.now >= exp.saturating_add(want.leeway_secs) {
        return Err(VerifyError::Expired);
    }
    if want.now.saturating_add(want.leeway_secs) < nbf.max(iat) {
        return Err(VerifyError::NotYetValid);
    }

    Ok(map)
}

/// A learner token's claims: the common checks, then a user id in `sub`.
pub(crate) fn learner_claims(
    payload_b64: &str,
    want: &Expectations<'_>,
) -> Result<AccessClaims, VerifyError> {
    let map = common_claims(payload_b64, want)?;
    match map.get("sub") {
        None => return Err(VerifyError::MissingClaim("sub")),
        Some(Value::String(sub)) if Uuid::parse_str(sub).is_ok() => {}
        Some(_) => return Err(VerifyError::InvalidClaim("sub")),
    }
    // The remaining fields (jti, sid, role, user) only need to fit the wire type.
    // serde's message is not kept: it can quote claim values.
    serde_json::from_value(Value::Object(map)).map_err(|_| VerifyError::InvalidClaim("claims"))
}

/// A service token's claims: the common checks, then `sub` = `client_id` (a
/// client, never a user) and a `scope` string.
pub(crate) fn service_claims(
    payload_b64: &str,
    want: &Expectations<'_>,
) -> Result<ServiceClaims, VerifyError> {
    let map = common_claims(payload_b64, want)?;
    let sub = match map.get("sub") {
        None => return Err(VerifyError::MissingClaim("sub")),
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        Some(_) => return Err(VerifyError::InvalidClaim("sub")),
    };
    match map.get("client_id") {
        None => return Err(VerifyError::MissingClaim("client_id")),
        Some(Value::String(id)) if *id == sub => {}
        Some(_) => return Err(VerifyError::InvalidClaim("client_id")),
    }
    match map.get("scope") {
        None => return Err(VerifyError::MissingClaim("scope")),
        Some(Value::String(_)) => {}
        Some(_) => return Err(VerifyError::InvalidClaim("scope")),
    }
    serde_json::from_value(Value::Object(map)).map_err(|_| VerifyError::InvalidClaim("claims"))
}

/// A required NumericDate as whole seconds. `AccessClaims` holds `i64`, and
/// accepting a string or fraction here is how `jsonwebtoken` < 10.3 let a malformed
/// `exp` slip through (spec §6.2).
fn numeric_date(map: &Map<String, Value>, name: &'static str) -> Result<i64, VerifyError> {
    match map.get(name) {
        None => Err(VerifyError::MissingClaim(name)),
        Some(Value::Number(n)) => n.as_i64().ok_or(VerifyError::InvalidClaim(name)),
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn typ_accepts_jwt_and_at_jwt_only() {
        for ok in ["JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt"] {
            assert!(is_accepted_typ(ok), "{ok}");
        }
        for bad in ["", "JOSE", "id+jwt", "application/", "JWTX", "dpop+jwt"] {
            assert!(!is_accepted_typ(bad), "{bad}");
        }
    }

    #[test]
    fn header_checks_come_first() {
        let token = |h: Value| format!("{}.e30.c2ln", b64(&h));
        let header = |h: Value| parse(&token(h), 8192).map(|u| u.kid);
        let ok = serde_json::json!({"alg": "RS256", "kid": "k", "typ": "JWT"});
        assert_eq!(header(ok), Ok("k".to_owned()));
        assert_eq!(
            header(serde_json::json!({"alg": "none", "kid": "k"})),
            Err(VerifyError::UnsupportedAlgorithm)
        );
        assert_eq!(
            header(serde_json::json!({"kid": "k"})),
            Err(VerifyError::UnsupportedAlgorithm)
        );
        assert_eq!(
            header(serde_json::json!({"alg": "RS256", "kid": "k", "x5c": []})),
            Err(VerifyError::ForbiddenHeader("x5c"))
        );
        assert_eq!(
            header(serde_json::json!({"alg": "RS256", "kid": "k", "typ": "JOSE"})),
            Err(VerifyError::UnsupportedType)
        );
        assert_eq!(
            header(serde_json::json!({"alg": "RS256", "kid": 7})),
            Err(VerifyError::MissingKid)
        );
        assert_eq!(
            header(serde_json::json!({"alg": "RS256"})),
            Err(VerifyError::MissingKid)
        );
        assert!(matches!(
            parse(&format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode("[1]")), 8192),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            parse("a.b.c.d.e", 8192),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            parse("a..c", 8192),
            Err(VerifyError::Malformed(_))
        ));
    }

    #[test]
    fn signing_input_is_the_first_two_segments() {
        let h = b64(&serde_json::json!({"alg": "RS256", "kid": "k"}));
        let token = format!("{h}.e30.c2ln");
        let parsed = parse(&token, 8192).expect("parses");
        assert_eq!(parsed.signing_input, format!("{h}.e30"));
        assert_eq!(parsed.payload_b64, "e30");
        assert_eq!(parsed.signature, b"sig");
    }
}
