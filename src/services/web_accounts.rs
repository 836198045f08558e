//! Web sign-in: passwords (argon2id, hashed off the async workers), browser sessions (a random
//! cookie value stored as its SHA-256, with a CSRF token) and API token rotation from the
//! profile page. The first account of an empty installation is made here too.
use super::accounts::{AccountError, create_user, new_token};
use crate::auth::Role;
use crate::crypto::{hash_token, random_hex};
use crate::services::audit::{self, Actor, Changes};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{Duration, Utc};
use entity::enums::{AuditAction, AuditObject};
use entity::{api_token, organization_member, user, web_flash, web_session};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionSession, TransactionTrait,
};

/// How long a browser session lasts without signing in again.
pub const SESSION_DAYS: i64 = 14;

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// Checks a new password: 8 to 256 characters.
pub fn check_password(password: &str) -> Result<(), AccountError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD..=256).contains(&n) {
        return Err(AccountError::Invalid(format!(
            "a password must have {MIN_PASSWORD} to 256 characters"
        )));
    }
    Ok(())
}

/// The argon2id hash (PHC string) of `password`, computed on a blocking thread.
pub async fn hash_password(password: &str) -> Result<String, AccountError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(random_hex(16).as_bytes())
            .map_err(|e| AccountError::Invalid(e.to_string()))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AccountError::Invalid(e.to_string()))
    })
    .await
    .map_err(|e| AccountError::Invalid(e.to_string()))?
}

/// Whether `password` matches the PHC string `hash` (on a blocking thread). A malformed hash
/// matches nothing.
pub async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A PHC string no password matches, verified when the email is unknown so that a sign-in
/// takes as long whether or not the account exists.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3O+Zp0lr8nqYhHdh6WnsaEFgQm4r1RbEJUcuKzGNVEg";

/// Sets the sign-in password of the user with `email`.
pub async fn set_password(
    db: &impl ConnectionTrait,
    email: &str,
    password: &str,
) -> Result<user::Model, AccountError> {
    check_password(password)?;
    let email = email.trim().to_lowercase();
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(db)
        .await?
        .ok_or(AccountError::NoSuchUser(email))?;
    let hash = hash_password(password).await?;
    let mut active: user::ActiveModel = found.into();
    active.password_hash = Set(Some(hash));
    active.updated_at = Set(crate::util::now());
    Ok(active.update(db).await?)
}

/// The user whose email and password match, if any (inactive users, users without a
/// password and users whose membership in their active organization was deactivated never
/// match). A failure for a known email is recorded in the audit log of that user's active
/// organization (an unknown email belongs to no organization: not recorded).
pub async fn check_sign_in<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    email: &str,
    password: &str,
) -> Result<Option<user::Model>, AccountError> {
    let email = email.trim().to_lowercase();
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(db)
        .await?;
    let hash = found
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    let matches = verify_password(password, &hash).await;
    let mut signed_in = found
        .clone()
        .filter(|u| matches && u.is_active && u.password_hash.is_some());
    if let Some(user) = &signed_in {
        let member = match user.active_organization_id {
            Some(organization_id) => organization_member::Entity::find()
                .filter(organization_member::Column::UserId.eq(user.id))
                .filter(organization_member::Column::OrganizationId.eq(organization_id))
                .filter(organization_member::Column::IsActive.eq(true))
                .one(db)
                .await?
                .is_some(),
            None => false,
        };
        if !member {
            signed_in = None;
        }
    }
    if signed_in.is_none()
        && let Some(user) = &found
        && let Some(org) = user.active_organization_id
    {
        let txn = crate::db::begin_write(db).await?;
        let action = AuditAction::SignInFailed;
        audit::record(
            &txn,
            &Actor::person(user, org),
            action,
            user_object(user),
            Changes::new(),
        )
        .await?;
        txn.commit().await?;
    }
    Ok(signed_in)
}

/// A user as the audit log names them.
fn user_object(user: &user::Model) -> audit::Object {
    audit::Object::new(AuditObject::User, user.id, &user.email)
}

/// Opens a session for `user_id` (recorded as a sign-in in the audit log); returns the cookie
/// value (shown to the browser only).
pub async fn open_session<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    user_id: i64,
) -> Result<String, AccountError> {
    let txn = crate::db::begin_write(db).await?;
    let cookie = open_session_in(&txn, user_id).await?;
    if let Some(user) = user::Entity::find_by_id(user_id).one(&txn).await?
        && let Some(org) = user.active_organization_id
    {
        let actor = Actor::person(&user, org);
        let action = AuditAction::SignIn;
        audit::record(&txn, &actor, action, user_object(&user), Changes::new()).await?;
    }
    txn.commit().await?;
    Ok(cookie)
}

async fn open_session_in(db: &impl ConnectionTrait, user_id: i64) -> Result<String, AccountError> {
    let cookie = random_hex(32);
    let now = Utc::now();
    web_session::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(hash_token(&cookie)),
        csrf_token: Set(random_hex(32)),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + Duration::days(SESSION_DAYS)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    // Expired sessions of anyone go when someone signs in.
    web_session::Entity::delete_many()
        .filter(web_session::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    Ok(cookie)
}

/// Ends the session `session_id`.
pub async fn close_session(db: &impl ConnectionTrait, session_id: i64) -> Result<(), AccountError> {
    web_session::Entity::delete_by_id(session_id)
        .exec(db)
        .await?;
    Ok(())
}

/// The API tokens of a user, newest first (their hashes only: a token is shown once).
pub async fn tokens_of(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Vec<api_token::Model>, AccountError> {
    Ok(api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(user_id))
        .order_by_desc(api_token::Column::Id)
        .all(db)
        .await?)
}

/// Replaces every API token of the caller with a new one, returned once; the audit log
/// records each revoked token and the new one (by id).
pub async fn rotate_token<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &crate::auth::AuthUser,
) -> Result<String, AccountError> {
    let user_id = caller.user.id;
    let actor = audit::Acting::actor(caller);
    let txn = crate::db::begin_write(db).await?;
    let old = tokens_of(&txn, user_id).await?;
    api_token::Entity::delete_many()
        .filter(api_token::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    for revoked in &old {
        let action = AuditAction::TokenRevoke;
        super::accounts::audit_token(&txn, &actor, &caller.user, revoked, action).await?;
    }
    let token = new_token();
    let made = api_token::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(hash_token(&token)),
        created_at: Set(crate::util::now()),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let action = AuditAction::TokenCreate;
    super::accounts::audit_token(&txn, &actor, &caller.user, &made, action).await?;
    txn.commit().await?;
    Ok(token)
}

/// How long a flash waits for the page that shows it.
pub const FLASH_SECS: i64 = 300;

/// Leaves `value` (encrypted) for session `session_id`'s next page of `kind`: a form that
/// redirects (post, redirect, get) hands the page what it made, e.g. a new API token. Expired
/// flashes of anyone go at the same time.
pub async fn put_flash(
    db: &impl ConnectionTrait,
    secrets: &crate::crypto::Secrets,
    session_id: i64,
    kind: &str,
    value: &str,
) -> Result<(), AccountError> {
    let now = Utc::now();
    web_flash::Entity::delete_many()
        .filter(web_flash::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    web_flash::ActiveModel {
        session_id: Set(session_id),
        kind: Set(kind.to_string()),
        sealed_value: Set(secrets.seal(value)),
        expires_at: Set(now + Duration::seconds(FLASH_SECS)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Takes session `session_id`'s newest unexpired flash of `kind`, once: every flash of that
/// kind is deleted, and of two pages asking at once only the one whose delete removed it gets
/// the value.
pub async fn take_flash(
    db: &impl ConnectionTrait,
    secrets: &crate::crypto::Secrets,
    session_id: i64,
    kind: &str,
) -> Result<Option<String>, AccountError> {
    let Some(newest) = web_flash::Entity::find()
        .filter(web_flash::Column::SessionId.eq(session_id))
        .filter(web_flash::Column::Kind.eq(kind))
        .filter(web_flash::Column::ExpiresAt.gt(Utc::now()))
        .order_by_desc(web_flash::Column::Id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let taken = web_flash::Entity::delete_by_id(newest.id).exec(db).await?;
    web_flash::Entity::delete_many()
        .filter(web_flash::Column::SessionId.eq(session_id))
        .filter(web_flash::Column::Kind.eq(kind))
        .exec(db)
        .await?;
    if taken.rows_affected == 0 {
        return Ok(None);
    }
    // A flash the key cannot open (the server's secret changed) is as good as none.
    Ok(secrets.open(&newest.sealed_value).ok())
}

/// Creates the first account of an empty installation (an Owner with a password), in one
/// transaction with the check that no user exists; `None` when someone was first.
pub async fn create_first_user<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    email: &str,
    org_title: &str,
    password: &str,
) -> Result<Option<user::Model>, AccountError> {
    check_password(password)?;
    let hash = hash_password(password).await?;
    let txn = crate::db::begin_write(db).await?;
    if !super::accounts::is_empty(&txn).await? {
        return Ok(None);
    }
    let (created, _token) = create_user(&txn, email, org_title, Role::Owner, None).await?;
    let mut active: user::ActiveModel = created.into();
    active.password_hash = Set(Some(hash));
    let created = active.update(&txn).await?;
    txn.commit().await?;
    Ok(Some(created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_reject() {
        let hash = hash_password("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash).await);
        assert!(!verify_password("wrong horse", &hash).await);
        assert!(!verify_password("anything", "not a hash").await);
        assert!(!verify_password("anything", DUMMY_HASH).await);
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
    }
}
