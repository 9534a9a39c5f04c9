//! JWT signing keys: the in-memory key set every instance signs with and publishes,
//! and the lifecycle (next → current → retired → removed) that rotates keys without
//! a validator ever meeting an unknown `kid`.

pub mod seal;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::web::Bytes;
use anyhow::Context;
use chrono::Utc;
use deadpool_postgres::Pool;
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jwk::KeyPair;
use josekit::jws::alg::rsassa::RsassaJwsSigner;
use josekit::jws::RS256;
use serde_json::{json, Value};

use crate::db::signing_keys::{self, KeyRow};
pub use seal::Sealer;

/// Timing of the lifecycle, derived from the settings.
#[derive(Debug, Clone)]
pub struct KeyPolicy {
    /// `Cache-Control: max-age` of the JWKS.
    pub jwks_max_age: Duration,
    /// How often each instance reloads keys and runs lifecycle steps.
    pub refresh_interval: Duration,
    /// Lifetime of the JWTs we mint.
    pub jwt_lifetime: Duration,
    /// Start a rotation automatically this long after a key became current.
    pub rotation_interval: Option<Duration>,
}

/// Clock skew allowed to validators.
const VALIDATOR_LEEWAY: Duration = Duration::from_secs(60);

impl KeyPolicy {
    /// A `next` key signs only after it has been published this long: every
    /// validator's JWKS cache (and every instance's key set) has seen it by then.
    pub fn publish_delay(&self) -> Duration {
        self.jwks_max_age + self.refresh_interval
    }

    /// A retired key stays published this long: every token it signed (including
    /// ones minted by instances that had not yet reloaded) has expired by then.
    pub fn retire_delay(&self) -> Duration {
        self.jwt_lifetime + self.refresh_interval + VALIDATOR_LEEWAY
    }
}

/// The key that signs, ready to use.
pub struct SigningKey {
    pub kid: String,
    pub signer: RsassaJwsSigner,
}

/// A consistent snapshot: the signing key and the JWKS document to publish.
pub struct KeySet {
    pub current: Option<Arc<SigningKey>>,
    /// Serialised once per reload, served as-is.
    pub jwks: Bytes,
}

/// The live key set, swapped atomically on reload.
pub struct KeyStore {
    sealer: Sealer,
    policy: KeyPolicy,
    set: RwLock<Arc<KeySet>>,
}

fn public_entry(row: &KeyRow) -> Value {
    let mut jwk = row.public_jwk.clone();
    if let Value::Object(m) = &mut jwk {
        m.insert("kid".into(), json!(row.kid));
        m.insert("alg".into(), json!("RS256"));
        m.insert("use".into(), json!("sig"));
    }
    jwk
}

fn is_published(state: &str) -> bool {
    matches!(state, "next" | "current" | "retired")
}

impl KeyStore {
    /// An empty store; call [`KeyStore::reload`] before serving.
    pub fn new(sealer: Sealer, policy: KeyPolicy) -> Self {
        Self {
            sealer,
            policy,
            set: RwLock::new(Arc::new(KeySet {
                current: None,
                jwks: Bytes::from_static(b"{\"keys\":[]}"),
            })),
        }
    }

    /// The lifecycle timing.
    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    /// The sealer (for the `keys` commands).
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.set
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()))
    }

    /// Re-reads keys from the database (picks up rotations made elsewhere).
    pub async fn reload(&self, pool: &Pool) -> anyhow::Result<()> {
        let client = pool.get().await?;
        let rows = signing_keys::list(&client).await?;
        drop(client);
        let keys: Vec<Value> = rows
            .iter()
            .filter(|r| is_published(&r.state))
            .map(public_entry)
            .collect();
        let jwks = Bytes::from(serde_json::to_vec(&json!({ "keys": keys }))?);
        let previous = self.snapshot();
        let current = match rows.iter().find(|r| r.state == "current") {
            // Unchanged signing key: keep the parsed signer.
            Some(row) if previous.current.as_ref().is_some_and(|c| c.kid == row.kid) => {
                previous.current.clone()
            }
            Some(row) => Some(Arc::new(self.open(row)?)),
            None => None,
        };
        let next = Arc::new(KeySet { current, jwks });
        match self.set.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(())
    }

    fn open(&self, row: &KeyRow) -> anyhow::Result<SigningKey> {
        let sealed = row
            .sealed_private
            .as_deref()
            .context("current key has no private half")?;
        let der = self
            .sealer
            .open(&row.kid, &row.kek_id, sealed)
            .with_context(|| format!("opening signing key {}", row.kid))?;
        let signer = RS256
            .signer_from_der(&der)
            .context("parsing the signing key")?;
        Ok(SigningKey {
            kid: row.kid.clone(),
            signer,
        })
    }
}

/// What a lifecycle step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyEvent {
    Created { kid: String, state: &'static str },
    Promoted { kid: String },
    Removed { kid: String },
}

/// Writes the lifecycle steps into the audit trail, in their transaction.
async fn record(
    tx: &impl deadpool_postgres::GenericClient,
    events: &[KeyEvent],
) -> anyhow::Result<()> {
    use crate::audit::{self, Event};
    for e in events {
        let (event, detail) = match e {
            KeyEvent::Created { kid, state } => {
                (Event::KeyCreated, json!({"kid": kid, "state": state}))
            }
            KeyEvent::Promoted { kid } => (Event::KeyPromoted, json!({"kid": kid})),
            KeyEvent::Removed { kid } => (Event::KeyRemoved, json!({"kid": kid})),
        };
        audit::system_event(tx, event, detail).await?;
    }
    Ok(())
}

/// A freshly generated key pair, sealed, not yet stored.
struct NewKey {
    kid: String,
    public: Value,
    sealed: Vec<u8>,
}

/// Generates a key pair. Callers do this before taking the lifecycle lock, so the
/// lock is never held across the (up to a second of) RSA work.
async fn generate(sealer: &Sealer) -> anyhow::Result<NewKey> {
    let kid = crate::credentials::new_token();
    let pair: RsaKeyPair = tokio::task::spawn_blocking(|| RS256.generate_key_pair(2048))
        .await
        .context("key generation task")??;
    let public: Value = serde_json::from_str(&pair.to_jwk_public_key().to_string())?;
    let public = json!({ "kty": "RSA", "n": public["n"], "e": public["e"] });
    let sealed = sealer.seal(&kid, &pair.to_der_private_key())?;
    Ok(NewKey {
        kid,
        public,
        sealed,
    })
}

/// Stores `key` (or, if none was generated ahead because the unlocked look said it
/// would not be needed, a new one). Its `created_at` is taken at the insert, after
/// the lock wait, so the publish delay counts from when the key became visible.
async fn insert_new(
    tx: &impl deadpool_postgres::GenericClient,
    sealer: &Sealer,
    key: Option<NewKey>,
    state: &'static str,
) -> anyhow::Result<KeyEvent> {
    let key = match key {
        Some(k) => k,
        None => generate(sealer).await?,
    };
    signing_keys::insert(
        tx,
        &key.kid,
        state,
        &key.public,
        &key.sealed,
        sealer.current_id(),
    )
    .await?;
    Ok(KeyEvent::Created {
        kid: key.kid,
        state,
    })
}

/// Creates the first signing key unless one exists. Instances starting together
/// serialise on an advisory lock, so exactly one key is created.
pub async fn ensure_signing_key(pool: &Pool, sealer: &Sealer) -> anyhow::Result<Vec<KeyEvent>> {
    let mut client = pool.get().await?;
    let ahead = if signing_keys::list(&client)
        .await?
        .iter()
        .any(|r| matches!(r.state.as_str(), "current" | "next"))
    {
        None
    } else {
        Some(generate(sealer).await?)
    };
    let tx = client.transaction().await?;
    signing_keys::lock(&tx).await?;
    let rows = signing_keys::list(&tx).await?;
    let mut events = Vec::new();
    if !rows.iter().any(|r| r.state == "current") {
        if rows.iter().any(|r| r.state == "next") {
            // A key was published but never promoted: promoting it now is safe
            // only because nothing signs yet, so no validator can miss a kid.
            if let Some(kid) = signing_keys::promote_next(&tx).await? {
                events.push(KeyEvent::Promoted { kid });
            }
        } else {
            events.push(insert_new(&tx, sealer, ahead, "current").await?);
        }
    }
    record(&tx, &events).await?;
    tx.commit().await?;
    Ok(events)
}

/// Whether the lifecycle should publish a new `next` key now.
fn rotation_due(
    rows: &[KeyRow],
    interval: Option<Duration>,
    publish: chrono::Duration,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<bool> {
    let Some(interval) = interval else {
        return Ok(false);
    };
    let interval = chrono::Duration::from_std(interval)?;
    let due = rows.iter().any(|r| {
        r.state == "current"
            && r.activated_at
                .is_some_and(|a| a + interval - publish <= now)
    });
    Ok(due && !rows.iter().any(|r| r.state == "next"))
}

/// One step of the automatic lifecycle: promote a `next` key published long enough,
/// remove retired keys whose tokens have all expired, and (with a rotation
/// interval) publish a new `next` key when the current one is due.
pub async fn maintain(pool: &Pool, store: &KeyStore) -> anyhow::Result<Vec<KeyEvent>> {
    let policy = store.policy();
    let publish = chrono::Duration::from_std(policy.publish_delay())?;
    let mut client = pool.get().await?;
    // Look without the lock first, so a key that will be needed is generated
    // before the lock is taken.
    let ahead = if rotation_due(
        &signing_keys::list(&client).await?,
        policy.rotation_interval,
        publish,
        signing_keys::db_now(&client).await?,
    )? {
        Some(generate(store.sealer()).await?)
    } else {
        None
    };
    let tx = client.transaction().await?;
    signing_keys::lock(&tx).await?;
    let rows = signing_keys::list(&tx).await?;
    // The database's clock, the one every `created_at` was taken with.
    let now = signing_keys::db_now(&tx).await?;
    let mut events = Vec::new();
    if rows
        .iter()
        .any(|r| r.state == "next" && r.created_at + publish <= now)
    {
        if let Some(kid) = signing_keys::promote_next(&tx).await? {
            events.push(KeyEvent::Promoted { kid });
        }
    }
    let retire = chrono::Duration::from_std(policy.retire_delay())?;
    for kid in signing_keys::remove(&tx, None, now - retire).await? {
        events.push(KeyEvent::Removed { kid });
    }
    if rotation_due(&rows, policy.rotation_interval, publish, now)?
        && events
            .iter()
            .all(|e| !matches!(e, KeyEvent::Promoted { .. }))
    {
        events.push(insert_new(&tx, store.sealer(), ahead, "next").await?);
    }
    record(&tx, &events).await?;
    tx.commit().await?;
    Ok(events)
}

/// `keys rotate`: with no `next` key, publish one; with a `next` key published long
/// enough (or `force`), promote it. Returns what happened, or why it waits.
pub async fn rotate(pool: &Pool, store: &KeyStore, force: bool) -> anyhow::Result<KeyEvent> {
    let mut client = pool.get().await?;
    let ahead = if signing_keys::list(&client)
        .await?
        .iter()
        .any(|r| r.state == "next")
    {
        None
    } else {
        Some(generate(store.sealer()).await?)
    };
    let tx = client.transaction().await?;
    signing_keys::lock(&tx).await?;
    let rows = signing_keys::list(&tx).await?;
    let event = match rows.iter().find(|r| r.state == "next") {
        None => insert_new(&tx, store.sealer(), ahead, "next").await?,
        Some(next) => {
            let ready_at =
                next.created_at + chrono::Duration::from_std(store.policy().publish_delay())?;
            if !force && ready_at > signing_keys::db_now(&tx).await? {
                anyhow::bail!(
                    "key {} is published but validators may not have it yet; it can sign from {} (or it is promoted automatically); use --force only if no validator caches the JWKS",
                    next.kid,
                    ready_at.to_rfc3339()
                );
            }
            let kid = signing_keys::promote_next(&tx)
                .await?
                .context("next key vanished")?;
            KeyEvent::Promoted { kid }
        }
    };
    record(&tx, std::slice::from_ref(&event)).await?;
    tx.commit().await?;
    Ok(event)
}

/// `keys retire`: remove retired keys whose tokens have all expired, or (with `kid`
/// and `force`) one retired or next key at once, e.g. after a compromise.
pub async fn retire(
    pool: &Pool,
    store: &KeyStore,
    kid: Option<&str>,
) -> anyhow::Result<Vec<KeyEvent>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    signing_keys::lock(&tx).await?;
    let before = signing_keys::db_now(&tx).await?
        - chrono::Duration::from_std(store.policy().retire_delay())?;
    let removed: Vec<KeyEvent> = signing_keys::remove(&tx, kid, before)
        .await?
        .into_iter()
        .map(|kid| KeyEvent::Removed { kid })
        .collect();
    record(&tx, &removed).await?;
    tx.commit().await?;
    Ok(removed)
}

/// `keys reseal`: re-encrypt every private key under the current secret, so a
/// previous secret can be dropped from the configuration.
pub async fn reseal(pool: &Pool, sealer: &Sealer) -> anyhow::Result<usize> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    signing_keys::lock(&tx).await?;
    let mut count = 0;
    for row in signing_keys::list(&tx).await? {
        let Some(sealed) = &row.sealed_private else {
            continue;
        };
        if row.kek_id == sealer.current_id() {
            continue;
        }
        let plain = sealer.open(&row.kid, &row.kek_id, sealed)?;
        let resealed = sealer.seal(&row.kid, &plain)?;
        signing_keys::reseal(&tx, &row.kid, &resealed, sealer.current_id()).await?;
        count += 1;
    }
    tx.commit().await?;
    Ok(count)
}

/// Every key, for `keys list`.
pub async fn list(pool: &Pool) -> anyhow::Result<Vec<KeyRow>> {
    Ok(signing_keys::list(&pool.get().await?).await?)
}
