//! A real SMTP server on loopback (mailin-embedded) that keeps what it receives,
//! parsed (mail-parser), for tests and benchmarks: no mock, the auth-server speaks
//! SMTP to it exactly as to a relay. It can answer slowly (`set_delay`) or refuse
//! mail with a temporary failure (`set_refusing`), and a port can be reserved
//! before anything listens on it, to start the server later ("SMTP down, then
//! back").

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailin_embedded::{response, Handler, Response, Server};

/// A mail as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// The `Subject:` header.
    pub subject: String,
    /// The text/plain body.
    pub text: String,
    /// The text/html body.
    pub html: String,
    /// The `From:` header as sent.
    pub from_header: String,
    /// The whole message.
    pub raw: Vec<u8>,
}

impl ReceivedMail {
    /// Every http(s) URL in the plain-text body, in order.
    pub fn links(&self) -> Vec<String> {
        self.text
            .split_whitespace()
            .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
            .map(|w| w.trim_end_matches(['.', ',', ')', '>']).to_owned())
            .collect()
    }

    /// The first link whose text contains `part`.
    pub fn link_containing(&self, part: &str) -> Option<String> {
        self.links().into_iter().find(|l| l.contains(part))
    }
}

#[derive(Default)]
struct Shared {
    inbox: Mutex<Vec<ReceivedMail>>,
    delay_ms: AtomicU64,
    refusing: AtomicBool,
    sessions: AtomicU64,
}

#[derive(Clone)]
struct Session {
    shared: Arc<Shared>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Session {
    fn helo(&mut self, _ip: std::net::IpAddr, _domain: &str) -> Response {
        self.shared.sessions.fetch_add(1, Ordering::SeqCst);
        let delay = self.shared.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        response::OK
    }

    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, _from: &str) -> Response {
        if self.shared.refusing.load(Ordering::SeqCst) {
            return response::INTERNAL_ERROR;
        }
        response::OK
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let raw = std::mem::take(&mut self.data);
        let parsed = mail_parser::MessageParser::default().parse(&raw);
        let (subject, text, html, from_header) = match &parsed {
            Some(m) => (
                m.subject().unwrap_or_default().to_owned(),
                m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
                m.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
                m.from()
                    .and_then(|f| f.first())
                    .and_then(|a| a.address())
                    .unwrap_or_default()
                    .to_owned(),
            ),
            None => Default::default(),
        };
        let mail = ReceivedMail {
            from: self.from.clone(),
            to: self.to.clone(),
            subject,
            text,
            html,
            from_header,
            raw,
        };
        if let Ok(mut inbox) = self.shared.inbox.lock() {
            inbox.push(mail);
        }
        response::OK
    }
}

/// A running SMTP server on 127.0.0.1 (plain text, no STARTTLS).
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl SmtpSink {
    /// Starts on a free port.
    pub fn start() -> std::io::Result<Self> {
        Self::start_with(TcpListener::bind("127.0.0.1:0")?)
    }

    /// Starts on a free port offering STARTTLS with a freshly made self-signed
    /// certificate for `localhost` and `127.0.0.1`; returns the certificate's PEM
    /// file too (what a client trusts, as `AUTH_SMTP_CA_FILE`).
    pub fn start_starttls() -> std::io::Result<(Self, std::path::PathBuf)> {
        let dir = std::env::temp_dir().join(format!(
            "smtp-sink-tls-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir)?;
        let (cert, key) = self_signed().map_err(std::io::Error::other)?;
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert)?;
        std::fs::write(&key_path, key)?;
        let sink = Self::start_with_tls(
            TcpListener::bind("127.0.0.1:0")?,
            Some(mailin_embedded::SslConfig::SelfSigned {
                cert_path: cert_path.display().to_string(),
                key_path: key_path.display().to_string(),
            }),
        )?;
        Ok((sink, cert_path))
    }

    /// Starts on `port` (one from [`SmtpSink::reserve_port`], say).
    pub fn start_on(port: u16) -> std::io::Result<Self> {
        Self::start_with(TcpListener::bind(("127.0.0.1", port))?)
    }

    /// A port nothing listens on right now, for a server started later.
    pub fn reserve_port() -> std::io::Result<u16> {
        Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
    }

    fn start_with(listener: TcpListener) -> std::io::Result<Self> {
        Self::start_with_tls(listener, None)
    }

    fn start_with_tls(
        listener: TcpListener,
        tls: Option<mailin_embedded::SslConfig>,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let handler = Session {
            shared: shared.clone(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = Server::new(handler);
        server
            .with_name("smtp-sink.localhost")
            .with_num_threads(8)
            .with_tcp_listener(listener);
        if let Some(tls) = tls {
            server
                .with_ssl(tls)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        // The server thread lives as long as the process (a test process).
        std::thread::spawn(move || {
            if let Err(e) = server.serve() {
                eprintln!("smtp-sink stopped: {e}");
            }
        });
        Ok(Self { addr, shared })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:<port>?tls=none`, as `AUTH_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.addr.port())
    }

    /// Answers each EHLO only after `delay` (a slow relay).
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Refuses every mail (`MAIL FROM`) with `451` (a relay in trouble) while `on`.
    pub fn set_refusing(&self, on: bool) {
        self.shared.refusing.store(on, Ordering::SeqCst);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared
            .inbox
            .lock()
            .map(|i| i.clone())
            .unwrap_or_default()
    }

    /// Mails received for `to`.
    pub fn received_for(&self, to: &str) -> Vec<ReceivedMail> {
        self.received()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .collect()
    }

    /// SMTP conversations started (EHLO/HELO seen).
    pub fn sessions(&self) -> u64 {
        self.shared.sessions.load(Ordering::SeqCst)
    }

    /// Waits (asynchronously) for the `n`-th mail to `to`; panics after `timeout`.
    pub async fn wait_for_nth(&self, to: &str, n: usize, timeout: Duration) -> ReceivedMail {
        let start = Instant::now();
        loop {
            let mails = self.received_for(to);
            if mails.len() >= n {
                return mails[n - 1].clone();
            }
            assert!(
                start.elapsed() < timeout,
                "no mail #{n} for {to} within {timeout:?} (have {})",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the first mail to `to`.
    pub async fn wait_for(&self, to: &str, timeout: Duration) -> ReceivedMail {
        self.wait_for_nth(to, 1, timeout).await
    }
}

/// A self-signed certificate (PEM) and its key (PEM) for `localhost`/`127.0.0.1`.
fn self_signed() -> Result<(Vec<u8>, Vec<u8>), openssl::error::ErrorStack> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509NameBuilder, X509};

    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "localhost")?;
    let name = name.build();
    let mut cert = X509::builder()?;
    cert.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(64, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    cert.set_serial_number(&serial)?;
    cert.set_subject_name(&name)?;
    cert.set_issuer_name(&name)?;
    cert.set_pubkey(&key)?;
    let (not_before, not_after) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(2)?);
    cert.set_not_before(&not_before)?;
    cert.set_not_after(&not_after)?;
    // A CA flag lets the certificate be its own trust anchor for the client.
    cert.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&cert.x509v3_context(None, None))?;
    cert.append_extension(san)?;
    cert.sign(&key, MessageDigest::sha256())?;
    Ok((cert.build().to_pem()?, key.private_key_to_pem_pkcs8()?))
}
