//! How the import protects its connections: it reads every password hash from the
//! source and writes them to the target, so by default it insists on a verified
//! TLS connection (certificate chain and host name, libpq's `verify-full`) to any
//! host that is not this machine.

use tokio_postgres::config::Host;

/// What a URL says about TLS, once the default is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// No `sslmode` and a non-loopback host: `verify-full` was added.
    DefaultVerifyFull,
    /// No `sslmode` and only loopback hosts (or a Unix socket): left as is (plain
    /// or opportunistic TLS), as nothing travels over a network.
    Loopback,
    /// The URL's own `sslmode`, kept as given (libpq's meaning).
    Explicit(String),
}

impl TlsMode {
    /// Whether the server's certificate is checked.
    pub fn verifies(&self) -> bool {
        match self {
            TlsMode::DefaultVerifyFull => true,
            TlsMode::Loopback => false,
            TlsMode::Explicit(mode) => matches!(mode.as_str(), "verify-full" | "verify-ca"),
        }
    }
}

/// The hosts a URL names (without loading any `sslrootcert`).
fn hosts(url: &str) -> anyhow::Result<Vec<Host>> {
    let (bare, _) = database::take_param(url, "sslrootcert");
    let target = database::parse_url(&bare).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(target.config.get_hosts().to_vec())
}

/// Whether every host of `config` is this machine. A name counts only if it is
/// literally `localhost`: names are not resolved (a DNS answer could lie).
fn only_loopback(hosts: &[Host]) -> bool {
    hosts.iter().all(|h| match h {
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    })
}

/// Applies the default: with no `sslmode` in `url` and a host that is not loopback,
/// `sslmode=verify-full` is added. An explicit `sslmode` is kept, with libpq's
/// meaning (`require` encrypts but does not check the certificate). Returns the URL
/// to connect with and the mode.
pub fn with_verifying_default(url: &str) -> anyhow::Result<(String, TlsMode)> {
    let (_, mode) = database::take_param(url, "sslmode");
    if let Some(mode) = mode {
        return Ok((url.to_owned(), TlsMode::Explicit(mode)));
    }
    if only_loopback(&hosts(url)?) {
        return Ok((url.to_owned(), TlsMode::Loopback));
    }
    let url = if url.contains("://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}sslmode=verify-full")
    } else {
        format!("{url} sslmode=verify-full")
    };
    Ok((url, TlsMode::DefaultVerifyFull))
}

/// [`with_verifying_default`], warning (once, on stderr through tracing) when an
/// explicit mode leaves a network connection unverified.
pub fn prepare(url: &str, side: &str) -> anyhow::Result<String> {
    let (url, mode) = with_verifying_default(url)?;
    if let TlsMode::Explicit(m) = &mode {
        let remote = hosts(&url).map(|h| !only_loopback(&h)).unwrap_or(true);
        if remote && !mode.verifies() {
            tracing::warn!(
                "the {side} URL says sslmode={m}: the server's certificate is not checked, so a man in the middle could read every password hash; use sslmode=verify-full (with sslrootcert=FILE for a private CA such as Supabase's)"
            );
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_host_without_sslmode_gets_verify_full() {
        let (url, mode) =
            with_verifying_default("postgres://postgres:pw@db.abc.supabase.co:5432/postgres")
                .expect("url");
        assert_eq!(
            url,
            "postgres://postgres:pw@db.abc.supabase.co:5432/postgres?sslmode=verify-full"
        );
        assert_eq!(mode, TlsMode::DefaultVerifyFull);
        assert!(mode.verifies());
        let (url, _) = with_verifying_default(
            "postgres://u@10.0.0.5/db?application_name=x&sslrootcert=/ca.pem",
        )
        .expect("url");
        assert_eq!(
            url,
            "postgres://u@10.0.0.5/db?application_name=x&sslrootcert=/ca.pem&sslmode=verify-full"
        );
        let (url, _) = with_verifying_default("host=db.example.com dbname=postgres").expect("dsn");
        assert_eq!(
            url,
            "host=db.example.com dbname=postgres sslmode=verify-full"
        );
        // A name that happens to resolve to this machine is still a name.
        let (_, mode) = with_verifying_default("postgres://u@vm/db").expect("url");
        assert_eq!(mode, TlsMode::DefaultVerifyFull);
    }

    #[test]
    fn loopback_stays_as_it_is() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/db",
            "postgres://postgres@localhost/db",
            "postgres://postgres@[::1]:5432/db",
            "host=/var/run/postgresql dbname=db",
        ] {
            let (same, mode) = with_verifying_default(url).expect(url);
            assert_eq!(same, url);
            assert_eq!(mode, TlsMode::Loopback, "{url}");
        }
    }

    #[test]
    fn an_explicit_sslmode_is_kept_with_its_libpq_meaning() {
        for (mode, verifies) in [
            ("require", false),
            ("prefer", false),
            ("disable", false),
            ("verify-ca", true),
            ("verify-full", true),
        ] {
            let url = format!("postgres://u@db.example.com/db?sslmode={mode}");
            let (same, got) = with_verifying_default(&url).expect("url");
            assert_eq!(same, url);
            assert_eq!(got, TlsMode::Explicit(mode.to_owned()));
            assert_eq!(got.verifies(), verifies, "{mode}");
        }
    }
}
