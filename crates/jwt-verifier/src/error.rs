//! Why a token was rejected, or why a verifier could not be built.
//!
//! No variant carries text taken from the token: the reasons end up in logs, and a
//! token's header or claims are attacker-controlled (log injection) or sensitive.

/// Why [`Verifier::verify`](crate::Verifier::verify) rejected a token.
///
/// Callers should answer every variant with the same 401 and log the variant; the
/// distinctions exist for logs, metrics and tests, never for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a compact JWS: wrong number of segments, bad base64url, JSON that is not
    /// an object, or claims that do not fit [`auth_wire::AccessClaims`].
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// Longer than [`VerifierConfig::max_token_bytes`](crate::VerifierConfig::max_token_bytes).
    #[error("token larger than {max} bytes")]
    TooLarge {
        /// The configured limit.
        max: usize,
    },
    /// The header's `alg` is missing or is not `RS256` (`none`, `HS256`, `RS384`, ...).
    #[error("unsupported or missing alg")]
    UnsupportedAlgorithm,
    /// The header carries a parameter we refuse: `jku`, `x5u`, `jwk`, `x5c` (keys or
    /// key locations chosen by the sender) or `crit` (extensions we do not implement).
    #[error("forbidden header parameter `{0}`")]
    ForbiddenHeader(&'static str),
    /// The header's `typ` is present but neither `JWT` nor `at+jwt`.
    #[error("unsupported typ")]
    UnsupportedType,
    /// The header has no usable `kid`; we never try every key.
    #[error("missing or invalid kid")]
    MissingKid,
    /// No usable key in the JWKS has this `kid`, even after the refetch the cooldown allowed.
    #[error("unknown kid")]
    UnknownKid,
    /// The RS256 signature does not verify with the key named by `kid`.
    #[error("bad signature")]
    BadSignature,
    /// `exp` (plus leeway) has passed.
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` (minus leeway) is still in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is not exactly the configured issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    #[error("wrong audience")]
    WrongAudience,
    /// A required claim is absent.
    #[error("missing claim `{0}`")]
    MissingClaim(&'static str),
    /// A claim is present with the wrong type or format (a string `exp`, a fractional
    /// `iat`, a `sub` that is not a UUID, ...).
    #[error("invalid claim `{0}`")]
    InvalidClaim(&'static str),
    /// No keys: the JWKS could not be fetched and no last good set is within its
    /// stale-if-error window. The text is ours (URL, status, I/O error), not the token's.
    /// A valid token of the other kind: a learner's where a service is required,
    /// or the reverse.
    #[error("wrong kind of token: {expected} token required")]
    WrongKind { expected: &'static str },
    #[error("JWKS unavailable: {0}")]
    JwksUnavailable(String),
}

/// Why [`Verifier::new`](crate::Verifier::new) refused a [`VerifierConfig`](crate::VerifierConfig).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `jwks_url` does not parse, or is plain `http` to a host other than loopback.
    #[error("invalid jwks_url: {0}")]
    JwksUrl(String),
    /// `issuer` or `audience` is empty, or a size/duration setting is unusable.
    #[error("invalid setting: {0}")]
    Setting(&'static str),
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("cannot build HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
}
