//! Operators' actions on a user (`auth-server users ban|unban`): a ban (until a
//! time, or for good) ends every session of the user at once and refuses every way
//! in (password, social, sessions: `banned_until` is checked on each); the ban, its
//! reason and the sessions it ended are in the audit trail, written in the same
//! transaction.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, Event};
use crate::db::{sessions, users, GenericClient};

/// What a ban did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banned {
    pub user_id: Uuid,
    /// `None`: for good.
    pub until: Option<DateTime<Utc>>,
    pub sessions_ended: u64,
}

/// The user named by an id or an e-mail address.
pub async fn find_user(db: &impl GenericClient, who: &str) -> anyhow::Result<users::UserRow> {
    let found = match Uuid::parse_str(who) {
        Ok(id) => users::find_by_id(db, id).await?,
        Err(_) => users::find_by_email(db, &who.trim().to_lowercase()).await?,
    };
    found.ok_or_else(|| anyhow::anyhow!("no user {who:?}"))
}

/// Bans `who` (id or e-mail) until `until` (`None`: for good).
pub async fn ban(
    db: &mut deadpool_postgres::Object,
    who: &str,
    until: Option<DateTime<Utc>>,
    reason: &str,
) -> anyhow::Result<Banned> {
    let tx = db.transaction().await?;
    let user = find_user(&tx, who).await?;
    users::ban(&tx, user.id, until).await?;
    let ended = sessions::delete_all_for_user(&tx, user.id, None).await?;
    audit::operator_event(
        &tx,
        Event::UserBanned,
        user.id,
        json!({"until": until.map(|t| t.to_rfc3339()), "reason": reason, "sessions_ended": ended}),
    )
    .await?;
    tx.commit().await?;
    Ok(Banned {
        user_id: user.id,
        until,
        sessions_ended: ended,
    })
}

/// Lifts a ban; `false` if the user was not banned.
pub async fn unban(db: &mut deadpool_postgres::Object, who: &str) -> anyhow::Result<(Uuid, bool)> {
    let tx = db.transaction().await?;
    let user = find_user(&tx, who).await?;
    let lifted = users::lift_ban(&tx, user.id).await?;
    if lifted {
        audit::operator_event(&tx, Event::UserUnbanned, user.id, json!({})).await?;
    }
    tx.commit().await?;
    Ok((user.id, lifted))
}
