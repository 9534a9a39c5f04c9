//! Harness for the fault suite: a throwaway PostgreSQL cluster started from the
//! machine's binaries (never the shared server), the two services as real child
//! processes, and a load recorder that keeps every response's status and latency.
//!
//! The cluster can be stopped like a crash (`stop_immediate`), started again on the
//! same port, and frozen (`SIGSTOP` to the postmaster and every backend, which
//! PostgreSQL puts in process groups of their own).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The `AUTH_BASE_URL` (and so the JWT issuer and audience) every test stack uses.
pub const ISSUER: &str = "http://localhost:8080";
/// The browser origin the test stacks trust.
pub const ORIGIN: &str = "http://localhost:3000";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The directory holding `initdb` and `postgres`: `PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin`, else `pg_config --bindir`.
fn pg_bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return dir.into();
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("postgres").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(dir) = dirs.pop() {
        return dir;
    }
    let out = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("PostgreSQL binaries: set PG_BIN or install postgresql");
    String::from_utf8_lossy(&out.stdout).trim().into()
}

/// PostgreSQL refuses to run as root: when we are root, run it as `postgres`.
fn pg_command(program: &Path) -> Command {
    if nix::unistd::geteuid().is_root() {
        // setpriv execs in place (no fork), so the child's pid is the postmaster's.
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--clear-groups",
            "--",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A private PostgreSQL cluster in a temporary directory, on its own port.
pub struct PgCluster {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    postmaster: Option<Child>,
}

impl PgCluster {
    /// Runs `initdb` and starts the cluster; returns once it accepts connections.
    pub async fn start() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let root = std::env::temp_dir().join(format!(
            "faults-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("cluster dir");
        if nix::unistd::geteuid().is_root() {
            let ok = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&root)
                .status()
                .expect("chown")
                .success();
            assert!(ok, "chown {root:?} to postgres");
        }
        let bin = pg_bin_dir();
        let out = pg_command(&bin.join("initdb"))
            .arg("-D")
            .arg(root.join("data"))
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .await
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut cluster = Self {
            root,
            bin,
            port: free_port(),
            postmaster: None,
        };
        cluster.start_again().await;
        cluster
    }

    /// Starts the postmaster on the cluster's port; returns once it accepts connections.
    pub async fn start_again(&mut self) -> Instant {
        assert!(self.postmaster.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("postgres.log"))
            .expect("log file");
        let child = pg_command(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.root.join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.root)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=16MB",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("postgres starts");
        self.postmaster = Some(child);
        let started = Instant::now();
        loop {
            if tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .is_ok()
            {
                return Instant::now();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "postgres did not start; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn postmaster_pid(&self) -> Pid {
        let pid = self
            .postmaster
            .as_ref()
            .and_then(Child::id)
            .expect("postmaster running");
        Pid::from_raw(i32::try_from(pid).expect("pid"))
    }

    /// Stops the cluster the way a crash or `pg_ctl -m immediate` does (SIGQUIT: no
    /// checkpoint, every backend gone at once); returns when the postmaster exited.
    pub async fn stop_immediate(&mut self) -> Instant {
        let pid = self.postmaster_pid();
        kill(pid, Signal::SIGQUIT).expect("SIGQUIT postmaster");
        let mut child = self.postmaster.take().expect("running");
        tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("postmaster exits after SIGQUIT")
            .expect("wait");
        Instant::now()
    }

    /// The postmaster's children (backends, checkpointer, …), read from /proc.
    fn children(&self) -> Vec<Pid> {
        let parent = self.postmaster_pid().as_raw();
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid …"; comm may hold spaces, so split after ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if ppid == Some(parent) {
                pids.push(Pid::from_raw(pid));
            }
        }
        pids
    }

    /// Freezes the whole cluster (a stalled, not closed, database): TCP stays up,
    /// nothing answers.
    pub fn freeze(&self) {
        kill(self.postmaster_pid(), Signal::SIGSTOP).expect("SIGSTOP postmaster");
        for pid in self.children() {
            let _ = kill(pid, Signal::SIGSTOP);
        }
    }

    /// Lets a frozen cluster run again.
    pub fn thaw(&self) {
        for pid in self.children() {
            let _ = kill(pid, Signal::SIGCONT);
        }
        kill(self.postmaster_pid(), Signal::SIGCONT).expect("SIGCONT postmaster");
    }

    /// A URL for database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A new, migrated database; returns its URL.
    pub async fn migrated_database(&self, name: &str) -> String {
        let admin = database::connect(&self.url("postgres"))
            .await
            .expect("admin connection");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        let url = self.url(name);
        let mut client = database::connect(&url).await.expect("connect");
        database::migrate(&mut client).await.expect("migrations");
        url
    }

    /// The server log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Some(pid) = self.postmaster.as_ref().and_then(Child::id) {
            let pid = Pid::from_raw(i32::try_from(pid).unwrap_or(0));
            // A frozen cluster must be thawed to obey SIGQUIT.
            for child in self.children() {
                let _ = kill(child, Signal::SIGCONT);
                let _ = kill(child, Signal::SIGKILL);
            }
            let _ = kill(pid, Signal::SIGCONT);
            let _ = kill(pid, Signal::SIGKILL);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One of our services, running as a child process.
pub struct Service {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Service {
    /// Starts `bin` with exactly `env` (plus PATH) and waits for its `port=` line.
    pub async fn start(bin: &str, env: &[(String, String)]) -> Self {
        let mut child = Command::new(bin)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("service starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let port = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("stdout") {
                if let Some(port) = line.strip_prefix("port=") {
                    return port.parse::<u16>().expect("port");
                }
            }
            panic!("{bin} exited before listening");
        })
        .await
        .expect("service listens within 60 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) {
        let pid = self.child.id().expect("running");
        kill(Pid::from_raw(i32::try_from(pid).expect("pid")), signal).expect("signal");
    }

    /// Waits up to `limit` for the process to exit; returns how long it took.
    pub async fn exited_within(&mut self, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .map(|_| start.elapsed())
    }
}

/// Environment for an auth-server on `database_url`; `extra` overrides.
pub fn auth_env(database_url: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("DATABASE_URL", database_url),
        ("AUTH_HOST", "127.0.0.1"),
        ("AUTH_PORT", "0"),
        ("AUTH_BASE_URL", ISSUER),
        (
            "AUTH_SECRET",
            "fault-suite-only-secret-0123456789abcdefghijklmnop",
        ),
        (
            "AUTH_KEY_ENCRYPTION_SECRET",
            "fault-suite-only-key-encryption-0123456789abcdefgh",
        ),
        ("AUTH_TRUSTED_ORIGINS", ORIGIN),
        ("AUTH_RATE_LIMIT_ENABLED", "false"),
        ("AUTH_MIGRATE_ON_START", "false"),
        ("AUTH_WORKERS", "2"),
        ("AUTH_DB_POOL_SIZE", "8"),
        ("AUTH_REQUEST_TIMEOUT", "2"),
        ("AUTH_SHUTDOWN_TIMEOUT", "5"),
        ("AUTH_LOG_FORMAT", "pretty"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    override_env(&mut env, extra);
    env
}

/// Environment for a profile-api on `database_url` trusting the auth-server at
/// `auth_url`; `extra` overrides.
pub fn profile_env(
    database_url: &str,
    auth_url: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let jwks = format!("{auth_url}/.well-known/jwks.json");
    let mut env: Vec<(String, String)> = [
        ("DATABASE_URL", database_url),
        ("PROFILE_HOST", "127.0.0.1"),
        ("PROFILE_PORT", "0"),
        ("PROFILE_JWKS_URL", jwks.as_str()),
        ("PROFILE_JWKS_ALLOW_HTTP", "true"),
        ("PROFILE_JWT_ISSUER", ISSUER),
        ("PROFILE_JWT_AUDIENCE", ISSUER),
        ("PROFILE_WORKERS", "2"),
        ("PROFILE_DB_POOL_SIZE", "8"),
        ("PROFILE_REQUEST_TIMEOUT", "2"),
        ("PROFILE_SHUTDOWN_TIMEOUT", "5"),
        ("PROFILE_LOG_FORMAT", "pretty"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    override_env(&mut env, extra);
    env
}

fn override_env(env: &mut Vec<(String, String)>, extra: &[(&str, &str)]) {
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
}

/// What one request got.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// An HTTP answer: status, whether it had `Retry-After`, whether the body was JSON.
    Answer {
        /// HTTP status.
        status: u16,
        /// A `Retry-After` header was present.
        retry_after: bool,
        /// The body parsed as JSON.
        json: bool,
    },
    /// No HTTP answer (refused, reset, timed out on the client).
    Transport(String),
}

/// One request's record.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When it was sent.
    pub sent: Instant,
    /// How long until the answer (or the failure).
    pub took: Duration,
    /// What came back.
    pub outcome: Outcome,
}

impl Sample {
    /// The HTTP status, if any.
    pub fn status(&self) -> Option<u16> {
        match self.outcome {
            Outcome::Answer { status, .. } => Some(status),
            Outcome::Transport(_) => None,
        }
    }
}

/// Sends `request` and records the outcome; the client gives up after 10 s.
pub async fn record(request: reqwest::RequestBuilder) -> Sample {
    let sent = Instant::now();
    let outcome = match request.timeout(Duration::from_secs(10)).send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let retry_after = res.headers().contains_key("retry-after");
            let json = res.bytes().await.ok().is_some_and(|b| {
                b.is_empty() || serde_json::from_slice::<serde_json::Value>(&b).is_ok()
            });
            Outcome::Answer {
                status,
                retry_after,
                json,
            }
        }
        Err(e) => Outcome::Transport(e.to_string()),
    };
    Sample {
        sent,
        took: sent.elapsed(),
        outcome,
    }
}
