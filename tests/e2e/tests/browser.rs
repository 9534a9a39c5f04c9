//! The example Docusaurus site (examples/docusaurus, production build) in a real
//! browser — Debian's chromium driven by playwright-core (tests/browser/flow.mjs) —
//! against the real auth-server, profile-api and an OpenID Connect provider, in
//! cookie mode and in bearer mode.
//!
//! The site is built for fixed URLs (customFields are read at build time), so the
//! services listen on fixed ports here: auth-server `localhost:4280`, profile-api
//! `localhost:4281`, the site on `127.0.0.1:4282`, opened as `http://localhost:4282`
//! (the auth-server's site: cookies) and as `http://127.0.0.1:4282` (another site:
//! bearer). The build is redone only when the site's sources change
//! (tests/browser/build-site.mjs).
//!
//! Needs Node 20+, `npm ci` in examples/docusaurus and tests/browser, and
//! /usr/bin/chromium (or CHROMIUM): `./scripts/test` and `.ci/run` provide them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use test_support::TestDatabase;
use tokio::process::Command;

const AUTH_PORT: u16 = 4280;
const PROFILE_PORT: u16 = 4281;
const SITE_PORT: u16 = 4282;
/// Longest the build may take (a cold `docusaurus build` takes ~30 s on 2 cores).
const BUILD_TIMEOUT: Duration = Duration::from_secs(240);
/// Longest the browser flow may take.
const FLOW_TIMEOUT: Duration = Duration::from_secs(240);

fn workspace_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Every step of flow.mjs, per mode, in order.
const STEPS: [&str; 11] = [
    "register",
    "verify by the mail link",
    "sign out",
    "protected page redirects to log in and back",
    "sign in",
    "edit profile",
    "reload persists",
    "edit in a second tab and see the conflict",
    "forgot password",
    "reset by the mail link",
    "old password refused",
];
/// Cookie mode then signs in through the provider and links it…
const COOKIE_SOCIAL_STEPS: [&str; 2] = [
    "social sign-in through the OpenID Connect provider",
    "link and unlink the provider",
];
/// …which bearer mode cannot (the provider's redirect ends in a cookie on the
/// auth-server's site): it checks that the site offers no such buttons.
const BEARER_SOCIAL_STEPS: [&str; 1] = ["no provider buttons where the flow cannot end"];
const FINAL_STEPS: [&str; 2] = ["revoke the other session", "delete account"];

fn expected_steps() -> Vec<String> {
    let mode = |m: &str, social: &[&str]| -> Vec<String> {
        STEPS
            .iter()
            .chain(social)
            .chain(FINAL_STEPS.iter())
            .map(|s| format!("{m}: {s}"))
            .collect()
    };
    let mut all = mode("cookie", &COOKIE_SOCIAL_STEPS);
    all.extend(mode("bearer", &BEARER_SOCIAL_STEPS));
    all
}

async fn run(cmd: &mut Command, what: &str, timeout: Duration) -> std::process::Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} (Node 20+ must be on PATH): {e}"));
    tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {timeout:?}"))
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"))
}

fn require(path: &Path, hint: &str) {
    assert!(path.exists(), "{} is missing: {hint}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_site_works_in_a_real_browser_in_cookie_and_bearer_mode() {
    let root = workspace_root();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    require(
        Path::new(&chromium),
        "install Debian's chromium (`apt-get install chromium`; .ci/run does) or set CHROMIUM",
    );
    require(
        &root.join("examples/docusaurus/node_modules/@docusaurus/core"),
        "run `npm ci --prefix examples/docusaurus` (./scripts/test does)",
    );
    require(
        &root.join("tests/browser/node_modules/playwright-core"),
        "run `npm ci --prefix tests/browser` (./scripts/test does)",
    );

    let auth_public = format!("http://localhost:{AUTH_PORT}");
    let profile_public = format!("http://localhost:{PROFILE_PORT}");
    let cookie_site = format!("http://localhost:{SITE_PORT}");
    let bearer_site = format!("http://127.0.0.1:{SITE_PORT}");

    // The production build, for these URLs (skipped when up to date).
    let started = Instant::now();
    let out = run(
        Command::new("node")
            .arg("tests/browser/build-site.mjs")
            .current_dir(&root)
            .env("AUTH_URL", &auth_public)
            .env("PROFILE_URL", &profile_public)
            .env("SOCIAL_PROVIDERS", "mock")
            .env("SITE_URL", &cookie_site),
        "the site build",
        BUILD_TIMEOUT,
    )
    .await;
    assert!(
        out.status.success(),
        "building examples/docusaurus failed\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "{}(build step: {:.1} s)",
        String::from_utf8_lossy(&out.stdout),
        started.elapsed().as_secs_f64()
    );

    // The services, on the ports the site was built for.
    let db = TestDatabase::new().await;
    let mail_dir = std::env::temp_dir().join(format!("browser-mail-{}", uuid::Uuid::new_v4()));
    let oidc_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let origins = format!("{cookie_site},{bearer_site}");
    let mut auth = test_stack::auth_settings(&db);
    auth.port = AUTH_PORT;
    auth.base_url = auth_public.clone();
    auth.trusted_origins = origins.clone();
    auth.mail_outbox_dir = Some(mail_dir.display().to_string());
    auth.send_verification_on_sign_up = true;
    auth.mail_poll_interval = 0.05;
    auth.mail_request_floor_ms = 0;
    // Two modes' worth of mails from one address within a minute.
    auth.mail_rate_limit_max = 100;
    // flow.mjs starts the provider on this port; the server reads its discovery
    // document on first use.
    auth.oidc = vec![auth_server::config::OidcProviderSettings {
        id: "mock".into(),
        issuer: format!("http://127.0.0.1:{oidc_port}"),
        client_id: "browser-client".into(),
        client_secret: "browser-secret".into(),
        scopes: vec!["email".into(), "profile".into()],
    }];
    let app = auth_server::Application::build(auth)
        .await
        .unwrap_or_else(|e| panic!("auth-server on port {AUTH_PORT} (taken?): {e}"));
    let auth_address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let mut profile = test_stack::profile_settings(&db, &auth_address);
    profile.port = PROFILE_PORT;
    profile.jwt_issuer = auth_public.clone();
    profile.jwt_audience = auth_public.clone();
    profile.trusted_origins = origins;
    let api = profile_api::Application::build(profile)
        .await
        .unwrap_or_else(|e| panic!("profile-api on port {PROFILE_PORT} (taken?): {e}"));
    tokio::spawn(api.run_until_stopped());

    // `docusaurus serve` of that build.
    let site_dir = root.join("examples/docusaurus");
    let _serve = Command::new("node")
        .args([
            "node_modules/@docusaurus/core/bin/docusaurus.mjs",
            "serve",
            "--no-open",
            "--host",
            "127.0.0.1",
            "--port",
            &SITE_PORT.to_string(),
        ])
        .current_dir(&site_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("docusaurus serve");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = http.get(format!("{bearer_site}/login")).send().await;
        if matches!(&up, Ok(r) if r.status().is_success()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "docusaurus serve did not answer on {bearer_site}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The flow.
    let scratch = std::env::temp_dir().join(format!("browser-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let checks_file = scratch.join("passed.txt");
    std::fs::write(&checks_file, "").expect("checks file");
    let artifacts = std::env::var("BROWSER_ARTIFACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| scratch.join("screenshots"));
    let started = Instant::now();
    let out = run(
        Command::new("node")
            .arg("tests/browser/flow.mjs")
            .current_dir(&root)
            .env("SITE_PORT", SITE_PORT.to_string())
            .env("AUTH_URL", &auth_public)
            .env("PROFILE_URL", &profile_public)
            .env("MAIL_DIR", &mail_dir)
            .env("OIDC_PORT", oidc_port.to_string())
            .env("ARTIFACTS_DIR", &artifacts)
            .env("CHECKS_OUT", &checks_file)
            .env("CHROMIUM", &chromium),
        "node tests/browser/flow.mjs",
        FLOW_TIMEOUT,
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser flow failed ({}); screenshots in {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status,
        artifacts.display()
    );
    println!(
        "{stdout}browser flow: {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        artifacts.display()
    );

    // A zero exit code is not enough: every step must have passed, in order.
    let passed = std::fs::read_to_string(&checks_file).expect("checks file");
    let passed: Vec<&str> = passed.lines().collect();
    assert_eq!(
        passed,
        expected_steps(),
        "steps that passed vs expected\n{stdout}"
    );
    let _ = std::fs::remove_dir_all(&mail_dir);
    let _ = std::fs::remove_file(&checks_file);
}
