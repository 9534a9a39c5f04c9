//! A fresh Postgres database for every test.
//!
//! The first test of a run migrates a template database (named after a fingerprint of
//! the migrations, under an advisory lock, because nextest runs each test in its own
//! process); every test then gets `CREATE DATABASE … TEMPLATE …`, which takes a few
//! milliseconds, and drops it again when the handle is dropped.

use std::time::Duration;

use tokio_postgres::NoTls;

/// Admin connection used to create and drop databases; `TEST_DATABASE_URL` overrides it.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Replaces the database name of a `postgres://…/name?…` URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let prefix = match base.rfind('/') {
        Some(i) if base[..i].contains("://") && i > base.find("://").unwrap_or(0) + 2 => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{prefix}/{db}?{q}"),
        None => format!("{prefix}/{db}"),
    }
}

const TEMPLATE_LOCK_KEY: i64 = 0x7465_7374_0000_0001;

/// A database that exists for one test.
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates a migrated, empty database for this test.
    pub async fn new() -> Self {
        let admin_url = admin_url();
        let template = ensure_template(&admin_url).await;
        Self::create(admin_url, &template).await
    }

    /// Creates a database with no migrations applied (for migration tests).
    pub async fn unmigrated() -> Self {
        Self::create(admin_url(), "template0").await
    }

    async fn create(admin_url: String, template: &str) -> Self {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_client(&admin_url).await;
        // CREATE DATABASE fails while anyone else is connected to the template; the
        // migrating connection is closed before the template is published, so only a
        // concurrent clone can collide, and that is retried.
        let mut attempt = 0;
        loop {
            let sql = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
            match admin.batch_execute(&sql).await {
                Ok(()) => break,
                Err(e) if attempt < 50 => {
                    attempt += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot create test database: {e}"),
            }
        }
        let url = with_database(&admin_url, &name);
        Self {
            name,
            url,
            admin_url,
        }
    }

    /// Connection URL of this database (same server and credentials as the admin URL).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Name of this database.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens a plain connection to this database.
    pub async fn client(&self) -> tokio_postgres::Client {
        admin_client(&self.url).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin_url = self.admin_url.clone();
        // Drop runs inside or outside a runtime; a thread with its own runtime works in both.
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async move {
                    if let Ok((client, conn)) = tokio_postgres::connect(&admin_url, NoTls).await {
                        tokio::spawn(conn);
                        let _ = client
                            .batch_execute(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                    }
                });
            }
        });
        let _ = handle.join();
    }
}

async fn admin_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to test Postgres ({url}): {e}"));
    tokio::spawn(conn);
    client
}

/// Returns the name of the migrated template, creating it once per migration set.
async fn ensure_template(admin_url: &str) -> String {
    let template = format!("tpl_auth_{}", database::migrations_fingerprint());
    let admin = admin_client(admin_url).await;
    admin
        .execute("SELECT pg_advisory_lock($1)", &[&TEMPLATE_LOCK_KEY])
        .await
        .expect("advisory lock");
    let exists = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate",
            &[&template],
        )
        .await
        .expect("query pg_database")
        .is_some();
    if !exists {
        // A half-built template from an interrupted run is rebuilt from scratch.
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{template}\" WITH (FORCE)"
            ))
            .await
            .expect("drop stale template");
        admin
            .batch_execute(&format!("CREATE DATABASE \"{template}\""))
            .await
            .expect("create template");
        {
            let mut client = database::connect(&with_database(admin_url, &template))
                .await
                .expect("connect to template");
            database::migrate(&mut client)
                .await
                .expect("migrate template");
        }
        // Let the migrating connection close before cloning is allowed.
        admin
            .batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{template}' AND pid <> pg_backend_pid()"
            ))
            .await
            .expect("close template connections");
        admin
            .batch_execute(&format!(
                "ALTER DATABASE \"{template}\" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
            ))
            .await
            .expect("publish template");
    }
    admin
        .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK_KEY])
        .await
        .expect("advisory unlock");
    template
}

/// Every `(method, path)` operation an OpenAPI document describes, for comparing a
/// service's route table with its `/openapi.json`.
pub fn openapi_operations(doc: &serde_json::Value) -> std::collections::BTreeSet<(String, String)> {
    const METHODS: [&str; 7] = ["get", "head", "post", "put", "patch", "delete", "options"];
    doc["paths"]
        .as_object()
        .map(|paths| {
            paths
                .iter()
                .flat_map(|(path, item)| {
                    item.as_object()
                        .into_iter()
                        .flat_map(|ops| ops.keys())
                        .filter(|k| METHODS.contains(&k.as_str()))
                        .map(move |m| (m.clone(), path.clone()))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn swaps_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=require", "y"),
            "postgres://u@h/y?sslmode=require"
        );
    }
}
