//! A Supabase-shaped source database seeded with one user of every kind the
//! import has a rule for, an empty target, and the real auth-server and
//! profile-api started in-process on the target.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use reqwest::StatusCode;
use serde_json::{json, Value};
use supabase_import::{Options, Report};
use test_support::TestDatabase;
use uuid::Uuid;

/// The fixture's users, by role in the tests.
pub mod id {
    use uuid::Uuid;
    /// bcrypt `$2a$10$`, confirmed, full metadata, profile.
    pub const ALICE: Uuid = Uuid::from_u128(0x0a00_0000_0000_4000_8000_0000_0000_0001);
    /// bcrypt `$2b$04$`, unconfirmed, profile with an avatar our schema refuses.
    pub const BOB: Uuid = Uuid::from_u128(0x0b00_0000_0000_4000_8000_0000_0000_0002);
    /// bcrypt `$2y$06$`, banned until 2999.
    pub const CAROL: Uuid = Uuid::from_u128(0x0c00_0000_0000_4000_8000_0000_0000_0003);
    /// argon2id PHC with weaker parameters, mixed-case e-mail.
    pub const DAVE: Uuid = Uuid::from_u128(0x0d00_0000_0000_4000_8000_0000_0000_0004);
    /// Google only (NULL password), profile.
    pub const ERIN: Uuid = Uuid::from_u128(0x0e00_0000_0000_4000_8000_0000_0000_0005);
    /// GitHub only (empty password).
    pub const FRANK: Uuid = Uuid::from_u128(0x0f00_0000_0000_4000_8000_0000_0000_0006);
    /// Soft-deleted, with a leftover profile.
    pub const GINA: Uuid = Uuid::from_u128(0x1000_0000_0000_4000_8000_0000_0000_0007);
    /// Anonymous, with a profile.
    pub const ANON: Uuid = Uuid::from_u128(0x1100_0000_0000_4000_8000_0000_0000_0008);
    /// SSO, shared@corp.example, oldest.
    pub const SSO_OLD: Uuid = Uuid::from_u128(0x1200_0000_0000_4000_8000_0000_0000_0009);
    /// SSO, shared@corp.example, newer.
    pub const SSO_NEW: Uuid = Uuid::from_u128(0x1300_0000_0000_4000_8000_0000_0000_000a);
    /// Password user, shared@corp.example, youngest: keeps the e-mail.
    pub const SHARED: Uuid = Uuid::from_u128(0x1400_0000_0000_4000_8000_0000_0000_000b);
    /// SSO with a unique e-mail and a (never usable) password hash.
    pub const SSO_SOLO: Uuid = Uuid::from_u128(0x1500_0000_0000_4000_8000_0000_0000_000c);
    /// Hash encrypted with Supabase's column encryption.
    pub const ENCRYPTED: Uuid = Uuid::from_u128(0x1600_0000_0000_4000_8000_0000_0000_000d);
    /// Phone only, no e-mail.
    pub const PHONE: Uuid = Uuid::from_u128(0x1700_0000_0000_4000_8000_0000_0000_000e);
    /// Firebase scrypt hash (not verifiable by us).
    pub const FIREBASE: Uuid = Uuid::from_u128(0x1800_0000_0000_4000_8000_0000_0000_000f);
}

/// Users that have a password we can verify: (id, e-mail to sign in with, password).
pub const PASSWORD_USERS: [(Uuid, &str, &str); 4] = [
    (id::ALICE, "alice@example.com", "alice-password-1"),
    (id::BOB, "bob@example.com", "bob-password-2"),
    (id::DAVE, "dave@example.com", "dave-password-4"),
    (id::SHARED, "shared@corp.example", "shared-password-11"),
];
/// Carol's password (she is banned).
pub const CAROL_PASSWORD: &str = "carol-password-3";

/// Hashes made once per test process (bcrypt at cost 10 takes a moment).
struct Hashes {
    alice: String,
    bob: String,
    carol: String,
    dave: String,
    shared: String,
    sso_solo: String,
}

fn bcrypt_hash(password: &str, cost: u32, version: bcrypt::Version) -> String {
    bcrypt::hash_with_result(password, cost)
        .expect("bcrypt")
        .format_for_version(version)
}

fn hashes() -> &'static Hashes {
    static HASHES: OnceLock<Hashes> = OnceLock::new();
    HASHES.get_or_init(|| {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let dave = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 3, 1, None).expect("params"),
        )
        .hash_password(b"dave-password-4", &salt)
        .expect("argon2")
        .to_string();
        Hashes {
            alice: bcrypt_hash("alice-password-1", 10, bcrypt::Version::TwoA),
            bob: bcrypt_hash("bob-password-2", 4, bcrypt::Version::TwoB),
            carol: bcrypt_hash(CAROL_PASSWORD, 6, bcrypt::Version::TwoY),
            dave,
            shared: bcrypt_hash("shared-password-11", 10, bcrypt::Version::TwoA),
            sso_solo: bcrypt_hash("sso-password", 4, bcrypt::Version::TwoA),
        }
    })
}

/// The bcrypt hash the fixture gave a user, for assertions.
pub fn source_hash(user: Uuid) -> &'static str {
    let h = hashes();
    match user {
        id::ALICE => &h.alice,
        id::BOB => &h.bob,
        id::CAROL => &h.carol,
        id::DAVE => &h.dave,
        id::SHARED => &h.shared,
        _ => panic!("no hash for {user}"),
    }
}

/// A source and a target database.
pub struct Fixture {
    pub source: TestDatabase,
    pub target: TestDatabase,
}

impl Fixture {
    /// A seeded source and an empty (migrated) target.
    pub async fn new() -> Self {
        let source = TestDatabase::new().await;
        let target = TestDatabase::new().await;
        seed(&source.client().await).await;
        Self { source, target }
    }

    /// Import options between the two.
    pub fn options(&self) -> Options {
        Options::new(self.source.url(), self.target.url())
    }

    /// Another empty target, for comparisons.
    pub async fn another_target(&self) -> TestDatabase {
        TestDatabase::new().await
    }

    /// Runs the import with `tweak`ed options.
    pub async fn import(&self, tweak: impl FnOnce(&mut Options)) -> Report {
        let mut o = self.options();
        tweak(&mut o);
        supabase_import::run(&o).await.expect("import runs")
    }
}

/// Everything imported into `db`, as JSON, in a stable order (bookkeeping columns
/// that name runs or times are left out).
pub async fn dump(db: &TestDatabase) -> Vec<(String, Vec<Value>)> {
    let client = db.client().await;
    client
        .batch_execute("SET TIME ZONE 'UTC'")
        .await
        .expect("tz");
    let mut out = Vec::new();
    for (name, sql) in [
        ("users", "SELECT to_jsonb(t) FROM identity.users t ORDER BY id"),
        ("accounts", "SELECT to_jsonb(t) FROM identity.accounts t ORDER BY id"),
        ("profiles", "SELECT to_jsonb(t) FROM learner.profiles t ORDER BY user_id"),
        (
            "imported_users",
            "SELECT to_jsonb(t) - 'run_id' - 'imported_at' FROM identity.imported_users t ORDER BY user_id",
        ),
    ] {
        let rows = client.query(sql, &[]).await.expect("dump");
        out.push((name.to_owned(), rows.iter().map(|r| r.get(0)).collect()));
    }
    out
}

/// Every table of `db` outside the system schemas — found in the catalogue, so a
/// table added later is covered too — as its row count and an md5 of its rows in
/// a stable order; then every sequence's position (a rolled-back INSERT still
/// advances one). Two equal snapshots: nothing was written.
pub async fn snapshot(db: &TestDatabase) -> Vec<(String, i64, String)> {
    let client = db.client().await;
    let tables = client
        .query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
            &[],
        )
        .await
        .expect("tables");
    let mut out = Vec::new();
    for t in &tables {
        let table: String = t.get(0);
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*), COALESCE(md5(string_agg(to_jsonb(t)::text, ','
                       ORDER BY to_jsonb(t)::text)), '') FROM {table} t"
                ),
                &[],
            )
            .await
            .expect("table snapshot");
        out.push((table, row.get(0), row.get(1)));
    }
    let sequences = client
        .query(
            "SELECT format('%I.%I', schemaname, sequencename), COALESCE(last_value, 0)
             FROM pg_sequences ORDER BY 1",
            &[],
        )
        .await
        .expect("sequences");
    for s in &sequences {
        out.push((s.get(0), s.get(1), "sequence".into()));
    }
    assert!(
        out.iter().any(|(t, _, _)| t == "identity.users"),
        "the snapshot covers our tables"
    );
    out
}

/// Seeds the Supabase-shaped source.
async fn seed(client: &tokio_postgres::Client) {
    client
        .batch_execute(supabase_import::synth::SUPABASE_AUTH_SCHEMA)
        .await
        .expect("supabase schema");
    let h = hashes();
    let encrypted = r#"{"key_id":"8f9c2e1a-key","alg":"aes-gcm-hkdf","data":"c2VjcmV0IGRhdGE=","nonce":"bm9uY2U="}"#;
    let firebase = "$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk=ZmFrZQ==$c2FsdHNhbHQ=$aGFzaGhhc2g=";
    // (id, email, password, confirmed, app meta, user meta, created, banned, sso, deleted, anonymous, phone)
    #[allow(clippy::type_complexity)]
    let users: Vec<(
        Uuid,
        Option<&str>,
        Option<&str>,
        bool,
        Value,
        Value,
        &str,
        Option<&str>,
        bool,
        bool,
        bool,
        Option<&str>,
    )> = vec![
        (
            id::ALICE,
            Some("alice@example.com"),
            Some(&h.alice),
            true,
            json!({"provider": "email", "providers": ["email"], "plan": "pro"}),
            json!({"full_name": "Alice Anders", "name": "alice", "avatar_url": "https://img.example/alice.png", "email_verified": true}),
            "2022-03-04 05:06:07.123456+00",
            None,
            false,
            false,
            false,
            None,
        ),
        (
            id::BOB,
            Some("bob@example.com"),
            Some(&h.bob),
            false,
            json!({"provider": "email", "providers": ["email"]}),
            json!({"name": "Bob Builder"}),
            "2022-05-06 07:08:09+00",
            None,
            false,
            false,
            false,
            None,
        ),
        (
            id::CAROL,
            Some("carol@example.com"),
            Some(&h.carol),
            true,
            json!({"provider": "email", "providers": ["email"]}),
            json!({"user_name": "carol_c"}),
            "2023-01-01 00:00:00+00",
            Some("2999-01-01 00:00:00+00"),
            false,
            false,
            false,
            None,
        ),
        (
            id::DAVE,
            Some("Dave@Example.COM"),
            Some(&h.dave),
            true,
            json!({"provider": "email", "providers": ["email"]}),
            json!({}),
            "2023-02-02 00:00:00+00",
            None,
            false,
            false,
            false,
            None,
        ),
        (
            id::ERIN,
            Some("erin@example.com"),
            None,
            true,
            json!({"provider": "google", "providers": ["google"]}),
            json!({"full_name": "Erin Example", "picture": "https://lh3.example/erin.jpg", "iss": "https://accounts.google.com"}),
            "2023-03-03 00:00:00+00",
            None,
            false,
            false,
            false,
            None,
        ),
        (
            id::FRANK,
            Some("frank@example.com"),
            Some(""),
            true,
            json!({"provider": "github", "providers": ["github"]}),
            json!({"user_name": "frankgh", "avatar_url": "https://avatars.example/frank"}),
            "2023-04-04 00:00:00+00",
            None,
            false,
            false,
            false,
            None,
        ),
        (
            id::GINA,
            Some("deleted-1000@obfuscated.invalid"),
            None,
            true,
            json!({}),
            json!({}),
            "2021-01-01 00:00:00+00",
            None,
            false,
            true,
            false,
            None,
        ),
        (
            id::ANON,
            None,
            None,
            false,
            json!({}),
            json!({}),
            "2024-01-01 00:00:00+00",
            None,
            false,
            false,
            true,
            None,
        ),
        (
            id::SSO_OLD,
            Some("shared@corp.example"),
            None,
            true,
            json!({"provider": "sso:0b1b2b3b-0000-4000-8000-000000000001", "providers": ["sso:0b1b2b3b-0000-4000-8000-000000000001"]}),
            json!({"name": "Shared Old"}),
            "2020-01-01 00:00:00+00",
            None,
            true,
            false,
            false,
            None,
        ),
        (
            id::SSO_NEW,
            Some("shared@corp.example"),
            None,
            true,
            json!({"provider": "sso:0b1b2b3b-0000-4000-8000-000000000002", "providers": ["sso:0b1b2b3b-0000-4000-8000-000000000002"]}),
            json!({"name": "Shared New"}),
            "2021-01-01 00:00:00+00",
            None,
            true,
            false,
            false,
            None,
        ),
        (
            id::SHARED,
            Some("shared@corp.example"),
            Some(&h.shared),
            true,
            json!({"provider": "email", "providers": ["email"]}),
            json!({"full_name": "Shared Person"}),
            "2023-06-06 00:00:00+00",
            None,
            false,
            false,
            false,
            None,
        ),
        (
            id::SSO_SOLO,
            Some("solo@corp.example"),
            Some(&h.sso_solo),
            true,
            json!({"provider": "sso:0b1b2b3b-0000-4000-8000-000000000001", "providers": ["sso:0b1b2b3b-0000-4000-8000-000000000001"]}),
            json!({"name": "Solo Sso"}),
            "2023-07-07 00:00:00+00",
            None,
            true,
            false,
            false,
            None,
        ),
        (
            id::ENCRYPTED,
            Some("enc@example.com"),
            Some(encrypted),
            true,
            json!({"provider": "email", "providers": ["email"]}),
            json!({}),
            "2023-08-08 00:00:00+00",
            None,
            false,
            false,
            false,
            None,
        ),
        (
            id::PHONE,
            None,
            Some(&h.bob),
            false,
            json!({"provider": "phone", "providers": ["phone"]}),
            json!({}),
            "2023-09-09 00:00:00+00",
            None,
            false,
            false,
            false,
            Some("15550100"),
        ),
        (
            id::FIREBASE,
            Some("fb@example.com"),
            Some(firebase),
            true,
            json!({"provider": "email", "providers": ["email"]}),
            json!({}),
            "2023-10-10 00:00:00+00",
            None,
            false,
            false,
            false,
            None,
        ),
    ];
    for (id, email, password, confirmed, app, user, created, banned, sso, deleted, anon, phone) in
        users
    {
        client
            .execute(
                "INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password,
                     email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at,
                     updated_at, banned_until, is_sso_user, deleted_at, is_anonymous, phone)
                 VALUES ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', 'authenticated',
                     $2, $3, CASE WHEN $4 THEN $7::text::timestamptz + interval '1 hour' END, $5, $6,
                     $7::text::timestamptz, $7::text::timestamptz + interval '2 days',
                     $8::text::timestamptz, $9,
                     CASE WHEN $10 THEN timestamptz '2024-02-02 00:00:00+00' END, $11, $12)",
                &[&id, &email, &password, &confirmed, &app, &user, &created, &banned, &sso, &deleted, &anon, &phone],
            )
            .await
            .unwrap_or_else(|e| panic!("seed user {id}: {e}"));
    }
    // (user, provider, provider's subject)
    let identities = [
        (id::ALICE, "email", id::ALICE.to_string()),
        (id::BOB, "email", id::BOB.to_string()),
        (id::CAROL, "email", id::CAROL.to_string()),
        (id::DAVE, "email", id::DAVE.to_string()),
        (id::ERIN, "google", "109876543210987654321".to_owned()),
        (id::FRANK, "github", "4242".to_owned()),
        (
            id::SSO_OLD,
            "sso:0b1b2b3b-0000-4000-8000-000000000001",
            "old@idp".to_owned(),
        ),
        (
            id::SSO_NEW,
            "sso:0b1b2b3b-0000-4000-8000-000000000002",
            "new@idp".to_owned(),
        ),
        (id::SHARED, "email", id::SHARED.to_string()),
        (
            id::SSO_SOLO,
            "sso:0b1b2b3b-0000-4000-8000-000000000001",
            "solo@idp".to_owned(),
        ),
        (id::ENCRYPTED, "email", id::ENCRYPTED.to_string()),
        (id::PHONE, "phone", id::PHONE.to_string()),
        (id::FIREBASE, "email", id::FIREBASE.to_string()),
    ];
    for (n, (user, provider, subject)) in identities.iter().enumerate() {
        client
            .execute(
                "INSERT INTO auth.identities (id, provider_id, user_id, identity_data, provider,
                     created_at, updated_at)
                 SELECT $1, $2, $3, jsonb_build_object('sub', $2::text, 'email', u.email), $4,
                     u.created_at, u.created_at
                 FROM auth.users u WHERE u.id = $3",
                &[
                    &Uuid::from_u128(0xd000 + n as u128),
                    subject,
                    user,
                    provider,
                ],
            )
            .await
            .expect("seed identity");
    }
    // (user, username, full name, avatar, bio)
    let profiles = [
        (
            id::ALICE,
            Some("alice"),
            Some("Alice A."),
            Some("https://img.example/alice.png"),
            Some("Rust and robots."),
        ),
        (
            id::BOB,
            Some("bobby"),
            Some("Bob B."),
            Some("ftp://files.example/bob.png"),
            None,
        ),
        (
            id::CAROL,
            Some("carol"),
            Some(""),
            None,
            Some("Banned but kept."),
        ),
        (
            id::ERIN,
            Some("erin"),
            Some("Erin E."),
            Some("http://img.example/erin.png"),
            Some(""),
        ),
        (id::GINA, Some("gina"), Some("Gina G."), None, None),
        (id::ANON, None, None, None, Some("anonymous notes")),
        (
            id::SHARED,
            Some("shared"),
            Some("Shared P."),
            None,
            Some("Keeps the e-mail."),
        ),
    ];
    for (user, username, full_name, avatar, bio) in profiles {
        client
            .execute(
                "INSERT INTO public.profiles (id, updated_at, username, full_name, avatar_url, website, bio)
                 VALUES ($1, timestamptz '2024-05-05 12:00:00+00', $2, $3, $4, 'https://example.com', $5)",
                &[&user, &username, &full_name, &avatar, &bio],
            )
            .await
            .expect("seed profile");
    }
    // A profile that was never edited: no updated_at.
    client
        .execute(
            "UPDATE public.profiles SET updated_at = NULL WHERE id = $1",
            &[&id::ERIN],
        )
        .await
        .expect("seed profile time");
}

/// The auth-server on `db`, in-process; returns its base URL.
pub async fn start_auth_server(db: &TestDatabase) -> String {
    let settings = auth_settings(db);
    let app = auth_server::Application::build(settings)
        .await
        .expect("auth-server builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

// The shared auth-server test settings (rate limiter off: every test signs in more
// often than a person would, all from 127.0.0.1).
use test_stack::auth_settings;

/// The auth-server's public URL in tests (the JWTs' issuer and audience).
pub use test_stack::AUTH_BASE_URL;

/// The profile-api on `db`, trusting the auth-server at `auth`; returns its base URL.
pub async fn start_profile_api(db: &TestDatabase, auth: &str) -> String {
    let settings = profile_api::Settings {
        database_url: db.url().to_owned(),
        host: "127.0.0.1".into(),
        port: 0,
        jwks_url: format!("{auth}/.well-known/jwks.json"),
        jwt_issuer: AUTH_BASE_URL.into(),
        jwt_audience: AUTH_BASE_URL.into(),
        trusted_origins: "http://localhost:3000".into(),
        db_pool_size: 2,
        workers: 1,
        request_timeout: 2,
        shutdown_timeout: 3,
        log_format: "pretty".into(),
        ..profile_api::Settings::default()
    };
    let app = profile_api::Application::build(settings)
        .await
        .expect("profile-api builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// Signs in through the auth-server's HTTP API.
pub async fn sign_in(
    http: &reqwest::Client,
    auth: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    http.post(format!("{auth}/api/auth/sign-in/email"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("sign-in request")
}

/// Signs in (must succeed) and returns the session bearer.
pub async fn session_for(
    http: &reqwest::Client,
    auth: &str,
    email: &str,
    password: &str,
) -> String {
    let res = sign_in(http, auth, email, password).await;
    assert_eq!(res.status(), StatusCode::OK, "sign-in of {email} failed");
    res.headers()
        .get("set-auth-token")
        .expect("set-auth-token")
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// A JWT for a session.
pub use test_stack::jwt_for;

/// The stored credential hash of a user, if any.
pub async fn credential(db: &TestDatabase, user: Uuid) -> Option<String> {
    db.client()
        .await
        .query_opt(
            "SELECT password_hash FROM identity.accounts WHERE user_id = $1 AND provider_id = 'credential'",
            &[&user],
        )
        .await
        .expect("credential")
        .map(|r| r.get(0))
}
