//! One batch of source users turned into units of work: what each user becomes
//! here, and which of their rows must be written because the source changed since
//! the last import (or was never imported).

use std::collections::{BTreeMap, HashMap};

use identity_core::password;
use serde_json::Value;
use uuid::Uuid;

use crate::plan::{
    self, classify_password, identities_digest, identity_values, profile_digest, user_values,
    ColumnKind, IdentityValues, PasswordKind, Skip, SourceIdentity, SourceUser, UserValues,
};
use crate::report::{Counts, Issue};

/// A column of `learner.profiles`.
#[derive(Debug, Clone)]
pub struct ProfileColumn {
    pub name: String,
    /// `format_type` of the column, used to declare it in `jsonb_to_recordset`.
    pub sql_type: String,
    pub kind: ColumnKind,
    pub not_null: bool,
    /// The column default, evaluated once, for NOT NULL columns that have one.
    pub default: Option<Value>,
}

/// Columns the import never fills from the source.
const UNMAPPABLE: [&str; 2] = ["user_id", "version"];
/// Columns taken from the user when the profile table has none of its own.
const TIMES: [&str; 2] = ["created_at", "updated_at"];
/// Source columns tried for `display_name` when the table has no such column.
pub const DISPLAY_NAME_FALLBACKS: [&str; 3] = ["full_name", "name", "username"];

/// Which source column fills which `learner.profiles` column.
#[derive(Debug, Clone, Default)]
pub struct ProfileMapping {
    /// (target column, source column).
    pub pairs: Vec<(ProfileColumn, String)>,
    /// `created_at`/`updated_at` of ours that no source column fills: they take the
    /// user's `created_at`.
    pub implicit_times: Vec<ProfileColumn>,
}

impl ProfileMapping {
    /// The default mapping, then the operator's `--map` overrides. Unknown columns
    /// on either side are an error (before anything is written).
    pub fn resolve(
        source_columns: &[String],
        targets: &[ProfileColumn],
        overrides: &[(String, Option<String>)],
    ) -> anyhow::Result<Self> {
        let has_source = |c: &str| source_columns.iter().any(|s| s == c);
        let mappable: Vec<&ProfileColumn> = targets
            .iter()
            .filter(|t| !UNMAPPABLE.contains(&t.name.as_str()))
            .collect();
        let mut chosen: BTreeMap<String, String> = BTreeMap::new();
        for t in &mappable {
            if has_source(&t.name) {
                chosen.insert(t.name.clone(), t.name.clone());
            }
        }
        if mappable.iter().any(|t| t.name == "display_name") && !chosen.contains_key("display_name")
        {
            if let Some(s) = DISPLAY_NAME_FALLBACKS.iter().find(|s| has_source(s)) {
                chosen.insert("display_name".into(), (*s).to_owned());
            }
        }
        for (t, s) in overrides {
            anyhow::ensure!(
                mappable.iter().any(|m| &m.name == t),
                "--map {t}=…: learner.profiles has no column {t} that can be filled (known: {})",
                mappable
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            match s {
                Some(s) => {
                    anyhow::ensure!(
                        has_source(s),
                        "--map {t}={s}: the source profile table has no column {s} (it has: {})",
                        source_columns.join(", ")
                    );
                    chosen.insert(t.clone(), s.clone());
                }
                None => {
                    chosen.remove(t);
                }
            }
        }
        let mut pairs = Vec::new();
        let mut implicit_times = Vec::new();
        for t in mappable {
            match chosen.get(&t.name) {
                Some(s) => pairs.push((t.clone(), s.clone())),
                None if TIMES.contains(&t.name.as_str()) => implicit_times.push(t.clone()),
                None => {}
            }
        }
        Ok(Self {
            pairs,
            implicit_times,
        })
    }

    /// Source columns to read, in [`Self::pairs`] order.
    pub fn source_columns(&self) -> Vec<String> {
        self.pairs.iter().map(|(_, s)| s.clone()).collect()
    }

    /// target ← source, for the report.
    pub fn describe(&self) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = self
            .pairs
            .iter()
            .map(|(t, s)| (t.name.clone(), s.clone()))
            .collect();
        for t in &self.implicit_times {
            m.insert(t.name.clone(), "auth.users.created_at".into());
        }
        m
    }

    /// Every column a profile row carries.
    pub fn all_columns(&self) -> impl Iterator<Item = &ProfileColumn> {
        self.pairs
            .iter()
            .map(|(t, _)| t)
            .chain(&self.implicit_times)
    }
}

/// What the last import wrote for a user (`identity.imported_users`).
#[derive(Debug, Clone, Default)]
pub struct Existing {
    pub user_digest: Vec<u8>,
    pub credential_digest: Option<Vec<u8>>,
    pub identities_digest: Option<Vec<u8>>,
    pub profile_digest: Option<Vec<u8>>,
    pub rejected_profile_columns: Vec<String>,
}

/// Digests of what a unit stands for.
#[derive(Debug, Clone, Default)]
pub struct Digests {
    pub user: [u8; 32],
    pub credential: Option<[u8; 32]>,
    pub identities: Option<[u8; 32]>,
    pub profile: Option<[u8; 32]>,
}

/// One imported user and the rows that belong to them.
#[derive(Debug, Clone)]
pub struct Unit {
    pub user: UserValues,
    pub write_user: bool,
    /// The hash to store, if the credential must be written.
    pub write_credential: Option<String>,
    /// The source has no hash any more but we stored one: remove it.
    pub delete_credential: bool,
    /// Whether a credential is (or stays) there: for the unchanged count.
    pub has_credential: bool,
    pub identities: Vec<IdentityValues>,
    pub write_identities: bool,
    /// (column, value) of the profile, defaults applied.
    pub profile: Option<Vec<(String, Value)>>,
    pub write_profile: bool,
    pub digests: Digests,
    /// Columns whose value was left out (constraint or type), kept for re-runs.
    pub rejected: Vec<String>,
    /// No bookkeeping row yet, or something changed: the bookkeeping is rewritten.
    pub write_mark: bool,
    /// The expected credential hash, for verification.
    pub expected_hash: Option<String>,
    /// Writing this user failed (reported); nothing of theirs was written.
    pub failed: bool,
    /// Never imported before (no bookkeeping row): plain INSERTs will do.
    pub fresh: bool,
}

impl Unit {
    /// Whether anything of this user must be written.
    pub fn needs_write(&self) -> bool {
        self.write_mark
    }
}

/// A batch, planned.
#[derive(Debug, Default)]
pub struct BatchPlan {
    pub units: Vec<Unit>,
    /// Ids of users skipped by a rule, with the rule.
    pub skipped: Vec<(Uuid, Skip)>,
    pub counts: Counts,
    pub issues: Vec<Issue>,
}

/// The source rows of one batch.
pub struct SourceBatch<'a> {
    pub users: &'a [SourceUser],
    pub identities: Vec<SourceIdentity>,
    /// (user id, values in `mapping.pairs` order).
    pub profiles: Vec<(Uuid, Vec<Value>)>,
}

/// What the target knows that decides a batch.
pub struct TargetView<'a> {
    /// Bookkeeping rows of the batch's users.
    pub existing: &'a HashMap<Uuid, Existing>,
    /// Owner of each of the batch's e-mails here.
    pub email_owners: &'a HashMap<String, Uuid>,
}

fn issue(u: &SourceUser, category: &str, detail: impl Into<String>) -> Issue {
    Issue {
        user_id: Some(u.id),
        email: u.email.clone(),
        category: category.into(),
        detail: detail.into(),
    }
}

fn same(a: Option<&[u8; 32]>, b: Option<&Vec<u8>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.as_slice() == b.as_slice(),
        _ => false,
    }
}

/// Applies every rule to a batch, user by user: skip or keep, the user row, the
/// password, the identities, the profile, then what must be written.
pub fn plan_batch(
    source: SourceBatch<'_>,
    mapping: &ProfileMapping,
    duplicates: &HashMap<Uuid, Uuid>,
    target: TargetView<'_>,
) -> BatchPlan {
    let mut plan = BatchPlan::default();
    let mut identities = by_user(source.identities.into_iter().map(|i| (i.user_id, i)));
    let mut profiles = by_user(source.profiles);
    for u in source.users {
        let user_identities = identities.remove(&u.id).unwrap_or_default();
        let user_profiles = profiles.remove(&u.id).unwrap_or_default();
        let c = &mut plan.counts;
        c.users.seen += 1;
        c.identities.seen += user_identities.len() as u64;
        c.profiles.seen += user_profiles.len() as u64;
        if let Some(skip) = skip_reason(u, duplicates, &target) {
            note_skip(&mut plan, u, skip, &user_identities, user_profiles.len());
            continue;
        }

        let (user, warnings) = user_values(u);
        for (cat, detail) in warnings {
            plan.issues.push(issue(u, cat, detail));
        }
        count_user(&mut plan.counts, u);
        let password = classify_password(u);
        note_password(&mut plan, u, &password, &user_identities);

        let (ids, refused, not_needed) = identity_values(&user_identities, &user.created_at);
        let c = &mut plan.counts;
        c.identities.email_or_phone += not_needed as u64;
        c.identities.refused += refused.len() as u64;
        for (_, detail) in refused {
            plan.issues.push(issue(u, "identity_refused", detail));
        }

        let existing = target.existing.get(&u.id);
        let (profile, rejected_now) = profile_values(
            u,
            user_profiles,
            mapping,
            &user.created_at,
            &mut plan.issues,
        );
        let profile_digest = profile.as_ref().map(|p| profile_digest(p));
        let rejected = carry_rejected(
            u,
            existing,
            profile_digest.as_ref(),
            rejected_now,
            &mut plan.issues,
        );
        let profile = profile.map(|p| finish_profile(p, &rejected, mapping));
        plan.counts.profiles.values_rejected += rejected.len() as u64;

        let digests = Digests {
            user: user.digest(),
            credential: password.hash().map(plan::digest_of),
            identities: identities_digest(&ids),
            profile: profile_digest,
        };
        plan.units.push(unit_of(
            existing,
            Planned {
                user,
                identities: ids,
                profile,
                digests,
                rejected,
                hash: password.hash(),
            },
        ));
    }
    plan
}

/// Groups rows by their user id, keeping their order.
fn by_user<T>(rows: impl IntoIterator<Item = (Uuid, T)>) -> HashMap<Uuid, Vec<T>> {
    let mut out: HashMap<Uuid, Vec<T>> = HashMap::new();
    for (id, row) in rows {
        out.entry(id).or_default().push(row);
    }
    out
}

/// Why this user is not imported, if they are not: a rule of the row itself, a
/// duplicate e-mail in the source, or an e-mail taken by another user here.
fn skip_reason(
    u: &SourceUser,
    duplicates: &HashMap<Uuid, Uuid>,
    target: &TargetView<'_>,
) -> Option<Skip> {
    plan::base_skip(u)
        .or_else(|| {
            duplicates
                .get(&u.id)
                .map(|w| Skip::DuplicateEmail { kept_by: *w })
        })
        .or_else(|| {
            let email = plan::normalise_email(u.email.as_deref().unwrap_or(""));
            target
                .email_owners
                .get(&email)
                .filter(|owner| **owner != u.id)
                .map(|owner| Skip::EmailTaken { by: *owner })
        })
}

/// Reports a skipped user and counts what is not imported with them.
fn note_skip(
    plan: &mut BatchPlan,
    u: &SourceUser,
    skip: Skip,
    user_identities: &[SourceIdentity],
    profiles: usize,
) {
    let c = &mut plan.counts;
    c.users.skipped.count(skip.category());
    plan.issues.push(issue(u, skip.category(), skip.detail()));
    let oauth = user_identities
        .iter()
        .filter(|i| !matches!(i.provider.as_str(), "email" | "phone"))
        .count();
    c.identities.owner_not_imported += oauth as u64;
    c.identities.email_or_phone += (user_identities.len() - oauth) as u64;
    c.profiles.owner_not_imported += profiles as u64;
    plan.skipped.push((u.id, skip));
}

/// Counts the kinds of imported user (SSO, banned, unverified).
fn count_user(c: &mut Counts, u: &SourceUser) {
    if u.is_sso_user {
        c.users.sso += 1;
    }
    if !u.banned_until.is_null() {
        c.users.banned += 1;
    }
    if !u.email_confirmed {
        c.users.unverified += 1;
    }
}

/// Counts the user's password by kind, and reports every password not imported.
fn note_password(
    plan: &mut BatchPlan,
    u: &SourceUser,
    kind: &PasswordKind,
    user_identities: &[SourceIdentity],
) {
    let c = &mut plan.counts.passwords;
    let (category, detail) = match kind {
        PasswordKind::Bcrypt(_) => {
            c.bcrypt += 1;
            return;
        }
        PasswordKind::Argon2(_) => {
            c.argon2 += 1;
            return;
        }
        PasswordKind::None => {
            c.none += 1;
            let how = sign_in_without_password(u, user_identities);
            (
                "no_password",
                format!("no password ({how}); imported without a credential"),
            )
        }
        PasswordKind::Encrypted { key_id } => {
            c.encrypted_refused += 1;
            (
                "encrypted_hash",
                format!(
                    "password hash is encrypted with Supabase's column encryption (aes-gcm-hkdf, key_id {key_id:?}) and cannot be verified: decrypt encrypted_password with that key and run the import again; imported without a credential meanwhile"
                ),
            )
        }
        PasswordKind::Unsupported { prefix } => {
            c.unsupported_refused += 1;
            (
                "unsupported_hash",
                format!("password hash of an unsupported scheme ({prefix}…); imported without a credential"),
            )
        }
        PasswordKind::OverCostCap { costs } => {
            c.over_cost_cap_refused += 1;
            (
                "hash_over_cost_cap",
                format!(
                    "password hash declares {costs}, over the caps (bcrypt cost {}; argon2 m={} KiB, t={}, p={}) that keep one sign-in from starving the others; imported without a credential: the user sets a new password by reset",
                    password::MAX_BCRYPT_COST,
                    password::MAX_ARGON2_M_COST,
                    password::MAX_ARGON2_T_COST,
                    password::MAX_ARGON2_P_COST,
                ),
            )
        }
        PasswordKind::SsoIgnored => {
            c.sso_ignored += 1;
            (
                "sso_password_ignored",
                "SSO user with a password hash: SSO users could not sign in with a password, so it is not imported".to_owned(),
            )
        }
    };
    plan.issues.push(issue(u, category, detail));
}

/// How a user without a password signs in, for the report.
fn sign_in_without_password(u: &SourceUser, user_identities: &[SourceIdentity]) -> String {
    let providers: Vec<&str> = user_identities
        .iter()
        .map(|i| i.provider.as_str())
        .filter(|p| *p != "email")
        .collect();
    if u.is_sso_user {
        "SSO user".to_owned()
    } else if providers.is_empty() {
        "magic link / OTP only".to_owned()
    } else {
        format!("signs in with {}", providers.join(", "))
    }
}

/// The user's profile as (column, value) in mapping order (the first of several
/// source rows), and the columns whose value could not be converted (reported).
fn profile_values(
    u: &SourceUser,
    user_profiles: Vec<Vec<Value>>,
    mapping: &ProfileMapping,
    user_created_at: &Value,
    issues: &mut Vec<Issue>,
) -> (Option<Vec<(String, Value)>>, Vec<String>) {
    if user_profiles.len() > 1 {
        issues.push(issue(
            u,
            "duplicate_profile",
            format!(
                "{} profile rows share this key; the first is imported",
                user_profiles.len()
            ),
        ));
    }
    let mut rejected_now = Vec::new();
    let profile = user_profiles.into_iter().next().map(|values| {
        let mut row = Vec::new();
        for ((col, source_col), v) in mapping.pairs.iter().zip(values) {
            // A profile time the source lacks is the user's creation time.
            if TIMES.contains(&col.name.as_str()) && v.is_null() {
                row.push((col.name.clone(), user_created_at.clone()));
                continue;
            }
            let converted = match plan::convert_value(&v, &col.kind) {
                Ok(v) => v,
                Err(why) => {
                    rejected_now.push(col.name.clone());
                    issues.push(issue(
                        u,
                        "profile_value_rejected",
                        format!("{} ← {source_col}: {why}; left out", col.name),
                    ));
                    Value::Null
                }
            };
            row.push((col.name.clone(), converted));
        }
        for col in &mapping.implicit_times {
            row.push((col.name.clone(), user_created_at.clone()));
        }
        row
    });
    (profile, rejected_now)
}

/// The columns left out now, plus those a constraint of ours refused at the last
/// import of the same profile (they stay out; reported again).
fn carry_rejected(
    u: &SourceUser,
    existing: Option<&Existing>,
    profile_digest: Option<&[u8; 32]>,
    mut rejected: Vec<String>,
    issues: &mut Vec<Issue>,
) -> Vec<String> {
    if let Some(e) = existing.filter(|e| same(profile_digest, e.profile_digest.as_ref())) {
        for col in &e.rejected_profile_columns {
            if !rejected.contains(col) {
                rejected.push(col.clone());
                issues.push(issue(
                    u,
                    "profile_value_rejected",
                    format!("{col}: left out at an earlier import (it broke a constraint of ours)"),
                ));
            }
        }
    }
    rejected
}

/// A user's rows as planned, before comparing them with the last import.
struct Planned<'a> {
    user: UserValues,
    identities: Vec<IdentityValues>,
    profile: Option<Vec<(String, Value)>>,
    digests: Digests,
    rejected: Vec<String>,
    hash: Option<&'a str>,
}

/// The unit of work: everything for a user never imported, else only what changed
/// since the last import (by digest).
fn unit_of(existing: Option<&Existing>, p: Planned<'_>) -> Unit {
    let Some(e) = existing else {
        return Unit {
            write_user: true,
            write_credential: p.hash.map(str::to_owned),
            delete_credential: false,
            has_credential: p.hash.is_some(),
            write_identities: !p.identities.is_empty(),
            write_profile: p.profile.is_some(),
            write_mark: true,
            user: p.user,
            identities: p.identities,
            profile: p.profile,
            digests: p.digests,
            rejected: p.rejected,
            expected_hash: p.hash.map(str::to_owned),
            failed: false,
            fresh: true,
        };
    };
    let d = &p.digests;
    let write_user = e.user_digest.as_slice() != d.user.as_slice();
    let cred_same = same(d.credential.as_ref(), e.credential_digest.as_ref());
    let identities_same = same(d.identities.as_ref(), e.identities_digest.as_ref());
    let profile_same = same(d.profile.as_ref(), e.profile_digest.as_ref());
    let write_mark = write_user
        || !cred_same
        || !identities_same
        || !profile_same
        || p.rejected != e.rejected_profile_columns;
    Unit {
        write_user,
        write_credential: if cred_same {
            None
        } else {
            p.hash.map(str::to_owned)
        },
        delete_credential: !cred_same && p.hash.is_none() && e.credential_digest.is_some(),
        has_credential: p.hash.is_some(),
        write_identities: !p.identities.is_empty() && !identities_same,
        write_profile: p.profile.is_some() && !profile_same,
        write_mark,
        user: p.user,
        identities: p.identities,
        profile: p.profile,
        digests: p.digests,
        rejected: p.rejected,
        expected_hash: p.hash.map(str::to_owned),
        failed: false,
        fresh: false,
    }
}

/// Leaves out rejected values and fills NOT NULL columns that got no value with
/// their default.
pub fn finish_profile(
    mut row: Vec<(String, Value)>,
    rejected: &[String],
    mapping: &ProfileMapping,
) -> Vec<(String, Value)> {
    for (name, value) in &mut row {
        if rejected.contains(name) {
            *value = Value::Null;
        }
        if value.is_null() {
            if let Some(col) = mapping.all_columns().find(|c| &c.name == name) {
                if col.not_null {
                    if let Some(d) = &col.default {
                        *value = d.clone();
                    }
                }
            }
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn col(name: &str, sql_type: &str) -> ProfileColumn {
        ProfileColumn {
            name: name.into(),
            sql_type: sql_type.into(),
            kind: ColumnKind::of_sql_type(sql_type),
            not_null: false,
            default: None,
        }
    }

    fn targets() -> Vec<ProfileColumn> {
        vec![
            col("user_id", "uuid"),
            col("display_name", "text"),
            col("bio", "text"),
            col("avatar_url", "text"),
            col("programming_languages", "text[]"),
            col("version", "bigint"),
            col("created_at", "timestamp with time zone"),
            col("updated_at", "timestamp with time zone"),
        ]
    }

    fn names(m: &ProfileMapping) -> Vec<(String, String)> {
        m.pairs
            .iter()
            .map(|(t, s)| (t.name.clone(), s.clone()))
            .collect()
    }

    #[test]
    fn default_mapping_is_same_name_plus_display_name_fallbacks() {
        let source: Vec<String> = [
            "id",
            "username",
            "full_name",
            "avatar_url",
            "website",
            "updated_at",
        ]
        .map(String::from)
        .to_vec();
        let m = ProfileMapping::resolve(&source, &targets(), &[]).expect("mapping");
        assert_eq!(
            names(&m),
            vec![
                ("display_name".into(), "full_name".into()),
                ("avatar_url".into(), "avatar_url".into()),
                ("updated_at".into(), "updated_at".into()),
            ]
        );
        assert_eq!(m.implicit_times.len(), 1, "created_at comes from the user");
        assert_eq!(m.implicit_times[0].name, "created_at");
    }

    #[test]
    fn overrides_replace_and_remove_and_are_checked() {
        let source: Vec<String> = ["id", "username", "full_name", "avatar_url", "langs"]
            .map(String::from)
            .to_vec();
        let m = ProfileMapping::resolve(
            &source,
            &targets(),
            &[
                ("display_name".into(), Some("username".into())),
                ("avatar_url".into(), None),
                ("programming_languages".into(), Some("langs".into())),
            ],
        )
        .expect("mapping");
        assert_eq!(
            names(&m),
            vec![
                ("display_name".into(), "username".into()),
                ("programming_languages".into(), "langs".into()),
            ]
        );
        assert!(ProfileMapping::resolve(
            &source,
            &targets(),
            &[("nope".into(), Some("id".into()))]
        )
        .is_err());
        assert!(ProfileMapping::resolve(
            &source,
            &targets(),
            &[("bio".into(), Some("nope".into()))]
        )
        .is_err());
        assert!(ProfileMapping::resolve(
            &source,
            &targets(),
            &[("version".into(), Some("id".into()))]
        )
        .is_err());
    }

    #[test]
    fn rejected_and_missing_values_fall_back_to_defaults() {
        let mut lang = col("preferred_language", "text");
        lang.not_null = true;
        lang.default = Some(json!("en"));
        let mapping = ProfileMapping {
            pairs: vec![(lang, "locale".into()), (col("bio", "text"), "bio".into())],
            implicit_times: vec![],
        };
        let row = vec![
            ("preferred_language".to_owned(), json!("!!")),
            ("bio".to_owned(), json!("hi")),
        ];
        let done = finish_profile(row, &["preferred_language".into()], &mapping);
        assert_eq!(done[0].1, json!("en"));
        assert_eq!(done[1].1, json!("hi"));
    }
}
