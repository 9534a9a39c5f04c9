//! The one error type of the auth-server: each variant maps to a status and the
//! `{message, code}` body of Better Auth's wire protocol, in one place.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use auth_wire::ErrorBody;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Schema failure; message in zod's `[body.field] …` form.
    #[error("{0}")]
    Validation(String),
    #[error("Invalid JSON in request body")]
    BadJson,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("Invalid email")]
    InvalidEmail,
    #[error("Password too short")]
    PasswordTooShort,
    #[error("Password too long")]
    PasswordTooLong,
    #[error("Invalid password")]
    InvalidPassword,
    #[error("Email can not be updated")]
    EmailCanNotBeUpdated,
    #[error("No fields to update")]
    NoFieldsToUpdate,
    #[error("Credential account not found")]
    CredentialAccountNotFound,
    #[error("Invalid email or password")]
    InvalidEmailOrPassword,
    #[error("Unauthorized")]
    Unauthorized,
    #[error("Invalid origin")]
    InvalidOrigin,
    #[error("Missing or null Origin")]
    MissingOrNullOrigin,
    #[error("Cross-site navigation login blocked. This request appears to be a CSRF attack.")]
    CrossSiteNavigationLoginBlocked,
    #[error("Invalid callbackURL")]
    InvalidCallbackUrl,
    #[error("Session is not fresh")]
    SessionNotFresh,
    #[error("User already exists. Use another email.")]
    UserAlreadyExists,
    #[error("POST method requires deferSessionRefresh to be enabled in session config")]
    MethodNotAllowedDefer,
    #[error("Email mismatch")]
    EmailMismatch,
    #[error("Email is already verified")]
    EmailAlreadyVerified,
    #[error("Verification email isn't enabled")]
    VerificationEmailNotEnabled,
    #[error("Reset password isn't enabled")]
    ResetPasswordDisabled,
    #[error("Invalid redirectURL")]
    InvalidRedirectUrl,
    /// A one-time token that is unknown, used or no longer the user's; the status
    /// differs by endpoint as in Better Auth (400 reset, 401 verify, 404 delete).
    #[error("Invalid token")]
    InvalidToken(StatusCode),
    #[error("Token expired")]
    TokenExpired,
    #[error("User not found")]
    UserNotFound(StatusCode),
    #[error("Email not verified")]
    EmailNotVerified,
    #[error("Email is the same")]
    EmailIsTheSame,
    #[error("Change email is disabled")]
    ChangeEmailDisabled,
    #[error("Session expired. Re-authenticate to perform this action.")]
    SessionExpired,
    #[error("Failed to get user info")]
    FailedToGetUserInfo,
    #[error("Provider not found")]
    ProviderNotFound,
    #[error("id token not supported")]
    IdTokenNotSupported,
    #[error("Invalid errorCallbackURL")]
    InvalidErrorCallbackUrl,
    #[error("Invalid newUserCallbackURL")]
    InvalidNewUserCallbackUrl,
    #[error("Account not found")]
    AccountNotFound,
    #[error("You can't unlink your last account")]
    FailedToUnlinkLastAccount,
    /// A social sign-in whose e-mail belongs to a user it may not be linked to.
    #[error("Account not linked")]
    AccountNotLinked,
    #[error("You have been banned from this application")]
    BannedUser,
    /// A social provider cannot be reached right now.
    #[error("The sign-in provider is unavailable; try again shortly")]
    ProviderUnavailable,
    /// A feature turned off in the settings.
    #[error("Not found")]
    Disabled,
    /// Over a rate limit; the client may retry after this many seconds.
    #[error("Too many requests. Please try again later.")]
    TooManyRequests { retry_after: u64 },
    #[error("Service unavailable")]
    Unavailable,
    /// Anything unexpected: logged with its cause chain, answered with an opaque 500.
    /// Build it with `?`/`into()`: a database outage inside the chain becomes
    /// [`ApiError::Unavailable`] instead.
    #[error("Internal server error")]
    Internal(anyhow::Error),
}

impl ApiError {
    /// The machine-readable code. Better Auth sends none for "No fields to update"
    /// and for 429s; we add one (its client reads only `message` and the status),
    /// so every error body of ours has both fields.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "VALIDATION_ERROR",
            ApiError::BadJson => "BAD_REQUEST",
            ApiError::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::InvalidEmail => "INVALID_EMAIL",
            ApiError::PasswordTooShort => "PASSWORD_TOO_SHORT",
            ApiError::PasswordTooLong => "PASSWORD_TOO_LONG",
            ApiError::InvalidPassword => "INVALID_PASSWORD",
            ApiError::EmailCanNotBeUpdated => "EMAIL_CAN_NOT_BE_UPDATED",
            ApiError::NoFieldsToUpdate => "NO_FIELDS_TO_UPDATE",
            ApiError::CredentialAccountNotFound => "CREDENTIAL_ACCOUNT_NOT_FOUND",
            ApiError::InvalidEmailOrPassword => "INVALID_EMAIL_OR_PASSWORD",
            ApiError::Unauthorized => "UNAUTHORIZED",
            ApiError::InvalidOrigin => "INVALID_ORIGIN",
            ApiError::MissingOrNullOrigin => "MISSING_OR_NULL_ORIGIN",
            ApiError::CrossSiteNavigationLoginBlocked => "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED",
            ApiError::InvalidCallbackUrl => "INVALID_CALLBACK_URL",
            ApiError::SessionNotFresh => "SESSION_NOT_FRESH",
            ApiError::UserAlreadyExists => "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
            ApiError::MethodNotAllowedDefer => "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED",
            ApiError::EmailMismatch => "EMAIL_MISMATCH",
            ApiError::EmailAlreadyVerified => "EMAIL_ALREADY_VERIFIED",
            ApiError::VerificationEmailNotEnabled => "VERIFICATION_EMAIL_NOT_ENABLED",
            ApiError::ResetPasswordDisabled => "RESET_PASSWORD_DISABLED",
            ApiError::InvalidRedirectUrl => "INVALID_REDIRECT_URL",
            ApiError::InvalidToken(_) => "INVALID_TOKEN",
            ApiError::TokenExpired => "TOKEN_EXPIRED",
            ApiError::UserNotFound(_) => "USER_NOT_FOUND",
            ApiError::EmailNotVerified => "EMAIL_NOT_VERIFIED",
            ApiError::EmailIsTheSame => "EMAIL_IS_THE_SAME",
            ApiError::ChangeEmailDisabled => "CHANGE_EMAIL_DISABLED",
            ApiError::SessionExpired => "SESSION_EXPIRED",
            ApiError::FailedToGetUserInfo => "FAILED_TO_GET_USER_INFO",
            ApiError::ProviderNotFound => "PROVIDER_NOT_FOUND",
            ApiError::IdTokenNotSupported => "ID_TOKEN_NOT_SUPPORTED",
            ApiError::InvalidErrorCallbackUrl => "INVALID_ERROR_CALLBACK_URL",
            ApiError::InvalidNewUserCallbackUrl => "INVALID_NEW_USER_CALLBACK_URL",
            ApiError::AccountNotFound => "ACCOUNT_NOT_FOUND",
            ApiError::FailedToUnlinkLastAccount => "FAILED_TO_UNLINK_LAST_ACCOUNT",
            ApiError::AccountNotLinked => "ACCOUNT_NOT_LINKED",
            ApiError::BannedUser => "BANNED_USER",
            ApiError::ProviderUnavailable => "PROVIDER_UNAVAILABLE",
            ApiError::Disabled => "NOT_FOUND",
            ApiError::TooManyRequests { .. } => "TOO_MANY_REQUESTS",
            ApiError::Unavailable => "SERVICE_UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation(_)
            | ApiError::BadJson
            | ApiError::InvalidEmail
            | ApiError::PasswordTooShort
            | ApiError::PasswordTooLong
            | ApiError::InvalidPassword
            | ApiError::EmailCanNotBeUpdated
            | ApiError::NoFieldsToUpdate
            | ApiError::CredentialAccountNotFound
            | ApiError::EmailMismatch
            | ApiError::EmailAlreadyVerified
            | ApiError::VerificationEmailNotEnabled
            | ApiError::ResetPasswordDisabled
            | ApiError::EmailIsTheSame
            | ApiError::ChangeEmailDisabled
            | ApiError::AccountNotFound
            | ApiError::FailedToUnlinkLastAccount
            | ApiError::SessionExpired => StatusCode::BAD_REQUEST,
            ApiError::ProviderNotFound | ApiError::IdTokenNotSupported => StatusCode::NOT_FOUND,
            ApiError::InvalidErrorCallbackUrl
            | ApiError::InvalidNewUserCallbackUrl
            | ApiError::BannedUser => StatusCode::FORBIDDEN,
            ApiError::AccountNotLinked => StatusCode::UNAUTHORIZED,
            ApiError::InvalidToken(status) | ApiError::UserNotFound(status) => *status,
            ApiError::TokenExpired => StatusCode::UNAUTHORIZED,
            ApiError::FailedToGetUserInfo | ApiError::Disabled => StatusCode::NOT_FOUND,
            ApiError::InvalidRedirectUrl | ApiError::EmailNotVerified => StatusCode::FORBIDDEN,
            ApiError::InvalidEmailOrPassword | ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::InvalidOrigin
            | ApiError::MissingOrNullOrigin
            | ApiError::CrossSiteNavigationLoginBlocked
            | ApiError::InvalidCallbackUrl
            | ApiError::SessionNotFresh => StatusCode::FORBIDDEN,
            ApiError::MethodNotAllowedDefer => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::UserAlreadyExists => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::ProviderUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            tracing::error!(error = ?e, "request failed");
        }
        let mut res = HttpResponse::build(self.status_code());
        match self {
            // Standard `Retry-After`, plus Better Auth's `x-retry-after` for its client.
            ApiError::TooManyRequests { retry_after } => {
                res.insert_header((header::RETRY_AFTER, retry_after.to_string()))
                    .insert_header(("x-retry-after", retry_after.to_string()));
            }
            ApiError::Unavailable => {
                res.insert_header((header::RETRY_AFTER, "1"));
            }
            // A provider outage is remembered for two seconds.
            ApiError::ProviderUnavailable => {
                res.insert_header((header::RETRY_AFTER, "2"));
            }
            _ => {}
        }
        res.json(ErrorBody {
            message: self.to_string(),
            code: self.code().to_owned(),
        })
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        if e.downcast_ref::<crate::password::HasherBusy>().is_some() {
            return ApiError::Unavailable;
        }
        match database::classify_chain(e.as_ref()) {
            database::Failure::Unavailable => {
                database::warn_unavailable(&e);
                ApiError::Unavailable
            }
            database::Failure::Bug => ApiError::Internal(e),
        }
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        match database::classify(&e) {
            database::Failure::Unavailable => {
                database::warn_unavailable(&e);
                ApiError::Unavailable
            }
            database::Failure::Bug => ApiError::Internal(e.into()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match database::classify_pool(&e) {
            database::Failure::Unavailable => {
                database::warn_unavailable(&e);
                ApiError::Unavailable
            }
            database::Failure::Bug => ApiError::Internal(e.into()),
        }
    }
}
