//! Entity tags and the conditional headers that use them (RFC 9110 §8.8.3, §13).
//!
//! A profile's ETag is `"v<version>-<created_at in µs, hex>"`. The version column
//! is bumped by every write; the creation time tells two incarnations of a profile
//! apart, so a tag kept from before a DELETE can never match the profile created
//! after it (a bare `"v1"` would, and a stale tab would overwrite the new profile).
//!
//! For writes the conditions are evaluated by the database inside the writing
//! statement (see `db::profiles`); [`Preconditions::evaluate`] serves reads and
//! explains a write that matched no row.

use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpRequest;
use chrono::{DateTime, Utc};

use crate::error::ApiError;

/// The entity tag of one stored version of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ETag {
    /// `learner.profiles.version`.
    pub version: i64,
    /// `learner.profiles.created_at`, microseconds since the epoch (Postgres keeps
    /// exactly this precision, so the value round-trips).
    pub created_micros: i64,
}

impl ETag {
    /// The tag of a row.
    pub fn new(version: i64, created_at: DateTime<Utc>) -> Self {
        Self {
            version,
            created_micros: created_at.timestamp_micros(),
        }
    }

    /// The creation time this tag names.
    pub fn created_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.created_micros).unwrap_or_default()
    }

    /// The opaque tag without quotes, `v7-62a1b2c3d4e5f`.
    pub fn opaque(&self) -> String {
        // Two's-complement hex keeps pre-1970 timestamps (never written, but
        // representable) unambiguous without a sign.
        format!("v{}-{:x}", self.version, self.created_micros as u64)
    }

    /// The `ETag` header value (a strong tag: equal tags mean byte-identical JSON).
    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&format!("\"{}\"", self.opaque()))
            .unwrap_or_else(|_| HeaderValue::from_static("\"invalid\""))
    }

    /// Reads one of our opaque tags; anything else is `None` (and cannot match).
    pub fn from_opaque(s: &str) -> Option<Self> {
        let (version, micros) = s.strip_prefix('v')?.split_once('-')?;
        let decimal = !version.is_empty()
            && !version.starts_with('0')
            && version.bytes().all(|b| b.is_ascii_digit());
        let hex = !micros.is_empty() && micros.bytes().all(|b| b.is_ascii_hexdigit());
        if !decimal || !hex {
            return None;
        }
        let version: i64 = version.parse().ok()?;
        let micros = u64::from_str_radix(micros, 16).ok()? as i64;
        (version >= 1).then_some(Self {
            version,
            created_micros: micros,
        })
    }
}

/// One `If-Match` or `If-None-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `*`: any current representation.
    Any,
    /// A list of tags; those that are not ours were dropped, as they match nothing
    /// (so an empty list never matches).
    Tags(Vec<ETag>),
}

impl Condition {
    fn matches(&self, current: ETag) -> bool {
        match self {
            Condition::Any => true,
            Condition::Tags(tags) => tags.contains(&current),
        }
    }
}

/// What to do after evaluating the preconditions against the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Carry on with the method.
    Proceed,
    /// 412 Precondition Failed.
    Failed,
    /// 304 Not Modified (GET/HEAD with a matching `If-None-Match`).
    NotModified,
}

/// The request's `If-Match` and `If-None-Match`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// `If-Match`, compared strongly: weak tags in it are dropped.
    pub if_match: Option<Condition>,
    /// `If-None-Match`, compared weakly: `W/"x"` and `"x"` are the same.
    pub if_none_match: Option<Condition>,
}

impl Preconditions {
    /// Parses both headers; a syntax error is a 400 naming the header.
    pub fn from_request(req: &HttpRequest) -> Result<Self, ApiError> {
        Ok(Self {
            if_match: parse_header(req, header::IF_MATCH, true)?,
            if_none_match: parse_header(req, header::IF_NONE_MATCH, false)?,
        })
    }

    /// Whether neither header was sent.
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }

    /// RFC 9110 §13.2.2 for a profile whose current tag is `current` (`None`: no
    /// profile). `safe` is true for GET and HEAD.
    pub fn evaluate(&self, current: Option<ETag>, safe: bool) -> Outcome {
        if let Some(cond) = &self.if_match {
            if !current.is_some_and(|tag| cond.matches(tag)) {
                return Outcome::Failed;
            }
        }
        if let Some(cond) = &self.if_none_match {
            if current.is_some_and(|tag| cond.matches(tag)) {
                return if safe {
                    Outcome::NotModified
                } else {
                    Outcome::Failed
                };
            }
        }
        Outcome::Proceed
    }
}

fn parse_header(
    req: &HttpRequest,
    name: header::HeaderName,
    strong: bool,
) -> Result<Option<Condition>, ApiError> {
    let mut values = req.headers().get_all(&name).peekable();
    if values.peek().is_none() {
        return Ok(None);
    }
    let malformed = || {
        ApiError::BadRequest(format!(
            "{name}: expected * or a list of quoted entity tags such as \"v1-5f3e2a1b0c9d8\""
        ))
    };
    let mut any = false;
    let mut tags = Vec::new();
    let mut listed = 0usize;
    for value in values {
        let value = value.to_str().map_err(|_| malformed())?.trim();
        if value == "*" {
            any = true;
            continue;
        }
        for tag in parse_tag_list(value).ok_or_else(malformed)? {
            listed += 1;
            if strong && tag.weak {
                continue;
            }
            if let Some(etag) = ETag::from_opaque(tag.opaque) {
                tags.push(etag);
            }
        }
    }
    // The grammar is `"*" / #entity-tag`: never both.
    match (any, listed) {
        (true, 0) => Ok(Some(Condition::Any)),
        (true, _) => Err(malformed()),
        (false, _) => Ok(Some(Condition::Tags(tags))),
    }
}

struct RawTag<'a> {
    weak: bool,
    opaque: &'a str,
}

/// `#entity-tag`: comma-separated, optional whitespace, each `[W/]"opaque"`. The
/// opaque part may itself contain commas, so this is a scanner, not a split.
fn parse_tag_list(s: &str) -> Option<Vec<RawTag<'_>>> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(out);
        }
        let weak = rest.starts_with("W/");
        if weak {
            rest = &rest[2..];
        }
        rest = rest.strip_prefix('"')?;
        let end = rest.find('"')?;
        let opaque = &rest[..end];
        // etagc = %x21 / %x23-7E / obs-text
        if opaque.bytes().any(|b| b <= 0x20 || b == 0x7f) {
            return None;
        }
        out.push(RawTag { weak, opaque });
        rest = rest[end + 1..].trim_start_matches([' ', '\t']);
        if !(rest.is_empty() || rest.starts_with(',')) {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn tag(v: i64) -> ETag {
        ETag {
            version: v,
            created_micros: 1_764_000_000_123_456,
        }
    }

    fn pre(headers: &[(&str, &str)]) -> Result<Preconditions, ApiError> {
        let mut req = TestRequest::default();
        for (name, value) in headers {
            req = req.append_header((*name, *value));
        }
        Preconditions::from_request(&req.to_http_request())
    }

    #[test]
    fn tags_round_trip_through_the_header() {
        let t = tag(7);
        assert_eq!(t.header_value(), "\"v7-6445941642240\"");
        assert_eq!(ETag::from_opaque(&t.opaque()), Some(t));
        assert_eq!(ETag::new(3, t.created_at()), ETag { version: 3, ..t });
        for junk in [
            "7", "v", "v7", "v-1", "v07-1", "v7-", "v7-xyz", "v0-1", "w7-1",
        ] {
            assert_eq!(ETag::from_opaque(junk), None, "{junk}");
        }
    }

    #[test]
    fn lists_weak_tags_and_star_parse() {
        let t = tag(2);
        let header = format!("\"nope\", W/\"{}\" , \"{}\"", tag(9).opaque(), t.opaque());
        let p = pre(&[("if-match", &header), ("if-none-match", &header)]).expect("parses");
        // If-Match compares strongly: the weak v9 is dropped, "nope" is not ours.
        assert_eq!(p.if_match, Some(Condition::Tags(vec![t])));
        assert_eq!(p.if_none_match, Some(Condition::Tags(vec![tag(9), t])));
        let p = pre(&[("if-none-match", "*")]).expect("parses");
        assert_eq!(p.if_none_match, Some(Condition::Any));
        assert!(p.if_match.is_none());
        assert!(pre(&[]).expect("none").is_empty());
        // Commas inside a tag are data, not separators.
        assert!(pre(&[("if-match", "\"a,b\"")]).is_ok());
    }

    #[test]
    fn malformed_headers_are_400() {
        for bad in [
            "v1",
            "\"v1",
            "\"v1\" \"v2\"",
            "*, \"v1\"",
            "W/v1",
            "\"a b\"",
        ] {
            assert!(
                matches!(pre(&[("if-match", bad)]), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
        assert!(pre(&[("if-match", "*"), ("if-match", "\"v1-1\"")]).is_err());
    }

    #[test]
    fn evaluation_follows_rfc_9110() {
        let cur = tag(3);
        let p = |m: Option<Condition>, n: Option<Condition>| Preconditions {
            if_match: m,
            if_none_match: n,
        };
        let tags = |t: ETag| Some(Condition::Tags(vec![t]));
        use Outcome::*;
        assert_eq!(p(None, None).evaluate(None, false), Proceed);
        assert_eq!(p(tags(cur), None).evaluate(Some(cur), false), Proceed);
        assert_eq!(p(tags(tag(2)), None).evaluate(Some(cur), false), Failed);
        assert_eq!(p(Some(Condition::Any), None).evaluate(None, false), Failed);
        assert_eq!(
            p(Some(Condition::Any), None).evaluate(Some(cur), false),
            Proceed
        );
        assert_eq!(p(None, Some(Condition::Any)).evaluate(None, false), Proceed);
        assert_eq!(
            p(None, Some(Condition::Any)).evaluate(Some(cur), false),
            Failed
        );
        assert_eq!(p(None, tags(cur)).evaluate(Some(cur), true), NotModified);
        assert_eq!(p(None, tags(tag(2))).evaluate(Some(cur), true), Proceed);
        assert_eq!(
            p(Some(Condition::Tags(vec![])), None).evaluate(Some(cur), false),
            Failed
        );
    }
}
