//! A real OpenID Connect provider (discovery, JWKS, authorization code flow with
//! PKCE, RS256 ID tokens, userinfo) plus a GitHub-shaped plain OAuth 2.0 stand-in
//! (`/github/login/oauth/...`, `/github/api/user[/emails]`), on loopback, for
//! tests: the auth-server's social sign-in talks HTTP to it exactly as to Google
//! or GitHub. It runs on its own thread with its own runtime, so it works from
//! any `#[tokio::test]` flavour and from blocking code. A [`Quirk`] makes it
//! misbehave the way real providers (or attackers) do.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::http::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, LOCATION, USER_AGENT};
use actix_web::http::StatusCode;
use actix_web::{dev::ServerHandle, web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::{alg::rsassa::RsassaJwsSigner, JwsHeader, RS256};
use josekit::jwt::{self, JwtPayload};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

/// Who signs in at the provider.
#[derive(Clone, Debug)]
pub struct User {
    /// The OIDC subject; for GitHub the numeric id as a string.
    pub sub: String,
    /// The email address, if any.
    pub email: Option<String>,
    /// The `email_verified` claim; `None` leaves the claim out.
    pub email_verified: Option<bool>,
    /// The display name.
    pub name: Option<String>,
    /// The picture (avatar) URL.
    pub picture: Option<String>,
    /// GitHub `/user/emails` entries; empty = one derived from `email`/`email_verified`, as primary.
    pub github_emails: Vec<GithubEmail>,
    /// The GitHub `login`.
    pub github_login: String,
}

impl User {
    /// A user with a verified `email`, name "Test User", no picture, GitHub login = `sub`.
    pub fn new(sub: &str, email: &str) -> User {
        User {
            sub: sub.to_owned(),
            email: Some(email.to_owned()),
            email_verified: Some(true),
            name: Some("Test User".to_owned()),
            picture: None,
            github_emails: Vec::new(),
            github_login: sub.to_owned(),
        }
    }

    fn github_email_list(&self) -> Vec<GithubEmail> {
        match (&self.email, self.github_emails.is_empty()) {
            (_, false) => self.github_emails.clone(),
            (Some(email), true) => vec![GithubEmail {
                email: email.clone(),
                primary: true,
                verified: self.email_verified.unwrap_or(false),
            }],
            (None, true) => Vec::new(),
        }
    }
}

/// One entry of GitHub's `/user/emails`.
#[derive(Clone, Debug)]
pub struct GithubEmail {
    /// The address.
    pub email: String,
    /// Whether it is the account's primary address.
    pub primary: bool,
    /// Whether GitHub verified it.
    pub verified: bool,
}

/// A misbehaviour of the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Quirk {
    /// Behave.
    #[default]
    None,
    /// ID tokens signed by a key NOT in the JWKS, with the same `kid`.
    RogueKey,
    /// ID tokens already expired (`exp` = now - 600, `iat` = now - 1200).
    Expired,
    /// ID tokens carry `nonce: "not-the-nonce"`.
    WrongNonce,
    /// ID tokens carry `iss: "http://evil.example"`.
    WrongIssuer,
    /// ID tokens carry `aud`/`azp` `"someone-else"`.
    WrongAudience,
    /// Authorizations redirect back with `error=access_denied`.
    DenyAuthorize,
    /// `email_verified` is the string `"true"`/`"false"`, like some providers send.
    EmailVerifiedAsString,
    /// Every endpoint answers 503.
    Unavailable,
}

/// Request counters, per endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// `GET /.well-known/openid-configuration`.
    pub discovery: u64,
    /// `GET /jwks`.
    pub jwks: u64,
    /// `GET /authorize` and `GET /github/login/oauth/authorize`.
    pub authorize: u64,
    /// `POST /token`.
    pub token: u64,
    /// `GET|POST /userinfo`.
    pub userinfo: u64,
    /// `POST /github/login/oauth/access_token`.
    pub github_token: u64,
    /// `GET /github/api/user`.
    pub github_user: u64,
    /// `GET /github/api/user/emails`.
    pub github_emails: u64,
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    user: User,
    nonce: Option<String>,
    challenge: Option<String>,
    scope: String,
    github: bool,
}

#[derive(Default)]
struct Inner {
    user: Option<User>,
    quirk: Quirk,
    counts: Counts,
    last_authorize: Option<BTreeMap<String, String>>,
    last_token: Option<BTreeMap<String, String>>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, User>,
}

struct State {
    issuer: String,
    client_id: String,
    client_secret: String,
    kid: String,
    signer: RsassaJwsSigner,
    rogue: RsassaJwsSigner,
    jwk: Value,
    inner: Mutex<Inner>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts the request; `Some(503)` under [`Quirk::Unavailable`].
    fn gate(&self, count: impl FnOnce(&mut Counts)) -> Option<HttpResponse> {
        let mut inner = self.lock();
        count(&mut inner.counts);
        (inner.quirk == Quirk::Unavailable).then(|| {
            HttpResponse::ServiceUnavailable().json(json!({"error": "temporarily_unavailable"}))
        })
    }

    fn profile_claims(user: &User, quirk: Quirk) -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("sub".into(), json!(user.sub));
        if let Some(email) = &user.email {
            c.insert("email".into(), json!(email));
        }
        if let Some(v) = user.email_verified {
            let v = match quirk {
                Quirk::EmailVerifiedAsString => json!(v.to_string()),
                _ => json!(v),
            };
            c.insert("email_verified".into(), v);
        }
        if let Some(name) = &user.name {
            c.insert("name".into(), json!(name));
        }
        if let Some(picture) = &user.picture {
            c.insert("picture".into(), json!(picture));
        }
        c
    }

    fn id_token(&self, user: &User, nonce: Option<&str>, quirk: Quirk) -> String {
        let now = unix_now();
        let mut c = Self::profile_claims(user, quirk);
        let iss = match quirk {
            Quirk::WrongIssuer => "http://evil.example",
            _ => &self.issuer,
        };
        let aud = match quirk {
            Quirk::WrongAudience => "someone-else",
            _ => &self.client_id,
        };
        let (exp, iat) = match quirk {
            Quirk::Expired => (now - 600, now - 1200),
            _ => (now + 600, now),
        };
        c.insert("iss".into(), json!(iss));
        c.insert("aud".into(), json!(aud));
        c.insert("azp".into(), json!(aud));
        c.insert("exp".into(), json!(exp));
        c.insert("iat".into(), json!(iat));
        let nonce = match quirk {
            Quirk::WrongNonce => Some("not-the-nonce"),
            _ => nonce,
        };
        if let Some(nonce) = nonce {
            c.insert("nonce".into(), json!(nonce));
        }
        let payload = JwtPayload::from_map(c).expect("valid ID token claims");
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        header.set_key_id(&self.kid);
        let signer = match quirk {
            Quirk::RogueKey => &self.rogue,
            _ => &self.signer,
        };
        jwt::encode_with_signer(&payload, &header, signer).expect("RS256 signing")
    }
}

/// A running provider on 127.0.0.1; dropping it stops the server.
pub struct Provider {
    state: Arc<State>,
    server: ServerHandle,
}

impl Provider {
    /// Starts the provider with one registered client.
    pub fn start(client_id: &str, client_secret: &str) -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let key = |what: &str| {
            let pair = RsaKeyPair::generate(2048).expect(what);
            let jwk = pair.to_jwk_public_key();
            let signer = RS256
                .signer_from_der(pair.to_der_private_key())
                .expect("RS256 signer");
            (signer, jwk)
        };
        let (signer, mut jwk) = key("generate the RSA key");
        let (rogue, _) = key("generate the rogue RSA key");
        let kid = format!("test-{}", &random_token()[..8]);
        jwk.set_key_id(&kid);
        jwk.set_key_use("sig");
        jwk.set_algorithm("RS256");
        let state = Arc::new(State {
            issuer: format!("http://127.0.0.1:{port}"),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            kid,
            signer,
            rogue,
            jwk: Value::Object(jwk.into()),
            inner: Mutex::new(Inner::default()),
        });
        let data = web::Data::from(state.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("oidc-provider".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || routes(App::new().app_data(data.clone())))
                        .workers(1)
                        .disable_signals()
                        .listen(listener)
                        .expect("listen")
                        .run();
                    let _ = tx.send(server.handle());
                    if let Err(e) = server.await {
                        eprintln!("oidc-provider stopped: {e}");
                    }
                })
            })
            .expect("spawn the provider thread");
        let server = rx.recv().expect("the provider thread started");
        Provider { state, server }
    }

    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub fn issuer(&self) -> String {
        self.state.issuer.clone()
    }

    /// `<issuer>/github/login/oauth/authorize`.
    pub fn github_authorize_url(&self) -> String {
        format!("{}/github/login/oauth/authorize", self.state.issuer)
    }

    /// `<issuer>/github/login/oauth/access_token`.
    pub fn github_token_url(&self) -> String {
        format!("{}/github/login/oauth/access_token", self.state.issuer)
    }

    /// `<issuer>/github/api` (the API base: `/user`, `/user/emails` below it).
    pub fn github_api_url(&self) -> String {
        format!("{}/github/api", self.state.issuer)
    }

    /// Who the next (and following) authorizations sign in as.
    pub fn login_as(&self, user: User) {
        self.state.lock().user = Some(user);
    }

    /// A misbehaviour for the following ID tokens / authorizations (`Quirk::None` restores).
    pub fn set_quirk(&self, q: Quirk) {
        self.state.lock().quirk = q;
    }

    /// Counters: token, userinfo, GitHub /user and /user/emails, discovery and jwks requests (and more).
    pub fn counts(&self) -> Counts {
        self.state.lock().counts.clone()
    }

    /// The parameters of the last /authorize request (for asserting PKCE method, nonce, scope...).
    pub fn last_authorize(&self) -> Option<BTreeMap<String, String>> {
        self.state.lock().last_authorize.clone()
    }

    /// The form of the last token request (to assert code_verifier, client auth style...), plus a
    /// synthetic `client_auth` entry: `client_secret_basic`, `client_secret_post` or `none`.
    pub fn last_token_request(&self) -> Option<BTreeMap<String, String>> {
        self.state.lock().last_token.clone()
    }

    /// An ID token for the current `login_as` user (aud = the client id), honouring the current
    /// quirk: for direct ID-token sign-in (Google One Tap style). Panics without `login_as`.
    pub fn mint_id_token(&self, nonce: Option<&str>) -> String {
        let (user, quirk) = {
            let inner = self.state.lock();
            (
                inner.user.clone().expect("login_as before mint_id_token"),
                inner.quirk,
            )
        };
        self.state.id_token(&user, nonce, quirk)
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        // Sends the stop command at once; the thread ends when the server has stopped.
        drop(self.server.stop(false));
    }
}

fn routes<T>(app: App<T>) -> App<T>
where
    T: actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Error = actix_web::Error,
        InitError = (),
    >,
{
    app.route(
        "/.well-known/openid-configuration",
        web::get().to(discovery),
    )
    .route("/jwks", web::get().to(jwks))
    .route("/authorize", web::get().to(authorize))
    .route("/token", web::post().to(token))
    .route("/userinfo", web::get().to(userinfo))
    .route("/userinfo", web::post().to(userinfo))
    .route("/github/login/oauth/authorize", web::get().to(gh_authorize))
    .route("/github/login/oauth/access_token", web::post().to(gh_token))
    .route("/github/api/user", web::get().to(gh_user))
    .route("/github/api/user/emails", web::get().to(gh_emails))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn error(status: StatusCode, code: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": code, "error_description": description}))
}

fn bad_request(description: &str) -> HttpResponse {
    error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn parse_form(s: &[u8]) -> Option<BTreeMap<String, String>> {
    serde_urlencoded::from_bytes(s).ok()
}

fn header(req: &HttpRequest, name: actix_web::http::header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|h| h.to_str().ok())
}

/// The credentials of an `Authorization: Basic` header (RFC 6749 2.3.1: each part form-urlencoded);
/// `Some(None)` for a malformed one.
fn basic_auth(req: &HttpRequest) -> Option<Option<(String, String)>> {
    let (scheme, rest) = header(req, AUTHORIZATION)?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    };
    let creds = STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            Some((decode(id)?, decode(secret)?))
        });
    Some(creds)
}

/// A client id and secret.
type Credentials = Option<(String, String)>;

/// The client's credentials from Basic or the form, and the method used; `Err` for both at once.
fn client_credentials(
    req: &HttpRequest,
    form: &BTreeMap<String, String>,
) -> Result<(Credentials, &'static str), ()> {
    match (basic_auth(req), form.get("client_secret")) {
        (Some(_), Some(_)) => Err(()),
        (Some(creds), None) => Ok((creds, "client_secret_basic")),
        (None, Some(secret)) => {
            let id = form.get("client_id").cloned().unwrap_or_default();
            Ok((Some((id, secret.clone())), "client_secret_post"))
        }
        (None, None) => Ok((None, "none")),
    }
}

fn bearer(req: &HttpRequest, allow_token_scheme: bool) -> Option<String> {
    let (scheme, token) = header(req, AUTHORIZATION)?.split_once(' ')?;
    let ok = scheme.eq_ignore_ascii_case("bearer")
        || (allow_token_scheme && scheme.eq_ignore_ascii_case("token"));
    ok.then(|| token.trim().to_owned())
}

const REDIRECT_MISMATCH: &str = "redirect_uri does not match the authorization request";

/// Consumes the code (single use) and checks it against the request.
fn redeem(
    st: &State,
    form: &BTreeMap<String, String>,
    client_id: &str,
    github: bool,
) -> Result<Grant, &'static str> {
    let code = form.get("code").ok_or("missing code")?;
    let grant = st
        .lock()
        .codes
        .remove(code)
        .ok_or("unknown, expired or already used code")?;
    if grant.github != github || grant.client_id != client_id {
        return Err("the code was issued to another client");
    }
    match form.get("redirect_uri") {
        Some(r) if *r == grant.redirect_uri => {}
        None if github => {}
        _ => return Err(REDIRECT_MISMATCH),
    }
    if let Some(challenge) = &grant.challenge {
        let verifier = form.get("code_verifier").ok_or("missing code_verifier")?;
        if s256(verifier) != *challenge {
            return Err("code_verifier does not match the code_challenge");
        }
    }
    Ok(grant)
}

async fn discovery(st: web::Data<State>) -> HttpResponse {
    if let Some(r) = st.gate(|c| c.discovery += 1) {
        return r;
    }
    let iss = &st.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code"],
        "claims_supported": ["iss", "sub", "aud", "azp", "exp", "iat", "nonce",
            "email", "email_verified", "name", "picture"],
    }))
}

async fn jwks(st: web::Data<State>) -> HttpResponse {
    if let Some(r) = st.gate(|c| c.jwks += 1) {
        return r;
    }
    HttpResponse::Ok().json(json!({"keys": [st.jwk]}))
}

async fn authorize(st: web::Data<State>, req: HttpRequest) -> HttpResponse {
    authorize_common(&st, &req, false)
}

async fn gh_authorize(st: web::Data<State>, req: HttpRequest) -> HttpResponse {
    authorize_common(&st, &req, true)
}

fn authorize_common(st: &State, req: &HttpRequest, github: bool) -> HttpResponse {
    if let Some(r) = st.gate(|c| c.authorize += 1) {
        return r;
    }
    let Some(q) = parse_form(req.query_string().as_bytes()) else {
        return bad_request("malformed query");
    };
    let (user, quirk) = {
        let mut inner = st.lock();
        inner.last_authorize = Some(q.clone());
        (inner.user.clone(), inner.quirk)
    };
    if q.get("client_id") != Some(&st.client_id) {
        return bad_request("unknown client_id");
    }
    let Some(redirect_uri) = q.get("redirect_uri") else {
        return bad_request("missing redirect_uri");
    };
    let Ok(redirect) = Url::parse(redirect_uri) else {
        return bad_request("invalid redirect_uri");
    };
    let Some(state) = q.get("state") else {
        return bad_request("missing state");
    };
    let back = |pairs: &[(&str, &str)]| {
        let mut url = redirect.clone();
        {
            let mut qp = url.query_pairs_mut();
            for (k, v) in pairs {
                qp.append_pair(k, v);
            }
            qp.append_pair("state", state);
            if !github {
                qp.append_pair("iss", &st.issuer);
            }
        }
        HttpResponse::Found()
            .insert_header((LOCATION, url.as_str()))
            .finish()
    };
    if !github && q.get("response_type").map(String::as_str) != Some("code") {
        return back(&[("error", "unsupported_response_type")]);
    }
    if quirk == Quirk::DenyAuthorize {
        return back(&[
            ("error", "access_denied"),
            ("error_description", "The user said no"),
        ]);
    }
    let challenge = match (
        q.get("code_challenge"),
        q.get("code_challenge_method").map(String::as_str),
    ) {
        (None, _) => None,
        (Some(c), Some("S256")) => Some(c.clone()),
        _ => {
            return back(&[
                ("error", "invalid_request"),
                ("error_description", "only S256 PKCE is supported"),
            ])
        }
    };
    let Some(user) = user else {
        return back(&[("error", "login_required")]);
    };
    let code = random_token();
    st.lock().codes.insert(
        code.clone(),
        Grant {
            client_id: st.client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            user,
            nonce: q.get("nonce").cloned(),
            challenge,
            scope: q.get("scope").cloned().unwrap_or_default(),
            github,
        },
    );
    back(&[("code", &code)])
}

async fn token(st: web::Data<State>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(r) = st.gate(|c| c.token += 1) {
        return r;
    }
    let Some(form) = parse_form(&body) else {
        return bad_request("malformed form");
    };
    let Ok((creds, method)) = client_credentials(&req, &form) else {
        return bad_request("more than one client authentication method");
    };
    let mut recorded = form.clone();
    recorded.insert("client_auth".into(), method.into());
    st.lock().last_token = Some(recorded);
    let Some((client_id, _)) =
        creds.filter(|(id, s)| *id == st.client_id && *s == st.client_secret)
    else {
        return HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", "Basic realm=\"oidc-provider\""))
            .json(json!({"error": "invalid_client"}));
    };
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code",
        );
    }
    let grant = match redeem(&st, &form, &client_id, false) {
        Ok(g) => g,
        Err(why) => return error(StatusCode::BAD_REQUEST, "invalid_grant", why),
    };
    let quirk = st.lock().quirk;
    let id_token = st.id_token(&grant.user, grant.nonce.as_deref(), quirk);
    let access_token = random_token();
    st.lock().tokens.insert(access_token.clone(), grant.user);
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": grant.scope,
            "id_token": id_token,
            "refresh_token": random_token(),
        }))
}

async fn userinfo(st: web::Data<State>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = st.gate(|c| c.userinfo += 1) {
        return r;
    }
    let inner = st.lock();
    match bearer(&req, false).and_then(|t| inner.tokens.get(&t)) {
        Some(user) => HttpResponse::Ok().json(State::profile_claims(user, inner.quirk)),
        None => HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", "Bearer error=\"invalid_token\""))
            .json(json!({"error": "invalid_token"})),
    }
}

async fn gh_token(st: web::Data<State>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(r) = st.gate(|c| c.github_token += 1) {
        return r;
    }
    let json = header(&req, ACCEPT).is_some_and(|a| a.contains("application/json"));
    // GitHub answers 200 even for errors, as JSON or as a form depending on `Accept`.
    let answer = |pairs: &[(&str, &str)]| {
        if json {
            let map: Map<String, Value> =
                pairs.iter().map(|(k, v)| ((*k).into(), json!(v))).collect();
            HttpResponse::Ok().json(map)
        } else {
            HttpResponse::Ok()
                .content_type("application/x-www-form-urlencoded; charset=utf-8")
                .body(serde_urlencoded::to_string(pairs).unwrap_or_default())
        }
    };
    let Some(form) = parse_form(&body) else {
        return bad_request("malformed form");
    };
    let Ok((creds, method)) = client_credentials(&req, &form) else {
        return bad_request("more than one client authentication method");
    };
    let mut recorded = form.clone();
    recorded.insert("client_auth".into(), method.into());
    st.lock().last_token = Some(recorded);
    let Some((client_id, _)) =
        creds.filter(|(id, s)| *id == st.client_id && *s == st.client_secret)
    else {
        return answer(&[
            ("error", "incorrect_client_credentials"),
            (
                "error_description",
                "The client_id and/or client_secret passed are incorrect.",
            ),
        ]);
    };
    let grant =
        match redeem(&st, &form, &client_id, true) {
            Ok(g) => g,
            Err(REDIRECT_MISMATCH) => return answer(&[
                ("error", "redirect_uri_mismatch"),
                (
                    "error_description",
                    "The redirect_uri MUST match the registered callback URL for this application.",
                ),
            ]),
            Err(_) => {
                return answer(&[
                    ("error", "bad_verification_code"),
                    (
                        "error_description",
                        "The code passed is incorrect or expired.",
                    ),
                ])
            }
        };
    let access_token = format!("gho_{}", &random_token()[..36]);
    let scope = grant
        .scope
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(",");
    st.lock().tokens.insert(access_token.clone(), grant.user);
    answer(&[
        ("access_token", &access_token),
        ("token_type", "bearer"),
        ("scope", &scope),
    ])
}

/// The user behind a GitHub API request, or GitHub's error answer.
fn gh_caller(st: &State, req: &HttpRequest) -> Result<User, Box<HttpResponse>> {
    if header(req, USER_AGENT).is_none_or(str::is_empty) {
        return Err(Box::new(HttpResponse::Forbidden().content_type("text/plain").body(
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header.",
        )));
    }
    bearer(req, true)
        .and_then(|t| st.lock().tokens.get(&t).cloned())
        .ok_or_else(|| {
            Box::new(HttpResponse::Unauthorized().json(json!({
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest",
                "status": "401",
            })))
        })
}

async fn gh_user(st: web::Data<State>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = st.gate(|c| c.github_user += 1) {
        return r;
    }
    let user = match gh_caller(&st, &req) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let id = user
        .sub
        .parse::<u64>()
        .map_or_else(|_| json!(user.sub), |n| json!(n));
    let email = user
        .github_email_list()
        .into_iter()
        .find(|e| e.primary)
        .map(|e| e.email);
    HttpResponse::Ok().json(json!({
        "id": id,
        "login": user.github_login,
        "name": user.name,
        "email": email,
        "avatar_url": user.picture,
    }))
}

async fn gh_emails(st: web::Data<State>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = st.gate(|c| c.github_emails += 1) {
        return r;
    }
    let user = match gh_caller(&st, &req) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let list: Vec<Value> = user
        .github_email_list()
        .into_iter()
        .map(|e| {
            let visibility = e.primary.then_some("private");
            json!({"email": e.email, "primary": e.primary, "verified": e.verified, "visibility": visibility})
        })
        .collect();
    HttpResponse::Ok().json(list)
}
