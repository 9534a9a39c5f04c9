//! Imported (bcrypt, older argon2) password hashes: they verify, are replaced with
//! argon2id at the first sign-in, and a ban is refused like a wrong password.

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

const PASSWORD: &str = "tr0ub4dor&3-legacy";
const CURRENT_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

fn bcrypt_hash(cost: u32, version: bcrypt::Version) -> String {
    bcrypt::hash_with_result(PASSWORD, cost)
        .expect("bcrypt")
        .format_for_version(version)
}

fn argon2_hash(alg: Algorithm, m: u32, t: u32) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::new(
        alg,
        Version::V0x13,
        Params::new(m, t, 1, None).expect("params"),
    )
    .hash_password(PASSWORD.as_bytes(), &salt)
    .expect("argon2")
    .to_string()
}

impl TestApp {
    /// Inserts a user with a credential hash straight into the tables, as the import does.
    pub(crate) async fn insert_legacy_user(
        &self,
        email: &str,
        hash: &str,
        banned_until: Option<&str>,
    ) -> Uuid {
        let client = self.db.client().await;
        let id = Uuid::new_v4();
        client
            .execute(
                "INSERT INTO identity.users (id, name, email, banned_until)
                 VALUES ($1, 'Legacy', $2, $3::text::timestamptz)",
                &[&id, &email, &banned_until],
            )
            .await
            .expect("insert user");
        client
            .execute(
                "INSERT INTO identity.accounts (user_id, provider_id, account_id, password_hash)
                 VALUES ($1::uuid, 'credential', $1::uuid::text, $2)",
                &[&id, &hash],
            )
            .await
            .expect("insert credential");
        id
    }

    async fn stored_hash(&self, id: Uuid) -> String {
        let client = self.db.client().await;
        client
            .query_one(
                "SELECT password_hash FROM identity.accounts
                 WHERE user_id = $1 AND provider_id = 'credential'",
                &[&id],
            )
            .await
            .expect("credential")
            .get(0)
    }

    async fn sign_in_as(&self, email: &str, password: &str) -> reqwest::Response {
        self.post(
            "/sign-in/email",
            &json!({"email": email, "password": password}),
        )
        .await
    }
}

#[tokio::test]
async fn bcrypt_users_of_any_cost_sign_in_and_end_up_argon2id() {
    let app = spawn_app().await;
    for (email, cost, version) in [
        ("cost4@example.com", 4, bcrypt::Version::TwoA),
        ("cost10@example.com", 10, bcrypt::Version::TwoA),
        ("cost5b@example.com", 5, bcrypt::Version::TwoB),
        ("cost6y@example.com", 6, bcrypt::Version::TwoY),
    ] {
        let legacy = bcrypt_hash(cost, version);
        let id = app.insert_legacy_user(email, &legacy, None).await;

        let res = app.sign_in_as(email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK, "{email}");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["user"]["id"], id.to_string());

        let upgraded = app.stored_hash(id).await;
        assert!(upgraded.starts_with(CURRENT_PREFIX), "{email}: {upgraded}");
        // The new hash works, the old one is gone.
        app.sign_in(email, PASSWORD).await;
        assert_eq!(app.stored_hash(id).await, upgraded, "rehashed only once");
    }
}

#[tokio::test]
async fn a_wrong_password_leaves_a_bcrypt_hash_alone() {
    let app = spawn_app().await;
    let legacy = bcrypt_hash(4, bcrypt::Version::TwoA);
    let id = app
        .insert_legacy_user("wrong@example.com", &legacy, None)
        .await;
    let res = app
        .sign_in_as("wrong@example.com", "not-the-password")
        .await;
    assert_error(
        res,
        StatusCode::UNAUTHORIZED,
        Some("INVALID_EMAIL_OR_PASSWORD"),
    )
    .await;
    assert_eq!(app.stored_hash(id).await, legacy);
}

#[tokio::test]
async fn argon2i_and_weaker_argon2id_users_are_rehashed() {
    let app = spawn_app().await;
    for (email, stored) in [
        (
            "argon2i@example.com",
            argon2_hash(Algorithm::Argon2i, 19_456, 2),
        ),
        (
            "weak@example.com",
            argon2_hash(Algorithm::Argon2id, 4096, 3),
        ),
    ] {
        let id = app.insert_legacy_user(email, &stored, None).await;
        app.sign_in(email, PASSWORD).await;
        let upgraded = app.stored_hash(id).await;
        assert!(upgraded.starts_with(CURRENT_PREFIX), "{email}: {upgraded}");
        assert_ne!(upgraded, stored);
    }
}

#[tokio::test]
async fn a_current_argon2id_hash_is_not_rewritten() {
    let app = spawn_app().await;
    let user = app.user("fresh@example.com").await;
    let id: Uuid = user.id.parse().expect("uuid");
    let before = app.stored_hash(id).await;
    app.sign_in(&user.email, &user.password).await;
    assert_eq!(app.stored_hash(id).await, before);
}

#[tokio::test]
async fn a_banned_user_gets_the_same_401_as_a_wrong_password() {
    let app = spawn_app().await;
    let legacy = bcrypt_hash(4, bcrypt::Version::TwoA);
    let banned = app
        .insert_legacy_user("banned@example.com", &legacy, Some("2999-01-01T00:00:00Z"))
        .await;
    let forever = app
        .insert_legacy_user("forever@example.com", &legacy, Some("infinity"))
        .await;
    app.insert_legacy_user("other@example.com", &legacy, None)
        .await;

    let wrong = app
        .sign_in_as("other@example.com", "not-the-password")
        .await;
    let wrong = assert_error(
        wrong,
        StatusCode::UNAUTHORIZED,
        Some("INVALID_EMAIL_OR_PASSWORD"),
    )
    .await;
    for email in ["banned@example.com", "forever@example.com"] {
        let res = app.sign_in_as(email, PASSWORD).await;
        let body = assert_error(
            res,
            StatusCode::UNAUTHORIZED,
            Some("INVALID_EMAIL_OR_PASSWORD"),
        )
        .await;
        assert_eq!(
            body, wrong,
            "{email}: a ban must look like a wrong password"
        );
    }
    // No session was opened and a refused sign-in does not upgrade the hash.
    let rows = app.sql("SELECT count(*) FROM identity.sessions").await;
    assert_eq!(rows[0].get::<_, i64>(0), 0);
    assert_eq!(app.stored_hash(banned).await, legacy);
    assert_eq!(app.stored_hash(forever).await, legacy);
}

#[tokio::test]
async fn an_expired_ban_no_longer_applies() {
    let app = spawn_app().await;
    let legacy = bcrypt_hash(4, bcrypt::Version::TwoB);
    app.insert_legacy_user(
        "was-banned@example.com",
        &legacy,
        Some("2001-01-01T00:00:00Z"),
    )
    .await;
    app.sign_in("was-banned@example.com", PASSWORD).await;
}

#[tokio::test]
async fn a_failed_rehash_write_does_not_block_the_sign_in() {
    let app = spawn_app().await;
    let legacy = bcrypt_hash(4, bcrypt::Version::TwoA);
    let id = app
        .insert_legacy_user("stuck@example.com", &legacy, None)
        .await;
    // Fault injection: every update of an account fails.
    app.db
        .client()
        .await
        .batch_execute(
            "CREATE FUNCTION fail_account_updates() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'accounts are read-only today'; END $$;
             CREATE TRIGGER accounts_read_only BEFORE UPDATE ON identity.accounts
                 FOR EACH ROW EXECUTE FUNCTION fail_account_updates();",
        )
        .await
        .expect("fault injection");
    let res = app.sign_in_as("stuck@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.stored_hash(id).await, legacy, "the write failed");
    // The next sign-in still works with the old hash.
    app.sign_in("stuck@example.com", PASSWORD).await;
}

#[tokio::test]
async fn change_password_accepts_a_bcrypt_current_password() {
    let app = spawn_app().await;
    let legacy = bcrypt_hash(4, bcrypt::Version::TwoA);
    let id = app
        .insert_legacy_user("changer@example.com", &legacy, None)
        .await;
    // Sign-in upgrades the hash, so put the legacy hash back before changing it.
    let bearer = app.sign_in("changer@example.com", PASSWORD).await;
    app.db
        .client()
        .await
        .execute(
            "UPDATE identity.accounts SET password_hash = $2 WHERE user_id = $1",
            &[&id, &legacy],
        )
        .await
        .expect("restore legacy hash");
    let res = app
        .post_bearer(
            "/change-password",
            &bearer,
            &json!({"currentPassword": PASSWORD, "newPassword": "a-brand-new-password"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(app.stored_hash(id).await.starts_with(CURRENT_PREFIX));
    app.sign_in("changer@example.com", "a-brand-new-password")
        .await;
}

#[tokio::test]
async fn the_schema_only_accepts_known_hash_schemes_for_credentials() {
    let app = spawn_app().await;
    let client = app.db.client().await;
    let id = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO identity.users (id, name, email) VALUES ($1, 'x', 'schemes@example.com')",
            &[&id],
        )
        .await
        .expect("user");
    let insert = |hash: Option<String>| {
        let client = &client;
        async move {
            let r = client
                .execute(
                    "INSERT INTO identity.accounts (user_id, provider_id, account_id, password_hash)
                     VALUES ($1::uuid, 'credential', $1::uuid::text, $2)",
                    &[&id, &hash],
                )
                .await;
            if r.is_ok() {
                client
                    .execute("DELETE FROM identity.accounts WHERE user_id = $1", &[&id])
                    .await
                    .expect("cleanup");
            }
            r.is_ok()
        }
    };
    assert!(insert(Some(bcrypt_hash(4, bcrypt::Version::TwoY))).await);
    assert!(insert(Some(argon2_hash(Algorithm::Argon2i, 4096, 3))).await);
    assert!(!insert(Some(bcrypt_hash(4, bcrypt::Version::TwoX))).await);
    assert!(!insert(Some("plaintext".into())).await);
    assert!(!insert(Some(r#"{"key_id":"k","alg":"aes-gcm-hkdf"}"#.into())).await);
    assert!(!insert(None).await, "a credential needs a hash");
}

const BCRYPT_OVER_CAP: &str = "$2b$31$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const ARGON2_OVER_CAP: &str = "$argon2id$v=19$m=1048576,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

#[tokio::test]
async fn the_table_refuses_a_hash_over_the_cost_caps() {
    let app = spawn_app().await;
    let client = app.db.client().await;
    let id = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO identity.users (id, name, email) VALUES ($1, 'Heavy', 'heavy@example.com')",
            &[&id],
        )
        .await
        .expect("user");
    let insert = |hash: String| {
        let client = &client;
        async move {
            client
                .execute(
                    "INSERT INTO identity.accounts (user_id, provider_id, account_id, password_hash)
                     VALUES ($1::uuid, 'credential', $1::uuid::text, $2)",
                    &[&id, &hash],
                )
                .await
        }
    };
    for over in [
        format!("$2b$15${}", "a".repeat(53)),
        "$argon2id$v=19$m=65537,t=2,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
        "$argon2id$v=19$m=19456,t=11,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
        "$argon2i$v=19$m=19456,t=2,p=5$c2FsdHNhbHQ$aGFzaA".to_owned(),
        ARGON2_OVER_CAP.to_owned(),
    ] {
        let err = insert(over.clone()).await.expect_err("refused");
        let db = err.as_db_error().expect("db error");
        assert_eq!(
            db.constraint(),
            Some("accounts_password_hash_cost_caps"),
            "{over}"
        );
    }
    // At the caps: accepted.
    insert(format!("$2b$14${}", "a".repeat(53)))
        .await
        .expect("bcrypt 14 fits");
    client
        .execute(
            "UPDATE identity.accounts SET password_hash = $2 WHERE user_id = $1",
            &[&id, &"$argon2id$v=19$m=65536,t=10,p=4$c2FsdHNhbHQ$aGFzaA"],
        )
        .await
        .expect("argon2 at the caps fits");
    // On a fresh database the migration validated the constraint.
    let validated: bool = client
        .query_one(
            "SELECT convalidated FROM pg_constraint WHERE conname = 'accounts_password_hash_cost_caps'",
            &[],
        )
        .await
        .expect("constraint")
        .get(0);
    assert!(validated);
}

/// Stores `hash` as the credential of a user, as a row that predates the caps
/// would be (the constraint is re-added NOT VALID around it, as V6 leaves it).
async fn insert_over_cap_user(app: &TestApp, email: &str, hash: &str) -> Uuid {
    app.sql("ALTER TABLE identity.accounts DROP CONSTRAINT accounts_password_hash_cost_caps")
        .await;
    let id = app.insert_legacy_user(email, hash, None).await;
    app.sql(
        "ALTER TABLE identity.accounts ADD CONSTRAINT accounts_password_hash_cost_caps
         CHECK (identity.password_hash_within_cost_caps(password_hash)) NOT VALID",
    )
    .await;
    id
}

#[tokio::test]
async fn a_stored_hash_over_the_caps_answers_like_a_wrong_password_quickly() {
    let app = spawn_app().await;
    let bcrypt_user = insert_over_cap_user(&app, "bcrypt31@example.com", BCRYPT_OVER_CAP).await;
    let argon2_user = insert_over_cap_user(&app, "argon1g@example.com", ARGON2_OVER_CAP).await;
    let wrong = app.sign_in_as("bcrypt31@example.com", "not-it").await;
    let wrong_body = assert_error(
        wrong,
        StatusCode::UNAUTHORIZED,
        Some("INVALID_EMAIL_OR_PASSWORD"),
    )
    .await;
    for (email, id) in [
        ("bcrypt31@example.com", bcrypt_user),
        ("argon1g@example.com", argon2_user),
    ] {
        // bcrypt cost 31 would take days, argon2 with 1 GiB seconds and the memory.
        let started = std::time::Instant::now();
        let res = app.sign_in_as(email, PASSWORD).await;
        let elapsed = started.elapsed();
        let body = assert_error(
            res,
            StatusCode::UNAUTHORIZED,
            Some("INVALID_EMAIL_OR_PASSWORD"),
        )
        .await;
        assert_eq!(body, wrong_body, "indistinguishable from a wrong password");
        assert!(
            elapsed < std::time::Duration::from_secs(1),
            "{email}: {elapsed:?}"
        );
        // Nothing was replaced or created.
        let hash = app.stored_hash(id).await;
        assert!(hash == BCRYPT_OVER_CAP || hash == ARGON2_OVER_CAP);
        let sessions = app
            .sql(&format!(
                "SELECT 1 FROM identity.sessions WHERE user_id = '{id}'"
            ))
            .await;
        assert!(sessions.is_empty());
    }
}

#[tokio::test]
async fn the_cost_cap_migration_leaves_existing_rows_and_the_constraint_not_valid() {
    // V1..V5, a row over the caps, then V6: the migration must not fail on it.
    let db = test_support::TestDatabase::unmigrated().await;
    let client = db.client().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("migrations")
        .map(|e| e.expect("entry").path())
        .collect();
    // By version number: V10 comes after V9, not after V1.
    let version = |p: &std::path::PathBuf| -> u32 {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        name.trim_start_matches('V')
            .split("__")
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(u32::MAX)
    };
    files.sort_by_key(version);
    let v6 = files
        .iter()
        .position(|p| p.to_string_lossy().contains("V6__"))
        .expect("V6");
    for f in &files[..v6] {
        client
            .batch_execute(&std::fs::read_to_string(f).expect("sql"))
            .await
            .expect("earlier migration");
    }
    let id = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO identity.users (id, name, email) VALUES ($1, 'Old', 'old@example.com')",
            &[&id],
        )
        .await
        .expect("user");
    client
        .execute(
            "INSERT INTO identity.accounts (user_id, provider_id, account_id, password_hash)
             VALUES ($1::uuid, 'credential', $1::uuid::text, $2)",
            &[&id, &BCRYPT_OVER_CAP],
        )
        .await
        .expect("a row from before the caps");
    client
        .batch_execute(&std::fs::read_to_string(&files[v6]).expect("sql"))
        .await
        .expect("V6 applies over existing rows");
    let validated: bool = client
        .query_one(
            "SELECT convalidated FROM pg_constraint WHERE conname = 'accounts_password_hash_cost_caps'",
            &[],
        )
        .await
        .expect("constraint")
        .get(0);
    assert!(!validated, "left NOT VALID while a row is over the caps");
    // New writes are checked all the same.
    let other = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO identity.users (id, name, email) VALUES ($1, 'New', 'new@example.com')",
            &[&other],
        )
        .await
        .expect("user");
    assert!(client
        .execute(
            "INSERT INTO identity.accounts (user_id, provider_id, account_id, password_hash)
             VALUES ($1::uuid, 'credential', $1::uuid::text, $2)",
            &[&other, &BCRYPT_OVER_CAP],
        )
        .await
        .is_err());
    // The documented clean-up, then VALIDATE succeeds.
    client
        .batch_execute(
            "DELETE FROM identity.accounts
             WHERE provider_id = 'credential'
               AND NOT identity.password_hash_within_cost_caps(password_hash);
             ALTER TABLE identity.accounts VALIDATE CONSTRAINT accounts_password_hash_cost_caps;",
        )
        .await
        .expect("clean-up and validate");
}
