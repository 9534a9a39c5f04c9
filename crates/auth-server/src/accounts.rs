//! Accounts: the rules of signing up, signing in, changing a password and updating
//! a user, between the checked forms and the tables. Handlers call these and shape
//! the response; nothing here knows about HTTP.

use uuid::Uuid;

use crate::audit::{self, Event};
use crate::db::sessions::{self, SessionRow};
use crate::db::users::UserRow;
use crate::db::{accounts, users};
use crate::error::ApiError;
use crate::extract::{ClientInfo, CurrentSession};
use crate::forms::{ChangePassword, NewPassword, SignIn, SignUp, UpdateUser};
use crate::password::Verification;
use crate::rate_limit::Account;
use crate::session_service;
use crate::state::AppState;
use serde_json::json;

/// A new session for a user: its raw token, the row, and the user.
pub struct SignedIn {
    /// The raw session token (the cookie and `set-auth-token` carry it signed).
    pub token: String,
    /// The session row.
    pub session: SessionRow,
    /// The user.
    pub user: UserRow,
}

/// What sign-up did.
pub enum SignedUp {
    /// The user exists and is signed in.
    SignedIn(SignedIn),
    /// `AUTH_REQUIRE_EMAIL_VERIFICATION`: no session until the mailed link is
    /// opened. For a taken address this is a look-alike user that was never stored,
    /// so the answer does not tell who is registered.
    AwaitingVerification(UserRow),
}

/// Creates a user with a password and, unless verification is required, a first
/// session, in one transaction together with the verification mail when one is
/// sent. A taken e-mail is 422 before any hashing (or, when verification is
/// required, the same answer as a new one); a race for it is decided by the unique
/// constraint.
#[tracing::instrument(level = "debug", skip_all, fields(user_id))]
pub async fn sign_up(
    state: &AppState,
    form: &SignUp,
    client: &ClientInfo,
) -> Result<SignedUp, ApiError> {
    state
        .check_rate_limit(client.ip, Account::Email(form.email.as_str()))
        .await?;
    let require = state.settings.require_email_verification;
    let send_mail = require || state.settings.send_verification_on_sign_up;
    if users::email_exists(&state.pool.get().await?, form.email.as_str()).await? {
        if !require {
            return Err(ApiError::UserAlreadyExists);
        }
        // Same work and same answer as a real sign-up.
        state.hasher.hash(form.password.expose()).await?;
        tracing::info!("sign-up for a taken address answered as awaiting verification");
        return Ok(SignedUp::AwaitingVerification(look_alike_user(form)));
    }
    let hash = state.hasher.hash(form.password.expose()).await?;

    let mut db = state.pool.get().await?;
    let tx = db.transaction().await?;
    let user = users::insert(
        &tx,
        form.name.as_str(),
        form.email.as_str(),
        form.image.as_ref().map(|i| i.as_str()),
    )
    .await?
    .ok_or(ApiError::UserAlreadyExists)?;
    accounts::insert_credential(&tx, user.id, &hash).await?;
    audit::user_event(
        &tx,
        Event::SignUp,
        Some(user.id),
        client,
        json!({"verification_mailed": send_mail}),
    )
    .await?;
    if send_mail {
        let callback = form.callback_url.as_ref().map(|c| c.as_str());
        crate::email_verification::queue_verification(&tx, state, &user, callback).await?;
    }
    let session = if require {
        None
    } else {
        let remember = form.remember_me.unwrap_or(true);
        Some(session_service::create(&tx, state, user.id, remember, client).await?)
    };
    tx.commit().await?;
    if send_mail {
        state.mailer.wake();
    }
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    tracing::info!(user_id = %user.id, verification_mailed = send_mail, "user signed up");
    Ok(match session {
        Some((token, session)) => SignedUp::SignedIn(SignedIn {
            token,
            session,
            user,
        }),
        None => SignedUp::AwaitingVerification(user),
    })
}

/// A user shaped like a fresh sign-up's, never stored.
fn look_alike_user(form: &SignUp) -> UserRow {
    let now = chrono::Utc::now();
    UserRow {
        id: Uuid::new_v4(),
        name: form.name.as_str().to_owned(),
        email: form.email.as_str().to_owned(),
        email_verified: false,
        image: form.image.as_ref().map(|i| i.as_str().to_owned()),
        role: "authenticated".into(),
        created_at: now,
        updated_at: now,
    }
}

/// Checks e-mail and password and opens a new session. Unknown e-mail, wrong
/// password and a banned user all get the same 401; the ban is looked at only
/// after the password, so the answer never tells a ban from a typo. An imported
/// (bcrypt, older argon2) hash is replaced with argon2id after a successful check.
#[tracing::instrument(level = "debug", skip_all, fields(user_id))]
pub async fn sign_in(
    state: &AppState,
    form: &SignIn,
    client: &ClientInfo,
) -> Result<SignedIn, ApiError> {
    state
        .check_rate_limit(client.ip, Account::Email(form.email.as_str()))
        .await?;
    // The connection goes back to the pool before the (slow) hash.
    let found = users::find_for_sign_in(&state.pool.get().await?, form.email.as_str()).await?;
    let stored_hash = found.as_ref().and_then(|c| c.password_hash.as_deref());
    let verdict = state.hasher.check(&form.password, stored_hash).await?;
    let candidate = match (verdict.is_valid(), found) {
        (true, Some(c)) if !c.banned => c,
        (true, Some(c)) => {
            tracing::info!(user_id = %c.user.id, "sign-in rejected: user is banned");
            failed_sign_in(state, Some(c.user.id), "banned", client).await;
            return Err(ApiError::InvalidEmailOrPassword);
        }
        (_, found) => {
            tracing::info!("sign-in rejected");
            let reason = if found.is_some() {
                "wrong_password"
            } else {
                "unknown_email"
            };
            failed_sign_in(state, found.map(|c| c.user.id), reason, client).await;
            return Err(ApiError::InvalidEmailOrPassword);
        }
    };
    // An unverified address signs in only when nothing requires it verified: not
    // `AUTH_REQUIRE_EMAIL_VERIFICATION`, and not an imported password whose owner
    // never confirmed the address on Supabase. Said only after a correct password.
    if !candidate.user.email_verified
        && (state.settings.require_email_verification || candidate.awaits_confirmed_email)
    {
        tracing::info!(user_id = %candidate.user.id, "sign-in refused: e-mail not verified");
        failed_sign_in(state, Some(candidate.user.id), "email_not_verified", client).await;
        let callback = form.callback_url.as_ref().map(|c| c.as_str());
        crate::email_verification::resend_at_sign_in(state, &candidate.user, callback, client)
            .await;
        return Err(ApiError::EmailNotVerified);
    }
    if verdict == Verification::ValidOutdated {
        if let Some(old) = candidate.password_hash.as_deref() {
            upgrade_hash(state, candidate.user.id, &form.password, old).await;
        }
    }
    let user = candidate.user;
    let remember = form.remember_me.unwrap_or(true);
    let mut db = state.pool.get().await?;
    let tx = db.transaction().await?;
    let (token, session) = session_service::create(&tx, state, user.id, remember, client).await?;
    audit::user_event(
        &tx,
        Event::SignIn,
        Some(user.id),
        client,
        json!({"session_id": session.id}),
    )
    .await?;
    tx.commit().await?;
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    tracing::info!(user_id = %user.id, "user signed in");
    Ok(SignedIn {
        token,
        session,
        user,
    })
}

/// Re-hashes a password that verified against an imported or weaker hash with
/// argon2id and stores it. Best effort: a failure is logged, and the sign-in goes on
/// (the old hash still works, so the next sign-in tries again).
async fn upgrade_hash(state: &AppState, user_id: Uuid, password: &str, old: &str) {
    let result = async {
        let new_hash = state.hasher.hash(password).await?;
        let client = state.pool.get().await?;
        let replaced = accounts::replace_credential_hash(&client, user_id, old, &new_hash).await?;
        anyhow::Ok(replaced)
    }
    .await;
    match result {
        Ok(true) => tracing::info!(%user_id, "password hash upgraded to argon2id"),
        Ok(false) => tracing::info!(%user_id, "password hash changed meanwhile; not upgraded"),
        Err(e) => tracing::warn!(%user_id, error = ?e, "could not upgrade the password hash"),
    }
}

/// The outcome of a password change: the user (its `updated_at` bumped) and, when
/// every session was ended, the new session's token.
pub struct PasswordChanged {
    /// The user after the change.
    pub user: UserRow,
    /// Set when other sessions were revoked: the caller's replacement session.
    pub new_token: Option<String>,
}

/// Replaces the password after checking the current one; with
/// `revokeOtherSessions` every session ends and a fresh one is opened, all in one
/// transaction.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %current.user.id))]
pub async fn change_password(
    state: &AppState,
    current: &CurrentSession,
    form: ChangePassword,
    client: &ClientInfo,
) -> Result<PasswordChanged, ApiError> {
    let new_password = NewPassword::parse(form.new_password, state)?;
    state
        .check_rate_limit(client.ip, Account::User(current.user.id))
        .await?;
    if form.current_password.encode_utf16().count() > state.settings.password_max_length {
        return Err(ApiError::InvalidPassword);
    }
    let stored = accounts::credential_hash(&state.pool.get().await?, current.user.id)
        .await?
        .ok_or(ApiError::CredentialAccountNotFound)?;
    if !state
        .hasher
        .verify(&form.current_password, Some(&stored))
        .await?
    {
        return Err(ApiError::InvalidPassword);
    }
    let new_hash = state.hasher.hash(new_password.expose()).await?;

    let revoke_others = form.revoke_other_sessions.unwrap_or(false);
    let mut db = state.pool.get().await?;
    let tx = db.transaction().await?;
    accounts::set_credential_hash(&tx, current.user.id, &new_hash).await?;
    audit::user_event(
        &tx,
        Event::PasswordChanged,
        Some(current.user.id),
        client,
        json!({"revoked_other_sessions": form.revoke_other_sessions.unwrap_or(false)}),
    )
    .await?;
    // Bumping updated_at also drops JWTs cached for this user.
    let user = users::touch(&tx, current.user.id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let new_token = if revoke_others {
        sessions::delete_all_for_user(&tx, current.user.id, None).await?;
        let remember = current.session.remember;
        let (token, _) =
            session_service::create(&tx, state, current.user.id, remember, client).await?;
        Some(token)
    } else {
        None
    };
    tx.commit().await?;
    tracing::info!(user_id = %user.id, revoke_others, "password changed");
    Ok(PasswordChanged { user, new_token })
}

/// Sets `name` and/or `image` (`Some(None)` clears the image).
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %current.user.id))]
pub async fn update_user(
    state: &AppState,
    current: &CurrentSession,
    form: &UpdateUser,
) -> Result<UserRow, ApiError> {
    let client = state.pool.get().await?;
    users::update_profile(
        &client,
        current.user.id,
        form.name.as_ref().map(|n| n.as_str()),
        form.image.as_ref().map(|i| i.as_ref().map(|i| i.as_str())),
    )
    .await?
    .ok_or(ApiError::Unauthorized)
}

/// `POST /verify-password`: whether `password` is the signed-in user's (rate-limited
/// like every password check).
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %current.user.id))]
pub async fn verify_password(
    state: &AppState,
    current: &CurrentSession,
    password: &str,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    state
        .check_rate_limit(client.ip, Account::User(current.user.id))
        .await?;
    if password.encode_utf16().count() > state.settings.password_max_length {
        return Err(ApiError::InvalidPassword);
    }
    let stored = accounts::credential_hash(&state.pool.get().await?, current.user.id).await?;
    // No credential: the refusal still costs a hash, like a wrong password.
    if state.hasher.verify(password, stored.as_deref()).await? && stored.is_some() {
        Ok(())
    } else {
        Err(ApiError::InvalidPassword)
    }
}

/// `GET /list-accounts`: the user's ways to sign in.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %current.user.id))]
pub async fn list_accounts(
    state: &AppState,
    current: &CurrentSession,
) -> Result<Vec<auth_wire::LinkedAccount>, ApiError> {
    let client = state.pool.get().await?;
    Ok(accounts::list_for_user(&client, current.user.id)
        .await?
        .into_iter()
        .map(|a| auth_wire::LinkedAccount {
            id: a.id,
            provider_id: a.provider_id,
            account_id: a.account_id,
            user_id: a.user_id,
            created_at: a.created_at,
            updated_at: a.updated_at,
            scopes: a
                .scope
                .as_deref()
                .map(|s| {
                    s.split(',')
                        .filter(|x| !x.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect())
}

/// Records a refused sign-in (the reason, never the password). Best effort: the
/// answer is a 401 whether or not the record could be written.
async fn failed_sign_in(
    state: &AppState,
    user_id: Option<Uuid>,
    reason: &str,
    client: &ClientInfo,
) {
    let result = async {
        let db = state.pool.get().await?;
        audit::user_event(
            &db,
            Event::SignInFailed,
            user_id,
            client,
            json!({"reason": reason}),
        )
        .await?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not record a refused sign-in");
    }
}
