//! End-to-end tests of `jwt-verifier`: real RSA keys (josekit), real tokens, and a
//! real HTTP JWKS endpoint on 127.0.0.1 that counts requests and can be switched to
//! failing or stopped. Nothing of the crate is mocked.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jwk::KeyPair as _;
use josekit::jws::{JwsSigner as _, HS256, RS256};
use jwt_verifier::{Verifier, VerifierConfig, VerifyError};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use uuid::Uuid;

const ISSUER: &str = "https://auth.example.test";
const AUDIENCE: &str = "profile-api";

// ---------------------------------------------------------------------------
// Keys and tokens
// ---------------------------------------------------------------------------

/// An RS256 key pair with its `kid`.
struct Key {
    kid: String,
    pair: RsaKeyPair,
}

impl Key {
    fn generate(kid: &str) -> Self {
        let mut pair = RS256.generate_key_pair(2048).expect("RSA-2048 key");
        pair.set_key_id(Some(kid));
        Key {
            kid: kid.to_owned(),
            pair,
        }
    }

    /// The public JWK as our auth-server publishes it.
    fn public_jwk(&self) -> Value {
        let mut jwk = self.pair.to_jwk_public_key();
        jwk.set_key_use("sig");
        jwk.set_algorithm("RS256");
        serde_json::to_value(jwk.as_ref()).expect("jwk json")
    }

    fn header(&self) -> Value {
        json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"})
    }

    /// A token with our usual header, signed by this key.
    fn token(&self, claims: &Value) -> String {
        self.sign(&self.header(), claims)
    }

    /// Any header and claims, RS256-signed by this key.
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let signer = RS256
            .signer_from_jwk(&self.pair.to_jwk_private_key())
            .expect("signer");
        let input = signing_input(header, claims);
        let signature = signer.sign(input.as_bytes()).expect("sign");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

fn jwks(keys: &[&Key]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() })
}

fn b64json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64json(header), b64json(claims))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// The claims our auth-server puts in an access token, valid for 5 minutes.
fn claims() -> Value {
    let now = now();
    let user = Uuid::new_v4();
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user.to_string(),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": Uuid::new_v4().to_string(),
        "sid": Uuid::new_v4().to_string(),
        "role": "user",
        "id": user.to_string(),
        "name": "Ada",
        "email": "ada@example.test",
        "emailVerified": true,
        "image": null,
        "createdAt": "2026-11-26T13:14:00.467Z",
        "updatedAt": "2026-11-26T13:14:00.467Z",
    })
}

fn claims_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut c = claims();
    edit(c.as_object_mut().expect("object"));
    c
}

// ---------------------------------------------------------------------------
// A JWKS server: raw HTTP/1.1 over a tokio TcpListener
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Serve,
    Fail500,
}

struct ServerState {
    body: String,
    mode: Mode,
    /// `Cache-Control: public, max-age=N`; `None` sends no Cache-Control at all.
    max_age: Option<u64>,
    /// Delay before answering, to make concurrent callers overlap a fetch.
    delay: Duration,
}

struct JwksServer {
    url: String,
    requests: Arc<AtomicUsize>,
    state: Arc<Mutex<ServerState>>,
    task: Option<JoinHandle<()>>,
}

impl JwksServer {
    async fn start(jwks: Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/api/auth/jwks",
            listener.local_addr().expect("addr")
        );
        let requests = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(Mutex::new(ServerState {
            body: jwks.to_string(),
            mode: Mode::Serve,
            max_age: Some(600),
            delay: Duration::ZERO,
        }));
        let task = tokio::spawn(accept_loop(listener, requests.clone(), state.clone()));
        JwksServer {
            url,
            requests,
            state,
            task: Some(task),
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn set_jwks(&self, jwks: Value) {
        self.state.lock().expect("state").body = jwks.to_string();
    }

    fn set_body(&self, body: String) {
        self.state.lock().expect("state").body = body;
    }

    fn set_mode(&self, mode: Mode) {
        self.state.lock().expect("state").mode = mode;
    }

    fn set_max_age(&self, max_age: Option<u64>) {
        self.state.lock().expect("state").max_age = max_age;
    }

    fn set_delay(&self, delay: Duration) {
        self.state.lock().expect("state").delay = delay;
    }

    /// Closes the listening socket: later fetches get "connection refused".
    async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    fn config(&self) -> VerifierConfig {
        VerifierConfig::new(self.url.clone(), ISSUER, AUDIENCE)
    }

    fn verifier(&self) -> Verifier {
        Verifier::new(self.config()).expect("verifier")
    }
}

async fn accept_loop(
    listener: TcpListener,
    requests: Arc<AtomicUsize>,
    state: Arc<Mutex<ServerState>>,
) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        let requests = requests.clone();
        let state = state.clone();
        tokio::spawn(async move {
            // Read the request head; the verifier sends a bodiless GET.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            requests.fetch_add(1, Ordering::SeqCst);
            let (body, mode, max_age, delay) = {
                let s = state.lock().expect("state");
                (s.body.clone(), s.mode, s.max_age, s.delay)
            };
            tokio::time::sleep(delay).await;
            let response = match mode {
                Mode::Fail500 => {
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_owned()
                }
                Mode::Serve => {
                    let cache = max_age
                        .map(|n| format!("Cache-Control: public, max-age={n}\r\n"))
                        .unwrap_or_default();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{cache}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                }
            };
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

/// A server with one key, and a verifier pointed at it.
async fn setup() -> (Key, JwksServer, Verifier) {
    let key = Key::generate("key-1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let verifier = server.verifier();
    (key, server, verifier)
}

async fn rejects(verifier: &Verifier, token: &str) -> VerifyError {
    match verifier.verify(token).await {
        Ok(_) => panic!("token was accepted"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------
// Accepted tokens
// ---------------------------------------------------------------------------

#[tokio::test]
async fn valid_token_passes() {
    let (key, server, verifier) = setup().await;
    assert!(!verifier.has_keys());
    let c = claims();
    let got = verifier.verify(&key.token(&c)).await.expect("valid");
    assert_eq!(got.sub.to_string(), c["sub"].as_str().expect("sub"));
    assert_eq!(got.email, "ada@example.test");
    assert!(got.aud.contains(AUDIENCE));
    assert!(verifier.has_keys());
    // A second token is served from the cache.
    verifier.verify(&key.token(&claims())).await.expect("valid");
    assert_eq!(verifier.fetch_count(), 1);
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn stats_count_fetches_failures_and_cache_hits() {
    let (key, server, verifier) = setup().await;
    let zero = verifier.stats();
    assert_eq!(
        (zero.jwks_fetches, zero.jwks_fetch_failures),
        (0, 0),
        "nothing fetched before the first use"
    );
    let token = key.token(&claims());
    verifier.verify(&token).await.expect("valid");
    verifier.verify(&token).await.expect("valid again");
    let garbage = rejects(&verifier, "not.a.token").await;
    assert!(!matches!(garbage, VerifyError::JwksUnavailable(_)));
    let s = verifier.stats();
    assert_eq!(s.jwks_fetches, 1);
    assert_eq!(s.jwks_fetch_failures, 0);
    assert_eq!(s.verified_cache_hits, 1, "the same token again");
    assert_eq!(
        s.verified_cache_misses, 2,
        "the first sight and the garbage"
    );
    server.set_mode(Mode::Fail500);
    assert!(verifier.refresh().await.is_err());
    let s = verifier.stats();
    assert_eq!((s.jwks_fetches, s.jwks_fetch_failures), (2, 1));
}

#[tokio::test]
async fn aud_array_containing_ours_passes() {
    let (key, _server, verifier) = setup().await;
    let c = claims_with(|c| {
        c.insert("aud".into(), json!(["billing-api", AUDIENCE]));
    });
    verifier.verify(&key.token(&c)).await.expect("aud array");
}

#[tokio::test]
async fn typ_decides_the_kind_of_token() {
    let (key, _server, verifier) = setup().await;
    // A learner token: `typ: JWT` or none.
    for header in [
        json!({"alg": "RS256", "kid": key.kid}),
        json!({"alg": "RS256", "kid": key.kid, "typ": "JWT"}),
    ] {
        let token = key.sign(&header, &claims());
        verifier.verify(&token).await.expect("learner token");
        assert_eq!(
            verifier.verify_service(&token).await.err(),
            Some(VerifyError::WrongKind {
                expected: "service"
            })
        );
    }
    // `at+jwt` is a service token: learner claims under it are not one.
    let at = json!({"alg": "RS256", "kid": key.kid, "typ": "at+jwt"});
    assert_eq!(
        verifier.verify(&key.sign(&at, &claims())).await.err(),
        Some(VerifyError::MissingClaim("client_id"))
    );
    // A real service token: verify_service only.
    let client = uuid::Uuid::new_v4().to_string();
    let service = claims_with(|c| {
        for k in [
            "sid",
            "role",
            "id",
            "name",
            "email",
            "emailVerified",
            "image",
            "createdAt",
            "updatedAt",
        ] {
            c.remove(k);
        }
        c.insert("sub".into(), json!(client));
        c.insert("client_id".into(), json!(client));
        c.insert("scope".into(), json!("profiles:read"));
    });
    let token = key.sign(&at, &service);
    let granted = verifier
        .verify_service(&token)
        .await
        .expect("service token");
    assert!(granted.has_scope("profiles:read") && !granted.has_scope("profiles"));
    assert_eq!(
        verifier.verify(&token).await.err(),
        Some(VerifyError::WrongKind {
            expected: "learner"
        })
    );
    // The same claims under `typ: JWT` are neither.
    let jwt = json!({"alg": "RS256", "kid": key.kid, "typ": "JWT"});
    assert!(verifier.verify(&key.sign(&jwt, &service)).await.is_err());
    // A service token whose client_id is not its sub is refused.
    let mismatched = claims_with(|c| {
        c.insert("client_id".into(), json!("someone-else"));
        c.insert("scope".into(), json!(""));
    });
    assert_eq!(
        verifier
            .verify_service(&key.sign(&at, &mismatched))
            .await
            .err(),
        Some(VerifyError::InvalidClaim("client_id"))
    );
}

#[tokio::test]
async fn clock_skew_within_leeway_passes() {
    let (key, _server, verifier) = setup().await;
    let c = claims_with(|c| {
        c.insert("exp".into(), json!(now() - 30));
        c.insert("nbf".into(), json!(now() + 30));
    });
    verifier
        .verify(&key.token(&c))
        .await
        .expect("within 60 s leeway");
}

// ---------------------------------------------------------------------------
// Rejected tokens: claims
// ---------------------------------------------------------------------------

#[tokio::test]
async fn expired_is_rejected() {
    let (key, _server, verifier) = setup().await;
    let c = claims_with(|c| {
        c.insert("iat".into(), json!(now() - 1000));
        c.insert("nbf".into(), json!(now() - 1000));
        c.insert("exp".into(), json!(now() - 61));
    });
    assert_eq!(
        rejects(&verifier, &key.token(&c)).await,
        VerifyError::Expired
    );
}

#[tokio::test]
async fn a_remembered_token_still_expires_on_time() {
    let (key, server, verifier) = setup().await;
    // Valid for about five more seconds (60 s leeway included): room for a slow,
    // loaded machine between building the token and the first checks.
    let c = claims_with(|c| {
        c.insert("iat".into(), json!(now() - 120));
        c.insert("nbf".into(), json!(now() - 120));
        c.insert("exp".into(), json!(now() - 55));
    });
    let token = key.token(&c);
    verifier.verify(&token).await.expect("valid now");
    // A second use is answered from the verified-token cache: no new JWKS fetch …
    let fetches = verifier.fetch_count();
    verifier.verify(&token).await.expect("still valid");
    assert_eq!(verifier.fetch_count(), fetches);
    // … but the cache never outlives `exp`.
    tokio::time::sleep(std::time::Duration::from_millis(6100)).await;
    assert_eq!(rejects(&verifier, &token).await, VerifyError::Expired);
    drop(server);
}

#[tokio::test]
async fn not_yet_valid_is_rejected() {
    let (key, _server, verifier) = setup().await;
    let c = claims_with(|c| {
        c.insert("nbf".into(), json!(now() + 120));
        c.insert("exp".into(), json!(now() + 600));
    });
    assert_eq!(
        rejects(&verifier, &key.token(&c)).await,
        VerifyError::NotYetValid
    );
}

#[tokio::test]
async fn issued_in_the_future_is_rejected_beyond_the_leeway() {
    let (key, _server, verifier) = setup().await;
    let future = claims_with(|c| {
        c.insert("iat".into(), json!(now() + 120));
        c.insert("exp".into(), json!(now() + 600));
    });
    assert_eq!(
        rejects(&verifier, &key.token(&future)).await,
        VerifyError::NotYetValid
    );
    // Within the leeway (a few seconds of clock skew) it is accepted.
    let skewed = claims_with(|c| {
        c.insert("iat".into(), json!(now() + 5));
    });
    assert!(verifier.verify(&key.token(&skewed)).await.is_ok());
}

#[tokio::test]
async fn wrong_issuer_is_rejected() {
    let (key, _server, verifier) = setup().await;
    for iss in [
        "https://evil.example.test",
        // Prefix/suffix matches are not matches (PyJWT CVE-2024-53861).
        "https://auth.example.test.evil",
        "https://auth.example",
    ] {
        let c = claims_with(|c| {
            c.insert("iss".into(), json!(iss));
        });
        assert_eq!(
            rejects(&verifier, &key.token(&c)).await,
            VerifyError::WrongIssuer,
            "{iss}"
        );
    }
    let c = claims_with(|c| {
        c.remove("iss");
    });
    assert_eq!(
        rejects(&verifier, &key.token(&c)).await,
        VerifyError::MissingClaim("iss")
    );
}

#[tokio::test]
async fn wrong_audience_is_rejected() {
    let (key, _server, verifier) = setup().await;
    for aud in [json!("billing-api"), json!(["billing-api", "x"]), json!([])] {
        let c = claims_with(|c| {
            c.insert("aud".into(), aud.clone());
        });
        assert_eq!(
            rejects(&verifier, &key.token(&c)).await,
            VerifyError::WrongAudience,
            "{aud}"
        );
    }
    let c = claims_with(|c| {
        c.remove("aud");
    });
    assert_eq!(
        rejects(&verifier, &key.token(&c)).await,
        VerifyError::MissingClaim("aud")
    );
    let c = claims_with(|c| {
        c.insert("aud".into(), json!([AUDIENCE, 7]));
    });
    assert_eq!(
        rejects(&verifier, &key.token(&c)).await,
        VerifyError::InvalidClaim("aud")
    );
}

#[tokio::test]
async fn missing_sub_is_rejected() {
    let (key, _server, verifier) = setup().await;
    let c = claims_with(|c| {
        c.remove("sub");
    });
    assert_eq!(
        rejects(&verifier, &key.token(&c)).await,
        VerifyError::MissingClaim("sub")
    );
    let c = claims_with(|c| {
        c.insert("sub".into(), json!("admin"));
    });
    assert_eq!(
        rejects(&verifier, &key.token(&c)).await,
        VerifyError::InvalidClaim("sub")
    );
}

#[tokio::test]
async fn malformed_numeric_claims_are_rejected() {
    let (key, _server, verifier) = setup().await;
    let far_future = (now() + 3600).to_string();
    let c = claims_with(|c| {
        c.insert("exp".into(), json!(far_future));
    });
    assert_eq!(
        rejects(&verifier, &key.token(&c)).await,
        VerifyError::InvalidClaim("exp")
    );
    let c = claims_with(|c| {
        c.insert("nbf".into(), json!(null));
    });
    assert_eq!(
        rejects(&verifier, &key.token(&c)).await,
        VerifyError::InvalidClaim("nbf")
    );
    let c = claims_with(|c| {
        c.insert("iat".into(), json!(1.5));
    });
    assert_eq!(
        rejects(&verifier, &key.token(&c)).await,
        VerifyError::InvalidClaim("iat")
    );
}

#[tokio::test]
async fn missing_time_claims_are_rejected() {
    let (key, _server, verifier) = setup().await;
    for claim in ["exp", "iat", "nbf"] {
        let c = claims_with(|c| {
            c.remove(claim);
        });
        assert_eq!(
            rejects(&verifier, &key.token(&c)).await,
            VerifyError::MissingClaim(claim)
        );
    }
}

#[tokio::test]
async fn claims_not_fitting_access_claims_are_rejected() {
    let (key, _server, verifier) = setup().await;
    let c = claims_with(|c| {
        c.remove("sid");
    });
    assert_eq!(
        rejects(&verifier, &key.token(&c)).await,
        VerifyError::InvalidClaim("claims")
    );
}

// ---------------------------------------------------------------------------
// Rejected tokens: shape, header, signature
// ---------------------------------------------------------------------------

#[tokio::test]
async fn unknown_kid_is_rejected() {
    let (key, server, verifier) = setup().await;
    verifier.refresh().await.expect("warm-up");
    let header = json!({"alg": "RS256", "kid": "no-such-key", "typ": "JWT"});
    assert_eq!(
        rejects(&verifier, &key.sign(&header, &claims())).await,
        VerifyError::UnknownKid
    );
    // Within the 30 s default cooldown, an unknown kid triggers no refetch.
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn missing_kid_is_rejected() {
    let (key, _server, verifier) = setup().await;
    let header = json!({"alg": "RS256", "typ": "JWT"});
    assert_eq!(
        rejects(&verifier, &key.sign(&header, &claims())).await,
        VerifyError::MissingKid
    );
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let (key, server, verifier) = setup().await;
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "kid": key.kid, "typ": "JWT"});
        let unsigned = format!("{}.", signing_input(&header, &claims()));
        assert_eq!(
            rejects(&verifier, &unsigned).await,
            VerifyError::UnsupportedAlgorithm,
            "{alg}"
        );
        // Even with a (valid RS256) signature attached.
        let signed = key.sign(&header, &claims());
        assert_eq!(
            rejects(&verifier, &signed).await,
            VerifyError::UnsupportedAlgorithm,
            "{alg}"
        );
    }
    let no_alg = json!({"kid": key.kid, "typ": "JWT"});
    assert_eq!(
        rejects(&verifier, &key.sign(&no_alg, &claims())).await,
        VerifyError::UnsupportedAlgorithm
    );
    // Rejected from the header alone: no JWKS request was made.
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn other_rsa_algs_are_rejected() {
    let (key, _server, verifier) = setup().await;
    for alg in ["RS384", "RS512", "PS256", "ES256", "rs256"] {
        let header = json!({"alg": alg, "kid": key.kid});
        assert_eq!(
            rejects(&verifier, &key.sign(&header, &claims())).await,
            VerifyError::UnsupportedAlgorithm,
            "{alg}"
        );
    }
}

#[tokio::test]
async fn hs256_with_the_rsa_public_key_as_secret_is_rejected() {
    let (key, server, verifier) = setup().await;
    let jwk = key.public_jwk();
    let n_e = [
        URL_SAFE_NO_PAD
            .decode(jwk["n"].as_str().expect("n"))
            .expect("n"),
        URL_SAFE_NO_PAD
            .decode(jwk["e"].as_str().expect("e"))
            .expect("e"),
    ]
    .concat();
    let secrets: [Vec<u8>; 3] = [
        key.pair.to_pem_public_key(),
        key.pair.to_traditional_pem_public_key(),
        n_e,
    ];
    for secret in secrets {
        let hmac = HS256.signer_from_bytes(&secret).expect("hmac signer");
        let forge = |alg: &str| {
            let header = json!({"alg": alg, "kid": key.kid, "typ": "JWT"});
            let input = signing_input(&header, &claims());
            let mac = hmac.sign(input.as_bytes()).expect("mac");
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac))
        };
        // The classic confusion: header says HS256.
        assert_eq!(
            rejects(&verifier, &forge("HS256")).await,
            VerifyError::UnsupportedAlgorithm
        );
        // An HMAC passed off as RS256 fails the RSA check.
        assert_eq!(
            rejects(&verifier, &forge("RS256")).await,
            VerifyError::BadSignature
        );
    }
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn token_signed_by_another_key_under_our_kid_is_rejected() {
    let (key, _server, verifier) = setup().await;
    let attacker = Key::generate(&key.kid);
    assert_eq!(
        rejects(&verifier, &attacker.token(&claims())).await,
        VerifyError::BadSignature
    );
}

#[tokio::test]
async fn tampered_claims_are_rejected() {
    let (key, _server, verifier) = setup().await;
    let token = key.token(&claims());
    let (input, signature) = token.rsplit_once('.').expect("dots");
    let (header, _) = input.split_once('.').expect("dot");
    let admin = claims_with(|c| {
        c.insert("role".into(), json!("admin"));
    });
    let tampered = format!("{header}.{}.{signature}", b64json(&admin));
    assert_eq!(
        rejects(&verifier, &tampered).await,
        VerifyError::BadSignature
    );
}

#[tokio::test]
async fn truncated_token_is_rejected() {
    let (key, _server, verifier) = setup().await;
    let token = key.token(&claims());
    // Cut in the payload: two segments left.
    let half = &token[..token.len() / 2];
    assert!(matches!(
        rejects(&verifier, half).await,
        VerifyError::Malformed(_)
    ));
    // Signature segment dropped.
    let (no_sig, _) = token.rsplit_once('.').expect("dots");
    assert!(matches!(
        rejects(&verifier, no_sig).await,
        VerifyError::Malformed(_)
    ));
    assert!(matches!(
        rejects(&verifier, &format!("{no_sig}.")).await,
        VerifyError::Malformed(_)
    ));
    // Signature bytes cut short (re-encoded so the base64url stays canonical):
    // decodes, but does not verify.
    let signature = URL_SAFE_NO_PAD
        .decode(token.rsplit_once('.').expect("dots").1)
        .expect("b64");
    let short = format!(
        "{no_sig}.{}",
        URL_SAFE_NO_PAD.encode(&signature[..signature.len() - 1])
    );
    assert_eq!(rejects(&verifier, &short).await, VerifyError::BadSignature);
    // Signature shortened by one char: not canonical base64url any more.
    let odd = &token[..token.len() - 1];
    assert!(matches!(
        rejects(&verifier, odd).await,
        VerifyError::Malformed(_) | VerifyError::BadSignature
    ));
    assert!(matches!(
        rejects(&verifier, "").await,
        VerifyError::Malformed(_)
    ));
    assert!(matches!(
        rejects(&verifier, "not a jwt").await,
        VerifyError::Malformed(_)
    ));
}

#[tokio::test]
async fn oversized_token_is_rejected() {
    let (key, server, verifier) = setup().await;
    let c = claims_with(|c| {
        c.insert("name".into(), json!("A".repeat(8 * 1024)));
    });
    let token = key.token(&c);
    assert!(token.len() > 8 * 1024);
    assert_eq!(
        rejects(&verifier, &token).await,
        VerifyError::TooLarge { max: 8 * 1024 }
    );
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn forbidden_headers_are_rejected() {
    let (key, server, verifier) = setup().await;
    let cases = [
        ("jku", json!("https://evil.example.test/jwks.json")),
        ("x5u", json!("https://evil.example.test/cert.pem")),
        ("jwk", key.public_jwk()),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
    ];
    for (name, value) in cases {
        let mut header = key.header();
        header[name] = value;
        // Validly signed by our own key: the header alone must sink it.
        let token = key.sign(&header, &claims());
        assert_eq!(
            rejects(&verifier, &token).await,
            VerifyError::ForbiddenHeader(name),
            "{name}"
        );
    }
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn crit_header_is_rejected() {
    let (key, _server, verifier) = setup().await;
    let header =
        json!({"alg": "RS256", "kid": key.kid, "typ": "JWT", "crit": ["b64"], "b64": false});
    assert_eq!(
        rejects(&verifier, &key.sign(&header, &claims())).await,
        VerifyError::ForbiddenHeader("crit")
    );
}

#[tokio::test]
async fn jku_header_is_rejected() {
    let (key, _server, verifier) = setup().await;
    let header = json!({"alg": "RS256", "kid": key.kid, "jku": "http://127.0.0.1:1/jwks"});
    assert_eq!(
        rejects(&verifier, &key.sign(&header, &claims())).await,
        VerifyError::ForbiddenHeader("jku")
    );
}

#[tokio::test]
async fn wrong_typ_is_rejected() {
    let (key, _server, verifier) = setup().await;
    for typ in [json!("id+jwt"), json!("JOSE"), json!(1)] {
        let header = json!({"alg": "RS256", "kid": key.kid, "typ": typ});
        assert_eq!(
            rejects(&verifier, &key.sign(&header, &claims())).await,
            VerifyError::UnsupportedType,
            "{typ}"
        );
    }
}

// ---------------------------------------------------------------------------
// JWKS: key vetting, rotation, failures, single-flight
// ---------------------------------------------------------------------------

#[tokio::test]
async fn unusable_jwks_keys_are_ignored() {
    let good = Key::generate("good");
    // josekit's RS256 refuses to generate < 2048 bits; RsaKeyPair itself does not.
    let mut weak_pair = RsaKeyPair::generate(1024).expect("1024-bit key");
    weak_pair.set_key_id(Some("weak"));
    let weak_jwk = serde_json::to_value(weak_pair.to_jwk_public_key().as_ref()).expect("jwk");
    let rs384 = Key::generate("rs384");
    let mut rs384_jwk = rs384.public_jwk();
    rs384_jwk["alg"] = json!("RS384");
    let enc = Key::generate("enc");
    let mut enc_jwk = enc.public_jwk();
    enc_jwk["use"] = json!("enc");
    let server =
        JwksServer::start(json!({"keys": [good.public_jwk(), weak_jwk, rs384_jwk, enc_jwk]})).await;
    let verifier = server.verifier();

    verifier
        .verify(&good.token(&claims()))
        .await
        .expect("good key");
    for key in [&rs384, &enc] {
        assert_eq!(
            rejects(&verifier, &key.token(&claims())).await,
            VerifyError::UnknownKid,
            "{}",
            key.kid
        );
    }
    let weak_header = json!({"alg": "RS256", "kid": "weak", "typ": "JWT"});
    let weak_token = format!("{}.c2ln", signing_input(&weak_header, &claims()));
    assert_eq!(
        rejects(&verifier, &weak_token).await,
        VerifyError::UnknownKid
    );
}

#[tokio::test]
async fn key_rotation_is_picked_up_without_restart() {
    let old = Key::generate("2026-01");
    let new = Key::generate("2026-02");
    let server = JwksServer::start(jwks(&[&old])).await;
    let mut config = server.config();
    config.unknown_kid_cooldown = Duration::from_secs(1);
    let verifier = Verifier::new(config).expect("verifier");

    verifier
        .verify(&old.token(&claims()))
        .await
        .expect("old key");
    assert_eq!(verifier.fetch_count(), 1);

    server.set_jwks(jwks(&[&new]));
    // Past the cooldown (counted from the end of the last fetch).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The unknown kid triggers one refetch, which finds the new key.
    verifier
        .verify(&new.token(&claims()))
        .await
        .expect("new key after rotation");
    assert_eq!(verifier.fetch_count(), 2);
    verifier
        .verify(&new.token(&claims()))
        .await
        .expect("served from cache");
    assert_eq!(verifier.fetch_count(), 2);
    assert_eq!(server.requests(), 2);

    // The retired key is gone from the refetched set, and the cooldown holds
    // back another refetch for it.
    assert_eq!(
        rejects(&verifier, &old.token(&claims())).await,
        VerifyError::UnknownKid
    );
    assert_eq!(verifier.fetch_count(), 2);
}

#[tokio::test]
async fn cached_keys_keep_validating_when_jwks_fails() {
    let (key, mut server, _) = setup().await;
    // Cache entries live 1 s, so the next verify after that must go to the server.
    server.set_max_age(Some(1));
    let mut config = server.config();
    config.min_ttl = Duration::from_secs(1);
    config.unknown_kid_cooldown = Duration::from_secs(1);
    let verifier = Verifier::new(config).expect("verifier");
    verifier.refresh().await.expect("warm-up");

    // Answering 500.
    server.set_mode(Mode::Fail500);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    verifier
        .verify(&key.token(&claims()))
        .await
        .expect("stale keys, server 500");
    assert_eq!(server.requests(), 2, "the expired entry was refetched");
    assert!(matches!(
        verifier.refresh().await,
        Err(VerifyError::JwksUnavailable(_))
    ));
    verifier
        .verify(&key.token(&claims()))
        .await
        .expect("failed refresh keeps keys");
    assert!(verifier.has_keys());

    // Stopped altogether. The stale entry is retried after the 1 s cooldown.
    let before = verifier.fetch_count();
    server.stop().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    verifier
        .verify(&key.token(&claims()))
        .await
        .expect("stale keys, server down");
    assert!(
        verifier.fetch_count() > before,
        "the refused fetch was attempted"
    );
    assert!(verifier.has_keys());
}

#[tokio::test]
async fn stale_keys_expire_after_stale_if_error() {
    let (key, mut server, _) = setup().await;
    server.set_max_age(Some(1));
    let mut config = server.config();
    config.min_ttl = Duration::from_secs(1);
    config.unknown_kid_cooldown = Duration::from_secs(1);
    config.stale_if_error = Duration::from_secs(2);
    let verifier = Verifier::new(config).expect("verifier");
    // Keys fresh for 1 s from here (t0), then stale-usable until t0 + 3 s.
    verifier.verify(&key.token(&claims())).await.expect("fresh");

    server.stop().await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    verifier
        .verify(&key.token(&claims()))
        .await
        .expect("within stale window");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(!verifier.has_keys());
    assert!(matches!(
        rejects(&verifier, &key.token(&claims())).await,
        VerifyError::JwksUnavailable(_)
    ));
}

#[tokio::test]
async fn jwks_unreachable_at_start_is_unavailable() {
    let key = Key::generate("k");
    let mut server = JwksServer::start(jwks(&[&key])).await;
    server.stop().await;
    let verifier = server.verifier();
    assert!(matches!(
        verifier.refresh().await,
        Err(VerifyError::JwksUnavailable(_))
    ));
    assert!(matches!(
        rejects(&verifier, &key.token(&claims())).await,
        VerifyError::JwksUnavailable(_)
    ));
    assert!(!verifier.has_keys());
}

#[tokio::test]
async fn oversized_or_invalid_jwks_is_refused() {
    let key = Key::generate("k");
    let server = JwksServer::start(jwks(&[&key])).await;
    let mut config = server.config();
    config.max_jwks_bytes = 1024; // One RSA-2048 JWK is ~450 bytes.
    let verifier = Verifier::new(config).expect("verifier");
    let padding = "x".repeat(2048);
    server.set_body(json!({"keys": [key.public_jwk()], "padding": padding}).to_string());
    assert!(matches!(
        verifier.refresh().await,
        Err(VerifyError::JwksUnavailable(_))
    ));

    server.set_body("{\"keys\": []}".to_owned());
    assert!(matches!(
        verifier.refresh().await,
        Err(VerifyError::JwksUnavailable(_))
    ));
    server.set_body("<html>".to_owned());
    assert!(matches!(
        verifier.refresh().await,
        Err(VerifyError::JwksUnavailable(_))
    ));

    server.set_jwks(jwks(&[&key]));
    verifier.refresh().await.expect("good JWKS");
    verifier.verify(&key.token(&claims())).await.expect("valid");
}

#[tokio::test]
async fn cache_ttl_follows_max_age() {
    let (key, server, _) = setup().await;
    server.set_max_age(Some(1));
    let mut config = server.config();
    config.min_ttl = Duration::from_secs(1);
    let verifier = Verifier::new(config).expect("verifier");
    verifier.verify(&key.token(&claims())).await.expect("valid");
    verifier
        .verify(&key.token(&claims()))
        .await
        .expect("cached");
    assert_eq!(server.requests(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    verifier
        .verify(&key.token(&claims()))
        .await
        .expect("refetched");
    assert_eq!(server.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_burst_fetches_once() {
    let (key, server, verifier) = setup().await;
    server.set_delay(Duration::from_millis(200));
    let token = key.token(&claims());
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let verifier = verifier.clone();
            let token = token.clone();
            tokio::spawn(async move { verifier.verify(&token).await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("valid");
    }
    assert_eq!(server.requests(), 1);
    assert_eq!(verifier.fetch_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_racing_cold_verifies_completes() {
    let (key, server, verifier) = setup().await;
    server.set_delay(Duration::from_millis(200));
    let token = key.token(&claims());
    let verifies: Vec<_> = (0..100)
        .map(|_| {
            let verifier = verifier.clone();
            let token = token.clone();
            tokio::spawn(async move { verifier.verify(&token).await.map(|_| ()) })
        })
        .collect();
    let refresh = {
        let verifier = verifier.clone();
        tokio::spawn(async move { verifier.refresh().await })
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        refresh.await.expect("task").expect("refresh");
        for task in verifies {
            task.await.expect("task").expect("valid");
        }
    })
    .await
    .expect("no deadlock between refresh and the cache loader");
    // The loader and the explicit refresh may each fetch once, never more.
    assert!(verifier.fetch_count() <= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_unknown_kids_refetches_at_most_once() {
    let (key, server, _) = setup().await;
    let mut config = server.config();
    config.unknown_kid_cooldown = Duration::from_secs(1);
    let verifier = Verifier::new(config).expect("verifier");
    verifier.refresh().await.expect("warm-up");
    // Let the cooldown pass so the burst is allowed exactly one refetch, and make
    // that refetch slow so the whole burst piles up behind it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    server.set_delay(Duration::from_millis(200));

    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let verifier = verifier.clone();
            let header = json!({"alg": "RS256", "kid": Uuid::new_v4().to_string(), "typ": "JWT"});
            // The signature is never reached: the kid is unknown.
            let token = format!("{}.c2ln", signing_input(&header, &claims()));
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(
            task.await.expect("task").err(),
            Some(VerifyError::UnknownKid)
        );
    }
    assert_eq!(server.requests(), 2, "warm-up plus at most one refetch");
    assert_eq!(verifier.fetch_count(), 2);
    // Known kids still verify.
    verifier.verify(&key.token(&claims())).await.expect("valid");
}

#[test]
fn config_refuses_plain_http_to_remote_hosts() {
    let config = |url: &str| VerifierConfig::new(url, ISSUER, AUDIENCE);
    assert!(Verifier::new(config("http://auth.example.test/jwks")).is_err());
    assert!(Verifier::new(config("ftp://127.0.0.1/jwks")).is_err());
    assert!(Verifier::new(config("not a url")).is_err());
    assert!(Verifier::new(config("https://auth.example.test/jwks")).is_ok());
    assert!(Verifier::new(config("http://127.0.0.1:8080/jwks")).is_ok());
    assert!(Verifier::new(config("http://[::1]:8080/jwks")).is_ok());
    assert!(Verifier::new(config("http://localhost:8080/jwks")).is_ok());
    assert!(Verifier::new(VerifierConfig::new("https://a.test/jwks", ISSUER, "")).is_err());
}

// ---------------------------------------------------------------------------
// actix-web extractor
// ---------------------------------------------------------------------------

#[cfg(feature = "actix")]
mod extractor {
    use super::*;
    use actix_web::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
    use actix_web::http::StatusCode;
    use actix_web::{test, web, App, HttpResponse};
    use jwt_verifier::actix::AuthenticatedUser;

    async fn me(user: AuthenticatedUser) -> HttpResponse {
        HttpResponse::Ok().body(user.0.sub.to_string())
    }

    async fn call(
        verifier: &Verifier,
        authorization: Option<&str>,
    ) -> (StatusCode, Option<String>, Value) {
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(verifier.clone()))
                .route("/me", web::get().to(me)),
        )
        .await;
        let mut req = test::TestRequest::get().uri("/me");
        if let Some(value) = authorization {
            req = req.insert_header((AUTHORIZATION, value));
        }
        let resp = test::call_service(&app, req.to_request()).await;
        let status = resp.status();
        let challenge = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().expect("ascii").to_owned());
        let body = test::read_body(resp).await;
        let body =
            serde_json::from_slice(&body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)));
        (status, challenge, body)
    }

    #[actix_web::test]
    async fn missing_header_is_401_bearer() {
        let (_key, server, verifier) = setup().await;
        let (status, challenge, body) = call(&verifier, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(challenge.as_deref(), Some("Bearer"));
        assert_eq!(body["code"], "UNAUTHORIZED");
        // Another scheme is "no bearer credentials" too.
        let (status, challenge, body) = call(&verifier, Some("Basic YTpi")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(challenge.as_deref(), Some("Bearer"));
        assert_eq!(body["code"], "UNAUTHORIZED");
        assert_eq!(server.requests(), 0);
    }

    #[actix_web::test]
    async fn bad_token_is_401_invalid_token() {
        let (key, _server, verifier) = setup().await;
        let expired = key.token(&claims_with(|c| {
            c.insert("exp".into(), json!(now() - 3600));
        }));
        for authorization in [
            format!("Bearer {expired}"),
            "Bearer not.a.jwt".to_owned(),
            "Bearer ".to_owned(),
            "bearer garbage".to_owned(),
        ] {
            let (status, challenge, body) = call(&verifier, Some(&authorization)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization}");
            assert_eq!(
                challenge.as_deref(),
                Some(r#"Bearer error="invalid_token""#)
            );
            assert_eq!(
                body,
                json!({"code": "INVALID_TOKEN", "message": "Invalid or expired token"}),
                "the reason is not echoed"
            );
        }
    }

    #[actix_web::test]
    async fn valid_token_reaches_the_handler() {
        let (key, _server, verifier) = setup().await;
        let c = claims();
        let (status, _, body) = call(&verifier, Some(&format!("Bearer {}", key.token(&c)))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, c["sub"]);
    }
}
