//! The provider over real HTTP, as a relying party sees it.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::Jwk;
use josekit::jws::RS256;
use oidc_provider::{Counts, GithubEmail, Provider, Quirk, User};
use reqwest::header::{ACCEPT, USER_AGENT};
use serde_json::Value;
use sha2::{Digest, Sha256};

const ID: &str = "the-client";
const SECRET: &str = "s3cret: with/odd+chars";
const REDIRECT: &str = "http://127.0.0.1:1/callback?keep=1";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Follows /authorize (or GitHub's) and returns the redirect's query.
async fn authorize(url: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut q = vec![
        ("client_id", ID),
        ("redirect_uri", REDIRECT),
        ("state", "st&ate"),
        ("response_type", "code"),
    ];
    q.extend_from_slice(extra);
    let res = client().get(url).query(&q).send().await.expect("authorize");
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().expect("location");
    let url = url::Url::parse(location).expect("redirect url");
    assert!(location.starts_with("http://127.0.0.1:1/callback?keep=1&"));
    url.query_pairs().into_owned().collect()
}

async fn oidc_code(p: &Provider, verifier: &str) -> String {
    let q = authorize(
        &format!("{}/authorize", p.issuer()),
        &[
            ("scope", "openid email profile"),
            ("nonce", "n-0S6"),
            ("code_challenge", &challenge(verifier)),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(q["state"], "st&ate");
    assert_eq!(q["iss"], p.issuer());
    q["code"].clone()
}

async fn exchange(p: &Provider, code: &str, verifier: &str) -> (u16, Value) {
    let res = client()
        .post(format!("{}/token", p.issuer()))
        .basic_auth(ID, Some("s3cret%3A+with%2Fodd%2Bchars"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("token");
    (res.status().as_u16(), res.json().await.expect("json"))
}

async fn get_json(url: &str) -> Value {
    reqwest::get(url)
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

/// Verifies `token` against the provider's /jwks.
async fn verify(p: &Provider, token: &str) -> Result<josekit::jwt::JwtPayload, josekit::JoseError> {
    let jwks = get_json(&format!("{}/jwks", p.issuer())).await;
    let key = jwks["keys"][0].as_object().expect("a key").clone();
    let jwk = Jwk::from_map(key).expect("jwk");
    assert_eq!(jwk.key_use(), Some("sig"));
    let verifier = RS256.verifier_from_jwk(&jwk).expect("verifier");
    josekit::jwt::decode_with_verifier(token, &verifier).map(|(payload, _)| payload)
}

#[tokio::test]
async fn discovery_document() {
    let p = Provider::start(ID, SECRET);
    let d = get_json(&format!("{}/.well-known/openid-configuration", p.issuer())).await;
    assert_eq!(d["issuer"], p.issuer());
    assert_eq!(
        d["authorization_endpoint"],
        format!("{}/authorize", p.issuer())
    );
    assert_eq!(d["token_endpoint"], format!("{}/token", p.issuer()));
    assert_eq!(d["userinfo_endpoint"], format!("{}/userinfo", p.issuer()));
    assert_eq!(d["jwks_uri"], format!("{}/jwks", p.issuer()));
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    assert_eq!(p.counts().discovery, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn code_flow_with_pkce() {
    let p = Provider::start(ID, SECRET);
    let mut user = User::new("1234", "ada@example.com");
    user.picture = Some("https://pics.example/ada.png".into());
    p.login_as(user);
    let code = oidc_code(&p, "verifier-verifier-verifier-verifier-verifier").await;
    assert_eq!(
        p.last_authorize().expect("recorded")["code_challenge_method"],
        "S256"
    );
    let (status, body) = exchange(&p, &code, "verifier-verifier-verifier-verifier-verifier").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "openid email profile");
    let claims = verify(&p, body["id_token"].as_str().expect("id_token"))
        .await
        .expect("verifies");
    assert_eq!(claims.claim("nonce"), Some(&Value::from("n-0S6")));
    assert_eq!(claims.claim("aud"), Some(&Value::from(ID)));
    assert_eq!(claims.claim("iss"), Some(&Value::from(p.issuer())));
    assert_eq!(claims.claim("email_verified"), Some(&Value::from(true)));
    let req = p.last_token_request().expect("recorded");
    assert_eq!(req["client_auth"], "client_secret_basic");
    assert!(req.contains_key("code_verifier"));

    let info: Value = client()
        .get(format!("{}/userinfo", p.issuer()))
        .bearer_auth(body["access_token"].as_str().expect("access_token"))
        .send()
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("json");
    assert_eq!(info["sub"], "1234");
    assert_eq!(info["picture"], "https://pics.example/ada.png");

    // The code is single use.
    let (status, body) = exchange(&p, &code, "verifier-verifier-verifier-verifier-verifier").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(p.counts().token, 2);
    assert_eq!(p.counts().userinfo, 1);
}

#[tokio::test]
async fn wrong_verifier_and_wrong_client() {
    let p = Provider::start(ID, SECRET);
    p.login_as(User::new("1", "a@example.com"));
    let code = oidc_code(&p, "the-right-verifier-the-right-verifier-0000").await;
    let (status, body) = exchange(&p, &code, "a-wrong-verifier-a-wrong-verifier-00000000").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let code = oidc_code(&p, "v").await;
    let res = client()
        .post(format!("{}/token", p.issuer()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", ID),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), 401);
    assert_eq!(
        p.last_token_request().expect("recorded")["client_auth"],
        "client_secret_post"
    );
}

#[tokio::test]
async fn quirks() {
    let p = Provider::start(ID, SECRET);
    p.login_as(User::new("1", "a@example.com"));
    p.set_quirk(Quirk::RogueKey);
    assert!(verify(&p, &p.mint_id_token(Some("n"))).await.is_err());
    p.set_quirk(Quirk::None);
    assert!(verify(&p, &p.mint_id_token(Some("n"))).await.is_ok());

    p.set_quirk(Quirk::DenyAuthorize);
    let q = authorize(&format!("{}/authorize", p.issuer()), &[]).await;
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["error_description"], "The user said no");
    assert_eq!(q["state"], "st&ate");

    p.set_quirk(Quirk::None);
    let q = authorize(
        &format!("{}/authorize", p.issuer()),
        &[("code_challenge", "x"), ("code_challenge_method", "plain")],
    )
    .await;
    assert_eq!(q["error"], "invalid_request");

    p.set_quirk(Quirk::Unavailable);
    let res = reqwest::get(format!("{}/jwks", p.issuer()))
        .await
        .expect("jwks");
    assert_eq!(res.status(), 503);
}

#[tokio::test]
async fn github_flow() {
    let p = Provider::start(ID, SECRET);
    let mut user = User::new("583231", "octo@example.com");
    user.github_login = "octocat".into();
    user.github_emails = vec![
        GithubEmail {
            email: "old@example.com".into(),
            primary: false,
            verified: false,
        },
        GithubEmail {
            email: "octo@example.com".into(),
            primary: true,
            verified: true,
        },
    ];
    p.login_as(user);
    let token_url = p.github_token_url();
    let mut tokens = Vec::new();
    for accept in ["application/json", "*/*"] {
        let verifier = "github-verifier-github-verifier-github-verifier";
        let q = authorize(
            &p.github_authorize_url(),
            &[
                ("scope", "read:user user:email"),
                ("code_challenge", &challenge(verifier)),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
        let form = [
            ("client_id", ID),
            ("client_secret", SECRET),
            ("code", &q["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ];
        let res = client()
            .post(&token_url)
            .header(ACCEPT, accept)
            .form(&form)
            .send();
        let text = res.await.expect("token").text().await.expect("body");
        let answer: BTreeMap<String, String> = if accept == "*/*" {
            serde_urlencoded::from_str(&text).expect("form answer")
        } else {
            serde_json::from_str(&text).expect("json answer")
        };
        assert_eq!(answer["token_type"], "bearer", "{text}");
        assert_eq!(answer["scope"], "read:user,user:email");
        tokens.push(answer["access_token"].clone());

        // A reused code: GitHub answers 200 with an error.
        let res = client()
            .post(&token_url)
            .header(ACCEPT, "application/json")
            .form(&form);
        let res = res.send().await.expect("token");
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"], "bad_verification_code");
    }

    let api = p.github_api_url();
    let res = client()
        .get(format!("{api}/user"))
        .bearer_auth(&tokens[0])
        .send();
    assert_eq!(res.await.expect("user").status(), 403, "no User-Agent");
    let user: Value = client()
        .get(format!("{api}/user"))
        .header(USER_AGENT, "test")
        .header("Authorization", format!("token {}", tokens[1]))
        .send()
        .await
        .expect("user")
        .json()
        .await
        .expect("json");
    assert_eq!(user["id"], 583231);
    assert_eq!(user["login"], "octocat");
    assert_eq!(user["email"], "octo@example.com");
    let emails: Value = client()
        .get(format!("{api}/user/emails"))
        .header(USER_AGENT, "test")
        .bearer_auth(&tokens[0])
        .send()
        .await
        .expect("emails")
        .json()
        .await
        .expect("json");
    assert_eq!(emails.as_array().map(Vec::len), Some(2));
    assert_eq!(emails[1]["verified"], true);
    assert_eq!(emails[1]["visibility"], "private");
    assert_eq!(emails[0]["visibility"], Value::Null);
    let Counts {
        github_user,
        github_emails,
        github_token,
        ..
    } = p.counts();
    assert_eq!((github_user, github_emails, github_token), (2, 1, 4));
}

#[test]
fn works_from_blocking_code() {
    let p = Provider::start(ID, SECRET);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let d = rt.block_on(get_json(&format!(
        "{}/.well-known/openid-configuration",
        p.issuer()
    )));
    assert_eq!(d["issuer"], p.issuer());
}
