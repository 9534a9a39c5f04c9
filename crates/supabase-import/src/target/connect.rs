//! Connecting to the target and reading the shape of `learner.profiles`.

use anyhow::Context;
use serde_json::Value;
use tokio_postgres::Client;

use super::{ProfileCheck, Target};
use crate::batch::ProfileColumn;
use crate::plan::ColumnKind;

impl Target {
    /// Connects and checks that our schema is migrated far enough.
    pub async fn connect(url: &str, dry_run: bool) -> anyhow::Result<Self> {
        let client = database::connect(url)
            .await
            .context("cannot connect to the target database")?;
        ensure_migrated(&client).await?;
        let profile_columns = profile_columns(&client).await?;
        let has_version = profile_columns.iter().any(|c| c.name == "version");
        let checks = profile_checks(&client).await?;
        let constraints = checks
            .iter()
            .map(|k| (k.name.clone(), k.columns.clone()))
            .collect();
        Ok(Self {
            client,
            dry_run,
            profile_columns,
            has_version,
            constraints,
            checks,
        })
    }
}

async fn ensure_migrated(client: &Client) -> anyhow::Result<()> {
    let migrated: bool = client
        .query_one(
            "SELECT to_regclass('identity.imported_users') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    anyhow::ensure!(
        migrated,
        "the target is not migrated (identity.imported_users is missing): run `auth-server migrate` against it first"
    );
    Ok(())
}

/// The columns of `learner.profiles` (none if it does not exist), in table order.
async fn profile_columns(client: &Client) -> anyhow::Result<Vec<ProfileColumn>> {
    let rows = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                    pg_get_expr(d.adbin, d.adrelid)
             FROM pg_attribute a
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attrelid = to_regclass('learner.profiles') AND a.attnum > 0
               AND NOT a.attisdropped
             ORDER BY a.attnum",
            &[],
        )
        .await?;
    let mut profile_columns = Vec::new();
    for r in &rows {
        let name: String = r.get(0);
        let sql_type: String = r.get(1);
        let not_null: bool = r.get(2);
        let default_expr: Option<String> = r.get(3);
        let default = constant_default(client, &name, not_null, default_expr).await;
        profile_columns.push(ProfileColumn {
            kind: ColumnKind::of_sql_type(&sql_type),
            name,
            sql_type,
            not_null,
            default,
        });
    }
    Ok(profile_columns)
}

/// The value a NOT NULL column's default gives, if we fill it ourselves.
async fn constant_default(
    client: &Client,
    name: &str,
    not_null: bool,
    default_expr: Option<String>,
) -> Option<Value> {
    // Constant defaults ('none', '{}', 'en') are evaluated once; times and
    // the version are ours to set.
    match default_expr {
        Some(expr) if not_null && !["created_at", "updated_at", "version"].contains(&name) => {
            client
                .query_one(&format!("SELECT to_jsonb({expr})"), &[])
                .await
                .ok()
                .and_then(|r| r.get::<_, Option<Value>>(0))
        }
        _ => None,
    }
}

/// The CHECK constraints of `learner.profiles`, by name.
async fn profile_checks(client: &Client) -> anyhow::Result<Vec<ProfileCheck>> {
    let rows = client
        .query(
            "SELECT c.conname::text, array_agg(a.attname::text),
                    pg_get_expr(c.conbin, c.conrelid)
             FROM pg_constraint c
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
             WHERE c.conrelid = to_regclass('learner.profiles') AND c.contype = 'c'
             GROUP BY c.conname, c.conbin, c.conrelid ORDER BY c.conname",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ProfileCheck {
            name: r.get(0),
            columns: r.get(1),
            expr: r.get(2),
        })
        .collect())
}
