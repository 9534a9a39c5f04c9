//! The rules, as pure functions: what becomes of one Supabase user, their password
//! hash, identities and profile. No I/O here, so every rule is unit-tested and the
//! import and the verification pass apply exactly the same ones.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use identity_core::password::{self, Scheme};
use identity_core::{email, limits, schema};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Our `identity.users.image` limit, in characters.
pub use identity_core::limits::IMAGE_MAX_CHARS as MAX_IMAGE_CHARS;
/// Our `identity.users.name` limit, in characters.
pub use identity_core::limits::NAME_MAX_CHARS as MAX_NAME_CHARS;
/// `raw_user_meta_data` keys tried for the name, in order; then the e-mail's local part.
pub const NAME_KEYS: [&str; 4] = ["full_name", "name", "user_name", "username"];
/// `raw_user_meta_data` keys tried for the image, in order.
pub const IMAGE_KEYS: [&str; 2] = ["avatar_url", "picture"];
/// Role given when the source has none (Supabase's own default).
pub const DEFAULT_ROLE: &str = "authenticated";
/// Stand-in for a missing `created_at` (deterministic, so re-runs agree).
const EPOCH: &str = "1970-01-01T00:00:00+00:00";

/// One `auth.users` row, as read (timestamps are `to_jsonb` strings in UTC).
#[derive(Debug, Clone, Default)]
pub struct SourceUser {
    pub id: Uuid,
    pub email: Option<String>,
    pub encrypted_password: Option<String>,
    pub email_confirmed: bool,
    pub raw_app_meta_data: Option<Value>,
    pub raw_user_meta_data: Option<Value>,
    pub role: Option<String>,
    pub created_at: Value,
    pub updated_at: Value,
    pub banned_until: Value,
    pub is_sso_user: bool,
    pub deleted: bool,
    pub is_anonymous: bool,
}

/// One `auth.identities` row.
#[derive(Debug, Clone)]
pub struct SourceIdentity {
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider: String,
    pub provider_id: String,
    pub created_at: Value,
    pub updated_at: Value,
}

/// Why a user is not imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// `deleted_at` is set: GoTrue already scrubbed the row.
    SoftDeleted,
    /// `is_anonymous`: no e-mail, nothing to sign in with.
    Anonymous,
    /// No e-mail (phone-only users): our users need one.
    NoEmail,
    /// An e-mail our schema cannot hold.
    InvalidEmail,
    /// Another user keeps this e-mail (see [`resolve_duplicates`]).
    DuplicateEmail { kept_by: Uuid },
    /// A user of ours that did not come from this import has the e-mail.
    EmailTaken { by: Uuid },
}

impl Skip {
    /// The report category.
    pub fn category(self) -> &'static str {
        match self {
            Skip::SoftDeleted => "soft_deleted",
            Skip::Anonymous => "anonymous",
            Skip::NoEmail => "no_email",
            Skip::InvalidEmail => "invalid_email",
            Skip::DuplicateEmail { .. } => "duplicate_email",
            Skip::EmailTaken { .. } => "email_taken",
        }
    }

    /// Human-readable reason for the report.
    pub fn detail(self) -> String {
        match self {
            Skip::SoftDeleted => "deleted in Supabase (deleted_at is set); not imported".into(),
            Skip::Anonymous => "anonymous user (is_anonymous); not imported".into(),
            Skip::NoEmail => "no e-mail (phone-only or empty); not imported".into(),
            Skip::InvalidEmail => "e-mail not storable (needs an @, 3-320 characters)".into(),
            Skip::DuplicateEmail { kept_by } => format!("e-mail kept by user {kept_by}"),
            Skip::EmailTaken { by } => format!("e-mail already belongs to user {by} here"),
        }
    }
}

/// Rules that need only the row itself, in order: soft-deleted, anonymous, no
/// e-mail, unstorable e-mail.
pub fn base_skip(u: &SourceUser) -> Option<Skip> {
    if u.deleted {
        return Some(Skip::SoftDeleted);
    }
    if u.is_anonymous {
        return Some(Skip::Anonymous);
    }
    match u.email.as_deref().map(str::trim) {
        None | Some("") => Some(Skip::NoEmail),
        Some(e) if !email::is_storable(&email::normalize(e)) => Some(Skip::InvalidEmail),
        Some(_) => None,
    }
}

/// The lower-cased e-mail we store (the auth-server's rule).
pub fn normalise_email(email: &str) -> String {
    email::normalize(email)
}

/// Duplicate e-mails (SSO users may share one with each other and with a password
/// user). Among the users that pass [`base_skip`], per lower-cased e-mail the
/// winner is: a non-SSO user before an SSO user, then a confirmed one before an
/// unconfirmed one, then the oldest `created_at`, then the smallest id. Returns
/// loser → winner.
pub fn resolve_duplicates(users: &[SourceUser]) -> HashMap<Uuid, Uuid> {
    let mut groups: HashMap<String, Vec<&SourceUser>> = HashMap::new();
    for u in users.iter().filter(|u| base_skip(u).is_none()) {
        if let Some(e) = &u.email {
            groups.entry(normalise_email(e)).or_default().push(u);
        }
    }
    let mut losers = HashMap::new();
    for (_, mut group) in groups {
        if group.len() < 2 {
            continue;
        }
        group.sort_by_key(|u| {
            (
                u.is_sso_user,
                !u.email_confirmed,
                sortable_time(&u.created_at),
                u.id,
            )
        });
        let winner = group[0].id;
        for u in &group[1..] {
            losers.insert(u.id, winner);
        }
    }
    losers
}

/// `-infinity` sorts first; missing, unparsable and `infinity` times sort last.
fn sortable_time(v: &Value) -> (u8, Option<DateTime<FixedOffset>>) {
    match v.as_str() {
        Some("-infinity") => (0, None),
        Some(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => (1, Some(t)),
            Err(_) => (2, None),
        },
        None => (2, None),
    }
}

/// The name: the first non-blank of `full_name`, `name`, `user_name`, `username`
/// in `raw_user_meta_data`, else the e-mail's local part; cut to 256 characters.
pub fn display_name(meta: Option<&Value>, email: &str) -> String {
    let from_meta = NAME_KEYS.iter().find_map(|k| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    });
    let name = from_meta.unwrap_or_else(|| email.split('@').next().unwrap_or(email));
    limits::truncate_name(name)
}

/// The image: the first non-blank `avatar_url` or `picture` of at most 2048
/// characters in `raw_user_meta_data`.
pub fn image(meta: Option<&Value>) -> Option<String> {
    IMAGE_KEYS.iter().find_map(|k| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty() && limits::image_fits(s))
            .map(str::to_owned)
    })
}

/// What the source's password column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordKind {
    /// bcrypt `$2a$`/`$2b$`/`$2y$`, cost ≤ 14: copied verbatim.
    Bcrypt(String),
    /// argon2i/argon2id PHC: copied verbatim.
    Argon2(String),
    /// NULL or empty: an OAuth, magic-link or SSO user.
    None,
    /// Supabase's column encryption `{"key_id",…,"alg":"aes-gcm-hkdf"}`: refused.
    Encrypted { key_id: String },
    /// A format the auth-server cannot verify (`$fbscrypt$`, `$2x$`, garbage): refused.
    Unsupported { prefix: String },
    /// bcrypt or argon2 declaring a cost over the auth-server's caps (and the
    /// table's CHECK): refused, the user imported without a credential.
    OverCostCap { costs: String },
    /// An SSO user's hash: SSO users never signed in with a password in Supabase.
    SsoIgnored,
}

impl PasswordKind {
    /// The hash to store, if any.
    pub fn hash(&self) -> Option<&str> {
        match self {
            PasswordKind::Bcrypt(h) | PasswordKind::Argon2(h) => Some(h),
            _ => None,
        }
    }
}

/// Reads `encrypted_password` (a hash, despite its name).
pub fn classify_password(u: &SourceUser) -> PasswordKind {
    let raw = u.encrypted_password.as_deref().unwrap_or("");
    if raw.trim().is_empty() {
        return PasswordKind::None;
    }
    if u.is_sso_user {
        return PasswordKind::SsoIgnored;
    }
    if raw.trim_start().starts_with('{') {
        if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(raw) {
            if o.get("alg").and_then(Value::as_str) == Some("aes-gcm-hkdf")
                || o.contains_key("key_id")
            {
                let key_id = o
                    .get("key_id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                return PasswordKind::Encrypted { key_id };
            }
        }
    }
    match password::scheme(raw) {
        Scheme::Bcrypt => PasswordKind::Bcrypt(raw.to_owned()),
        Scheme::Current | Scheme::Argon2Legacy => PasswordKind::Argon2(raw.to_owned()),
        Scheme::OverCostCap => PasswordKind::OverCostCap {
            costs: password::declared_costs(raw),
        },
        Scheme::Unsupported => PasswordKind::Unsupported {
            // Enough to recognise the scheme, never the hash itself.
            prefix: raw.chars().take_while(|c| *c != ',').take(12).collect(),
        },
    }
}

/// Our `identity.users` row for an imported user. Field names are column names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserValues {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub role: String,
    pub created_at: Value,
    pub updated_at: Value,
    pub app_metadata: Value,
    pub user_metadata: Value,
    pub banned_until: Value,
}

/// Maps a user that is imported. Also returns warnings (category, detail).
pub fn user_values(u: &SourceUser) -> (UserValues, Vec<(&'static str, String)>) {
    let mut warnings = Vec::new();
    let email = normalise_email(u.email.as_deref().unwrap_or(""));
    let meta = u.raw_user_meta_data.as_ref().filter(|v| !v.is_null());
    let mut object = |v: Option<&Value>, column: &str| match v {
        None | Some(Value::Null) => json!({}),
        Some(o @ Value::Object(_)) => o.clone(),
        Some(_) => {
            warnings.push((
                "metadata_not_object",
                format!("{column} is not a JSON object; stored as {{}}"),
            ));
            json!({})
        }
    };
    let app_metadata = object(u.raw_app_meta_data.as_ref(), "raw_app_meta_data");
    let user_metadata = object(u.raw_user_meta_data.as_ref(), "raw_user_meta_data");
    let created_at = [&u.created_at, &u.updated_at]
        .into_iter()
        .find(|v| v.is_string())
        .cloned()
        .unwrap_or_else(|| Value::from(EPOCH));
    let updated_at = if u.updated_at.is_string() {
        u.updated_at.clone()
    } else {
        created_at.clone()
    };
    let role = u
        .role
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty() && r.chars().count() <= limits::ROLE_MAX_CHARS)
        .unwrap_or(DEFAULT_ROLE)
        .to_owned();
    let values = UserValues {
        id: u.id,
        name: display_name(meta, &email),
        image: image(meta),
        email,
        email_verified: u.email_confirmed,
        role,
        created_at,
        updated_at,
        app_metadata,
        user_metadata,
        banned_until: u.banned_until.clone(),
    };
    (values, warnings)
}

impl UserValues {
    /// What a re-run compares: every copied column but `updated_at`.
    pub fn digest(&self) -> [u8; 32] {
        digest_of(&(
            &self.id,
            &self.name,
            &self.email,
            self.email_verified,
            &self.image,
            &self.role,
            &self.created_at,
            &self.app_metadata,
            &self.user_metadata,
            &self.banned_until,
        ))
    }
}

/// An `identity.accounts` row for an OAuth/SSO identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdentityValues {
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider_id: String,
    pub account_id: String,
    pub created_at: Value,
    pub updated_at: Value,
}

/// Identities become accounts, except `email` and `phone` (the password lives in
/// `encrypted_password`, which becomes the `credential` account). Returns the
/// accounts and the identities left out with a reason.
pub fn identity_values(
    identities: &[SourceIdentity],
    fallback_time: &Value,
) -> (Vec<IdentityValues>, Vec<(Uuid, String)>, usize) {
    let mut out = Vec::new();
    let mut refused = Vec::new();
    let mut not_needed = 0;
    for i in identities {
        if matches!(i.provider.as_str(), "email" | "phone") {
            not_needed += 1;
            continue;
        }
        let provider_ok = (1..=limits::PROVIDER_ID_MAX_CHARS).contains(&i.provider.chars().count())
            && i.provider != schema::CREDENTIAL_PROVIDER;
        let account_ok =
            (1..=limits::ACCOUNT_ID_MAX_CHARS).contains(&i.provider_id.chars().count());
        if !provider_ok || !account_ok {
            refused.push((
                i.id,
                format!(
                    "identity {} ({}) does not fit our accounts table",
                    i.id, i.provider
                ),
            ));
            continue;
        }
        let created_at = if i.created_at.is_string() {
            i.created_at.clone()
        } else {
            fallback_time.clone()
        };
        out.push(IdentityValues {
            id: i.id,
            user_id: i.user_id,
            provider_id: i.provider.clone(),
            account_id: i.provider_id.clone(),
            updated_at: if i.updated_at.is_string() {
                i.updated_at.clone()
            } else {
                created_at.clone()
            },
            created_at,
        });
    }
    out.sort_by_key(|i| i.id);
    (out, refused, not_needed)
}

/// Digest of a user's identities (`None` when there are none).
pub fn identities_digest(ids: &[IdentityValues]) -> Option<[u8; 32]> {
    if ids.is_empty() {
        return None;
    }
    let v: Vec<_> = ids
        .iter()
        .map(|i| {
            (
                &i.id,
                &i.user_id,
                &i.provider_id,
                &i.account_id,
                &i.created_at,
            )
        })
        .collect();
    Some(digest_of(&v))
}

/// How a target profile column takes a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    TextArray,
    /// Anything else: the JSON value is handed to Postgres as it is.
    Other,
}

impl ColumnKind {
    /// From `format_type` output.
    pub fn of_sql_type(sql: &str) -> Self {
        match sql {
            "text" => ColumnKind::Text,
            "text[]" => ColumnKind::TextArray,
            s if s.starts_with("character varying") && !s.ends_with("[]") => ColumnKind::Text,
            s if s.starts_with("character varying") => ColumnKind::TextArray,
            _ => ColumnKind::Other,
        }
    }
}

/// Converts a source value (`to_jsonb` of any column) for a target column.
/// Blank strings become NULL; a comma-separated string fills a `text[]`.
pub fn convert_value(v: &Value, kind: &ColumnKind) -> Result<Value, String> {
    match (kind, v) {
        (_, Value::Null) => Ok(Value::Null),
        (ColumnKind::Text, Value::String(s)) if s.trim().is_empty() => Ok(Value::Null),
        (ColumnKind::Text, Value::String(_)) => Ok(v.clone()),
        (ColumnKind::Text, Value::Number(_) | Value::Bool(_)) => Ok(Value::from(v.to_string())),
        (ColumnKind::Text, _) => Err("a JSON array/object cannot fill a text column".into()),
        (ColumnKind::TextArray, Value::Array(items)) => Ok(Value::Array(
            items
                .iter()
                .filter(|i| !i.is_null())
                .map(|i| match i {
                    Value::String(s) => Value::from(s.trim()),
                    other => Value::from(other.to_string()),
                })
                .filter(|i| i.as_str().is_some_and(|s| !s.is_empty()))
                .collect(),
        )),
        (ColumnKind::TextArray, Value::String(s)) => Ok(Value::Array(
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Value::from)
                .collect(),
        )),
        (ColumnKind::TextArray, _) => {
            Err("only an array or a comma-separated string can fill a text[] column".into())
        }
        (ColumnKind::Other, _) => Ok(v.clone()),
    }
}

/// Digest of a mapped profile: sorted (column, value) pairs.
pub fn profile_digest(values: &[(String, Value)]) -> [u8; 32] {
    let mut pairs: Vec<&(String, Value)> = values.iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    digest_of(&pairs)
}

/// SHA-256 of a value's JSON serialization, streamed (no intermediate string).
/// Objects that come from Postgres `jsonb` always list their keys in jsonb's own
/// order, so equal values serialize equally.
pub fn digest_of<T: Serialize + ?Sized>(v: &T) -> [u8; 32] {
    let mut w = HashWriter(Sha256::new());
    // Writing into a hasher cannot fail; serialising our own types cannot either.
    let _ = serde_json::to_writer(&mut w, v);
    w.0.finalize().into()
}

/// Feeds whatever is written into a SHA-256.
pub struct HashWriter(pub Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// SHA-256 of a value's canonical JSON (object keys sorted at every level).
pub fn digest(v: &Value) -> [u8; 32] {
    Sha256::digest(canonical(v).as_bytes()).into()
}

/// JSON with object keys sorted at every level, so equal values hash equally
/// whatever order their keys came in.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(k.as_str()).to_string());
                out.push(':');
                write_canonical(&o[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: &str) -> SourceUser {
        SourceUser {
            id: Uuid::new_v4(),
            email: Some(email.into()),
            email_confirmed: true,
            created_at: json!("2024-01-01T00:00:00+00:00"),
            ..SourceUser::default()
        }
    }

    #[test]
    fn base_rules_come_in_order() {
        let mut u = user("a@example.com");
        assert_eq!(base_skip(&u), None);
        u.is_anonymous = true;
        u.deleted = true;
        assert_eq!(base_skip(&u), Some(Skip::SoftDeleted));
        u.deleted = false;
        assert_eq!(base_skip(&u), Some(Skip::Anonymous));
        u.is_anonymous = false;
        u.email = None;
        assert_eq!(base_skip(&u), Some(Skip::NoEmail));
        u.email = Some(" ".into());
        assert_eq!(base_skip(&u), Some(Skip::NoEmail));
        u.email = Some("no-at-sign".into());
        assert_eq!(base_skip(&u), Some(Skip::InvalidEmail));
        u.email = Some("a b@example.com".into());
        assert_eq!(base_skip(&u), Some(Skip::InvalidEmail));
    }

    #[test]
    fn duplicates_prefer_non_sso_then_confirmed_then_oldest() {
        let mut sso_old = user("Shared@Corp.example");
        sso_old.is_sso_user = true;
        sso_old.created_at = json!("2020-01-01T00:00:00+00:00");
        let mut unconfirmed = user("shared@corp.example");
        unconfirmed.email_confirmed = false;
        unconfirmed.created_at = json!("2021-01-01T00:00:00+00:00");
        let mut winner = user("shared@corp.example");
        winner.created_at = json!("2023-01-01T00:00:00.5+00:00");
        let mut younger = user("SHARED@corp.example");
        younger.created_at = json!("2023-01-01T00:00:00.75+00:00");
        let mut deleted = user("shared@corp.example");
        deleted.deleted = true;
        let lone = user("lone@corp.example");
        let all = [
            sso_old.clone(),
            unconfirmed.clone(),
            winner.clone(),
            younger.clone(),
            deleted.clone(),
            lone,
        ];
        let losers = resolve_duplicates(&all);
        assert_eq!(losers.len(), 3);
        for l in [&sso_old, &unconfirmed, &younger] {
            assert_eq!(losers[&l.id], winner.id);
        }
        assert!(
            !losers.contains_key(&deleted.id),
            "already skipped by base rules"
        );
    }

    #[test]
    fn name_and_image_follow_the_documented_keys() {
        let meta = json!({"name": "  ", "user_name": "octo", "picture": "https://p/x.png"});
        assert_eq!(display_name(Some(&meta), "a@b.c"), "octo");
        let meta = json!({"full_name": "Ada L", "name": "ada"});
        assert_eq!(display_name(Some(&meta), "a@b.c"), "Ada L");
        assert_eq!(display_name(None, "grace.h@example.com"), "grace.h");
        assert_eq!(
            display_name(Some(&json!({"full_name": "x".repeat(300)})), "a@b").len(),
            256
        );
        assert_eq!(image(Some(&meta)), None);
        let both = json!({"avatar_url": "https://a/1.png", "picture": "https://p/2.png"});
        assert_eq!(image(Some(&both)).as_deref(), Some("https://a/1.png"));
        let long = json!({"avatar_url": "x".repeat(3000), "picture": "https://p/2.png"});
        assert_eq!(image(Some(&long)).as_deref(), Some("https://p/2.png"));
    }

    #[test]
    fn password_column_is_classified() {
        let mut u = user("a@b.c");
        let bcrypt = format!("$2a$10${}", "a".repeat(53));
        for (raw, sso, expect) in [
            (None, false, PasswordKind::None),
            (Some(""), false, PasswordKind::None),
            (
                Some(bcrypt.as_str()),
                false,
                PasswordKind::Bcrypt(bcrypt.clone()),
            ),
            (Some(bcrypt.as_str()), true, PasswordKind::SsoIgnored),
            (
                Some(r#"{"key_id":"k1","alg":"aes-gcm-hkdf","data":"Zm9v","nonce":"YmFy"}"#),
                false,
                PasswordKind::Encrypted {
                    key_id: "k1".into(),
                },
            ),
            (
                Some("$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk=a$c2FsdA==$aGFzaA=="),
                false,
                PasswordKind::Unsupported {
                    prefix: "$fbscrypt$v=".into(),
                },
            ),
        ] {
            u.encrypted_password = raw.map(str::to_owned);
            u.is_sso_user = sso;
            assert_eq!(classify_password(&u), expect, "{raw:?}");
        }
    }

    #[test]
    fn user_values_keep_the_two_metadata_blobs_apart() {
        let mut u = user("MiXeD@Example.COM");
        u.raw_app_meta_data = Some(json!({"provider": "email", "roles": ["admin"]}));
        u.raw_user_meta_data =
            Some(json!({"full_name": "Mixed Case", "roles": ["user-wrote-this"]}));
        u.role = Some("".into());
        u.banned_until = json!("infinity");
        let (v, warnings) = user_values(&u);
        assert!(warnings.is_empty());
        assert_eq!(v.email, "mixed@example.com");
        assert_eq!(v.name, "Mixed Case");
        assert_eq!(v.role, DEFAULT_ROLE);
        assert_eq!(v.app_metadata["roles"], json!(["admin"]));
        assert_eq!(v.user_metadata["roles"], json!(["user-wrote-this"]));
        assert_eq!(v.updated_at, v.created_at);
        u.raw_app_meta_data = Some(json!("not an object"));
        let (v2, warnings) = user_values(&u);
        assert_eq!(warnings.len(), 1);
        assert_eq!(v2.app_metadata, json!({}));
        assert_ne!(v.digest(), v2.digest());
    }

    #[test]
    fn values_convert_by_column_kind() {
        assert_eq!(
            convert_value(&json!(""), &ColumnKind::Text),
            Ok(Value::Null)
        );
        assert_eq!(
            convert_value(&json!(42), &ColumnKind::Text),
            Ok(json!("42"))
        );
        assert!(convert_value(&json!({"a": 1}), &ColumnKind::Text).is_err());
        assert_eq!(
            convert_value(&json!("rust, go ,,"), &ColumnKind::TextArray),
            Ok(json!(["rust", "go"]))
        );
        assert_eq!(
            convert_value(&json!(["c", null, 3]), &ColumnKind::TextArray),
            Ok(json!(["c", "3"]))
        );
        assert_eq!(
            ColumnKind::of_sql_type("character varying(20)[]"),
            ColumnKind::TextArray
        );
    }

    #[test]
    fn canonical_json_ignores_key_order() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"y":[1,{"d":2,"c":3}],"x":null}}"#).expect("json");
        let b: Value =
            serde_json::from_str(r#"{"a":{"x":null,"y":[1,{"c":3,"d":2}]},"b":1}"#).expect("json");
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(
            canonical(&a),
            r#"{"a":{"x":null,"y":[1,{"c":3,"d":2}]},"b":1}"#
        );
        assert_eq!(
            profile_digest(&[("a".into(), json!(1)), ("b".into(), json!(2))]),
            profile_digest(&[("b".into(), json!(2)), ("a".into(), json!(1))])
        );
    }
}
