//! Runs the real `better-auth` npm client (tests/js, pinned version) against the real
//! auth-server, in cookie mode and in bearer mode: the session calls
//! (client.test.mjs), the account lifecycle (lifecycle.test.mjs) and social sign-in
//! against a real OpenID Connect provider (social.test.mjs).
//!
//! Needs Node 20+ and the npm packages: `npm ci --prefix tests/js` (from the workspace root).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use auth_server::Application;
use test_support::TestDatabase;
use tokio::process::Command;

/// The server's public URL; its origin is the JWT issuer and audience.
const BASE_URL: &str = test_stack::AUTH_BASE_URL;
/// Longest the JS suite may take before it is killed.
const NODE_TIMEOUT: Duration = Duration::from_secs(100);

fn workspace_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

#[tokio::test]
async fn real_better_auth_client_works_in_cookie_and_bearer_mode() {
    let db = TestDatabase::new().await;
    // The shared test settings: the rate limiter is off (the client signs in
    // several times from one address).
    // (client.test.mjs sends Origin: test_stack::TRUSTED_ORIGIN.)
    let settings = test_stack::auth_settings(&db);
    run_suite(
        "client.test.mjs",
        settings,
        &[],
        &both_modes(&EXPECTED_CHECKS),
    )
    .await;
}

#[tokio::test]
async fn real_better_auth_client_runs_the_account_lifecycle() {
    let db = TestDatabase::new().await;
    let mail_dir = std::env::temp_dir().join(format!("js-mail-{}", uuid::Uuid::new_v4()));
    let mut settings = test_stack::auth_settings(&db);
    // The development transport: mails as .eml files, read by the JS suite.
    settings.mail_outbox_dir = Some(mail_dir.display().to_string());
    settings.send_verification_on_sign_up = true;
    settings.mail_poll_interval = 0.05;
    settings.mail_request_floor_ms = 0;
    let mail_env = mail_dir.display().to_string();
    run_suite(
        "lifecycle.test.mjs",
        settings,
        &[("MAIL_DIR", mail_env.as_str()), ("LINK_BASE", BASE_URL)],
        &both_modes(&LIFECYCLE_CHECKS),
    )
    .await;
    let _ = std::fs::remove_dir_all(&mail_dir);
}

#[tokio::test]
async fn real_better_auth_client_signs_in_with_a_social_provider() {
    let db = TestDatabase::new().await;
    // The JS suite starts the provider (oauth2-mock-server) on this port; the
    // server fetches its discovery document only when first asked, so it may
    // start first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut settings = test_stack::auth_settings(&db);
    settings.oidc = vec![auth_server::config::OidcProviderSettings {
        id: "mock".into(),
        issuer: format!("http://127.0.0.1:{port}"),
        client_id: "js-social-client".into(),
        client_secret: "js-social-secret".into(),
        scopes: vec!["email".into(), "profile".into()],
    }];
    let port = port.to_string();
    let expected: Vec<String> = SOCIAL_COOKIE_CHECKS
        .iter()
        .map(|c| format!("cookie: {c}"))
        .chain(SOCIAL_BEARER_CHECKS.iter().map(|c| format!("bearer: {c}")))
        .collect();
    run_suite(
        "social.test.mjs",
        settings,
        &[("OIDC_PORT", port.as_str()), ("LINK_BASE", BASE_URL)],
        &expected,
    )
    .await;
}

/// `checks` as the JS suites name them in both modes, cookie mode first.
fn both_modes(checks: &[&str]) -> Vec<String> {
    ["cookie", "bearer"]
        .iter()
        .flat_map(|mode| checks.iter().map(move |c| format!("{mode}: {c}")))
        .collect()
}

/// Starts the server with `settings` and runs `tests/js/<file>` against it; every
/// check in `expected` (`<mode>: <check>`) must have passed, in order.
async fn run_suite(
    file: &str,
    settings: auth_server::Settings,
    env: &[(&str, &str)],
    expected: &[String],
) {
    let root = workspace_root();
    let node_modules = root.join("tests/js/node_modules");
    assert!(
        ["better-auth", "jose", "mailparser", "oauth2-mock-server"]
            .iter()
            .all(|p| node_modules.join(p).is_dir()),
        "{} is missing or incomplete: run `npm ci --prefix tests/js` in the workspace root first",
        node_modules.display()
    );
    let app = Application::build(settings).await.expect("app builds");
    let auth_url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let checks_dir = std::env::temp_dir().join(format!("js-checks-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&checks_dir).expect("checks dir");
    let checks_file = checks_dir.join("passed.txt");
    std::fs::write(&checks_file, "").expect("checks file");
    let script = format!("tests/js/{file}");
    let child = Command::new("node")
        .arg("--test")
        .arg("--test-reporter=tap")
        .arg(&script)
        .current_dir(&root)
        .env("CHECKS_OUT", &checks_file)
        .env("AUTH_URL", &auth_url)
        .env("AUTH_ISSUER", BASE_URL)
        .env("AUTH_AUDIENCE", BASE_URL)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `node` (Node 20+ must be on PATH): {e}"));
    let output = tokio::time::timeout(NODE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("node --test did not finish within {NODE_TIMEOUT:?}"))
        .expect("waiting for node");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node --test {script} failed ({}) against {auth_url}\n\
         --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    // Shown with --no-capture (or on a later failure): which sub-tests ran.
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        eprintln!("{stderr}");
    }

    // A zero exit code is not enough: every expected check must have run and
    // passed, in order, and nothing may have been skipped.
    let passed = std::fs::read_to_string(&checks_file).expect("checks file");
    let _ = std::fs::remove_dir_all(&checks_dir);
    let passed: Vec<&str> = passed.lines().collect();
    assert_eq!(passed, expected, "checks that passed vs expected\n{stdout}");
    // The checks of both suites, plus the 2 suites themselves.
    let total = format!("# pass {}", expected.len() + 2);
    for summary in [
        total.as_str(),
        "# skipped 0",
        "# todo 0",
        "# fail 0",
        "# cancelled 0",
    ] {
        assert!(
            stdout.lines().any(|l| l.trim() == summary),
            "the TAP summary lacks `{summary}`:\n{stdout}"
        );
    }
}

/// The checks of tests/js/social.test.mjs in cookie mode (the redirect flow)…
const SOCIAL_COOKIE_CHECKS: [&str; 5] = [
    "signIn.social signs a new user up through the provider",
    "signIn.social again signs the same user in",
    "linkSocial links the provider to a password user",
    "unlinkAccount removes the provider account, never the last",
    "an unverified password account is not captured by signIn.social",
];

/// …and in bearer mode (ID-token sign-in; a link started).
const SOCIAL_BEARER_CHECKS: [&str; 3] = [
    "signIn.social with an idToken signs in directly",
    "a forged idToken is refused",
    "linkSocial starts a link for the bearer session",
];

/// Every check in tests/js/lifecycle.test.mjs, per mode, in the order they run.
const LIFECYCLE_CHECKS: [&str; 7] = [
    "signUp.email sends the verification mail",
    "sendVerificationEmail mails a fresh link",
    "verifyEmail with the mailed token verifies the address",
    "listAccounts shows the credential account",
    "changeEmail is confirmed from the old address, then the new one",
    "requestPasswordReset and resetPassword replace the password",
    "deleteUser deletes the account",
];

/// Every check in tests/js/client.test.mjs, per mode, in the order they run.
const EXPECTED_CHECKS: [&str; 9] = [
    "signUp.email lower-cases the email and starts a session",
    "signIn.email with a wrong password is 401 INVALID_EMAIL_OR_PASSWORD",
    "signIn.email succeeds",
    "getSession returns the session with a Date expiresAt in the future",
    "updateUser changes the name seen by getSession",
    "token() gives a JWT that verifies against /jwks",
    "listSessions returns revocation handles, not credentials",
    "revokeOtherSessions leaves only the current session",
    "signOut ends the session",
];
