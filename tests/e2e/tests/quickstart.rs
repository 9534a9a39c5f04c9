//! The README's quickstart, driven the way a new user would: start the stack with
//! `./scripts/dev`, sign up with curl, get a JWT, write and read a profile, run the
//! tour it prints (the README's, without jq) twice, press Ctrl-C, and find nothing
//! left running.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use test_support::TestDatabase;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

async fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .await
        .expect("curl runs");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

#[tokio::test]
async fn readme_quickstart_from_start_to_profile_to_ctrl_c() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let db = TestDatabase::new().await;
    let (auth_port, profile_port) = (free_port(), free_port());
    let (auth_metrics, profile_metrics) = (free_port(), free_port());
    let mut child = Command::new("bash")
        .arg("scripts/dev")
        .current_dir(&root)
        .env("DATABASE_URL", db.url())
        .env("AUTH_PORT", auth_port.to_string())
        .env("PROFILE_PORT", profile_port.to_string())
        .env("AUTH_METRICS_PORT", auth_metrics.to_string())
        .env("PROFILE_METRICS_PORT", profile_metrics.to_string())
        // The site's dev server is left out here: it needs port 3000 and its npm
        // packages; the browser test (browser.rs) covers the site.
        .env("DEV_SITE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("scripts/dev starts");
    let pgid = child.id().expect("pid");

    // Wait for the banner (the first run may build the binaries).
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let banner = tokio::time::timeout(Duration::from_secs(240), async {
        let mut seen = String::new();
        while let Some(line) = lines.next_line().await.expect("read") {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("Ctrl-C stops") {
                return seen;
            }
        }
        panic!("scripts/dev exited early:\n{seen}");
    })
    .await
    .expect("stack ready within 240 s");
    assert!(banner.contains(&format!("http://localhost:{auth_port}/api/auth")));
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let auth = format!("http://localhost:{auth_port}");
    let profile = format!("http://localhost:{profile_port}");
    // 1. Sign up; the bearer credential is in set-auth-token.
    let headers = curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("{auth}/api/auth/sign-up/email"),
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"name":"Ada","email":"ada@example.com","password":"correct-horse-1"}"#,
    ])
    .await;
    let session = headers
        .lines()
        .find_map(|l| l.strip_prefix("set-auth-token: "))
        .expect("set-auth-token header")
        .trim()
        .to_owned();
    // 2. A JWT for the profile-api.
    let token: serde_json::Value = serde_json::from_str(
        &curl(&[
            &format!("{auth}/api/auth/token"),
            "-H",
            &format!("authorization: Bearer {session}"),
        ])
        .await,
    )
    .expect("json");
    let jwt = token["token"].as_str().expect("jwt");
    // 3. Write and read the profile.
    let put = curl(&[
        "-X",
        "PUT",
        &format!("{profile}/api/profile"),
        "-H",
        &format!("authorization: Bearer {jwt}"),
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"display_name":"Ada","software_background":"advanced"}"#,
        "-w",
        "\n%{http_code}",
    ])
    .await;
    assert!(put.ends_with("201"), "{put}");
    let got: serde_json::Value = serde_json::from_str(
        &curl(&[
            &format!("{profile}/api/profile"),
            "-H",
            &format!("authorization: Bearer {jwt}"),
        ])
        .await,
    )
    .expect("json");
    assert_eq!(got["display_name"], "Ada");
    assert_eq!(got["software_background"], "advanced");
    // Both services count what just happened on their metrics ports.
    let metrics = curl(&[&format!("http://127.0.0.1:{auth_metrics}/metrics")]).await;
    assert!(
        metrics.contains(
            r#"http_requests_total{method="POST",route="/api/auth/sign-up/email",status="200"} 1"#
        ),
        "{metrics}"
    );
    let metrics = curl(&[&format!("http://127.0.0.1:{profile_metrics}/metrics")]).await;
    assert!(
        metrics
            .contains(r#"http_requests_total{method="PUT",route="/api/profile",status="201"} 1"#),
        "{metrics}"
    );

    // 4. The tour the banner prints is the README's, for these ports…
    let tour: Vec<&str> = banner
        .lines()
        .skip_while(|l| !l.starts_with("AUTH="))
        .take_while(|l| !l.contains("Ctrl-C stops"))
        .collect();
    let tour = tour.join("\n").trim().to_owned();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let readme_tour = readme
        .split("## A 30-second tour")
        .nth(1)
        .and_then(|s| s.split("```sh\n").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("the README's tour block")
        .trim()
        .replace(":8080", &format!(":{auth_port}"))
        .replace(":8081", &format!(":{profile_port}"));
    assert_eq!(tour, readme_tour, "scripts/dev prints the README's tour");
    // …runs with curl alone, and again on the same database: Ada exists by now, so
    // sign-up's 422 is shown and the tour signs in instead.
    for run in 1..=2 {
        let out = Command::new("bash")
            .args(["-c", &format!("set -eo pipefail\n{tour}")])
            .output()
            .await
            .expect("bash runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "tour run {run}: {stdout}\n{stderr}");
        assert!(
            stderr.contains("USER_ALREADY_EXISTS"),
            "tour run {run} shows the sign-up error: {stderr}"
        );
        assert!(
            stdout.contains("HTTP/1.1 200") && stdout.contains(r#""display_name":"Ada""#),
            "tour run {run}: {stdout}\n{stderr}"
        );
    }

    // 5. Ctrl-C (SIGINT to the foreground process group) stops everything.
    let status = std::process::Command::new("kill")
        // `--` is essential: procps-ng 4.0.2's kill parses `-INT -15406` as
        // kill(-1, SIGINT), i.e. every process on the machine (Postgres included).
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("scripts/dev stops within 30 s")
        .expect("wait");
    assert!(exit.success(), "scripts/dev exit: {exit:?}");
    for port in [auth_port, profile_port, auth_metrics, profile_metrics] {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still open after Ctrl-C"
        );
    }
}
