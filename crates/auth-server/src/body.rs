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

    /// An optional array of strings (each checked like a string field).
    pub fn opt_string_list(&mut self, field: &str) -> Option<Vec<String>> {
        match self.map.remove(field) {
            None => None,
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => out.extend(self.string_checked(field, s)),
                        other => {
                            let got = received(Some(&other));
                            self.issue(
                                field,
                                format!("Invalid input: expected string, received {got}"),
                            );
                        }
                    }
                }
                Some(out)
            }
            Some(other) => {
                let got = received(Some(&other));
                self.issue(
                    field,
                    format!("Invalid input: expected array, received {got}"),
                );
                None
            }
        }
    }

    /// An optional nested object whose fields are read with the same rules; their
    /// errors are reported as `[body.<field>.<name>]`.
    pub fn opt_object<T>(&mut self, field: &str, read: impl FnOnce(&mut Fields) -> T) -> Option<T> {
        match self.map.remove(field) {
            None => None,
            Some(Value::Object(map)) => {
                let mut inner = Fields {
                    map,
                    issues: Vec::new(),
                };
                let value = read(&mut inner);
                for issue in inner.issues {
                    let rest = issue.strip_prefix("[body.").unwrap_or(&issue);
                    self.issues.push(format!("[body.{field}.{rest}"));
                }
                Some(value)
            }
            Some(other) => {
                let got = received(Some(&other));
                self.issue(
                    field,
                    format!("Invalid input: expected object, received {got}"),
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
}

#[cfg(test)]
mod proptests {
    use super::*;
    use actix_web::http::header::HeaderValue;
    use actix_web::http::StatusCode;
    use actix_web::test::TestRequest;
    use actix_web::ResponseError;
    use proptest::prelude::*;

    use crate::test_config::config;

    fn request(content_type: Option<&[u8]>) -> HttpRequest {
        let mut req = TestRequest::post();
        if let Some(ct) = content_type {
            let value = HeaderValue::from_bytes(ct).expect("strategy yields valid header bytes");
            req = req.insert_header((header::CONTENT_TYPE, value));
        }
        req.to_http_request()
    }

    fn accepts() -> impl Strategy<Value = Accepts> {
        prop_oneof![Just(Accepts::Json), Just(Accepts::JsonOrForm)]
    }

    /// Media types we take, ones we do not, and near misses, in any case.
    fn media_type() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "application/json",
            "Application/JSON",
            "application/x-www-form-urlencoded",
            "APPLICATION/X-WWW-FORM-URLENCODED",
            "text/plain",
            "text/json",
            "multipart/form-data",
            "application/json-patch+json",
            "application/jsonx",
            "application/",
            "",
        ])
    }

    fn params() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "",
            ";",
            "; charset=utf-8",
            ";charset=UTF-8",
            "; charset=latin1",
            "; charset=\"utf-8\"; boundary=x",
            ";;;=",
        ])
    }

    /// Whatever a header may legally carry, including non-UTF-8 `obs-text`.
    fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff], 0..48)
    }

    fn content_type() -> impl Strategy<Value = Option<Vec<u8>>> {
        prop_oneof![
            Just(None),
            (media_type(), params(), "[ \t]{0,2}")
                .prop_map(|(m, p, ws)| Some(format!("{ws}{m}{ws}{p}").into_bytes())),
            header_bytes().prop_map(Some),
        ]
    }

    /// Random bytes, JSON-ish text and form-ish text.
    fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            r#"[{}\[\]":,0-9a-z\\. \-tfnue]{0,64}"#.prop_map(String::into_bytes),
            "[a-z0-9=&%+;.]{0,64}".prop_map(String::into_bytes),
        ]
    }

    /// A string of arbitrary chars, control characters and NUL included.
    fn any_chars(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
    }

    /// JSON text with every non-ASCII char as a `\uXXXX` escape (surrogate pairs
    /// for the astral planes), which serde_json itself never writes.
    fn ascii_json(v: &Value) -> String {
        let raw = serde_json::to_string(v).expect("serialisable");
        raw.encode_utf16()
            .map(|u| match u {
                0..=0x7f => char::from(u as u8).to_string(),
                _ => format!("\\u{u:04x}"),
            })
            .collect()
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn never_panics_and_fails_only_with_4xx(
            ct in content_type(),
            body in body_bytes(),
            accepts in accepts(),
        ) {
            let req = request(ct.as_deref());
            match parse(&req, &Bytes::from(body.clone()), accepts) {
                Ok(raw) => {
                    // Whatever parsed must also survive the object step without a 5xx.
                    if let Err(e) = raw.object_or_empty() {
                        prop_assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
                    }
                }
                Err(e) => {
                    prop_assert!(!body.is_empty(), "an empty body is no body: {e:?}");
                    prop_assert!(
                        matches!(e.status_code(), StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE),
                        "{e:?} answers {}", e.status_code()
                    );
                }
            }
        }

        #[test]
        fn media_type_decides_before_syntax(
            media in media_type(),
            p in params(),
            accepts in accepts(),
            body in body_bytes(),
        ) {
            prop_assume!(!body.is_empty());
            let req = request(Some(format!("{media}{p}").as_bytes()));
            let result = parse(&req, &Bytes::from(body.clone()), accepts);
            let media = media.to_ascii_lowercase();
            let taken = media == "application/json"
                || (media == "application/x-www-form-urlencoded" && accepts == Accepts::JsonOrForm);
            match result {
                Err(ApiError::UnsupportedMediaType(_)) => prop_assert!(!taken, "{media} refused"),
                Err(e) => {
                    prop_assert!(taken, "{media} not refused as a media type");
                    prop_assert!(matches!(e, ApiError::BadJson), "{e:?}");
                }
                Ok(_) => {
                    prop_assert!(taken, "{media} accepted");
                    if media == "application/json" {
                        prop_assert!(serde_json::from_slice::<Value>(&body).is_ok());
                    }
                }
            }
        }

        #[test]
        fn json_string_fields_round_trip(
            fields in prop::collection::btree_map(any_chars(12), any_chars(64), 0..8),
            escaped in any::<bool>(),
            charset in params(),
        ) {
            let object = Value::Object(
                fields.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect(),
            );
            let text = if escaped { ascii_json(&object) } else { object.to_string() };
            let req = request(Some(format!("application/json{charset}").as_bytes()));
            let mut f = parse(&req, &Bytes::from(text), Accepts::Json)
                .expect("well-formed JSON parses")
                .object()
                .expect("an object");
            for (k, v) in &fields {
                prop_assert!(f.has(k));
                let got = f.string(k);
                if v.contains('\0') {
                    prop_assert_eq!(got, "");
                } else {
                    prop_assert_eq!(&got, v);
                }
            }
            match f.finish() {
                Ok(()) => prop_assert!(fields.values().all(|v| !v.contains('\0'))),
                Err(e) => {
                    prop_assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
                    for (k, v) in &fields {
                        let named = e.to_string().contains(&format!("[body.{k}] Invalid input: must not contain NUL"));
                        prop_assert_eq!(named, v.contains('\0'), "{}", e);
                    }
                }
            }
        }

        #[test]
        fn strings_with_nul_are_refused_with_4xx(
            before in any_chars(32),
            after in any_chars(32),
            form in any::<bool>(),
            optional in any::<bool>(),
        ) {
            let value = format!("{before}\0{after}");
            let (ct, text, accepts) = if form {
                let text = serde_urlencoded::to_string([("name", &value)]).expect("encodable");
                ("application/x-www-form-urlencoded", text, Accepts::JsonOrForm)
            } else {
                ("application/json", serde_json::json!({ "name": value }).to_string(), Accepts::Json)
            };
            let req = request(Some(ct.as_bytes()));
            let mut f = parse(&req, &Bytes::from(text), accepts)
                .expect("well-formed body parses")
                .object()
                .expect("an object");
            if optional {
                prop_assert_eq!(f.opt_string("name"), None);
            } else {
                prop_assert_eq!(f.string("name"), "");
            }
            let e = f.finish().expect_err("NUL accepted");
            prop_assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
        }

        #[test]
        fn form_fields_round_trip(
            fields in prop::collection::btree_map(any_chars(12), any_chars(64), 0..8),
        ) {
            let text = serde_urlencoded::to_string(&fields).expect("encodable");
            let req = request(Some(b"application/x-www-form-urlencoded; charset=UTF-8"));
            let mut f = parse(&req, &Bytes::from(text), Accepts::JsonOrForm)
                .expect("well-formed form parses")
                .object_or_empty()
                .expect("an object");
            let mut expect_err = false;
            for (k, v) in &fields {
                match v.as_str() {
                    "true" => prop_assert_eq!(f.opt_bool(k), Some(true)),
                    "false" => prop_assert_eq!(f.opt_bool(k), Some(false)),
                    _ if v.contains('\0') => {
                        prop_assert_eq!(f.opt_string(k), None);
                        expect_err = true;
                    }
                    _ => prop_assert_eq!(f.opt_string(k), Some(v.clone())),
                }
            }
            prop_assert_eq!(f.finish().is_err(), expect_err);
        }

        #[test]
        fn field_length_limit_is_in_bytes(
            len in prop_oneof![
                Just(MAX_FIELD_BYTES),
                Just(MAX_FIELD_BYTES + 1),
                0usize..=2 * MAX_FIELD_BYTES,
            ],
            wide in any::<bool>(),
        ) {
            // 'é' is two bytes, so a wide string hits the limit at half the chars.
            let value: String = if wide { "é".repeat(len / 2) } else { "a".repeat(len) };
            let mut f = RawBody(Some(serde_json::json!({ "name": &value }))).object().expect("object");
            let got = f.opt_string("name");
            if value.len() <= MAX_FIELD_BYTES {
                prop_assert_eq!(got.as_ref(), Some(&value));
                prop_assert!(f.finish().is_ok());
            } else {
                prop_assert_eq!(got, None);
                prop_assert_eq!(f.finish().expect_err("too big").status_code(), StatusCode::BAD_REQUEST);
            }
        }
    }
}
