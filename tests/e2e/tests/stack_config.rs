//! docker-compose.yml and `scripts/dev` must wire the services with the same
//! variables, or the two ways of running the stack drift apart.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Variable names `scripts/dev --print-env` gives each service.
fn dev_script_vars() -> Vec<(String, BTreeSet<String>)> {
    let out = Command::new("bash")
        .arg("scripts/dev")
        .arg("--print-env")
        .current_dir(root())
        .output()
        .expect("run scripts/dev --print-env");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut services: Vec<(String, BTreeSet<String>)> = Vec::new();
    for line in String::from_utf8(out.stdout).expect("utf8").lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            services.push((name.to_owned(), BTreeSet::new()));
        } else if let Some((_, vars)) = services.last_mut() {
            vars.insert(line.trim().to_owned());
        }
    }
    services
}

fn compose_vars(compose: &serde_norway::Value, service: &str) -> BTreeSet<String> {
    let env = &compose["services"][service]["environment"];
    env.as_mapping()
        .unwrap_or_else(|| panic!("{service} has an environment mapping"))
        .keys()
        .map(|k| k.as_str().expect("string key").to_owned())
        .collect()
}

#[test]
fn compose_and_dev_script_set_the_same_variables() {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).expect("compose file");
    let compose: serde_norway::Value = serde_norway::from_str(&text).expect("valid YAML");
    let dev = dev_script_vars();
    assert_eq!(
        dev.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        ["auth-server", "profile-api"]
    );
    for (service, vars) in &dev {
        assert_eq!(
            &compose_vars(&compose, service),
            vars,
            "{service}: docker-compose.yml and scripts/dev disagree"
        );
    }
    // The migration job runs with the auth-server's settings.
    assert_eq!(compose_vars(&compose, "migrate"), dev[0].1);
    // Every service reads the documented defaults.
    for service in ["migrate", "auth-server", "profile-api"] {
        assert_eq!(compose["services"][service]["env_file"], ".env.example");
    }
}
