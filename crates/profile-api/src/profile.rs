//! The learner profile: its JSON shape, its rules, and how PUT and PATCH bodies
//! become validated changes ("parse, don't validate": the database layer only ever
//! sees a [`ProfilePatch`] whose values passed every rule).
//!
//! The rules mirror the CHECK constraints of `migrations/V3__learner_profiles.sql`
//! (so a bad value is a 422 naming its field, never a 500) and add a few the
//! database does not check (entry lengths, control characters, URL syntax).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::ApiError;

/// Self-assessed experience, for the software and the hardware side alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The default.
    #[default]
    None,
    /// Some exposure.
    Beginner,
    /// Has built things.
    Intermediate,
    /// Works in the field.
    Advanced,
}

impl Level {
    const ALL: [Level; 4] = [
        Level::None,
        Level::Beginner,
        Level::Intermediate,
        Level::Advanced,
    ];

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Beginner => "beginner",
            Level::Intermediate => "intermediate",
            Level::Advanced => "advanced",
        }
    }

    /// The level named `s` (exactly, lower-case).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// Limits, in characters (Unicode scalar values, which is what Postgres `length()`
/// counts in a UTF-8 database).
pub mod limits {
    /// `display_name`: 1 ..= this.
    pub const DISPLAY_NAME: usize = 100;
    /// `bio`.
    pub const BIO: usize = 2000;
    /// `avatar_url`.
    pub const AVATAR_URL: usize = 2048;
    /// `learning_goals`.
    pub const LEARNING_GOALS: usize = 2000;
    /// Entries of `programming_languages`.
    pub const LANGUAGES: usize = 30;
    /// Characters per `programming_languages` entry.
    pub const LANGUAGE_ENTRY: usize = 40;
    /// `preferred_language`.
    pub const LANGUAGE_TAG: usize = 35;
}

/// `preferred_language` when none is given.
pub const DEFAULT_LANGUAGE: &str = "en";

/// A profile as the API returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Profile {
    /// The owner: `identity.users.id`, the token's `sub`.
    pub user_id: Uuid,
    /// Name shown in the book's UI.
    pub display_name: Option<String>,
    /// Free text about the learner.
    pub bio: Option<String>,
    /// Absolute http(s) URL of a picture.
    pub avatar_url: Option<String>,
    /// Experience with software.
    pub software_background: Level,
    /// Experience with hardware and electronics.
    pub hardware_background: Level,
    /// Languages the learner knows, in their order.
    pub programming_languages: Vec<String>,
    /// What the learner wants from the book.
    pub learning_goals: Option<String>,
    /// BCP 47 tag, stored in canonical case (`pt-BR`, `zh-Hant-TW`).
    pub preferred_language: String,
    /// When the profile was created (`2026-11-26T13:14:00.467Z`).
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "auth_wire::iso_millis")]
    pub created_at: DateTime<Utc>,
    /// When it was last written.
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "auth_wire::iso_millis")]
    pub updated_at: DateTime<Utc>,
}

/// Validated changes: `None` leaves a field as it is, `Some` sets it (a reset to
/// the default is `Some(default)`). A PUT is the patch that sets every field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    /// `display_name`, if the body names it.
    pub display_name: Option<Option<String>>,
    /// `bio`, if the body names it.
    pub bio: Option<Option<String>>,
    /// `avatar_url`, if the body names it.
    pub avatar_url: Option<Option<String>>,
    /// `software_background`, if the body names it.
    pub software_background: Option<Level>,
    /// `hardware_background`, if the body names it.
    pub hardware_background: Option<Level>,
    /// `programming_languages`, if the body names it.
    pub programming_languages: Option<Vec<String>>,
    /// `learning_goals`, if the body names it.
    pub learning_goals: Option<Option<String>>,
    /// `preferred_language`, if the body names it.
    pub preferred_language: Option<String>,
}

/// A complete set of writable values (what a PUT stores).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileFields {
    /// `display_name`.
    pub display_name: Option<String>,
    /// `bio`.
    pub bio: Option<String>,
    /// `avatar_url`.
    pub avatar_url: Option<String>,
    /// `software_background`.
    pub software_background: Level,
    /// `hardware_background`.
    pub hardware_background: Level,
    /// `programming_languages`.
    pub programming_languages: Vec<String>,
    /// `learning_goals`.
    pub learning_goals: Option<String>,
    /// `preferred_language`.
    pub preferred_language: String,
}

impl Default for ProfileFields {
    /// The column defaults of `learner.profiles`.
    fn default() -> Self {
        Self {
            display_name: None,
            bio: None,
            avatar_url: None,
            software_background: Level::None,
            hardware_background: Level::None,
            programming_languages: Vec::new(),
            learning_goals: None,
            preferred_language: DEFAULT_LANGUAGE.to_owned(),
        }
    }
}

/// Fields a client may write, in the order they are validated (so the reported
/// error is deterministic).
const WRITABLE: [&str; 8] = [
    "display_name",
    "bio",
    "avatar_url",
    "software_background",
    "hardware_background",
    "programming_languages",
    "learning_goals",
    "preferred_language",
];

/// Fields we return but never take.
const READ_ONLY: [&str; 3] = ["user_id", "created_at", "updated_at"];

impl ProfilePatch {
    /// Reads a JSON merge patch (RFC 7396) of a profile: an absent member leaves
    /// the field alone, `null` resets it to its default, any other value replaces
    /// it. The first broken rule is reported, naming its field.
    pub fn from_json(body: Value) -> Result<Self, ApiError> {
        let Value::Object(mut map) = body else {
            return Err(ApiError::Validation {
                field: None,
                message: "body must be a JSON object".into(),
            });
        };
        reject_unknown(&map)?;
        let mut patch = ProfilePatch::default();
        let mut take = |name: &str| map.remove(name);
        if let Some(v) = take("display_name") {
            patch.display_name = Some(nullable(v, "display_name", display_name)?);
        }
        if let Some(v) = take("bio") {
            patch.bio = Some(nullable(v, "bio", |f, s| long_text(f, s, limits::BIO))?);
        }
        if let Some(v) = take("avatar_url") {
            patch.avatar_url = Some(nullable(v, "avatar_url", avatar_url)?);
        }
        if let Some(v) = take("software_background") {
            patch.software_background = Some(level(v, "software_background")?);
        }
        if let Some(v) = take("hardware_background") {
            patch.hardware_background = Some(level(v, "hardware_background")?);
        }
        if let Some(v) = take("programming_languages") {
            patch.programming_languages = Some(programming_languages(v)?);
        }
        if let Some(v) = take("learning_goals") {
            patch.learning_goals = Some(nullable(v, "learning_goals", |f, s| {
                long_text(f, s, limits::LEARNING_GOALS)
            })?);
        }
        if let Some(v) = take("preferred_language") {
            patch.preferred_language = Some(match v {
                Value::Null => DEFAULT_LANGUAGE.to_owned(),
                v => language_tag(string(v, "preferred_language")?)?,
            });
        }
        Ok(patch)
    }

    /// The full record a PUT stores: every field the body left out takes its default.
    pub fn into_replacement(self) -> ProfileFields {
        let d = ProfileFields::default();
        ProfileFields {
            display_name: self.display_name.unwrap_or(d.display_name),
            bio: self.bio.unwrap_or(d.bio),
            avatar_url: self.avatar_url.unwrap_or(d.avatar_url),
            software_background: self.software_background.unwrap_or(d.software_background),
            hardware_background: self.hardware_background.unwrap_or(d.hardware_background),
            programming_languages: self
                .programming_languages
                .unwrap_or(d.programming_languages),
            learning_goals: self.learning_goals.unwrap_or(d.learning_goals),
            preferred_language: self.preferred_language.unwrap_or(d.preferred_language),
        }
    }
}

impl From<ProfileFields> for ProfilePatch {
    /// The patch that sets every field (a PUT on an existing profile).
    fn from(f: ProfileFields) -> Self {
        ProfilePatch {
            display_name: Some(f.display_name),
            bio: Some(f.bio),
            avatar_url: Some(f.avatar_url),
            software_background: Some(f.software_background),
            hardware_background: Some(f.hardware_background),
            programming_languages: Some(f.programming_languages),
            learning_goals: Some(f.learning_goals),
            preferred_language: Some(f.preferred_language),
        }
    }
}

fn reject_unknown(map: &Map<String, Value>) -> Result<(), ApiError> {
    for key in map.keys() {
        if WRITABLE.contains(&key.as_str()) {
            continue;
        }
        if READ_ONLY.contains(&key.as_str()) {
            return Err(ApiError::invalid(key, "is read-only"));
        }
        // Echo the name, but bounded and printable: it is attacker-controlled.
        let shown: String = key
            .chars()
            .take(64)
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        return Err(ApiError::invalid(&shown, "unknown field"));
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string(v: Value, field: &str) -> Result<String, ApiError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(ApiError::invalid(
            field,
            format!("must be a string, not {}", type_name(&other)),
        )),
    }
}

/// `null` → `None`; a string → checked by `check`.
fn nullable(
    v: Value,
    field: &str,
    check: impl FnOnce(&str, String) -> Result<String, ApiError>,
) -> Result<Option<String>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => check(field, s).map(Some),
        other => Err(ApiError::invalid(
            field,
            format!("must be a string or null, not {}", type_name(&other)),
        )),
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Control characters break layouts and logs, and Postgres text cannot hold NUL.
fn has_control(s: &str, allow_line_breaks: bool) -> bool {
    s.chars()
        .any(|c| c.is_control() && !(allow_line_breaks && matches!(c, '\n' | '\r' | '\t')))
}

fn display_name(field: &str, s: String) -> Result<String, ApiError> {
    let n = chars(&s);
    if n == 0 || n > limits::DISPLAY_NAME {
        return Err(ApiError::invalid(
            field,
            format!("must be 1 to {} characters", limits::DISPLAY_NAME),
        ));
    }
    if s.trim().is_empty() {
        return Err(ApiError::invalid(field, "must not be blank"));
    }
    if has_control(&s, false) {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(s)
}

fn long_text(field: &str, s: String, max: usize) -> Result<String, ApiError> {
    if chars(&s) > max {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if has_control(&s, true) {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(s)
}

/// An absolute http(s) URL without credentials. Stored as given, except that the
/// scheme is lower-cased (the column's CHECK is `^https?://`).
fn avatar_url(field: &str, s: String) -> Result<String, ApiError> {
    let not_url = || ApiError::invalid(field, "must be an absolute http or https URL");
    if chars(&s) > limits::AVATAR_URL {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {} characters", limits::AVATAR_URL),
        ));
    }
    // The URL parser silently drops tabs, newlines and surrounding spaces; we
    // store the raw string, so it must not contain any.
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(not_url());
    }
    let scheme_len = match s.get(..8) {
        Some(p) if p.eq_ignore_ascii_case("https://") => 5,
        _ => match s.get(..7) {
            Some(p) if p.eq_ignore_ascii_case("http://") => 4,
            _ => return Err(not_url()),
        },
    };
    let url = url::Url::parse(&s).map_err(|_| not_url())?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(not_url());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::invalid(field, "must not contain credentials"));
    }
    Ok(format!(
        "{}{}",
        s[..scheme_len].to_ascii_lowercase(),
        &s[scheme_len..]
    ))
}

fn level(v: Value, field: &str) -> Result<Level, ApiError> {
    let rule = "must be one of none, beginner, intermediate, advanced";
    match v {
        Value::Null => Ok(Level::default()),
        Value::String(s) => Level::parse(&s).ok_or_else(|| ApiError::invalid(field, rule)),
        _ => Err(ApiError::invalid(field, rule)),
    }
}

fn programming_languages(v: Value) -> Result<Vec<String>, ApiError> {
    const FIELD: &str = "programming_languages";
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(ApiError::invalid(
                FIELD,
                format!("must be an array of strings, not {}", type_name(&other)),
            ))
        }
    };
    if items.len() > limits::LANGUAGES {
        return Err(ApiError::invalid(
            FIELD,
            format!("must have at most {} entries", limits::LANGUAGES),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(s) = item else {
            return Err(ApiError::invalid(FIELD, "entries must be strings"));
        };
        let n = chars(&s);
        if n == 0 || n > limits::LANGUAGE_ENTRY || s.trim().is_empty() {
            return Err(ApiError::invalid(
                FIELD,
                format!("entries must be 1 to {} characters", limits::LANGUAGE_ENTRY),
            ));
        }
        if has_control(&s, false) {
            return Err(ApiError::invalid(
                FIELD,
                "entries must not contain control characters",
            ));
        }
        if out.contains(&s) {
            return Err(ApiError::invalid(FIELD, "must not contain duplicates"));
        }
        out.push(s);
    }
    Ok(out)
}

/// A BCP 47 tag in the shape the column accepts (`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$`,
/// at most 35 characters), returned in the canonical case of RFC 5646 §2.1.1:
/// language lower, script title, region upper (`zh-hant-tw` → `zh-Hant-TW`).
pub fn language_tag(s: String) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::invalid(
            "preferred_language",
            "must be a BCP 47 language tag such as en, ur or pt-BR",
        )
    };
    if s.is_empty() || s.len() > limits::LANGUAGE_TAG {
        return Err(invalid());
    }
    let mut out = String::with_capacity(s.len());
    let mut after_singleton = false;
    for (i, sub) in s.split('-').enumerate() {
        let ok = if i == 0 {
            (2..=3).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphabetic())
        } else {
            (1..=8).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if !ok {
            return Err(invalid());
        }
        if i > 0 {
            out.push('-');
        }
        let alpha = sub.bytes().all(|b| b.is_ascii_alphabetic());
        if i > 0 && !after_singleton && alpha && sub.len() == 4 {
            // Script: title case.
            out.push_str(&sub[..1].to_ascii_uppercase());
            out.push_str(&sub[1..].to_ascii_lowercase());
        } else if i > 0
            && !after_singleton
            && ((alpha && sub.len() == 2)
                || (sub.len() == 3 && sub.bytes().all(|b| b.is_ascii_digit())))
        {
            // Region: upper case (digits are unaffected).
            out.push_str(&sub.to_ascii_uppercase());
        } else {
            out.push_str(&sub.to_ascii_lowercase());
        }
        // Everything after an extension or private-use singleton is lower case.
        after_singleton |= i > 0 && sub.len() == 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(err: ApiError) -> (Option<String>, String) {
        match err {
            ApiError::Validation { field, message } => (field, message),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn absent_null_and_values_follow_merge_patch() {
        let patch = ProfilePatch::from_json(json!({
            "display_name": "Ada",
            "bio": null,
            "software_background": "advanced",
            "hardware_background": null,
            "programming_languages": ["Rust", "C++"],
            "preferred_language": null,
        }))
        .expect("valid");
        assert_eq!(patch.display_name, Some(Some("Ada".into())));
        assert_eq!(patch.bio, Some(None));
        assert_eq!(patch.avatar_url, None, "absent stays untouched");
        assert_eq!(patch.software_background, Some(Level::Advanced));
        assert_eq!(patch.hardware_background, Some(Level::None));
        assert_eq!(
            patch.programming_languages,
            Some(vec!["Rust".to_owned(), "C++".to_owned()])
        );
        assert_eq!(patch.learning_goals, None);
        assert_eq!(patch.preferred_language, Some("en".into()));
    }

    #[test]
    fn replacement_defaults_every_absent_field() {
        let full = ProfilePatch::from_json(json!({"display_name": "Bench User 1", "bio": "..."}))
            .expect("valid")
            .into_replacement();
        assert_eq!(
            full,
            ProfileFields {
                display_name: Some("Bench User 1".into()),
                bio: Some("...".into()),
                ..ProfileFields::default()
            }
        );
    }

    #[test]
    fn every_rule_names_its_field() {
        let long = |n: usize| "x".repeat(n);
        let cases = [
            (json!({"display_name": ""}), "display_name"),
            (json!({"display_name": long(101)}), "display_name"),
            (json!({"display_name": "   "}), "display_name"),
            (json!({"display_name": "a\u{7}b"}), "display_name"),
            (json!({"display_name": 5}), "display_name"),
            (json!({"bio": long(2001)}), "bio"),
            (json!({"bio": "nul\u{0}byte"}), "bio"),
            (
                json!({"avatar_url": "ftp://example.com/a.png"}),
                "avatar_url",
            ),
            (json!({"avatar_url": "https:example.com"}), "avatar_url"),
            (json!({"avatar_url": " https://example.com"}), "avatar_url"),
            (
                json!({"avatar_url": "https://u:p@example.com/"}),
                "avatar_url",
            ),
            (
                json!({"avatar_url": format!("https://e.com/{}", long(2048))}),
                "avatar_url",
            ),
            (
                json!({"software_background": "expert"}),
                "software_background",
            ),
            (
                json!({"hardware_background": "Advanced"}),
                "hardware_background",
            ),
            (json!({"hardware_background": 3}), "hardware_background"),
            (
                json!({"programming_languages": "Rust"}),
                "programming_languages",
            ),
            (
                json!({"programming_languages": [1]}),
                "programming_languages",
            ),
            (
                json!({"programming_languages": [""]}),
                "programming_languages",
            ),
            (
                json!({"programming_languages": [long(41)]}),
                "programming_languages",
            ),
            (
                json!({"programming_languages": vec!["a"; 31]}),
                "programming_languages",
            ),
            (
                json!({"programming_languages": ["Go", "Go"]}),
                "programming_languages",
            ),
            (json!({"learning_goals": long(2001)}), "learning_goals"),
            (
                json!({"preferred_language": "english"}),
                "preferred_language",
            ),
            (json!({"preferred_language": "e"}), "preferred_language"),
            (json!({"preferred_language": "en_US"}), "preferred_language"),
            (json!({"preferred_language": "en-"}), "preferred_language"),
            (
                json!({"preferred_language": "en-abcdefghi"}),
                "preferred_language",
            ),
            (json!({"preferred_language": 1}), "preferred_language"),
            (json!({"nickname": "x"}), "nickname"),
            (
                json!({"created_at": "2026-01-01T00:00:00.000Z"}),
                "created_at",
            ),
            (json!({"user_id": "x"}), "user_id"),
        ];
        for (body, field) in cases {
            let (got, message) = field_of(ProfilePatch::from_json(body.clone()).expect_err(field));
            assert_eq!(got.as_deref(), Some(field), "{body}");
            assert!(message.starts_with(&format!("{field}: ")), "{message}");
        }
    }

    #[test]
    fn non_objects_are_rejected_without_a_field() {
        for body in [json!([]), json!("x"), json!(null), json!(1)] {
            let (field, message) = field_of(ProfilePatch::from_json(body).expect_err("object"));
            assert_eq!(field, None);
            assert_eq!(message, "body must be a JSON object");
        }
    }

    #[test]
    fn long_unknown_field_names_are_truncated() {
        let name = format!("{}\n", "k".repeat(500));
        let (field, _) = field_of(
            ProfilePatch::from_json(Value::Object(Map::from_iter([(name, json!(1))])))
                .expect_err("unknown"),
        );
        assert_eq!(field.expect("field").chars().count(), 64);
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        let name = "é".repeat(100);
        let patch = ProfilePatch::from_json(json!({"display_name": name})).expect("100 chars");
        assert_eq!(patch.display_name, Some(Some(name)));
        assert!(ProfilePatch::from_json(json!({"display_name": "é".repeat(101)})).is_err());
    }

    #[test]
    fn language_tags_are_canonicalised() {
        for (input, canonical) in [
            ("en", "en"),
            ("UR", "ur"),
            ("pt-br", "pt-BR"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("sr-LATN", "sr-Latn"),
            ("es-419", "es-419"),
            ("en-US-x-TWAIN", "en-US-x-twain"),
        ] {
            assert_eq!(language_tag(input.into()).expect(input), canonical);
        }
        assert!(language_tag(format!("en-{}", ["abcdefgh"; 4].join("-"))).is_err());
    }

    #[test]
    fn avatar_scheme_is_lower_cased_and_the_rest_kept() {
        let patch = ProfilePatch::from_json(json!({"avatar_url": "HTTPS://Example.com/A.png?x=1"}))
            .expect("valid");
        assert_eq!(
            patch.avatar_url,
            Some(Some("https://Example.com/A.png?x=1".into()))
        );
    }

    #[test]
    fn line_breaks_are_fine_in_long_text() {
        let patch = ProfilePatch::from_json(json!({"bio": "line 1\nline 2\ttab"})).expect("ok");
        assert_eq!(patch.bio, Some(Some("line 1\nline 2\ttab".into())));
    }
}
