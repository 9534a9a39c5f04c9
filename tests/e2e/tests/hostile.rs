//! Hostile input against both real services, as an attacker sends it: encoded and
//! odd paths, spoofed forwarding headers, redirect payloads with every control
//! character, oversized and duplicated headers, replayed cookies, forged JWTs and
//! malformed bodies. Every case asserts a 4xx (a JSON `{"code","message"}` body
//! wherever the application answers), never a 5xx; that nothing was stored; and
//! that both services still work afterwards.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use e2e::{body, header, send, start_stack, start_stack_with, Learner, Stack, TRUSTED_ORIGIN};
use josekit::jws::{JwsHeader, HS256, RS256};
use josekit::jwt::{self, JwtPayload};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Rows of every table a request could write, to prove that nothing was.
async fn row_counts(stack: &Stack) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in [
        "identity.users",
        "identity.accounts",
        "identity.sessions",
        "identity.verifications",
        "learner.profiles",
    ] {
        let rows = stack.sql(&format!("select count(*) from {table}")).await;
        out.push((table, rows[0].get::<_, i64>(0)));
    }
    out
}

/// A 4xx with a JSON `{"code","message"}` body; returns the code.
async fn assert_4xx_json(res: Response, case: &str) -> String {
    let status = res.status();
    assert!(status.is_client_error(), "{case}: status {status}");
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{case}: {status} with content-type {content_type:?}"
    );
    let body: Value = res.json().await.unwrap_or_else(|e| panic!("{case}: {e}"));
    let code = body["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: {body}"));
    assert!(body["message"].is_string(), "{case}: {body}");
    code.to_owned()
}

/// Both services answer their probes, the learner still signs in, and their JWT
/// still reads their profile.
async fn assert_healthy(stack: &Stack, learner: &Learner) {
    for url in [
        format!("{}/readyz", stack.auth),
        format!("{}/readyz", stack.profile),
    ] {
        let res = send(stack.http.get(&url)).await;
        assert_eq!(res.status(), StatusCode::OK, "{url}");
    }
    let res = send(
        stack
            .http
            .post(stack.auth_url("/sign-in/email"))
            .json(&json!({"email": learner.email, "password": learner.password})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "sign-in after the attack");
    let jwt = stack.jwt(&header(&res, "set-auth-token")).await;
    let res = send(stack.profile_request(Method::GET, &jwt)).await;
    assert!(
        matches!(res.status(), StatusCode::OK | StatusCode::NOT_FOUND),
        "profile read after the attack: {}",
        res.status()
    );
}

/// One raw HTTP/1.1 exchange, for what reqwest refuses to send (duplicated and
/// oversized headers, raw bytes in the path). Returns the status and the body.
async fn raw(base: &str, request: &[u8]) -> (u16, Vec<u8>) {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before reading all of an oversized request.
    let _ = stream.write_all(request).await;
    // Read the head, then exactly Content-Length bytes: waiting for the close
    // would wait out the server's linger on a body it chose not to read.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let read = async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length {
                    return (end, length);
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => panic!("connection closed mid-response: {buf:?}"),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let (end, length) = tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("the server answers within 10 s");
    let head = String::from_utf8_lossy(&buf[..end]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    (status, buf[end + 4..end + 4 + length].to_vec())
}

/// A raw request with the given lines between the request line and the body.
fn request(method: &str, target: &str, headers: &[String], body: &str) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    if !body.is_empty() {
        out.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

fn wrong_credentials(email: &str) -> String {
    json!({"email": email, "password": "not-the-password"}).to_string()
}

#[tokio::test]
async fn encoded_and_odd_paths_never_reach_a_5xx_or_a_write() {
    let stack = start_stack().await;
    let learner = stack.learner("paths@example.com").await;
    let before = row_counts(&stack).await;
    let long = "a".repeat(8000);
    let targets = [
        "/api/auth/sign-in/%65mail".to_owned(),
        "/api/auth/sign-%69n/email".to_owned(),
        "/api/auth/sign-in/email/".to_owned(),
        "/api/auth//sign-in/email".to_owned(),
        "/api/auth/sign-in%2Femail".to_owned(),
        "/api/auth/sign-in/email%00".to_owned(),
        "/api/auth/%2e%2e/%2e%2e/readyz".to_owned(),
        "/api/auth/../../api/auth/sign-up/email".to_owned(),
        "/api/auth/%ff%fe%00".to_owned(),
        "/api/auth/sign-in/email?callbackURL=%00".to_owned(),
        format!("/api/auth/{long}"),
        "/api/profile/..%2f..%2fetc%2fpasswd".to_owned(),
        "/api/profile%00".to_owned(),
        "*".to_owned(),
        "http://evil.example/api/auth/sign-up/email".to_owned(),
    ];
    for base in [&stack.auth, &stack.profile] {
        for target in &targets {
            for method in ["GET", "POST", "DELETE"] {
                let headers = ["content-type: application/json".to_owned()];
                let (status, body) = raw(
                    base,
                    &request(method, target, &headers, &wrong_credentials(&learner.email)),
                )
                .await;
                let case = format!("{method} {base}{target}");
                assert!((400..500).contains(&status), "{case}: {status}");
                // The application's answers are JSON; Better Auth's unknown paths
                // are an empty 404 on the auth-server.
                if !body.is_empty() {
                    let v: Value = serde_json::from_slice(&body)
                        .unwrap_or_else(|_| panic!("{case}: {}", String::from_utf8_lossy(&body)));
                    assert!(
                        v["code"].is_string() && v["message"].is_string(),
                        "{case}: {v}"
                    );
                }
            }
        }
    }
    assert_eq!(row_counts(&stack).await, before, "nothing stored");
    assert_healthy(&stack, &learner).await;
}

#[tokio::test]
async fn spoofed_forwarding_and_host_headers_change_nothing() {
    // No trusted proxies: the socket is the client whatever the headers claim.
    let stack = start_stack_with(|s| {
        s.rate_limit_enabled = true;
        s.rate_limit_max = 4;
        s.rate_limit_window = 60;
        s.rate_limit_account_max = 1000;
    })
    .await;
    let learner = stack.learner("spoof@example.com").await; // 1 of 4
    let spoofs = [
        ("x-forwarded-for", "198.51.100.1"),
        ("forwarded", "for=198.51.100.2;proto=https"),
        ("x-real-ip", "198.51.100.3"),
        ("true-client-ip", "198.51.100.4"),
        ("cf-connecting-ip", "198.51.100.5"),
    ];
    for (i, (name, value)) in spoofs.iter().enumerate() {
        let res = send(
            stack
                .http
                .post(stack.auth_url("/sign-in/email"))
                .header(*name, *value)
                .json(&json!({"email": format!("x{i}@example.com"), "password": "wrong-one-1"})),
        )
        .await;
        let code = assert_4xx_json(res, name).await;
        let expected = if i < 3 {
            "INVALID_EMAIL_OR_PASSWORD"
        } else {
            "TOO_MANY_REQUESTS"
        };
        assert_eq!(code, expected, "{name} (attempt {})", i + 2);
    }
    let rows = stack
        .sql("select host(ip_address::inet) from identity.sessions")
        .await;
    let ips: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        ips,
        vec!["127.0.0.1".to_owned()],
        "the session records the socket"
    );

    // Host and X-Forwarded-Host steer neither the issuer, the JWKS URL nor cookies.
    let res = send(
        stack
            .http
            .get(format!("{}/.well-known/openid-configuration", stack.auth))
            .header("host", "evil.example")
            .header("x-forwarded-host", "evil.example")
            .header("x-forwarded-proto", "https"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc = body(res).await;
    assert_eq!(doc["issuer"], e2e::AUTH_BASE_URL);
    assert!(!doc.to_string().contains("evil.example"), "{doc}");
    let res = send(
        stack
            .http
            .get(stack.auth_url("/get-session"))
            .bearer_auth(&learner.session)
            .header("host", "evil.example")
            .header("x-forwarded-host", "evil.example"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    for cookie in res.headers().get_all("set-cookie") {
        let cookie = cookie.to_str().expect("ascii");
        assert!(!cookie.to_lowercase().contains("domain=evil"), "{cookie}");
    }
    let jwt = header(&res, "set-auth-jwt");
    let payload: Value = serde_json::from_slice(
        &B64URL
            .decode(jwt.split('.').nth(1).expect("payload"))
            .expect("base64"),
    )
    .expect("claims");
    assert_eq!(payload["iss"], e2e::AUTH_BASE_URL);
    assert_eq!(payload["aud"], e2e::AUTH_BASE_URL);
}

/// Redirect targets no browser may be sent to.
fn hostile_redirects() -> Vec<String> {
    let mut out: Vec<String> = [
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "/%2fevil.example",
        "/%2F%2Fevil.example",
        "/%5cevil.example",
        "/%09/evil.example",
        "\\\\evil.example",
        "https://evil.example",
        "http://evil.example/",
        "HTTPS://EVIL.EXAMPLE",
        "http:evil.example",
        "http:/evil.example",
        "https://localhost:3000@evil.example",
        "http://localhost:3000@evil.example/",
        "http://localhost:3000.evil.example",
        "http://localhost:30000",
        "https://localhost:3000",
        "javascript:alert(document.cookie)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "evil.example",
        " /ok",
        "/ok ",
        "/\u{3000}/evil.example",
        "/\u{2028}/evil.example",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // Every ASCII control character (and DEL), where browsers strip or split on it.
    for c in (0u8..0x20).chain([0x7f]).map(char::from) {
        out.push(format!("/{c}/evil.example"));
        out.push(format!("{c}//evil.example"));
        out.push(format!("/ok{c}"));
        out.push(format!("http://localhost:3000{c}.evil.example"));
        out.push(format!("{TRUSTED_ORIGIN}/{c}"));
    }
    out
}

#[tokio::test]
async fn redirect_payloads_are_refused_before_anything_is_written() {
    let stack = start_stack().await;
    let learner = stack.learner("redirect@example.com").await;
    let before = row_counts(&stack).await;
    let payloads = hostile_redirects();
    assert!(payloads.len() > 150, "{} payloads", payloads.len());
    for (i, target) in payloads.iter().enumerate() {
        let sign_in =
            json!({"email": learner.email, "password": learner.password, "callbackURL": target});
        let sign_up = json!({
            "name": "Mallory", "email": format!("m{i}@example.com"),
            "password": "long-enough-1", "callbackURL": target,
        });
        for (path, body) in [("/sign-in/email", sign_in), ("/sign-up/email", sign_up)] {
            let res = send(stack.http.post(stack.auth_url(path)).json(&body)).await;
            assert!(!res.headers().contains_key("location"), "{path} {target:?}");
            assert!(
                !res.headers().contains_key("set-cookie"),
                "{path} {target:?}"
            );
            let code = assert_4xx_json(res, &format!("{path} {target:?}")).await;
            // A NUL anywhere in a body is refused (400) before any field's own rule.
            let expected = if target.contains('\0') {
                "VALIDATION_ERROR"
            } else {
                "INVALID_CALLBACK_URL"
            };
            assert_eq!(code, expected, "{path} {target:?}");
        }
    }
    assert_eq!(row_counts(&stack).await, before, "nothing stored");

    // The positive control: the same request with a safe target signs in.
    for target in ["/dashboard?tab=1#top", &format!("{TRUSTED_ORIGIN}/welcome")] {
        let res = send(stack.http.post(stack.auth_url("/sign-in/email")).json(
            &json!({"email": learner.email, "password": learner.password, "callbackURL": target}),
        ))
        .await;
        assert_eq!(res.status(), StatusCode::OK, "{target}");
        assert_eq!(header(&res, "location"), target);
        assert_eq!(body(res).await["url"], target);
    }
    assert_healthy(&stack, &learner).await;
}

#[tokio::test]
async fn oversized_and_duplicated_headers_are_refused_or_harmless() {
    let stack = start_stack().await;
    let learner = stack.learner("headers@example.com").await;
    let other = stack.learner("other@example.com").await;
    let before = row_counts(&stack).await;
    let auth = |v: &str| format!("authorization: Bearer {v}");
    let sign_in =
        |email: &str, password: &str| json!({"email": email, "password": password}).to_string();

    // Oversized: one huge header, and very many headers. The HTTP parser answers
    // these itself (431/400), before any handler runs.
    let huge_cookie = format!(
        "cookie: better-auth.session_token={}",
        "A".repeat(64 * 1024)
    );
    let many: Vec<String> = (0..200)
        .map(|i| format!("x-pad-{i}: {}", "b".repeat(100)))
        .collect();
    for (name, headers) in [("64 KiB cookie", vec![huge_cookie]), ("200 headers", many)] {
        for base in [&stack.auth, &stack.profile] {
            let (status, body) = raw(base, &request("GET", "/readyz", &headers, "")).await;
            assert_eq!(status, 431, "{name} to {base}");
            // Ours is JSON; the HTTP parser's own refusal (too many headers) is bare.
            if !body.is_empty() {
                let v: Value = serde_json::from_slice(&body).expect("json");
                assert_eq!(v["code"], "REQUEST_HEADER_FIELDS_TOO_LARGE", "{name}");
            }
        }
    }

    // Request smuggling shapes: conflicting lengths, chunked plus a length.
    let smuggle = [
        vec![
            "content-length: 5".to_owned(),
            "content-length: 6".to_owned(),
        ],
        vec![
            "transfer-encoding: chunked".to_owned(),
            "content-length: 4".to_owned(),
        ],
    ];
    for headers in &smuggle {
        let (status, _) = raw(
            &stack.auth,
            &request("POST", "/api/auth/sign-in/email", headers, "{}\r\n\r\n"),
        )
        .await;
        assert!((400..500).contains(&status), "{headers:?}: {status}");
    }

    // Two Authorization headers, two Origins, two Content-Types: never a 5xx, and
    // never anyone but the learner whose credential came first.
    let cases: Vec<(&str, &str, Vec<String>, String)> = vec![
        (
            "GET",
            "/api/auth/get-session",
            vec![auth(&learner.session), auth(&other.session)],
            String::new(),
        ),
        (
            "GET",
            "/api/auth/get-session",
            vec![auth("garbage.sig"), auth(&learner.session)],
            String::new(),
        ),
        (
            "POST",
            "/api/auth/sign-in/email",
            vec![
                format!("origin: {TRUSTED_ORIGIN}"),
                "origin: https://evil.example".to_owned(),
                "content-type: application/json".to_owned(),
            ],
            sign_in(&learner.email, "wrong-password"),
        ),
        (
            "POST",
            "/api/auth/sign-in/email",
            vec![
                "content-type: application/json".to_owned(),
                "content-type: application/x-www-form-urlencoded".to_owned(),
            ],
            sign_in(&learner.email, "wrong-password"),
        ),
        (
            "POST",
            "/api/auth/update-user",
            vec![
                auth(&learner.session),
                "cookie: a=1".to_owned(),
                "cookie: better-auth.session_token=forged".to_owned(),
                "content-type: application/json".to_owned(),
            ],
            json!({"name": "Hijacked"}).to_string(),
        ),
    ];
    for (method, path, headers, body) in &cases {
        let (status, bytes) = raw(&stack.auth, &request(method, path, headers, body)).await;
        let case = format!("{method} {path} {headers:?}");
        assert!(status < 500, "{case}: {status}");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&other.email),
            "{case}: another learner answered: {text}"
        );
        if status >= 400 {
            let v: Value =
                serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("{case}: {text}"));
            assert!(v["code"].is_string(), "{case}: {v}");
        }
    }
    let names: Vec<String> = stack
        .sql("select name from identity.users order by email")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, vec!["Learner", "Learner"], "no name was changed");

    // The profile-api: two bearer tokens are ambiguous; another learner's token
    // second never reads or writes their profile.
    let (status, bytes) = raw(
        &stack.profile,
        &request(
            "PUT",
            "/api/profile",
            &[
                format!("authorization: Bearer {}", learner.jwt),
                format!("authorization: Bearer {}", other.jwt),
                "content-type: application/json".to_owned(),
            ],
            &json!({"display_name": "Ambiguous"}).to_string(),
        ),
    )
    .await;
    assert!(status < 500, "{status}");
    if status == 201 {
        let rows = stack
            .sql("select user_id::text from learner.profiles")
            .await;
        let owners: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(
            owners,
            vec![learner.id.clone()],
            "only the first token's learner"
        );
        stack.sql("delete from learner.profiles").await;
    } else {
        let v: Value = serde_json::from_slice(&bytes).expect("json error");
        assert!(v["code"].is_string(), "{v}");
    }
    assert_eq!(row_counts(&stack).await, before, "nothing stored");
    assert_healthy(&stack, &learner).await;
}

/// Signs up in cookie mode and returns the session cookie (`name=value`).
async fn cookie_session(stack: &Stack, email: &str) -> String {
    let res = send(
        stack
            .http
            .post(stack.auth_url("/sign-up/email"))
            .header("origin", TRUSTED_ORIGIN)
            .json(&json!({"name": "C", "email": email, "password": "long-enough-1"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("session_token="))
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_owned()
}

/// Everything a session cookie can unlock must refuse a dead one.
async fn assert_cookie_is_dead(stack: &Stack, cookie: &str, case: &str) {
    let res = send(
        stack
            .http
            .get(stack.auth_url("/get-session"))
            .header("cookie", cookie),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "{case}");
    assert!(!res.headers().contains_key("set-auth-jwt"), "{case}");
    assert_eq!(res.text().await.expect("body"), "null", "{case}");
    let res = send(
        stack
            .http
            .get(stack.auth_url("/token"))
            .header("cookie", cookie),
    )
    .await;
    assert_4xx_json(res, &format!("{case}: /token")).await;
    let res = send(
        stack
            .http
            .get(stack.auth_url("/list-sessions"))
            .header("cookie", cookie),
    )
    .await;
    assert_4xx_json(res, &format!("{case}: /list-sessions")).await;
    for (path, body) in [
        ("/update-user", json!({"name": "Zombie"})),
        ("/revoke-sessions", json!({})),
        (
            "/change-password",
            json!({"currentPassword": "long-enough-1", "newPassword": "zombie-password-2"}),
        ),
    ] {
        let res = send(
            stack
                .http
                .post(stack.auth_url(path))
                .header("cookie", cookie)
                .header("origin", TRUSTED_ORIGIN)
                .json(&body),
        )
        .await;
        assert_4xx_json(res, &format!("{case}: {path}")).await;
    }
}

#[tokio::test]
async fn cookies_for_revoked_expired_or_forged_sessions_unlock_nothing() {
    let stack = start_stack().await;
    let learner = stack.learner("cookies@example.com").await;

    let signed_out = cookie_session(&stack, "out@example.com").await;
    let res = send(
        stack
            .http
            .post(stack.auth_url("/sign-out"))
            .header("cookie", &signed_out)
            .header("origin", TRUSTED_ORIGIN),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);

    let expired = cookie_session(&stack, "expired@example.com").await;
    stack
        .sql("update identity.sessions set created_at = now() - interval '8 days', expires_at = now() - interval '1 second' where user_id = (select id from identity.users where email = 'expired@example.com')")
        .await;

    let revoked = cookie_session(&stack, "revoked@example.com").await;
    let res = send(
        stack
            .http
            .post(stack.auth_url("/revoke-sessions"))
            .header("cookie", &revoked)
            .header("origin", TRUSTED_ORIGIN)
            .json(&json!({})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);

    // A live cookie with its signature altered, and the learner's bearer token (a
    // real session) presented as a cookie without its signature.
    let live = cookie_session(&stack, "live@example.com").await;
    let (name, value) = live.split_once('=').expect("name=value");
    let tampered = format!("{name}={}", value.replacen('.', ".x", 1));
    let unsigned = format!(
        "{name}={}",
        learner.session.split('.').next().expect("token")
    );
    let names_before: Vec<String> = stack
        .sql("select name from identity.users order by email")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();

    for (case, cookie) in [
        ("signed out", &signed_out),
        ("expired", &expired),
        ("revoked", &revoked),
        ("tampered", &tampered),
        ("unsigned", &unsigned),
    ] {
        assert_cookie_is_dead(&stack, cookie, case).await;
    }
    let names_after: Vec<String> = stack
        .sql("select name from identity.users order by email")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names_before, names_after, "no dead cookie renamed anyone");
    let expired_rows = stack
        .sql("select count(*) from identity.sessions where expires_at < now()")
        .await;
    assert_eq!(
        expired_rows[0].get::<_, i64>(0),
        0,
        "the expired session was deleted"
    );

    // The positive control: the live cookie works.
    let res = send(
        stack
            .http
            .get(stack.auth_url("/get-session"))
            .header("cookie", &live),
    )
    .await;
    assert_eq!(body(res).await["user"]["email"], "live@example.com");
    assert_healthy(&stack, &learner).await;
}

/// Signs `payload` with the auth-server's own current key (the genuine signer),
/// byte for byte as given: no library check stands between us and odd claims.
fn sign_with_our_key(stack: &Stack, header: &Value, payload: &Value) -> String {
    use josekit::jws::JwsSigner as _;
    let set = stack.auth_state.keys.snapshot();
    let key = set.current.as_ref().expect("a current key");
    let mut header = header.clone();
    header["alg"] = json!("RS256");
    header["kid"] = json!(key.kid);
    let input = unsigned(&header, payload);
    let signature = key.signer.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", B64URL.encode(signature))
}

fn claims_of(token: &str) -> Value {
    serde_json::from_slice(
        &B64URL
            .decode(token.split('.').nth(1).expect("payload"))
            .expect("base64"),
    )
    .expect("claims")
}

fn kid_of(token: &str) -> String {
    let header: Value = serde_json::from_slice(
        &B64URL
            .decode(token.split('.').next().expect("header"))
            .expect("base64"),
    )
    .expect("header");
    header["kid"].as_str().expect("kid").to_owned()
}

fn jwt_header() -> JwsHeader {
    let mut h = JwsHeader::new();
    h.set_token_type("JWT");
    h
}

fn typ_jwt() -> Value {
    json!({"typ": "JWT"})
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(claims.to_string())
    )
}

/// Every kind of forged token we know of, each named.
async fn forged_tokens(stack: &Stack, victim: &Learner) -> Vec<(String, String)> {
    let genuine = &victim.jwt;
    let claims = claims_of(genuine);
    let kid = kid_of(genuine);
    let now = claims["iat"].as_i64().expect("iat");
    let with = |key: &str, value: Value| {
        let mut c = claims.clone();
        c[key] = value;
        c
    };
    let mut out: Vec<(String, String)> = Vec::new();
    let mut ours = |name: &str, header: Value, payload: Value| {
        out.push((name.to_owned(), sign_with_our_key(stack, &header, &payload)));
    };
    ours("expired", typ_jwt(), with("exp", json!(now - 120)));
    ours("not yet valid", typ_jwt(), with("nbf", json!(now + 3600)));
    ours(
        "issued in the future",
        typ_jwt(),
        with("iat", json!(now + 3600)),
    );
    ours(
        "other issuer",
        typ_jwt(),
        with("iss", json!("https://evil.example")),
    );
    ours(
        "issuer prefix",
        typ_jwt(),
        with("iss", json!("http://localhost:41000")),
    );
    ours(
        "other audience",
        typ_jwt(),
        with("aud", json!("https://evil.example")),
    );
    ours("no sub", typ_jwt(), {
        let mut c = claims.clone();
        c.as_object_mut().expect("object").remove("sub");
        c
    });
    ours("sub not a uuid", typ_jwt(), with("sub", json!("admin")));
    ours(
        "string exp",
        typ_jwt(),
        with("exp", json!((now + 600).to_string())),
    );
    ours("no exp", typ_jwt(), {
        let mut c = claims.clone();
        c.as_object_mut().expect("object").remove("exp");
        c
    });
    let jku = json!({"typ": "JWT", "jku": "https://evil.example/jwks.json"});
    ours("jku header", jku, claims.clone());
    let crit = json!({"typ": "JWT", "crit": ["exp"], "exp": 1});
    ours("crit header", crit, claims.clone());
    ours("another typ", json!({"typ": "dpop+jwt"}), claims.clone());

    // Another key pair, under our kid and under a new one.
    let foreign = RS256.generate_key_pair(2048).expect("rsa");
    let foreign_signer = RS256
        .signer_from_der(foreign.to_der_private_key())
        .expect("signer");
    for (name, k) in [
        ("foreign key under our kid", kid.clone()),
        ("foreign key", "evil-kid".into()),
    ] {
        let mut h = jwt_header();
        h.set_key_id(k);
        let payload = JwtPayload::from_map(claims.as_object().expect("object").clone()).expect("p");
        out.push((
            name.to_owned(),
            jwt::encode_with_signer(&payload, &h, &foreign_signer).expect("sign"),
        ));
    }

    // HS256 keyed with our public key, as PEM and as the JWKS's own text.
    let jwks = send(
        stack
            .http
            .get(format!("{}/.well-known/jwks.json", stack.auth)),
    )
    .await;
    let jwks = body(jwks).await;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()))
        .expect("our key in the JWKS")
        .clone();
    let modulus = jwk["n"].as_str().expect("n").to_owned();
    for (name, secret) in [
        ("HS256 with the public JWK as secret", jwk.to_string()),
        ("HS256 with the modulus as secret", modulus),
    ] {
        let signer = HS256.signer_from_bytes(secret.as_bytes()).expect("hmac");
        let mut h = jwt_header();
        h.set_key_id(kid.clone());
        let payload = JwtPayload::from_map(claims.as_object().expect("object").clone()).expect("p");
        out.push((
            name.to_owned(),
            jwt::encode_with_signer(&payload, &h, &signer).expect("sign"),
        ));
    }

    // alg none, in its spellings, with and without a trailing dot.
    for alg in ["none", "None", "NONE"] {
        let h = json!({"alg": alg, "typ": "JWT", "kid": kid});
        out.push((format!("alg {alg}"), format!("{}.", unsigned(&h, &claims))));
        out.push((format!("alg {alg} no dot"), unsigned(&h, &claims)));
    }
    // The genuine token tampered with: another learner's sub, kept signature.
    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    parts[1] = B64URL.encode(with("sub", json!(uuid::Uuid::new_v4().to_string())).to_string());
    out.push(("tampered sub".into(), parts.join(".")));
    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    parts[2] = B64URL.encode(b"not a signature");
    out.push(("bad signature".into(), parts.join(".")));
    out.push(("truncated".into(), genuine[..genuine.len() - 10].to_owned()));
    out.push((
        "two parts".into(),
        genuine.rsplit_once('.').expect("head").0.to_owned(),
    ));
    out.push(("four parts".into(), format!("{genuine}.AAAA")));
    out.push(("empty".into(), String::new()));
    out.push((
        "oversized".into(),
        format!("{genuine}{}", "A".repeat(20_000)),
    ));
    out.push(("not base64".into(), "@@@.###.$$$".into()));
    out.push(("session token, not a JWT".into(), victim.session.clone()));
    out
}

#[tokio::test]
async fn forged_jwts_of_every_kind_are_401_while_the_genuine_one_works() {
    let stack = start_stack().await;
    let victim = stack.learner("victim@example.com").await;
    // The positive control before and after: the genuine token creates and reads.
    let res = send(
        stack
            .profile_request(Method::PUT, &victim.jwt)
            .json(&json!({"display_name": "Victim"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let before = row_counts(&stack).await;

    let forged = forged_tokens(&stack, &victim).await;
    assert!(forged.len() >= 30, "{} forged tokens", forged.len());
    for (name, token) in &forged {
        for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
            let mut req = stack
                .http
                .request(method.clone(), format!("{}/api/profile", stack.profile))
                .header("authorization", format!("Bearer {token}"));
            if method == Method::PATCH {
                req = req
                    .header("content-type", "application/merge-patch+json")
                    .body(json!({"display_name": "Pwned"}).to_string());
            } else if method == Method::PUT {
                req = req.json(&json!({"display_name": "Pwned"}));
            }
            let res = send(req).await;
            let case = format!("{method} with {name}");
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{case}");
            assert!(
                header(&res, "www-authenticate").starts_with("Bearer"),
                "{case}"
            );
            assert_4xx_json(res, &case).await;
        }
    }
    // Other schemes and shapes of the header itself.
    for value in [
        format!("Basic {}", B64URL.encode("victim:password")),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Token {}", victim.jwt),
        format!("Bearer {} extra", victim.jwt),
    ] {
        let res = send(
            stack
                .http
                .get(format!("{}/api/profile", stack.profile))
                .header("authorization", &value),
        )
        .await;
        assert_4xx_json(res, &value.chars().take(20).collect::<String>()).await;
    }
    assert_eq!(row_counts(&stack).await, before, "nothing stored");
    let res = send(stack.profile_request(Method::GET, &victim.jwt)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body(res).await["display_name"], "Victim", "nothing changed");

    // A fresh, never-seen token with our key and the right claims is accepted: the
    // refusals above are about the forgeries, not the signer.
    let fresh = sign_with_our_key(&stack, &typ_jwt(), &{
        let mut c = claims_of(&victim.jwt);
        c["jti"] = json!(uuid::Uuid::new_v4().simple().to_string());
        c
    });
    let res = send(stack.profile_request(Method::GET, &fresh)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_healthy(&stack, &victim).await;
}

/// Bodies that are malformed in every way we could think of.
fn malformed_bodies() -> Vec<(String, &'static str, Vec<u8>)> {
    let json = "application/json";
    let mut out: Vec<(String, &'static str, Vec<u8>)> = [
        ("empty", json, ""),
        ("truncated", json, "{\"email\": \"a@example.com\""),
        ("array", json, "[]"),
        ("null", json, "null"),
        ("number", json, "1"),
        ("string", json, "\"email\""),
        ("trailing garbage", json, "{} x"),
        ("two documents", json, "{}{}"),
        ("single quotes", json, "{'email': 'a@example.com'}"),
        ("comment", json, "{/* c */}"),
        ("NaN", json, "{\"email\": NaN}"),
        ("number email", json, "{\"email\": 1, \"password\": 2, \"name\": 3}"),
        ("null email", json, "{\"email\": null, \"password\": null, \"name\": null}"),
        ("array email", json, "{\"email\": [\"a@example.com\"], \"password\": \"long-enough-1\", \"name\": \"n\"}"),
        ("operator email", json, "{\"email\": {\"$ne\": \"\"}, \"password\": {\"$ne\": \"\"}, \"name\": \"n\"}"),
        ("bool name", json, "{\"email\": \"b@example.com\", \"password\": \"long-enough-1\", \"name\": true, \"display_name\": true}"),
        ("NUL in strings", json, "{\"email\": \"c\\u0000@example.com\", \"password\": \"long\\u0000enough-1\", \"name\": \"n\\u0000\", \"display_name\": \"a\\u0000b\"}"),
        ("lone surrogate", json, "{\"email\": \"d@example.com\", \"password\": \"\\ud800long-enough\", \"name\": \"\\udfff\", \"display_name\": \"\\ud800\"}"),
        ("newline in email", json, "{\"email\": \"e@example.com\\r\\nbcc: x@evil.example\", \"password\": \"long-enough-1\", \"name\": \"n\"}"),
        ("proto pollution", json, "{\"__proto__\": {\"admin\": true}, \"constructor\": {\"prototype\": {}}}"),
        ("form as json", json, "email=f%40example.com&password=long-enough-1&name=n"),
        ("json as text", "text/plain", "{\"email\": \"g@example.com\", \"password\": \"long-enough-1\", \"name\": \"n\", \"display_name\": \"x\"}"),
        ("json as xml", "application/xml", "<email>h@example.com</email>"),
        ("multipart", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\ni@example.com\r\n--x--"),
        ("charset latin1", "application/json; charset=latin1", "{\"email\": \"j@example.com\"}"),
        ("bad content-type", "application/", "{}"),
    ]
    .iter()
    .map(|(n, t, b)| ((*n).to_owned(), *t, b.as_bytes().to_vec()))
    .collect();
    out.push((
        "invalid UTF-8".into(),
        json,
        b"{\"email\": \"\xff\xfe@example.com\", \"name\": \"\xc3\x28\"}".to_vec(),
    ));
    out.push((
        "UTF-16".into(),
        json,
        "{\"email\":\"k@example.com\"}"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect(),
    ));
    out.push((
        "deep nesting".into(),
        json,
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
    ));
    out.push((
        "deep object".into(),
        json,
        format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)).into_bytes(),
    ));
    out.push((
        "huge".into(),
        json,
        format!(
            "{{\"email\": \"{}@example.com\"}}",
            "a".repeat(3 * 1024 * 1024)
        )
        .into_bytes(),
    ));
    out.push(("long email".into(), json, json!({"email": format!("{}@example.com", "a".repeat(400)), "password": "long-enough-1", "name": "n"}).to_string().into_bytes()));
    out.push(("long name".into(), json, json!({"email": "l@example.com", "password": "long-enough-1", "name": "n".repeat(100_000), "display_name": "n".repeat(100_000)}).to_string().into_bytes()));
    out.push((
        "long password".into(),
        json,
        json!({"email": "m@example.com", "password": "p".repeat(100_000), "name": "n"})
            .to_string()
            .into_bytes(),
    ));
    out
}

#[tokio::test]
async fn malformed_bodies_are_4xx_json_and_store_nothing() {
    let stack = start_stack().await;
    let learner = stack.learner("bodies@example.com").await;
    let res = send(
        stack
            .profile_request(Method::PUT, &learner.jwt)
            .json(&json!({"display_name": "Before"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let profile_before = body(send(stack.profile_request(Method::GET, &learner.jwt)).await).await;
    let before = row_counts(&stack).await;

    let bodies = malformed_bodies();
    for (name, content_type, bytes) in &bodies {
        let auth_paths = [
            "/sign-up/email",
            "/sign-in/email",
            "/update-user",
            "/change-password",
            "/revoke-session",
        ];
        for path in auth_paths {
            let res = send(
                stack
                    .http
                    .post(stack.auth_url(path))
                    .bearer_auth(&learner.session)
                    .header("content-type", *content_type)
                    .body(bytes.clone()),
            )
            .await;
            assert_4xx_json(res, &format!("{path} with {name}")).await;
        }
        for (method, ct) in [
            (Method::PUT, *content_type),
            (
                Method::PATCH,
                if *content_type == "application/json" {
                    "application/merge-patch+json"
                } else {
                    content_type
                },
            ),
        ] {
            let res = send(
                stack
                    .profile_request(method.clone(), &learner.jwt)
                    .header("content-type", ct)
                    .body(bytes.clone()),
            )
            .await;
            assert_4xx_json(res, &format!("{method} /api/profile with {name}")).await;
        }
    }
    assert_eq!(row_counts(&stack).await, before, "nothing stored");
    let names: Vec<String> = stack
        .sql("select name from identity.users")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, vec!["Learner"]);
    let profile_after = body(send(stack.profile_request(Method::GET, &learner.jwt)).await).await;
    assert_eq!(profile_before, profile_after, "the profile is untouched");
    assert_healthy(&stack, &learner).await;
}
