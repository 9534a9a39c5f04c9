//! Where mails go: an SMTP relay (`AUTH_SMTP_URL`), or, without one, `.eml` files in
//! `AUTH_MAIL_OUTBOX_DIR` for development (their links are logged).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use percent_encoding::percent_decode_str;

/// A configured way to deliver mail.
pub enum Transport {
    /// An SMTP relay.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// A folder of `.eml` files.
    Files(PathBuf),
}

/// How the SMTP URL asks for TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `smtps://`: TLS from the first byte (port 465).
    Wrapper,
    /// `smtp://`: STARTTLS, required (port 587).
    StartTls,
    /// `smtp://…?tls=none`: plain text, only to a loopback host.
    None,
}

/// The parts of `AUTH_SMTP_URL` (no `Debug`: it holds the password).
#[derive(Clone)]
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    password: Option<String>,
}

impl SmtpTarget {
    /// Parses `smtp[s]://[user:pass@]host[:port][?tls=none]`. Plain text is refused
    /// unless the host is loopback: credentials and reset links must not cross a
    /// network in the clear.
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let url = url::Url::parse(raw).context("AUTH_SMTP_URL is not a URL")?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .context("AUTH_SMTP_URL has no host")?
            .trim_matches(|c| c == '[' || c == ']')
            .to_owned();
        let mut tls = match url.scheme() {
            "smtps" => TlsMode::Wrapper,
            "smtp" => TlsMode::StartTls,
            other => {
                bail!("AUTH_SMTP_URL scheme {other:?}: use smtp:// (STARTTLS) or smtps:// (TLS)")
            }
        };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "none") if tls == TlsMode::StartTls => tls = TlsMode::None,
                ("tls", "required") => {}
                _ => bail!("AUTH_SMTP_URL: unknown parameter {key}={value} (only tls=none, for a loopback relay)"),
            }
        }
        if tls == TlsMode::None && !is_loopback(&host) {
            bail!("AUTH_SMTP_URL: tls=none is only allowed to a loopback host; use smtp:// (STARTTLS) or smtps://");
        }
        let port = url.port().unwrap_or(match tls {
            TlsMode::Wrapper => 465,
            TlsMode::StartTls => 587,
            TlsMode::None => 25,
        });
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let username = Some(decode(url.username())).filter(|u| !u.is_empty());
        let password = url.password().map(decode);
        Ok(Self {
            host,
            port,
            tls,
            username,
            password,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Transport {
    /// An SMTP transport; `ca_file` adds a trusted root (a private relay's CA).
    pub fn smtp(
        target: &SmtpTarget,
        ca_file: Option<&std::path::Path>,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let tls_params = || -> anyhow::Result<TlsParameters> {
            let mut builder = TlsParameters::builder(target.host.clone());
            if let Some(path) = ca_file {
                let pem = std::fs::read(path)
                    .with_context(|| format!("reading AUTH_SMTP_CA_FILE {}", path.display()))?;
                builder = builder.add_root_certificate(
                    Certificate::from_pem(&pem)
                        .context("AUTH_SMTP_CA_FILE is not a PEM certificate")?,
                );
            }
            Ok(builder.build_native()?)
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&target.host)
            .port(target.port)
            .timeout(Some(timeout));
        builder = match target.tls {
            TlsMode::Wrapper => builder.tls(Tls::Wrapper(tls_params()?)),
            TlsMode::StartTls => builder.tls(Tls::Required(tls_params()?)),
            TlsMode::None => builder.tls(Tls::None),
        };
        if let Some(user) = &target.username {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                target.password.clone().unwrap_or_default(),
            ));
        }
        Ok(Transport::Smtp(builder.build()))
    }

    /// A folder transport (created if missing).
    pub fn files(dir: PathBuf) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating AUTH_MAIL_OUTBOX_DIR {}", dir.display()))?;
        Ok(Transport::Files(dir))
    }

    /// Delivers one mail. `name` names its file in folder mode; `link` is logged there.
    pub async fn send(&self, message: Message, name: &str, link: &str) -> Result<(), String> {
        match self {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| format!("SMTP: {e}")),
            Transport::Files(dir) => {
                let path = dir.join(format!("{name}.eml"));
                let bytes = message.formatted();
                let target = path.clone();
                tokio::task::spawn_blocking(move || std::fs::write(target, bytes))
                    .await
                    .map_err(|e| format!("writing {}: {e}", path.display()))?
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
                // Development only (no SMTP configured): the link is what the
                // developer needs, so it is printed rather than hidden.
                tracing::info!(path = %path.display(), link, "mail written to the outbox folder");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_tls_and_plain_text_only_on_loopback() {
        let t = SmtpTarget::parse("smtp://mailer:p%40ss@smtp.example.com").expect("parses");
        assert_eq!(
            (t.host.as_str(), t.port, t.tls),
            ("smtp.example.com", 587, TlsMode::StartTls)
        );
        assert_eq!(t.username.as_deref(), Some("mailer"));
        assert_eq!(t.password.as_deref(), Some("p@ss"));
        let t = SmtpTarget::parse("smtps://smtp.example.com").expect("parses");
        assert_eq!((t.port, t.tls), (465, TlsMode::Wrapper));
        let t = SmtpTarget::parse("smtp://127.0.0.1:2525?tls=none").expect("parses");
        assert_eq!((t.port, t.tls), (2525, TlsMode::None));
        assert!(SmtpTarget::parse("smtp://[::1]:2525?tls=none").is_ok());
        assert!(SmtpTarget::parse("smtp://localhost:2525?tls=none").is_ok());
        for bad in [
            "smtp://smtp.example.com?tls=none",
            "smtp://10.0.0.5?tls=none",
            "smtps://127.0.0.1?tls=none",
            "http://smtp.example.com",
            "smtp://smtp.example.com?verify=false",
            "not a url",
        ] {
            assert!(SmtpTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
