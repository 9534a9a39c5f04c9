//! docs/service-tokens.md, run: a client gets a token with curl, and the Rust,
//! Python and Node examples validate it against the real stack's JWKS — accepting
//! the service token and refusing a learner's. Then the token reads profiles.

use std::path::PathBuf;
use std::process::Command;

use e2e::start_stack;
use serde_json::Value;

#[path = "../examples/validate_service_token.rs"]
mod rust_example;

fn root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Runs an example with the validation environment; (success, stdout).
fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || stdout.starts_with("rejected:"),
        "{program} {args:?} failed unexpectedly: {stdout}\n{stderr}"
    );
    (out.status.success(), stdout)
}

/// The Python interpreter with PyJWT: tests/python/.venv (made by ./scripts/test).
fn python() -> String {
    let venv = root().join("tests/python/.venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: ./scripts/test creates it (python3 -m venv tests/python/.venv && tests/python/.venv/bin/pip install -r tests/python/requirements.txt)",
        venv.display()
    );
    venv.display().to_string()
}

// Multi-threaded: the examples run as blocking child processes while the servers'
// database connections need the runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_examples_get_and_validate_a_service_token() {
    let stack = start_stack().await;
    let db = stack.auth_state.pool.get().await.expect("pool");
    let client = auth_server::client_credentials::create(
        &db,
        &stack.auth_state.hasher,
        "docs-example",
        &["profiles:read".to_owned()],
    )
    .await
    .expect("client");
    let client_id = client.client.id.to_string();

    // curl
    let (ok, out) = run(
        "bash",
        &["tests/e2e/examples/get-service-token.sh"],
        &[
            ("AUTH_URL", &stack.auth),
            ("CLIENT_ID", &client_id),
            ("CLIENT_SECRET", &client.secret),
        ],
    );
    assert!(ok, "{out}");
    let response: Value = serde_json::from_str(&out).expect("token response");
    assert_eq!(response["token_type"], "Bearer");
    let token = response["access_token"].as_str().expect("token").to_owned();
    let learner = stack.learner("example-learner@example.com").await;

    let jwks = format!("{}/.well-known/jwks.json", stack.auth);
    let issuer = e2e::AUTH_BASE_URL;
    // Rust: the very file of the docs, as a module.
    let verifier = rust_example::verifier(&jwks, issuer, issuer);
    let claims = rust_example::validate(&verifier, &token, "profiles:read")
        .await
        .expect("rust accepts the service token");
    assert_eq!(claims.client_id, client_id);
    let refused = rust_example::validate(&verifier, &learner.jwt, "profiles:read").await;
    assert!(
        refused.is_err_and(|e| e.contains("wrong kind")),
        "rust refuses a learner token"
    );

    // Python (PyJWT) and Node (jose).
    let python = python();
    let examples: [(&str, Vec<&str>); 2] = [
        (
            python.as_str(),
            vec!["tests/python/validate_service_token.py"],
        ),
        ("node", vec!["tests/js/examples/validate-service-token.mjs"]),
    ];
    for (program, args) in examples {
        let env = |t: &str| {
            run(
                program,
                &args,
                &[
                    ("JWKS_URL", &jwks),
                    ("ISSUER", issuer),
                    ("AUDIENCE", issuer),
                    ("REQUIRED_SCOPE", "profiles:read"),
                    ("TOKEN", t),
                ],
            )
        };
        let (ok, out) = env(&token);
        assert!(ok, "{program} refused the service token: {out}");
        assert_eq!(
            out.trim(),
            format!("client {client_id} scopes profiles:read")
        );
        let (ok, out) = env(&learner.jwt);
        assert!(!ok, "{program} accepted a learner token: {out}");
        let (ok, _) = env(&format!("{token}x"));
        assert!(!ok, "{program} accepted a tampered token");
    }

    // And the token reads profiles from the profile-api.
    let res = stack
        .http
        .get(format!("{}/api/service/profiles?limit=5", stack.profile))
        .bearer_auth(&token)
        .send()
        .await
        .expect("listing");
    assert_eq!(res.status(), 200);
}
