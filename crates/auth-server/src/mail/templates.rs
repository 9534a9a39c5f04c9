//! Mail templates: a subject, a plain-text and an HTML body per kind of mail,
//! rendered with minijinja (HTML auto-escaped). The defaults are compiled in; a
//! file of the same name in `AUTH_MAIL_TEMPLATES_DIR` replaces one. Every template
//! is rendered once at start-up, so a broken override stops the server, not a mail.

use std::path::Path;

use anyhow::Context;
use minijinja::Environment;
use serde::Serialize;

use super::MailKind;

/// What a template can use.
#[derive(Debug, Serialize)]
pub struct MailContext<'a> {
    /// `AUTH_PRODUCT_NAME`.
    pub product_name: &'a str,
    /// `AUTH_BASE_URL`.
    pub base_url: &'a str,
    /// The user's display name.
    pub name: &'a str,
    /// The user's current address.
    pub email: &'a str,
    /// change-email: the address asked for.
    pub new_email: Option<&'a str>,
    /// The link the mail is about.
    pub url: &'a str,
    /// The link's lifetime.
    pub expires_in_minutes: i64,
}

/// A rendered mail.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The action link (logged by the file transport in development).
    pub link: String,
}

/// The loaded templates.
pub struct Templates {
    env: Environment<'static>,
}

const EXTENSIONS: [&str; 3] = ["subject", "txt", "html"];

fn default_source(kind: MailKind, ext: &str) -> &'static str {
    macro_rules! pick {
        ($name:literal) => {
            match ext {
                "subject" => include_str!(concat!("../../templates/mail/", $name, ".subject")),
                "txt" => include_str!(concat!("../../templates/mail/", $name, ".txt")),
                _ => include_str!(concat!("../../templates/mail/", $name, ".html")),
            }
        };
    }
    match kind {
        MailKind::VerifyEmail => pick!("verify-email"),
        MailKind::ResetPassword => pick!("reset-password"),
        MailKind::ChangeEmailConfirmation => pick!("change-email-confirmation"),
        MailKind::ChangeEmailVerification => pick!("change-email-verification"),
        MailKind::DeleteAccount => pick!("delete-account"),
    }
}

impl Templates {
    /// The defaults, with any file of `dir` named `<kind>.<subject|txt|html>` in
    /// place of its default; each is test-rendered.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for kind in MailKind::ALL {
            for ext in EXTENSIONS {
                let name = format!("{}.{ext}", kind.as_str());
                let source = match dir.map(|d| d.join(&name)).filter(|p| p.is_file()) {
                    Some(path) => std::fs::read_to_string(&path)
                        .with_context(|| format!("reading mail template {}", path.display()))?,
                    None => default_source(kind, ext).to_owned(),
                };
                env.add_template_owned(name.clone(), source)
                    .with_context(|| format!("mail template {name}"))?;
            }
        }
        let templates = Self { env };
        let sample = MailContext {
            product_name: "Product",
            base_url: "https://auth.example.com",
            name: "Ada",
            email: "ada@example.com",
            new_email: Some("ada@example.org"),
            url: "https://auth.example.com/api/auth/verify-email?token=t",
            expires_in_minutes: 60,
        };
        for kind in MailKind::ALL {
            templates
                .render(kind, &sample)
                .with_context(|| format!("rendering the {} mail", kind.as_str()))?;
        }
        Ok(templates)
    }

    /// Renders a mail; the subject is its template's first line, trimmed.
    pub fn render(&self, kind: MailKind, ctx: &MailContext<'_>) -> anyhow::Result<Rendered> {
        let render = |ext: &str| -> anyhow::Result<String> {
            let name = format!("{}.{ext}", kind.as_str());
            Ok(self.env.get_template(&name)?.render(ctx)?)
        };
        let subject = render("subject")?;
        let subject = subject.lines().next().unwrap_or_default().trim().to_owned();
        anyhow::ensure!(!subject.is_empty(), "the subject is empty");
        Ok(Rendered {
            subject,
            text: render("txt")?,
            html: render("html")?,
            link: ctx.url.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(name: &'a str, url: &'a str) -> MailContext<'a> {
        MailContext {
            product_name: "Course",
            base_url: "http://localhost:8080",
            name,
            email: "ada@example.com",
            new_email: None,
            url,
            expires_in_minutes: 60,
        }
    }

    #[test]
    fn defaults_render_with_the_link_in_both_bodies() {
        let t = Templates::load(None).expect("defaults load");
        let url = "http://localhost:8080/api/auth/verify-email?token=abc&callbackURL=%2F";
        let mail = t
            .render(MailKind::VerifyEmail, &ctx("Ada", url))
            .expect("renders");
        assert_eq!(mail.subject, "Confirm your e-mail address for Course");
        assert!(mail.text.contains(url), "{}", mail.text);
        // HTML escapes the & of the query string; the text body keeps it.
        assert!(
            mail.html.contains("token=abc&amp;callbackURL=%2F"),
            "{}",
            mail.html
        );
    }

    #[test]
    fn html_escapes_what_the_user_chose() {
        let t = Templates::load(None).expect("defaults load");
        let mail = t
            .render(
                MailKind::ResetPassword,
                &ctx("<script>x</script>", "http://l/r"),
            )
            .expect("renders");
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(mail.html.contains("&lt;script&gt;"), "{}", mail.html);
    }

    #[test]
    fn a_directory_overrides_one_template_and_a_broken_one_is_refused() {
        let dir = std::env::temp_dir().join(format!("mail-tpl-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("verify-email.subject"),
            "Bienvenue sur {{ product_name }}\n",
        )
        .expect("write");
        let t = Templates::load(Some(&dir)).expect("override loads");
        let mail = t
            .render(MailKind::VerifyEmail, &ctx("Ada", "http://l/v"))
            .expect("renders");
        assert_eq!(mail.subject, "Bienvenue sur Course");
        // Untouched templates keep their defaults.
        let reset = t
            .render(MailKind::ResetPassword, &ctx("Ada", "http://l/r"))
            .expect("renders");
        assert_eq!(reset.subject, "Reset your Course password");

        std::fs::write(dir.join("reset-password.txt"), "{{ no_such_variable }}").expect("write");
        assert!(Templates::load(Some(&dir)).is_err());
        std::fs::write(dir.join("reset-password.txt"), "{% if %}").expect("write");
        assert!(Templates::load(Some(&dir)).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
