//! The fault suite: both services as real processes on a throwaway PostgreSQL
//! cluster, under load, while the database is stopped, frozen and restarted and the
//! services themselves are killed and terminated. Timings are printed (run with
//! `--no-capture`) and recorded in docs/benchmarks.md.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use faults::{auth_env, profile_env, record, Outcome, PgCluster, Sample, Service, ISSUER, ORIGIN};
use nix::sys::signal::Signal;
use serde_json::{json, Value};

const AUTH_BIN: &str = env!("CARGO_BIN_EXE_faults-auth-server");
const PROFILE_BIN: &str = env!("CARGO_BIN_EXE_faults-profile-api");
/// The request deadline both stacks run with (AUTH_/PROFILE_REQUEST_TIMEOUT).
const DEADLINE: Duration = Duration::from_secs(2);

struct Stack {
    pg: PgCluster,
    db: String,
    auth: Service,
    profile: Service,
    http: reqwest::Client,
}

async fn stack(auth_extra: &[(&str, &str)]) -> Stack {
    let pg = PgCluster::start().await;
    let db = pg.migrated_database("faults").await;
    let auth = Service::start(AUTH_BIN, &auth_env(&db, auth_extra)).await;
    let profile = Service::start(PROFILE_BIN, &profile_env(&db, &auth.url, &[])).await;
    Stack {
        pg,
        db,
        auth,
        profile,
        http: reqwest::Client::new(),
    }
}

/// A signed-up learner: the session token and a JWT for the profile-api.
#[derive(Clone)]
struct Learner {
    id: String,
    session: String,
    jwt: String,
}

async fn sign_up(http: &reqwest::Client, auth: &str, email: &str) -> reqwest::Response {
    http.post(format!("{auth}/api/auth/sign-up/email"))
        .header("origin", ORIGIN)
        .json(&json!({"email": email, "password": "correct horse battery", "name": "Ada"}))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("sign-up answered")
}

/// Signs a learner up and creates their profile (`display_name` "w0").
async fn learner(s: &Stack, n: usize) -> Learner {
    let res = sign_up(&s.http, &s.auth.url, &format!("learner{n}@example.com")).await;
    assert_eq!(res.status(), 200, "sign-up");
    let jwt = res.headers()["set-auth-jwt"]
        .to_str()
        .expect("jwt")
        .to_owned();
    let body: Value = res.json().await.expect("json");
    let put = s
        .http
        .put(format!("{}/api/profile", s.profile.url))
        .bearer_auth(&jwt)
        .header("origin", ORIGIN)
        .json(&json!({"display_name": "w0"}))
        .send()
        .await
        .expect("profile PUT");
    assert!(put.status().is_success(), "profile PUT: {}", put.status());
    Learner {
        id: body["user"]["id"].as_str().expect("id").to_owned(),
        session: body["token"].as_str().expect("token").to_owned(),
        jwt,
    }
}

/// What the load sends, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    GetSession,
    ProfileGet,
    ProfilePut,
}

type Log = Arc<Mutex<Vec<(Kind, Sample)>>>;

/// Runs readers (get-session, profile GET) and one writer per learner until `stop`.
/// The writer PUTs `w<n>` with n rising and keeps the last n acknowledged.
fn start_load(
    stack: &Stack,
    learners: &[Learner],
    stop: &Arc<AtomicBool>,
) -> (Log, Vec<Arc<AtomicU64>>, Vec<tokio::task::JoinHandle<()>>) {
    let log: Log = Arc::default();
    let mut acked = Vec::new();
    let mut tasks = Vec::new();
    for learner in learners {
        let (http, auth, profile) = (
            stack.http.clone(),
            stack.auth.url.clone(),
            stack.profile.url.clone(),
        );
        let (l, stop_r, log_r) = (learner.clone(), stop.clone(), log.clone());
        tasks.push(tokio::spawn(async move {
            while !stop_r.load(Ordering::Relaxed) {
                let s = record(
                    http.get(format!("{auth}/api/auth/get-session"))
                        .bearer_auth(&l.session),
                )
                .await;
                log_r.lock().expect("log").push((Kind::GetSession, s));
                let s = record(
                    http.get(format!("{profile}/api/profile"))
                        .bearer_auth(&l.jwt),
                )
                .await;
                log_r.lock().expect("log").push((Kind::ProfileGet, s));
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        }));
        let done = Arc::new(AtomicU64::new(0));
        acked.push(done.clone());
        let (http, profile) = (stack.http.clone(), stack.profile.url.clone());
        let (l, stop, log) = (learner.clone(), stop.clone(), log.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let s = record(
                    http.put(format!("{profile}/api/profile"))
                        .bearer_auth(&l.jwt)
                        .header("origin", ORIGIN)
                        .json(&json!({"display_name": format!("w{n}")})),
                )
                .await;
                if s.status().is_some_and(|c| (200..300).contains(&c)) {
                    done.store(n, Ordering::Relaxed);
                }
                log.lock().expect("log").push((Kind::ProfilePut, s));
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        }));
    }
    (log, acked, tasks)
}

enum Fault {
    /// SIGQUIT to the postmaster: every connection gone, nothing listening.
    Stop,
    /// SIGSTOP to the postmaster and every backend: connections up, no answers.
    Freeze,
}

/// The timings one outage gave.
struct OutageReport {
    /// Slowest answer to a request sent while the database was down.
    slowest_during: Duration,
    /// Per kind: from the database's return to the first 200 answered.
    recovery: HashMap<Kind, Duration>,
    requests: usize,
}

impl OutageReport {
    fn summary(&self) -> String {
        let mut recovery: Vec<_> = self
            .recovery
            .iter()
            .map(|(k, d)| format!("{k:?} {d:.2?}"))
            .collect();
        recovery.sort();
        format!(
            "{} requests; slowest answer during the outage {:.2?}; first 200 after the database came back: {}",
            self.requests,
            self.slowest_during,
            recovery.join(", ")
        )
    }
}

/// Two seconds of healthy load, the fault for four, then three after it ends; checks
/// every request was answered (200/2xx or a JSON 503 with Retry-After), every answer
/// during the fault came within `bound`, recovery took under 2 s without a restart,
/// and every acknowledged write is in the database.
async fn outage(fault: Fault, bound: Duration) -> OutageReport {
    let mut s = stack(&[]).await;
    let mut learners = Vec::new();
    for n in 0..4 {
        learners.push(learner(&s, n).await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (log, acked, tasks) = start_load(&s, &learners, &stop);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let down = match fault {
        Fault::Stop => s.pg.stop_immediate().await,
        Fault::Freeze => {
            s.pg.freeze();
            Instant::now()
        }
    };
    // Readiness must notice within 2 s, whatever the fault.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for url in [&s.auth.url, &s.profile.url] {
        let r = record(s.http.get(format!("{url}/readyz"))).await;
        assert_eq!(
            r.status(),
            Some(503),
            "{url}/readyz during the outage: {r:?}"
        );
        assert!(
            r.took < Duration::from_secs(2),
            "{url}/readyz took {:?}",
            r.took
        );
    }
    tokio::time::sleep(Duration::from_millis(3500)).await;
    // Answers before this moment are certainly from the outage; `back` is when the
    // database was seen accepting again.
    let restarting = Instant::now();
    let back = match fault {
        Fault::Stop => s.pg.start_again().await,
        Fault::Freeze => {
            s.pg.thaw();
            Instant::now()
        }
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("load task");
    }

    let log = log.lock().expect("log").clone();
    let mut slowest_during = Duration::ZERO;
    let mut recovery = HashMap::new();
    for (kind, sample) in &log {
        let answered = sample.sent + sample.took;
        match &sample.outcome {
            Outcome::Transport(e) => panic!("{kind:?} got no HTTP answer: {e}"),
            Outcome::Answer {
                status,
                retry_after,
                json,
            } => {
                assert!(*json, "{kind:?} {status}: body is not JSON");
                match status {
                    200..=299 => {}
                    503 => assert!(*retry_after, "{kind:?} 503 without Retry-After"),
                    other => panic!("{kind:?} answered {other} (only 2xx or 503 allowed)"),
                }
                if sample.sent >= down && sample.sent < back {
                    slowest_during = slowest_during.max(sample.took);
                    assert!(
                        sample.took <= bound,
                        "{kind:?} took {:?} during the outage (bound {bound:?})",
                        sample.took
                    );
                    if answered < restarting {
                        assert_eq!(
                            *status, 503,
                            "{kind:?} answered {status} with the database down"
                        );
                    }
                }
                if (200..300).contains(status) && answered >= back {
                    let since = answered - back;
                    recovery
                        .entry(*kind)
                        .and_modify(|d: &mut Duration| *d = (*d).min(since))
                        .or_insert(since);
                }
                if sample.sent >= back + Duration::from_secs(2) {
                    assert!(
                        (200..300).contains(status),
                        "{kind:?} still {status} two seconds after the database came back"
                    );
                }
            }
        }
    }
    for kind in [Kind::GetSession, Kind::ProfileGet, Kind::ProfilePut] {
        let r = recovery
            .get(&kind)
            .unwrap_or_else(|| panic!("{kind:?} never recovered"));
        assert!(
            *r < Duration::from_secs(2),
            "{kind:?} recovered after {r:?}"
        );
    }

    // Every acknowledged write survived (a later, unacknowledged one may have too).
    let client = database::connect(&s.db).await.expect("connect");
    for (l, acked) in learners.iter().zip(&acked) {
        let acked = acked.load(Ordering::Relaxed);
        assert!(acked > 0, "no write was acknowledged");
        let row = client
            .query_one(
                "SELECT display_name FROM learner.profiles WHERE user_id = $1::text::uuid",
                &[&l.id],
            )
            .await
            .expect("profile row");
        let name: String = row.get(0);
        let stored: u64 = name.trim_start_matches('w').parse().expect("w<n>");
        assert!(stored >= acked, "acknowledged w{acked}, stored {name}");
    }
    let _ = &mut s;
    OutageReport {
        slowest_during,
        recovery,
        requests: log.len(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_gives_503s_within_a_second_and_both_services_recover_alone() {
    let report = outage(Fault::Stop, Duration::from_secs(1)).await;
    eprintln!("fault stop: {}", report.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_gives_503s_within_the_request_deadline_and_both_recover_alone() {
    // The deadline is enforced by the service; one more second covers scheduling on
    // a loaded two-core CI machine.
    let report = outage(Fault::Freeze, DEADLINE + Duration::from_secs(1)).await;
    eprintln!("fault freeze: {}", report.summary());
}

/// An RS256 token for `sub`, signed by a key the auth-server never had.
fn token_from_unknown_key(sub: &str) -> String {
    use josekit::jws::{JwsHeader, RS256};
    use josekit::jwt::{self, JwtPayload};
    let mut pair = RS256.generate_key_pair(2048).expect("key");
    pair.set_key_id(Some("not-a-published-kid"));
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    header.set_key_id("not-a-published-kid");
    let mut payload = JwtPayload::new();
    payload.set_subject(sub);
    payload.set_issuer(ISSUER);
    payload.set_audience(vec![ISSUER]);
    let now = SystemTime::now();
    payload.set_issued_at(&now);
    payload.set_expires_at(&(now + Duration::from_secs(300)));
    let signer = RS256
        .signer_from_jwk(&pair.to_jwk_private_key())
        .expect("signer");
    jwt::encode_with_signer(&payload, &header, &signer).expect("token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_auth_server_killed_the_profile_api_keeps_validating_from_cached_keys() {
    let mut s = stack(&[]).await;
    let l = learner(&s, 0).await;
    let get = |jwt: String| {
        record(
            s.http
                .get(format!("{}/api/profile", s.profile.url))
                .bearer_auth(jwt),
        )
    };
    assert_eq!(get(l.jwt.clone()).await.status(), Some(200), "JWKS fetched");

    s.auth.signal(Signal::SIGKILL);
    s.auth
        .exited_within(Duration::from_secs(5))
        .await
        .expect("auth-server killed");
    let until = Instant::now() + Duration::from_secs(3);
    let mut served = 0;
    while Instant::now() < until {
        let r = get(l.jwt.clone()).await;
        assert_eq!(r.status(), Some(200), "cached keys still verify: {r:?}");
        served += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The outage opens no door: a kid never published is still refused (401, the
    // refetch it may trigger fails and changes nothing), not 5xx.
    let r = get(token_from_unknown_key(&l.id)).await;
    assert!(
        matches!(
            r.outcome,
            Outcome::Answer {
                status: 401,
                json: true,
                ..
            }
        ),
        "unknown kid while the JWKS is unreachable: {r:?}"
    );
    // The failed refetch evicted nothing.
    assert_eq!(get(l.jwt.clone()).await.status(), Some(200));
    eprintln!("auth-server down: {served} profile reads served from cached keys over 3 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_the_middle_of_sign_ups_leaves_no_half_written_account() {
    let s = stack(&[("AUTH_MAX_CONCURRENT_HASHES", "1")]).await;
    let emails: Vec<String> = (0..40).map(|n| format!("racer{n}@example.com")).collect();
    let first_ack = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for email in &emails {
        let (http, auth, email, first_ack) = (
            s.http.clone(),
            s.auth.url.clone(),
            email.clone(),
            first_ack.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = record(
                http.post(format!("{auth}/api/auth/sign-up/email"))
                    .header("origin", ORIGIN)
                    .json(
                        &json!({"email": email, "password": "correct horse battery", "name": "R"}),
                    ),
            )
            .await;
            if r.status() == Some(200) {
                first_ack.notify_one();
            }
            (email, r)
        }));
    }
    first_ack.notified().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.auth.signal(Signal::SIGKILL);
    let mut acked = Vec::new();
    let mut cut = 0;
    for t in tasks {
        let (email, r) = t.await.expect("task");
        match r.status() {
            Some(200) => acked.push(email),
            None => cut += 1,
            Some(other) => panic!("sign-up {email} answered {other}"),
        }
    }
    assert!(
        cut > 0,
        "the kill came after every sign-up finished; nothing was tested"
    );

    let db = database::connect(&s.db).await.expect("connect");
    let orphans: i64 = db
        .query_one(
            "SELECT count(*) FROM identity.users u WHERE NOT EXISTS \
             (SELECT 1 FROM identity.accounts a WHERE a.user_id = u.id AND a.password_hash IS NOT NULL)",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(orphans, 0, "users without a password credential");

    // Restarted, every address is usable: acknowledged ones sign in, the rest either
    // committed (sign in) or left nothing behind (sign up again).
    let auth = Service::start(AUTH_BIN, &auth_env(&s.db, &[])).await;
    let sign_in = |email: String| {
        s.http
            .post(format!("{}/api/auth/sign-in/email", auth.url))
            .header("origin", ORIGIN)
            .json(&json!({"email": email, "password": "correct horse battery"}))
            .send()
    };
    for email in &emails {
        let status = sign_in(email.clone()).await.expect("sign-in").status();
        if acked.contains(email) {
            assert_eq!(status, 200, "acknowledged sign-up {email} signs in");
        } else if status != 200 {
            let again = sign_up(&s.http, &auth.url, email).await.status();
            assert_eq!(again, 200, "{email}: neither signs in nor signs up again");
        }
    }
    eprintln!(
        "sigkill mid sign-up: {} acknowledged, {cut} cut off, 0 orphans",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_queue_of_sign_ups_answers_every_request() {
    let mut s = stack(&[
        ("AUTH_MAX_CONCURRENT_HASHES", "1"),
        ("AUTH_REQUEST_TIMEOUT", "1"),
        ("AUTH_SHUTDOWN_TIMEOUT", "4"),
    ])
    .await;
    // 120 hashes one at a time take longer than the 1 s deadline: the head of the
    // queue finishes, the tail gets 503 — both inside the grace period.
    let mut tasks = Vec::new();
    for n in 0..120 {
        let (http, auth) = (s.http.clone(), s.auth.url.clone());
        tasks.push(tokio::spawn(async move {
            record(
                http.post(format!("{auth}/api/auth/sign-up/email"))
                    .header("origin", ORIGIN)
                    .json(&json!({"email": format!("queued{n}@example.com"), "password": "correct horse battery", "name": "Q"})),
            )
            .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let term = Instant::now();
    s.auth.signal(Signal::SIGTERM);
    let mut by_status: HashMap<u16, usize> = HashMap::new();
    let mut after_term = 0;
    for t in tasks {
        let r = t.await.expect("task");
        if r.sent + r.took > term {
            after_term += 1;
        }
        match r.outcome {
            Outcome::Answer { status: 200, .. } => *by_status.entry(200).or_default() += 1,
            Outcome::Answer {
                status: 503,
                retry_after,
                json,
            } => {
                assert!(retry_after && json, "503 without Retry-After or JSON");
                *by_status.entry(503).or_default() += 1;
            }
            other => panic!("a queued sign-up got {other:?}"),
        }
    }
    assert!(
        after_term > 0,
        "the queue was empty at SIGTERM; nothing was tested"
    );
    assert!(
        by_status.get(&200).is_some_and(|n| *n > 0),
        "nothing finished: {by_status:?}"
    );
    assert!(
        by_status.get(&503).is_some_and(|n| *n > 0),
        "no queued work was shed: {by_status:?}"
    );
    let exit = s
        .auth
        .exited_within(Duration::from_secs(5))
        .await
        .expect("exits within the shutdown timeout");
    eprintln!(
        "sigterm with 120 queued sign-ups: {by_status:?}, {after_term} answered after SIGTERM, exited {exit:?} after the last answer"
    );
}

/// A database that wakes 5 s after the services start (a Neon compute resuming, a
/// database restarting with its apps): the auth-server waits for it (retrying with
/// backoff) instead of exiting, and binds its port only once it can serve; the
/// profile-api listens at once and reports not-ready until the database answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_started_before_their_database_wait_for_it() {
    let mut pg = PgCluster::start().await;
    let db = pg.migrated_database("faults").await;
    let http = reqwest::Client::new();
    // The signing key is created by the first start: none exists yet.
    pg.stop_immediate().await;

    // The auth-server's port is chosen up front, so the profile-api knows its JWKS.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
        .to_string();
    let env = auth_env(
        &db,
        &[("AUTH_MIGRATE_ON_START", "true"), ("AUTH_PORT", &port)],
    );
    let started = Instant::now();
    let auth = tokio::spawn(async move { Service::start(AUTH_BIN, &env).await });
    let auth_url = format!("http://127.0.0.1:{port}");
    let profile = Service::start(PROFILE_BIN, &profile_env(&db, &auth_url, &[])).await;
    let ready = http
        .get(format!("{}/readyz", profile.url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(
        ready.status(),
        503,
        "the profile-api is not ready without its database"
    );

    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !auth.is_finished(),
        "the auth-server gave up or listened without a database"
    );
    let woke = pg.start_again().await;
    let auth = auth
        .await
        .expect("the auth-server starts once the database is back");
    eprintln!(
        "database woke after {:?}; auth-server listening {:?} later",
        woke - started,
        woke.elapsed()
    );
    assert!(
        woke.elapsed() < Duration::from_secs(5),
        "backoff is capped at 2 s"
    );
    let res = sign_up(&http, &auth.url, "late@example.com").await;
    assert_eq!(res.status(), 200);
    let token = http
        .get(format!("{}/api/auth/token", auth.url))
        .header(
            "authorization",
            format!(
                "Bearer {}",
                res.headers()["set-auth-token"].to_str().expect("ascii")
            ),
        )
        .send()
        .await
        .expect("token");
    assert_eq!(
        token.status(),
        200,
        "a signing key was created after the wait"
    );
    for _ in 0..100 {
        let ready = http
            .get(format!("{}/readyz", profile.url))
            .send()
            .await
            .expect("readyz");
        if ready.status() == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the profile-api never became ready after the database came back");
}
