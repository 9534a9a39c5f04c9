//! `learner.profiles`: one row per user, keyed by `user_id`.
//!
//! Conditional writes are race-free because the `If-Match` / `If-None-Match` test
//! is part of the writing statement's `WHERE`: the row lock Postgres takes for the
//! UPDATE/DELETE (or for `ON CONFLICT DO UPDATE`) makes "check, then write" one
//! step, so of two writers holding the same ETag exactly one succeeds.

use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;

use super::GenericClient;
use crate::conditional::{Condition, ETag, Preconditions};
use crate::profile::{Level, Profile, ProfileFields, ProfilePatch};

/// Columns selected for a profile, in [`from_row`] order.
macro_rules! columns {
    () => {
        "p.user_id, p.display_name, p.bio, p.avatar_url, p.software_background, \
         p.hardware_background, p.programming_languages, p.learning_goals, \
         p.preferred_language, p.version, p.created_at, p.updated_at"
    };
}

/// `If-Match` holds for row `p`: `$a` is true for "absent or `*`", else the row's
/// (version, created_at) must be one of the pairs in `$b`/`$c`.
macro_rules! if_match_holds {
    ($a:literal, $b:literal, $c:literal) => {
        concat!(
            "($",
            $a,
            "::boolean OR EXISTS (SELECT 1 FROM unnest($",
            $b,
            "::bigint[], $",
            $c,
            "::timestamptz[]) AS m(v, c) \
             WHERE m.v = p.version AND m.c = p.created_at))"
        )
    };
}

/// `If-None-Match` holds for row `p`: `$a` is true for `*` (never holds for an
/// existing row), else the row must not be one of the pairs in `$b`/`$c`.
macro_rules! if_none_match_holds {
    ($a:literal, $b:literal, $c:literal) => {
        concat!(
            "NOT ($",
            $a,
            "::boolean OR EXISTS (SELECT 1 FROM unnest($",
            $b,
            "::bigint[], $",
            $c,
            "::timestamptz[]) AS n(v, c) \
             WHERE n.v = p.version AND n.c = p.created_at))"
        )
    };
}

/// A stored profile and its entity tag.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The row as the API returns it.
    pub profile: Profile,
    /// Its entity tag (version and creation time).
    pub etag: ETag,
}

impl Stored {
    /// Whether this row was just inserted (every update bumps the version past 1).
    pub fn is_new(&self) -> bool {
        self.etag.version == 1
    }
}

fn from_row(row: &Row) -> Result<Stored, tokio_postgres::Error> {
    // The CHECK constraints admit only the four names, so the fallback is never taken.
    let level = |i: usize| -> Result<Level, tokio_postgres::Error> {
        Ok(Level::parse(row.try_get::<_, &str>(i)?).unwrap_or_default())
    };
    let created_at: DateTime<Utc> = row.try_get(10)?;
    Ok(Stored {
        etag: ETag::new(row.try_get(9)?, created_at),
        profile: Profile {
            user_id: row.try_get(0)?,
            display_name: row.try_get(1)?,
            bio: row.try_get(2)?,
            avatar_url: row.try_get(3)?,
            software_background: level(4)?,
            hardware_background: level(5)?,
            programming_languages: row.try_get(6)?,
            learning_goals: row.try_get(7)?,
            preferred_language: row.try_get(8)?,
            created_at,
            updated_at: row.try_get(11)?,
        },
    })
}

/// A [`Condition`] as SQL parameters: (holds for every row, versions, creation times).
struct Pairs {
    all: bool,
    versions: Vec<i64>,
    created: Vec<DateTime<Utc>>,
}

impl Pairs {
    fn of(condition: Option<&Condition>, absent_means_all: bool) -> Self {
        match condition {
            None => Pairs::flag(absent_means_all),
            Some(Condition::Any) => Pairs::flag(true),
            Some(Condition::Tags(tags)) => Pairs {
                all: false,
                versions: tags.iter().map(|t| t.version).collect(),
                created: tags.iter().map(ETag::created_at).collect(),
            },
        }
    }

    fn flag(all: bool) -> Self {
        Pairs {
            all,
            versions: Vec::new(),
            created: Vec::new(),
        }
    }
}

/// The caller's profile.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Option<Stored>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(concat!(
            "SELECT ",
            columns!(),
            " FROM learner.profiles AS p WHERE p.user_id = $1"
        ))
        .await?;
    client
        .query_opt(&stmt, &[&user_id])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Creates or replaces the profile unless `If-None-Match` forbids it (`None`: 412).
/// `If-Match` must be absent here: a PUT with it goes through [`update`].
#[tracing::instrument(level = "debug", skip_all)]
pub async fn upsert(
    client: &impl GenericClient,
    user_id: Uuid,
    fields: &ProfileFields,
    pre: &Preconditions,
) -> Result<Option<Stored>, tokio_postgres::Error> {
    debug_assert!(pre.if_match.is_none(), "If-Match needs an existing row");
    let stmt = client
        .prepare_cached(concat!(
            "INSERT INTO learner.profiles AS p (user_id, display_name, bio, avatar_url, \
               software_background, hardware_background, programming_languages, \
               learning_goals, preferred_language) \
             VALUES ($1, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (user_id) DO UPDATE SET \
               display_name = EXCLUDED.display_name, bio = EXCLUDED.bio, \
               avatar_url = EXCLUDED.avatar_url, \
               software_background = EXCLUDED.software_background, \
               hardware_background = EXCLUDED.hardware_background, \
               programming_languages = EXCLUDED.programming_languages, \
               learning_goals = EXCLUDED.learning_goals, \
               preferred_language = EXCLUDED.preferred_language, \
               version = p.version + 1 \
             WHERE ",
            if_none_match_holds!(2, 3, 4),
            " RETURNING ",
            columns!()
        ))
        .await?;
    let none = Pairs::of(pre.if_none_match.as_ref(), false);
    let row = client
        .query_opt(
            &stmt,
            &[
                &user_id,
                &none.all,
                &none.versions,
                &none.created,
                &fields.display_name,
                &fields.bio,
                &fields.avatar_url,
                &fields.software_background.as_str(),
                &fields.hardware_background.as_str(),
                &fields.programming_languages,
                &fields.learning_goals,
                &fields.preferred_language,
            ],
        )
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Applies `patch` to the existing profile if the preconditions hold; `None` when
/// no row matched (no profile, or a precondition failed).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    client: &impl GenericClient,
    user_id: Uuid,
    patch: &ProfilePatch,
    pre: &Preconditions,
) -> Result<Option<Stored>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(concat!(
            "UPDATE learner.profiles AS p SET \
               display_name = CASE WHEN $8::boolean THEN $9::text ELSE p.display_name END, \
               bio = CASE WHEN $10::boolean THEN $11::text ELSE p.bio END, \
               avatar_url = CASE WHEN $12::boolean THEN $13::text ELSE p.avatar_url END, \
               software_background = CASE WHEN $14::boolean THEN $15::text \
                 ELSE p.software_background END, \
               hardware_background = CASE WHEN $16::boolean THEN $17::text \
                 ELSE p.hardware_background END, \
               programming_languages = CASE WHEN $18::boolean THEN $19::text[] \
                 ELSE p.programming_languages END, \
               learning_goals = CASE WHEN $20::boolean THEN $21::text ELSE p.learning_goals END, \
               preferred_language = CASE WHEN $22::boolean THEN $23::text \
                 ELSE p.preferred_language END, \
               version = p.version + 1 \
             WHERE p.user_id = $1 AND ",
            if_match_holds!(2, 3, 4),
            " AND ",
            if_none_match_holds!(5, 6, 7),
            " RETURNING ",
            columns!()
        ))
        .await?;
    let matched = Pairs::of(pre.if_match.as_ref(), true);
    let none = Pairs::of(pre.if_none_match.as_ref(), false);
    let flat = |v: &Option<Option<String>>| (v.is_some(), v.clone().flatten());
    let (set_name, name) = flat(&patch.display_name);
    let (set_bio, bio) = flat(&patch.bio);
    let (set_avatar, avatar) = flat(&patch.avatar_url);
    let (set_goals, goals) = flat(&patch.learning_goals);
    let software = patch.software_background.map(Level::as_str);
    let hardware = patch.hardware_background.map(Level::as_str);
    let params: [&(dyn ToSql + Sync); 23] = [
        &user_id,
        &matched.all,
        &matched.versions,
        &matched.created,
        &none.all,
        &none.versions,
        &none.created,
        &set_name,
        &name,
        &set_bio,
        &bio,
        &set_avatar,
        &avatar,
        &patch.software_background.is_some(),
        &software,
        &patch.hardware_background.is_some(),
        &hardware,
        &patch.programming_languages.is_some(),
        &patch.programming_languages,
        &set_goals,
        &goals,
        &patch.preferred_language.is_some(),
        &patch.preferred_language,
    ];
    let row = client.query_opt(&stmt, &params).await?;
    row.as_ref().map(from_row).transpose()
}

/// Deletes the profile if the preconditions hold; `false` when no row matched.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(
    client: &impl GenericClient,
    user_id: Uuid,
    pre: &Preconditions,
) -> Result<bool, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(concat!(
            "DELETE FROM learner.profiles AS p WHERE p.user_id = $1 AND ",
            if_match_holds!(2, 3, 4),
            " AND ",
            if_none_match_holds!(5, 6, 7)
        ))
        .await?;
    let matched = Pairs::of(pre.if_match.as_ref(), true);
    let none = Pairs::of(pre.if_none_match.as_ref(), false);
    let deleted = client
        .execute(
            &stmt,
            &[
                &user_id,
                &matched.all,
                &matched.versions,
                &matched.created,
                &none.all,
                &none.versions,
                &none.created,
            ],
        )
        .await?;
    Ok(deleted > 0)
}

/// Whether the user has a profile (to tell 404 from 412 after a write matched
/// nothing).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn exists(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached("SELECT 1 FROM learner.profiles WHERE user_id = $1")
        .await?;
    Ok(client.query_opt(&stmt, &[&user_id]).await?.is_some())
}

/// Succeeds when `learner.profiles` exists and this role may read it (readiness:
/// the migrations ran and the grants are in place). Reads no row.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn check_readable(client: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached("SELECT 1 FROM learner.profiles LIMIT 0")
        .await?;
    client.query(&stmt, &[]).await?;
    Ok(())
}

/// A position in the walk by (updated_at, user_id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub updated_at: DateTime<Utc>,
    pub user_id: Uuid,
}

/// Up to `limit` profiles updated at or after `since`, after `cursor`, by
/// (updated_at, user_id), leaving out those changed in the last `settle_secs` (so a
/// write still committing cannot land behind a page already served).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_updated(
    client: &impl GenericClient,
    since: DateTime<Utc>,
    cursor: Option<Cursor>,
    settle_secs: f64,
    limit: i64,
) -> Result<Vec<Stored>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(concat!(
            "SELECT ",
            columns!(),
            " FROM learner.profiles AS p
              WHERE p.updated_at >= $1
                AND ($2::timestamptz IS NULL OR (p.updated_at, p.user_id) > ($2, $3::uuid))
                AND p.updated_at <= now() - make_interval(secs => $4)
              ORDER BY p.updated_at, p.user_id
              LIMIT $5"
        ))
        .await?;
    let (after_time, after_id) = match cursor {
        Some(c) => (Some(c.updated_at), Some(c.user_id)),
        None => (None, None),
    };
    client
        .query(
            &stmt,
            &[&since, &after_time, &after_id, &settle_secs, &limit],
        )
        .await?
        .iter()
        .map(from_row)
        .collect()
}
