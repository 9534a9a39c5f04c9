//! Request bodies parsed the way Better Auth does: content-type check (415), JSON
//! syntax (400 `BAD_REQUEST`), then a schema whose failures read like zod's
//! (`[body.name] Invalid input: expected string, received number`).

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpRequest;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Which media types an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    Json,
    JsonOrForm,
}

impl Accepts {
    fn list(self) -> &'static str {
        match self {
            Accepts::Json => "application/json",
            Accepts::JsonOrForm => "application/x-www-form-urlencoded, application/json",
        }
    }
}

/// A body that passed the media-type and syntax checks; `None` when there was none.
pub struct RawBody(Option<Value>);

/// Parses the body bytes according to the request's content type.
pub fn parse(req: &HttpRequest, bytes: &Bytes, accepts: Accepts) -> Result<RawBody, ApiError> {
    if bytes.is_empty() {
        return Ok(RawBody(None));
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    match content_type.as_deref() {
        Some("application/json") => serde_json::from_slice(bytes)
            .map(|v| RawBody(Some(v)))
            .map_err(|_| ApiError::BadJson),
        Some("application/x-www-form-urlencoded") if accepts == Accepts::JsonOrForm => {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(bytes).map_err(|_| ApiError::BadJson)?;
            let map = pairs
                .into_iter()
                .map(|(k, v)| {
                    // Forms carry only strings; booleans arrive as "true"/"false".
                    let value = match v.as_str() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        _ => Value::String(v),
                    };
                    (k, value)
                })
                .collect();
            Ok(RawBody(Some(Value::Object(map))))
        }
        None => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type is required. Allowed types: {}",
            accepts.list()
        ))),
        Some(other) => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type \"{other}\" is not allowed. Allowed types: {}",
            accepts.list()
        ))),
    }
}

fn received(v: Option<&Value>) -> &'static str {
    match v {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

/// Reads typed fields out of a body object, collecting every problem.
pub struct Fields {
    map: Map<String, Value>,
    issues: Vec<String>,
}

impl RawBody {
    /// The body as an object, or the zod-style error for anything else.
    pub fn object(self) -> Result<Fields, ApiError> {
        match self.0 {
            Some(Value::Object(map)) => Ok(Fields {
                map,
                issues: Vec::new(),
            }),
            other => Err(ApiError::Validation(format!(
                "[body] Invalid input: expected object, received {}",
                received(other.as_ref())
            ))),
        }
    }

    /// Like [`RawBody::object`], but a missing body counts as `{}`.
    pub fn object_or_empty(self) -> Result<Fields, ApiError> {
        match self.0 {
            None => Ok(Fields {
                map: Map::new(),
                issues: Vec::new(),
            }),
            some => RawBody(some).object(),
        }
    }
}

/// Longest string field we accept, in bytes; real values are far shorter.
const MAX_FIELD_BYTES: usize = 4096;

impl Fields {
    fn issue(&mut self, field: &str, msg: impl std::fmt::Display) {
        self.issues.push(format!("[body.{field}] {msg}"));
    }

    fn string_checked(&mut self, field: &str, s: String) -> Option<String> {
        if s.contains('\0') {
            self.issue(field, "Invalid input: must not contain NUL characters");
            None
        } else if s.len() > MAX_FIELD_BYTES {
            self.issue(
                field,
                format!("Too big: expected string to have <={MAX_FIELD_BYTES} characters"),
            );
            None
        } else {
            Some(s)
        }
    }

    /// A required string.
    pub fn string(&mut self, field: &str) -> String {
        match self.map.remove(field) {
            Some(Value::String(s)) => self.string_checked(field, s).unwrap_or_default(),
            other => {
                let got = received(other.as_ref());
                self.issue(
                    field,
                    format!("Invalid input: expected string, received {got}"),
                );
                String::new()
            }
        }
    }

    /// An optional string (absent → `None`; `null` is a type error).
    pub fn opt_string(&mut self, field: &str) -> Option<String> {
        match self.map.remove(field) {
            None => None,
            Some(Value::String(s)) => self.string_checked(field, s),
            Some(other) => {
                let got = received(Some(&other));
                self.issue(
                    field,
                    format!("Invalid input: expected string, received {got}"),
                );
                None
            }
        }
    }

    /// An optional string that may also be `null`: absent → `None`, null → `Some(None)`.
    pub fn opt_nullable_string(&mut self, field: &str) -> Option<Option<String>> {
        match self.map.get(field) {
            Some(Value::Null) => {
                self.map.remove(field);
                Some(None)
            }
            _ => self.opt_string(field).map(Some),
        }
    }

    /// An optional boolean.
    pub fn opt_bool(&mut self, field: &str) -> Option<bool> {
        match self.map.remove(field) {
            None => None,
            Some(Value::Bool(b)) => Some(b),
            Some(other) => {
                let got = received(Some(&other));
                self.issue(
                    field,
                    format!("Invalid input: expected boolean, received {got}"),
                );
                None
            }
        }
    }

    /// Whether the body names a field at all.
    pub fn has(&self, field: &str) -> bool {
        self.map.contains_key(field)
    }

    /// Ends parsing: every collected issue joined with `"; "`.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.issues.join("; ")))
        }
    }
}

/// A pragmatic e-mail check (what zod's `email()` accepts, roughly): one `@`, a
/// non-empty local part, a dotted domain of letters, digits and hyphens.
pub fn is_valid_email(email: &str) -> bool {
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Fields {
        RawBody(Some(v)).object().expect("object")
    }

    #[test]
    fn zod_style_messages_joined() {
        let mut f = fields(json!({"password": 5}));
        let _ = f.string("name");
        let _ = f.string("password");
        match f.finish() {
            Err(ApiError::Validation(m)) => assert_eq!(
                m,
                "[body.name] Invalid input: expected string, received undefined; [body.password] Invalid input: expected string, received number"
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn non_objects_are_rejected() {
        match RawBody(Some(json!([1]))).object() {
            Err(ApiError::Validation(m)) => {
                assert_eq!(m, "[body] Invalid input: expected object, received array")
            }
            _ => panic!("array accepted"),
        }
        assert!(RawBody(None).object().is_err());
        assert!(RawBody(None).object_or_empty().is_ok());
    }

    #[test]
    fn nul_bytes_are_a_validation_error() {
        let mut f = fields(json!({"name": "a\u{0}b"}));
        let _ = f.string("name");
        assert!(f.finish().is_err());
    }

    #[test]
    fn email_check() {
        for ok in [
            "a@example.com",
            "first.last+tag@sub.example.co",
            "x_y@a-b.io",
        ] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@b.c",
            "a b@example.com",
            "a@exa mple.com",
            "a..b@example.com",
            "a@-x.com",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }
}
