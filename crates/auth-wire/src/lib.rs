//! Wire types: the JSON the `better-auth` client reads from the auth-server, the
//! error body every service answers with, and the JWT claims backends receive.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

/// Every 4xx/5xx body of our services: `{"message": "...", "code": "..."}`. Better
/// Auth omits `code` on a few errors (429, "No fields to update"); we always send
/// one, and its client reads only `message` and the status there.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Human-readable explanation.
    pub message: String,
    /// Stable, machine-readable code (`INVALID_EMAIL_OR_PASSWORD`, …).
    #[serde(default)]
    pub code: String,
}

/// Serialises a timestamp the way JavaScript's `toISOString()` does
/// (`2026-11-26T13:14:00.467Z`), which the client revives into a `Date`.
pub fn iso_millis<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The user object of `get-session`, `sign-in`, `sign-up`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    #[serde(serialize_with = "iso_millis")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "iso_millis")]
    pub updated_at: DateTime<Utc>,
}

/// The session object of `get-session` and `list-sessions`.
///
/// `token` is the bearer token only in `get-session` (the caller's own); in
/// `list-sessions` it is a revocation handle that authenticates nothing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub token: String,
    #[serde(serialize_with = "iso_millis")]
    pub expires_at: DateTime<Utc>,
    #[serde(serialize_with = "iso_millis")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "iso_millis")]
    pub updated_at: DateTime<Utc>,
    pub ip_address: String,
    pub user_agent: String,
}

/// Body of a successful `get-session`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionWithUser {
    pub session: Session,
    pub user: User,
}

/// Body of a successful `sign-up/email` (and `change-password`, where `token` may be null).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenAndUser {
    pub token: Option<String>,
    pub user: User,
}

/// Body of a successful `sign-in/email`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInResponse {
    pub redirect: bool,
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub user: User,
}

/// One way a user signs in, as `GET /list-accounts` lists it. `id` is the row id
/// (what `unlink-account` takes); `accountId` the provider's subject (the user id
/// for `credential`). Never a token or a password.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkedAccount {
    pub id: Uuid,
    pub provider_id: String,
    pub account_id: String,
    pub user_id: Uuid,
    #[serde(serialize_with = "iso_millis")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "iso_millis")]
    pub updated_at: DateTime<Utc>,
    pub scopes: Vec<String>,
}

/// The answer of `sign-in/social` and `link-social`: the provider's authorization
/// URL, and whether the client should go there (`false` with `disableRedirect`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SocialRedirect {
    pub url: String,
    pub redirect: bool,
}

/// `{"status": true}` (and an optional message), the answer of the mail flows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusBody {
    pub status: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl StatusBody {
    /// `{"status": true}`.
    pub fn ok() -> Self {
        Self {
            status: true,
            message: None,
        }
    }
}

/// `{"success": true, "message": …}`, the answer of `delete-user`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SuccessBody {
    pub success: bool,
    pub message: String,
}

/// Body of `GET /api/auth/token`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JwtResponse {
    pub token: String,
}

/// `aud` as JWTs carry it: one string, or an array when several audiences are set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` names the given audience.
    pub fn contains(&self, wanted: &str) -> bool {
        match self {
            Audience::One(a) => a == wanted,
            Audience::Many(list) => list.iter().any(|a| a == wanted),
        }
    }
}

/// Claims of the RS256 access tokens the auth-server mints: Better Auth's (the whole
/// user plus `sub`, `iat`, `exp`, `iss`, `aud`) and `nbf`, `jti`, `sid`, `role`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AccessClaims {
    pub iss: String,
    pub aud: Audience,
    pub sub: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    pub sid: Uuid,
    pub role: String,
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// The claims of a service access token (OAuth 2.0 client credentials, RFC 9068
/// `typ: at+jwt`): the caller is a registered client, not a learner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceClaims {
    pub iss: String,
    pub aud: Audience,
    /// The client id (also `client_id`).
    pub sub: String,
    pub client_id: String,
    /// Space-separated scopes granted.
    pub scope: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

impl ServiceClaims {
    /// The granted scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_ascii_whitespace()
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dates_are_iso_millis_with_z() {
        let t = Utc
            .timestamp_millis_opt(1_795_698_840_467)
            .single()
            .expect("valid");
        let user = User {
            id: Uuid::nil(),
            name: "A".into(),
            email: "a@example.com".into(),
            email_verified: false,
            image: None,
            created_at: t,
            updated_at: t,
        };
        let json = serde_json::to_value(&user).expect("serialises");
        assert_eq!(json["createdAt"], "2026-11-26T13:14:00.467Z");
        assert_eq!(json["image"], serde_json::Value::Null);
        assert_eq!(json["emailVerified"], false);
    }

    #[test]
    fn audience_accepts_string_or_array() {
        let one: Audience = serde_json::from_str("\"a\"").expect("string");
        let many: Audience = serde_json::from_str("[\"a\",\"b\"]").expect("array");
        assert!(one.contains("a") && !one.contains("b"));
        assert!(many.contains("b") && !many.contains("c"));
    }
}
