//! Reading the Supabase side: `auth.users`, `auth.identities` and a profile table.
//! Only ever reads: the session is read-only, and each pass runs in one
//! REPEATABLE READ snapshot. Columns that older GoTrue schemas lack are replaced
//! by their defaults, so a dump of any vintage works.

use anyhow::Context;
use serde_json::Value;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Row, Statement};
use uuid::Uuid;

use crate::plan::{SourceIdentity, SourceUser};

/// The profile table as found in the source.
#[derive(Debug, Clone)]
pub struct ProfileTable {
    /// `"schema"."table"`, quoted.
    pub quoted: String,
    /// `schema.table`, for messages.
    pub name: String,
    key: String,
    key_is_uuid: bool,
    /// Column names in table order.
    pub columns: Vec<String>,
    /// The batch query, once the mapping is known.
    query: Option<Statement>,
    width: usize,
}

/// A connection to the source and the statements tailored to its schema.
pub struct Source {
    client: Client,
    users_first: Statement,
    users_after: Statement,
    users_select: String,
    identities: Option<Statement>,
    pub profiles: Option<ProfileTable>,
    /// Things about the source schema worth telling the operator.
    pub notes: Vec<String>,
}

/// Double-quotes an identifier.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

async fn columns(
    client: &Client,
    schema: &str,
    table: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let rows = client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            &[&schema, &table],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The `auth.users` SELECT for the columns this GoTrue version has (a missing
/// one reads as its neutral value, noted for the report).
fn users_select(user_cols: &[String], notes: &mut Vec<String>) -> String {
    let has = |c: &str| user_cols.iter().any(|x| x == c);
    let or = |c: &str, expr: String, default: &str| if has(c) { expr } else { default.to_owned() };
    let confirmed = if has("email_confirmed_at") {
        "email_confirmed_at IS NOT NULL"
    } else if has("confirmed_at") {
        "confirmed_at IS NOT NULL"
    } else {
        "false"
    };
    let users_select = format!(
        "SELECT id, email::text, encrypted_password::text, {confirmed}, {}, {}, {},
                to_jsonb(created_at::timestamptz), {}, {}, {}, {}, {}
         FROM auth.users",
        or(
            "raw_app_meta_data",
            "raw_app_meta_data::jsonb".into(),
            "NULL::jsonb"
        ),
        or(
            "raw_user_meta_data",
            "raw_user_meta_data::jsonb".into(),
            "NULL::jsonb"
        ),
        or("role", "role::text".into(), "NULL::text"),
        or(
            "updated_at",
            "to_jsonb(updated_at::timestamptz)".into(),
            "NULL::jsonb"
        ),
        or(
            "banned_until",
            "to_jsonb(banned_until::timestamptz)".into(),
            "NULL::jsonb"
        ),
        or(
            "is_sso_user",
            "COALESCE(is_sso_user, false)".into(),
            "false"
        ),
        or("deleted_at", "deleted_at IS NOT NULL".into(), "false"),
        or(
            "is_anonymous",
            "COALESCE(is_anonymous, false)".into(),
            "false"
        ),
    );
    for (c, what) in [
        ("is_sso_user", "no SSO users"),
        ("deleted_at", "no soft-deleted users"),
        ("is_anonymous", "no anonymous users"),
        ("banned_until", "no bans"),
    ] {
        if !has(c) {
            notes.push(format!(
                "auth.users has no {c} column (older GoTrue): assuming {what}"
            ));
        }
    }
    users_select
}

/// The `auth.identities` read of a batch's id range; `None` if there is no table.
async fn identities_statement(
    client: &Client,
    notes: &mut Vec<String>,
) -> anyhow::Result<Option<Statement>> {
    let identity_cols: Vec<String> = columns(client, "auth", "identities")
        .await?
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    let identities = if identity_cols.is_empty() {
        notes.push("the source has no auth.identities: no OAuth identities imported".into());
        None
    } else {
        // Before late 2023 `id` was the provider's subject and there was no
        // `provider_id`; a stable id is then derived from provider and subject.
        let (id, provider_id) = if identity_cols.iter().any(|c| c == "provider_id") {
            ("id", "provider_id")
        } else {
            ("md5(provider || ':' || id::text)::uuid", "id::text")
        };
        // A batch is a contiguous id range: a range scan of identities_user_id_idx.
        let sql = format!(
            "SELECT {id}, user_id, provider::text, {provider_id}, to_jsonb(created_at::timestamptz),
                    to_jsonb(updated_at::timestamptz)
             FROM auth.identities WHERE user_id BETWEEN $1 AND $2 ORDER BY user_id, 1"
        );
        Some(
            client
                .prepare_typed(&sql, &[Type::UUID, Type::UUID])
                .await?,
        )
    };
    Ok(identities)
}

/// The source's profile table (`--profiles-table`), if it has one.
async fn profile_table(
    client: &Client,
    profiles_table: &str,
    profiles_key: &str,
    notes: &mut Vec<String>,
) -> anyhow::Result<Option<ProfileTable>> {
    let profiles = if profiles_table.eq_ignore_ascii_case("none") {
        None
    } else {
        let (schema, table) = profiles_table
            .split_once('.')
            .unwrap_or(("public", profiles_table));
        let cols = columns(client, schema, table).await?;
        if cols.is_empty() {
            notes.push(format!(
                "the source has no table {schema}.{table}: no profiles imported"
            ));
            None
        } else {
            let key_type = cols
                .iter()
                .find(|(c, _)| c == profiles_key)
                .map(|(_, t)| t.clone())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{schema}.{table} has no column {profiles_key} (--profiles-key)"
                    )
                })?;
            Some(ProfileTable {
                quoted: format!("{}.{}", quote_ident(schema), quote_ident(table)),
                name: format!("{schema}.{table}"),
                key: quote_ident(profiles_key),
                key_is_uuid: key_type == "uuid",
                columns: cols.into_iter().map(|(c, _)| c).collect(),
                query: None,
                width: 0,
            })
        }
    };
    Ok(profiles)
}

impl Source {
    /// Connects (TLS as the URL says), makes the session read-only and inspects the schema.
    pub async fn connect(
        url: &str,
        profiles_table: &str,
        profiles_key: &str,
    ) -> anyhow::Result<Self> {
        let client = database::connect(url)
            .await
            .context("cannot connect to the source database")?;
        client
            .batch_execute("SET default_transaction_read_only = on")
            .await?;
        let mut notes = Vec::new();

        let user_cols: Vec<String> = columns(&client, "auth", "users")
            .await?
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        for required in ["id", "email", "encrypted_password", "created_at"] {
            anyhow::ensure!(
                user_cols.iter().any(|c| c == required),
                "the source has no auth.users.{required}: is it a Supabase database (or a restored dump of one)?"
            );
        }
        let users_select = users_select(&user_cols, &mut notes);
        let users_first = client
            .prepare_typed(
                &format!("{users_select} ORDER BY id LIMIT $1"),
                &[Type::INT8],
            )
            .await?;
        let users_after = client
            .prepare_typed(
                &format!("{users_select} WHERE id > $1 ORDER BY id LIMIT $2"),
                &[Type::UUID, Type::INT8],
            )
            .await?;

        let identities = identities_statement(&client, &mut notes).await?;
        let profiles = profile_table(&client, profiles_table, profiles_key, &mut notes).await?;

        Ok(Self {
            client,
            users_first,
            users_after,
            users_select,
            identities,
            profiles,
            notes,
        })
    }

    /// Starts a consistent, read-only snapshot for one pass over the source.
    pub async fn begin_snapshot(&self) -> anyhow::Result<()> {
        self.client
            .batch_execute(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL TIME ZONE 'UTC'",
            )
            .await?;
        Ok(())
    }

    /// Ends the snapshot.
    pub async fn end_snapshot(&self) -> anyhow::Result<()> {
        self.client.batch_execute("COMMIT").await?;
        Ok(())
    }

    /// Rows in `auth.users`, and how many come at or before `upto` (resuming).
    pub async fn count_users(&self, upto: Option<Uuid>) -> anyhow::Result<(u64, u64)> {
        let row = self
            .client
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE id <= $1) FROM auth.users",
                &[&upto],
            )
            .await?;
        Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
    }

    /// Rows in `auth.identities`.
    pub async fn count_identities(&self) -> anyhow::Result<u64> {
        if self.identities.is_none() {
            return Ok(0);
        }
        let row = self
            .client
            .query_one("SELECT count(*) FROM auth.identities", &[])
            .await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    /// Rows in the profile table, and those whose key matches no `auth.users` row.
    pub async fn count_profiles(&self) -> anyhow::Result<(u64, u64)> {
        let Some(p) = &self.profiles else {
            return Ok((0, 0));
        };
        let (key, id) = if p.key_is_uuid {
            (format!("p.{}", p.key), "u.id")
        } else {
            (format!("p.{}::text", p.key), "u.id::text")
        };
        let sql = format!(
            "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS
                 (SELECT 1 FROM auth.users u WHERE {id} = {key}))
             FROM {} p",
            p.quoted
        );
        let row = self.client.query_one(&sql, &[]).await?;
        Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
    }

    /// The next `limit` users after `after` (keyset pagination by id).
    pub async fn users(&self, after: Option<Uuid>, limit: u32) -> anyhow::Result<Vec<SourceUser>> {
        let limit = i64::from(limit);
        let rows = match after {
            None => self.client.query(&self.users_first, &[&limit]).await?,
            Some(a) => self.client.query(&self.users_after, &[&a, &limit]).await?,
        };
        rows.iter().map(read_user).collect()
    }

    /// Every user whose lower-cased e-mail occurs more than once.
    pub async fn duplicate_email_users(&self) -> anyhow::Result<Vec<SourceUser>> {
        let sql = format!(
            "{} WHERE lower(email) IN (
                 SELECT lower(email) FROM auth.users WHERE email IS NOT NULL AND email <> ''
                 GROUP BY 1 HAVING count(*) > 1)",
            self.users_select
        );
        let rows = self.client.query(&sql, &[]).await?;
        rows.iter().map(read_user).collect()
    }

    /// Identities of the users with ids from `first` to `last` (a batch).
    pub async fn identities(&self, first: Uuid, last: Uuid) -> anyhow::Result<Vec<SourceIdentity>> {
        let Some(stmt) = &self.identities else {
            return Ok(Vec::new());
        };
        let rows = self.client.query(stmt, &[&first, &last]).await?;
        rows.iter()
            .map(|r| {
                Ok(SourceIdentity {
                    id: r.try_get(0)?,
                    user_id: r.try_get(1)?,
                    provider: r.try_get::<_, Option<String>>(2)?.unwrap_or_default(),
                    provider_id: r.try_get::<_, Option<String>>(3)?.unwrap_or_default(),
                    created_at: r.try_get::<_, Option<Value>>(4)?.unwrap_or(Value::Null),
                    updated_at: r.try_get::<_, Option<Value>>(5)?.unwrap_or(Value::Null),
                })
            })
            .collect()
    }

    /// Prepares the profile query for these source columns.
    pub async fn prepare_profiles(&mut self, columns: &[String]) -> anyhow::Result<()> {
        let Some(p) = &mut self.profiles else {
            return Ok(());
        };
        let mut select = format!("SELECT {}::text", p.key);
        for c in columns {
            select.push_str(&format!(", to_jsonb({})", quote_ident(c)));
        }
        p.query = Some(if p.key_is_uuid {
            // A batch is a contiguous id range: a range scan of the key's index.
            let sql = format!(
                "{select} FROM {} WHERE {} BETWEEN $1 AND $2",
                p.quoted, p.key
            );
            self.client
                .prepare_typed(&sql, &[Type::UUID, Type::UUID])
                .await?
        } else {
            let sql = format!("{select} FROM {} WHERE {}::text = ANY($1)", p.quoted, p.key);
            self.client.prepare_typed(&sql, &[Type::TEXT_ARRAY]).await?
        });
        p.width = columns.len();
        Ok(())
    }

    /// Profile rows of a batch of users (ids sorted): (user id, `to_jsonb` of each
    /// column given to [`Self::prepare_profiles`]). A key that is not a UUID matches
    /// no user and is left out.
    pub async fn profiles(&self, ids: &[Uuid]) -> anyhow::Result<Vec<(Uuid, Vec<Value>)>> {
        let Some(p) = &self.profiles else {
            return Ok(Vec::new());
        };
        let (Some(stmt), Some(first), Some(last)) = (&p.query, ids.first(), ids.last()) else {
            return Ok(Vec::new());
        };
        let rows = if p.key_is_uuid {
            self.client.query(stmt, &[first, last]).await?
        } else {
            let texts: Vec<String> = ids.iter().map(Uuid::to_string).collect();
            self.client.query(stmt, &[&texts]).await?
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let Ok(id) = r.get::<_, String>(0).parse::<Uuid>() else {
                continue;
            };
            let values = (1..=p.width)
                .map(|i| {
                    r.try_get::<_, Option<Value>>(i)
                        .map(Option::unwrap_or_default)
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push((id, values));
        }
        Ok(out)
    }

    /// One batch: the next `limit` users after `after`, their identities and
    /// profiles (the last two fetched concurrently on the one connection).
    pub async fn batch(&self, after: Option<Uuid>, limit: u32) -> anyhow::Result<SourceRows> {
        let users = self.users(after, limit).await?;
        let (Some(first), Some(last)) = (users.first(), users.last()) else {
            return Ok(SourceRows::default());
        };
        let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
        let (identities, profiles) =
            tokio::try_join!(self.identities(first.id, last.id), self.profiles(&ids))?;
        Ok(SourceRows {
            users,
            identities,
            profiles,
        })
    }
}

/// The source rows of one batch.
#[derive(Debug, Default)]
pub struct SourceRows {
    pub users: Vec<SourceUser>,
    pub identities: Vec<SourceIdentity>,
    pub profiles: Vec<(Uuid, Vec<Value>)>,
}

fn read_user(r: &Row) -> anyhow::Result<SourceUser> {
    let json = |i: usize| -> anyhow::Result<Value> {
        Ok(r.try_get::<_, Option<Value>>(i)?.unwrap_or(Value::Null))
    };
    Ok(SourceUser {
        id: r.try_get(0)?,
        email: r.try_get(1)?,
        encrypted_password: r.try_get(2)?,
        email_confirmed: r.try_get(3)?,
        raw_app_meta_data: r.try_get(4)?,
        raw_user_meta_data: r.try_get(5)?,
        role: r.try_get(6)?,
        created_at: json(7)?,
        updated_at: json(8)?,
        banned_until: json(9)?,
        is_sso_user: r.try_get(10)?,
        deleted: r.try_get(11)?,
        is_anonymous: r.try_get(12)?,
    })
}
