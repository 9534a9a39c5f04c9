//! The check that every setting is documented, for each service's unit tests.

use serde::Serialize;

/// How `.env.example` must list a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// `VAR=value` at the start of a line.
    Set,
    /// `VAR=value`, or commented out as `# VAR=` (settings with no default or a
    /// computed one).
    SetOrCommentedOut,
}

/// Panics unless every field of `defaults` (a settings struct) is named, as the
/// variable `env_var(field)`, in `env_example` (as `listing` says) and, in
/// backquotes, in `docs`.
pub fn assert_settings_documented(
    defaults: &impl Serialize,
    env_var: impl Fn(&str) -> String,
    env_example: &str,
    docs: &str,
    listing: Listing,
) {
    let fields = serde_json::to_value(defaults).expect("settings serialise");
    for field in fields.as_object().expect("settings are a struct").keys() {
        let var = env_var(field);
        let assignment = format!("{var}=");
        let listed = env_example.lines().any(|line| {
            let line = match listing {
                Listing::Set => line,
                Listing::SetOrCommentedOut => line.strip_prefix("# ").unwrap_or(line),
            };
            line.starts_with(&assignment)
        });
        assert!(listed, "{var} missing from .env.example");
        assert!(
            docs.contains(&format!("`{var}`")),
            "{var} missing from docs/configuration.md"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Demo {
        port: u16,
        secret: Option<String>,
    }

    const DOCS: &str = "`DEMO_PORT` and `DEMO_SECRET`";

    fn check(env: &str, listing: Listing) -> bool {
        std::panic::catch_unwind(|| {
            assert_settings_documented(
                &Demo {
                    port: 1,
                    secret: None,
                },
                |f| format!("DEMO_{}", f.to_uppercase()),
                env,
                DOCS,
                listing,
            )
        })
        .is_ok()
    }

    #[test]
    fn each_setting_must_be_listed_as_asked() {
        let set = "DEMO_PORT=1\nDEMO_SECRET=\n";
        let commented = "DEMO_PORT=1\n# DEMO_SECRET=\n";
        assert!(check(set, Listing::Set));
        assert!(!check(commented, Listing::Set));
        assert!(check(commented, Listing::SetOrCommentedOut));
        assert!(!check(
            "DEMO_PORT=1\n# mentions DEMO_SECRET= only\n",
            Listing::SetOrCommentedOut
        ));
        assert!(!check("XDEMO_PORT=1\nDEMO_SECRET=\n", Listing::Set));
    }
}
