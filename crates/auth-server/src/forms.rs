//! Request bodies as types. Each form reads its fields with zod-like errors (see
//! [`crate::body`]) and parses them into domain values that cannot be invalid
//! ([`Email`], [`DisplayName`], [`CallbackUrl`], …), so a handler never sees a raw
//! string it still has to check. The same types describe the bodies in the
//! OpenAPI document, so the document and the parser cannot drift.

use actix_web::http::header::HeaderValue;
use utoipa::ToSchema;

use crate::body::{Accepts, Fields};
use crate::error::ApiError;
use crate::state::AppState;

use identity_core::limits::{self, IMAGE_MAX_CHARS, NAME_MAX_CHARS};

/// Which origin rule guards a form's endpoint (see [`crate::csrf`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginRule {
    /// Sign-in and sign-up: the login-CSRF rules.
    Login,
    /// Every other state-changing endpoint: a request with a cookie needs a trusted
    /// origin.
    StateChanging,
}

/// A request body an endpoint takes, read by the [`crate::extract::Form`] extractor:
/// first the fields' types ([`FormBody::read`]), then their rules
/// ([`FormBody::check`]), which yield the domain form a handler receives.
pub trait FormBody: Sized {
    /// The checked form.
    type Valid;
    /// Media types the endpoint takes.
    const ACCEPTS: Accepts = Accepts::Json;
    /// The origin rule, checked before the body is parsed.
    const ORIGIN: OriginRule = OriginRule::StateChanging;
    /// Whether an empty body counts as `{}`.
    const EMPTY_IS_OBJECT: bool = false;

    /// Reads the fields; type errors are collected in `fields` and reported
    /// together once this returns.
    fn read(fields: &mut Fields) -> Result<Self, ApiError>;

    /// Rules on the well-typed values, in the order Better Auth applies them.
    fn check(self, state: &AppState) -> Result<Self::Valid, ApiError>;
}

/// A normalised (trimmed, lower-cased), syntactically valid e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Normalises and validates; `INVALID_EMAIL` otherwise.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let email = identity_core::email::normalize(raw);
        if identity_core::email::is_valid(&email) {
            Ok(Self(email))
        } else {
            Err(ApiError::InvalidEmail)
        }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name within [`NAME_MAX_CHARS`] characters (the identity limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Checks the length in characters.
    pub fn parse(raw: String) -> Result<Self, ApiError> {
        if !limits::name_fits(&raw) {
            return Err(too_big("name", NAME_MAX_CHARS));
        }
        Ok(Self(raw))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An image URL within [`IMAGE_MAX_CHARS`] (not fetched, not otherwise checked:
/// Better Auth stores whatever string the client sends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUrl(String);

impl ImageUrl {
    /// Checks the length in characters.
    pub fn parse(raw: String) -> Result<Self, ApiError> {
        if !limits::image_fits(&raw) {
            return Err(too_big("image", IMAGE_MAX_CHARS));
        }
        Ok(Self(raw))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn too_big(field: &str, max: usize) -> ApiError {
    ApiError::Validation(format!(
        "[body.{field}] Too big: expected string to have <={max} characters"
    ))
}

/// A redirect target that lands on a trusted origin, with its `Location` header
/// value built up front: nothing is written before every response header exists.
#[derive(Debug, Clone)]
pub struct CallbackUrl {
    url: String,
    location: HeaderValue,
}

impl CallbackUrl {
    /// `INVALID_CALLBACK_URL` unless [`crate::csrf::TrustedOrigins::is_safe_redirect`]
    /// accepts it.
    pub fn parse(raw: String, state: &AppState) -> Result<Self, ApiError> {
        if !state.origins.is_safe_redirect(&raw) {
            return Err(ApiError::InvalidCallbackUrl);
        }
        let location = HeaderValue::from_str(&raw).map_err(|_| ApiError::InvalidCallbackUrl)?;
        Ok(Self { url: raw, location })
    }

    /// The target as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The `Location` header value.
    pub fn location(&self) -> &HeaderValue {
        &self.location
    }
}

/// A password chosen by the user (sign-up, change-password), within the configured
/// length in UTF-16 code units, as the JS client counts.
pub struct NewPassword(String);

impl NewPassword {
    /// `PASSWORD_TOO_SHORT` / `PASSWORD_TOO_LONG` outside the configured bounds.
    pub fn parse(raw: String, state: &AppState) -> Result<Self, ApiError> {
        if raw.is_empty() {
            return Err(ApiError::PasswordTooShort);
        }
        state.check_password_length(&raw)?;
        Ok(Self(raw))
    }

    /// The password, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

/// `POST /sign-up/email` (JSON or form-encoded).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SignUp {
    /// Up to 256 characters.
    #[schema(value_type = String)]
    pub name: DisplayName,
    /// Stored lower-cased.
    #[schema(value_type = String)]
    pub email: Email,
    /// 8 to 128 characters by default.
    #[schema(value_type = String)]
    pub password: NewPassword,
    /// Up to 2048 characters.
    #[schema(value_type = Option<String>)]
    pub image: Option<ImageUrl>,
    /// A trusted origin or a relative path.
    #[schema(value_type = Option<String>, rename = "callbackURL")]
    pub callback_url: Option<CallbackUrl>,
    /// `false`: a one-day session and a browser-session cookie.
    pub remember_me: Option<bool>,
}

/// What the sign-up fields are before their rules run (Better Auth checks types
/// first, then lengths, the callback, the e-mail and the password, in this order).
pub struct SignUpFields {
    name: String,
    email: String,
    password: String,
    image: Option<String>,
    callback: Option<String>,
    remember_me: Option<bool>,
}

impl FormBody for SignUpFields {
    type Valid = SignUp;
    const ACCEPTS: Accepts = Accepts::JsonOrForm;
    const ORIGIN: OriginRule = OriginRule::Login;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(Self {
            name: f.string("name"),
            email: f.string("email"),
            password: f.string("password"),
            image: f.opt_string("image"),
            callback: f.opt_string("callbackURL"),
            remember_me: f.opt_bool("rememberMe"),
        })
    }

    /// Lengths, callback, e-mail, then the password.
    fn check(self, state: &AppState) -> Result<SignUp, ApiError> {
        let name = DisplayName::parse(self.name)?;
        let image = self.image.map(ImageUrl::parse).transpose()?;
        let callback_url = self
            .callback
            .map(|c| CallbackUrl::parse(c, state))
            .transpose()?;
        let email = Email::parse(&self.email)?;
        let password = NewPassword::parse(self.password, state)?;
        Ok(SignUp {
            name,
            email,
            password,
            image,
            callback_url,
            remember_me: self.remember_me,
        })
    }
}

/// `POST /sign-in/email` (JSON or form-encoded).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SignIn {
    #[schema(value_type = String)]
    pub email: Email,
    /// Checked against the stored hash; only its length is looked at here.
    #[schema(value_type = String)]
    pub password: String,
    /// With a trusted URL: 200 with `redirect: true`, `url` and a `Location` header.
    #[schema(value_type = Option<String>, rename = "callbackURL")]
    pub callback_url: Option<CallbackUrl>,
    pub remember_me: Option<bool>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("email", &self.email)
            .field("callback_url", &self.callback_url)
            .finish_non_exhaustive()
    }
}

/// The sign-in fields before their rules run.
pub struct SignInFields {
    email: String,
    password: String,
    callback: Option<String>,
    remember_me: Option<bool>,
}

impl FormBody for SignInFields {
    type Valid = SignIn;
    const ACCEPTS: Accepts = Accepts::JsonOrForm;
    const ORIGIN: OriginRule = OriginRule::Login;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(Self {
            email: f.string("email"),
            password: f.string("password"),
            callback: f.opt_string("callbackURL"),
            remember_me: f.opt_bool("rememberMe"),
        })
    }

    /// E-mail, password length, then the callback.
    fn check(self, state: &AppState) -> Result<SignIn, ApiError> {
        let email = Email::parse(&self.email)?;
        if self.password.encode_utf16().count() > state.settings.password_max_length {
            return Err(ApiError::PasswordTooLong);
        }
        let callback_url = self
            .callback
            .map(|c| CallbackUrl::parse(c, state))
            .transpose()?;
        Ok(SignIn {
            email,
            password: self.password,
            callback_url,
            remember_me: self.remember_me,
        })
    }
}

/// `POST /change-password`. The password rules run after the session is known,
/// as Better Auth's do, so the fields stay raw here.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
    /// `true`: every session ends and a new one is returned.
    pub revoke_other_sessions: Option<bool>,
}

impl FormBody for ChangePassword {
    type Valid = Self;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(Self {
            new_password: f.string("newPassword"),
            current_password: f.string("currentPassword"),
            revoke_other_sessions: f.opt_bool("revokeOtherSessions"),
        })
    }

    fn check(self, _: &AppState) -> Result<Self, ApiError> {
        Ok(self)
    }
}

/// `POST /update-user`: `name` and/or `image` (`null` removes the image).
#[derive(Debug, ToSchema)]
pub struct UpdateUser {
    #[schema(value_type = Option<String>)]
    pub name: Option<DisplayName>,
    /// `null` removes the image.
    #[schema(value_type = Option<String>)]
    pub image: Option<Option<ImageUrl>>,
}

impl FormBody for UpdateUser {
    type Valid = Self;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        if f.has("email") {
            return Err(ApiError::EmailCanNotBeUpdated);
        }
        let name = f.opt_string("name");
        let image = f.opt_nullable_string("image");
        // Wrapped unchecked here; `check` applies the limits once types are known.
        Ok(Self {
            name: name.map(DisplayName),
            image: image.map(|i| i.map(ImageUrl)),
        })
    }

    fn check(self, _state: &AppState) -> Result<Self, ApiError> {
        if self.name.is_none() && self.image.is_none() {
            return Err(ApiError::NoFieldsToUpdate);
        }
        let name = self.name.map(|n| DisplayName::parse(n.0)).transpose()?;
        let image = self
            .image
            .map(|i| i.map(|i| ImageUrl::parse(i.0)).transpose())
            .transpose()?;
        Ok(Self { name, image })
    }
}

/// `POST /revoke-session` `{token}`.
#[derive(Debug, ToSchema)]
pub struct RevokeSession {
    /// A handle from `list-sessions` (the session id) or a raw session token.
    pub token: String,
}

impl FormBody for RevokeSession {
    type Valid = Self;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(Self {
            token: f.string("token"),
        })
    }

    fn check(self, _: &AppState) -> Result<Self, ApiError> {
        Ok(self)
    }
}

/// An endpoint that takes no fields (`{}` or nothing).
#[derive(Debug)]
pub struct NoFields;

impl FormBody for NoFields {
    type Valid = Self;
    const EMPTY_IS_OBJECT: bool = true;

    fn read(_: &mut Fields) -> Result<Self, ApiError> {
        Ok(Self)
    }

    fn check(self, _: &AppState) -> Result<Self, ApiError> {
        Ok(self)
    }
}

impl CallbackUrl {
    /// Like [`CallbackUrl::parse`] with another error (`redirectTo`:
    /// `INVALID_REDIRECT_URL`).
    pub fn parse_or(raw: String, state: &AppState, error: ApiError) -> Result<Self, ApiError> {
        Self::parse(raw, state).map_err(|_| error)
    }

    /// The target with `?error=<code>` (or `&error=`) appended, as a `Location`.
    pub fn with_param(&self, name: &str, value: &str) -> HeaderValue {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        let target = format!(
            "{}{sep}{name}={}",
            self.url,
            crate::credentials::encode_uri_component(value)
        );
        // The base was a valid header value and the addition is URI-encoded ASCII.
        HeaderValue::from_str(&target).unwrap_or_else(|_| self.location.clone())
    }
}

/// An e-mail field that reports Better Auth's `[body.<field>] Invalid email
/// address` (change-email) rather than `INVALID_EMAIL`.
fn email_field(field: &str, raw: &str) -> Result<Email, ApiError> {
    Email::parse(raw)
        .map_err(|_| ApiError::Validation(format!("[body.{field}] Invalid email address")))
}

/// `POST /send-verification-email` `{email, callbackURL?}`.
#[derive(Debug, ToSchema)]
pub struct SendVerificationEmail {
    #[schema(value_type = String)]
    pub email: Email,
    /// Where the mailed link lands once opened (trusted origin or relative path).
    #[schema(value_type = Option<String>, rename = "callbackURL")]
    pub callback_url: Option<CallbackUrl>,
}

/// Fields of [`SendVerificationEmail`] before their rules.
pub struct SendVerificationEmailFields {
    email: String,
    callback: Option<String>,
}

impl FormBody for SendVerificationEmailFields {
    type Valid = SendVerificationEmail;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(Self {
            email: f.string("email"),
            callback: f.opt_string("callbackURL"),
        })
    }

    fn check(self, state: &AppState) -> Result<SendVerificationEmail, ApiError> {
        let callback_url = self
            .callback
            .map(|c| CallbackUrl::parse(c, state))
            .transpose()?;
        Ok(SendVerificationEmail {
            email: email_field("email", &self.email)?,
            callback_url,
        })
    }
}

/// `POST /request-password-reset` `{email, redirectTo?}`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct RequestPasswordReset {
    #[schema(value_type = String)]
    pub email: Email,
    /// The app page the mailed link lands on, with `?token=` (trusted origin or
    /// relative path).
    #[schema(value_type = Option<String>)]
    pub redirect_to: Option<CallbackUrl>,
}

/// Fields of [`RequestPasswordReset`] before their rules.
pub struct RequestPasswordResetFields {
    email: String,
    redirect_to: Option<String>,
}

impl FormBody for RequestPasswordResetFields {
    type Valid = RequestPasswordReset;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(Self {
            email: f.string("email"),
            redirect_to: f.opt_string("redirectTo"),
        })
    }

    fn check(self, state: &AppState) -> Result<RequestPasswordReset, ApiError> {
        let redirect_to = self
            .redirect_to
            .map(|c| CallbackUrl::parse_or(c, state, ApiError::InvalidRedirectUrl))
            .transpose()?;
        Ok(RequestPasswordReset {
            email: email_field("email", &self.email)?,
            redirect_to,
        })
    }
}

/// `POST /reset-password` `{newPassword, token?}` (the token may come as `?token=`).
/// Raw here: the token's presence is checked first, then the password's length,
/// and only then is the token looked up, as Better Auth orders them.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ResetPassword {
    pub new_password: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for ResetPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetPassword(<redacted>)")
    }
}

impl FormBody for ResetPassword {
    type Valid = Self;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(Self {
            new_password: f.string("newPassword"),
            token: f.opt_string("token"),
        })
    }

    fn check(self, _: &AppState) -> Result<Self, ApiError> {
        Ok(self)
    }
}

/// `POST /change-email` `{newEmail, callbackURL?}`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ChangeEmail {
    #[schema(value_type = String)]
    pub new_email: Email,
    #[schema(value_type = Option<String>, rename = "callbackURL")]
    pub callback_url: Option<CallbackUrl>,
}

/// Fields of [`ChangeEmail`] before their rules.
pub struct ChangeEmailFields {
    new_email: String,
    callback: Option<String>,
}

impl FormBody for ChangeEmailFields {
    type Valid = ChangeEmail;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(Self {
            new_email: f.string("newEmail"),
            callback: f.opt_string("callbackURL"),
        })
    }

    fn check(self, state: &AppState) -> Result<ChangeEmail, ApiError> {
        let new_email = email_field("newEmail", &self.new_email)?;
        let callback_url = self
            .callback
            .map(|c| CallbackUrl::parse(c, state))
            .transpose()?;
        Ok(ChangeEmail {
            new_email,
            callback_url,
        })
    }
}

/// `POST /delete-user` `{password?, token?, callbackURL?}` (the client sends `{}`).
#[derive(ToSchema)]
pub struct DeleteUser {
    /// Checked against the credential when given.
    pub password: Option<String>,
    /// A token from the confirmation mail.
    pub token: Option<String>,
    /// Where the confirmation link lands after deleting.
    #[schema(value_type = Option<String>, rename = "callbackURL")]
    pub callback_url: Option<CallbackUrl>,
}

impl std::fmt::Debug for DeleteUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeleteUser")
            .field("callback_url", &self.callback_url)
            .finish_non_exhaustive()
    }
}

/// Fields of [`DeleteUser`] before their rules.
pub struct DeleteUserFields {
    password: Option<String>,
    token: Option<String>,
    callback: Option<String>,
}

impl FormBody for DeleteUserFields {
    type Valid = DeleteUser;
    const EMPTY_IS_OBJECT: bool = true;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(Self {
            password: f.opt_string("password"),
            token: f.opt_string("token"),
            callback: f.opt_string("callbackURL"),
        })
    }

    fn check(self, state: &AppState) -> Result<DeleteUser, ApiError> {
        let callback_url = self
            .callback
            .map(|c| CallbackUrl::parse(c, state))
            .transpose()?;
        Ok(DeleteUser {
            password: self.password,
            token: self.token,
            callback_url,
        })
    }
}

/// `POST /verify-password` `{password}`.
#[derive(ToSchema)]
pub struct VerifyPassword {
    pub password: String,
}

impl FormBody for VerifyPassword {
    type Valid = Self;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(Self {
            password: f.string("password"),
        })
    }

    fn check(self, _: &AppState) -> Result<Self, ApiError> {
        Ok(self)
    }
}

/// A query parameter (first occurrence), percent-decoded.
pub fn query_param(req: &actix_web::HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A required query parameter; zod's message when it is missing.
pub fn required_query(req: &actix_web::HttpRequest, name: &str) -> Result<String, ApiError> {
    query_param(req, name).ok_or_else(|| {
        ApiError::Validation(format!(
            "[query.{name}] Invalid input: expected string, received undefined"
        ))
    })
}

/// An optional `callbackURL` query parameter, checked like a body's.
pub fn query_callback(
    req: &actix_web::HttpRequest,
    state: &AppState,
) -> Result<Option<CallbackUrl>, ApiError> {
    query_param(req, "callbackURL")
        .map(|c| CallbackUrl::parse(c, state))
        .transpose()
}

/// An ID token the client obtained itself (Google One Tap, a native app).
#[derive(ToSchema)]
pub struct IdTokenField {
    /// The provider's ID token (a JWT).
    pub token: String,
    /// The nonce the client put in the provider's request, if any.
    pub nonce: Option<String>,
}

/// `POST /sign-in/social` and `POST /link-social`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SignInSocial {
    /// `google`, `github` or a configured OpenID Connect provider's id.
    pub provider: String,
    /// Where a signed-in user lands (default: the base URL's origin).
    #[schema(value_type = Option<String>, rename = "callbackURL")]
    pub callback_url: Option<CallbackUrl>,
    /// Where a failed sign-in lands, with `?error=<code>` (default: `/api/auth/error`).
    #[schema(value_type = Option<String>, rename = "errorCallbackURL")]
    pub error_callback_url: Option<CallbackUrl>,
    /// Where a user created by this sign-in lands (default: `callbackURL`).
    #[schema(value_type = Option<String>, rename = "newUserCallbackURL")]
    pub new_user_callback_url: Option<CallbackUrl>,
    /// Answer without a `Location` header (`redirect: false`).
    pub disable_redirect: bool,
    /// Scopes added to the provider's defaults.
    pub scopes: Vec<String>,
    /// Passed to the provider as `login_hint`.
    pub login_hint: Option<String>,
    /// Sign in directly with a provider ID token instead of a redirect.
    pub id_token: Option<IdTokenField>,
}

impl std::fmt::Debug for SignInSocial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInSocial")
            .field("provider", &self.provider)
            .field("callback_url", &self.callback_url)
            .finish_non_exhaustive()
    }
}

/// Fields of [`SignInSocial`] before their rules.
pub struct SignInSocialFields {
    provider: String,
    callback: Option<String>,
    error_callback: Option<String>,
    new_user_callback: Option<String>,
    disable_redirect: Option<bool>,
    scopes: Option<Vec<String>>,
    login_hint: Option<String>,
    id_token: Option<(String, Option<String>)>,
}

/// Most scopes a client may add, and RFC 6749's characters of one.
const MAX_EXTRA_SCOPES: usize = 20;
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

impl SignInSocialFields {
    fn read_fields(f: &mut Fields) -> Self {
        Self {
            provider: f.string("provider"),
            callback: f.opt_string("callbackURL"),
            error_callback: f.opt_string("errorCallbackURL"),
            new_user_callback: f.opt_string("newUserCallbackURL"),
            disable_redirect: f.opt_bool("disableRedirect"),
            scopes: f.opt_string_list("scopes"),
            login_hint: f.opt_string("loginHint"),
            id_token: f.opt_object("idToken", |t| (t.string("token"), t.opt_string("nonce"))),
        }
    }

    fn check_fields(self, state: &AppState) -> Result<SignInSocial, ApiError> {
        let callback_url = self
            .callback
            .map(|c| CallbackUrl::parse(c, state))
            .transpose()?;
        let error_callback_url = self
            .error_callback
            .map(|c| CallbackUrl::parse_or(c, state, ApiError::InvalidErrorCallbackUrl))
            .transpose()?;
        let new_user_callback_url = self
            .new_user_callback
            .map(|c| CallbackUrl::parse_or(c, state, ApiError::InvalidNewUserCallbackUrl))
            .transpose()?;
        let scopes = self.scopes.unwrap_or_default();
        if scopes.len() > MAX_EXTRA_SCOPES || !scopes.iter().all(|s| is_scope_token(s)) {
            return Err(ApiError::Validation(format!(
                "[body.scopes] Invalid input: at most {MAX_EXTRA_SCOPES} OAuth scope tokens"
            )));
        }
        Ok(SignInSocial {
            provider: self.provider,
            callback_url,
            error_callback_url,
            new_user_callback_url,
            disable_redirect: self.disable_redirect.unwrap_or(false),
            scopes,
            login_hint: self.login_hint,
            id_token: self
                .id_token
                .map(|(token, nonce)| IdTokenField { token, nonce }),
        })
    }
}

impl FormBody for SignInSocialFields {
    type Valid = SignInSocial;
    // Like sign-in/email: a cross-site form cannot start a sign-in.
    const ORIGIN: OriginRule = OriginRule::Login;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(Self::read_fields(f))
    }

    fn check(self, state: &AppState) -> Result<SignInSocial, ApiError> {
        self.check_fields(state)
    }
}

/// `POST /link-social`: the same body for a signed-in user.
pub struct LinkSocialFields(SignInSocialFields);

impl FormBody for LinkSocialFields {
    type Valid = SignInSocial;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(Self(SignInSocialFields::read_fields(f)))
    }

    fn check(self, state: &AppState) -> Result<SignInSocial, ApiError> {
        self.0.check_fields(state)
    }
}

/// `POST /unlink-account` `{accountId}`: the account row's id from `list-accounts`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct UnlinkAccount {
    pub account_id: String,
}

impl FormBody for UnlinkAccount {
    type Valid = Self;

    fn read(f: &mut Fields) -> Result<Self, ApiError> {
        let account_id = f.string("accountId");
        // Better Auth's client may send it; the row id alone decides.
        let _ = f.opt_string("providerId");
        Ok(Self { account_id })
    }

    fn check(self, _: &AppState) -> Result<Self, ApiError> {
        Ok(self)
    }
}
