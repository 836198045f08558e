//! Organizations, users, memberships and API tokens.
use crate::auth::Role;
use crate::crypto::{hash_token, random_hex};

use crate::services::audit;
use entity::enums::{AuditAction, AuditObject};
use entity::{api_token, organization, organization_member, user};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, TransactionSession, TransactionTrait,
};

/// A failure of an account command.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A user with this email exists already.
    #[error("a user with email {0} already exists")]
    EmailTaken(String),
    /// No user has this email.
    #[error("no user with email {0}")]
    NoSuchUser(String),
    /// The input is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<crate::error::ApiError> for AccountError {
    fn from(err: crate::error::ApiError) -> Self {
        match err {
            crate::error::ApiError::Database(e) => AccountError::Db(e),
            other => AccountError::Invalid(other.to_string()),
        }
    }
}

/// A new random API token: 40 hex characters, like Label Studio's.
pub fn new_token() -> String {
    random_hex(20)
}

/// Creates a user in the organization titled `org_title` (created if missing) with `role`,
/// plus an API token (`token`, or a random one), all in one transaction. Returns the token.
pub async fn create_user<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    email: &str,
    org_title: &str,
    role: Role,
    token: Option<&str>,
) -> Result<(user::Model, String), AccountError> {
    let email = email.trim().to_lowercase();
    if !email.contains('@') || email.len() > 254 {
        return Err(AccountError::Invalid(format!(
            "'{email}' is not an email address"
        )));
    }
    if let Some(t) = token
        && !(8..=256).contains(&t.len())
    {
        return Err(AccountError::Invalid(
            "a token must have 8 to 256 characters".into(),
        ));
    }
    let txn = crate::db::begin_write(db).await?;
    if user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(AccountError::EmailTaken(email));
    }
    let now = crate::util::now();
    let org = match organization::Entity::find()
        .filter(organization::Column::Title.eq(org_title))
        .one(&txn)
        .await?
    {
        Some(org) => org,
        None => {
            organization::ActiveModel {
                title: Set(org_title.to_string()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };
    let username = email.split('@').next().unwrap_or_default().to_string();
    let user = user::ActiveModel {
        email: Set(email.clone()),
        username: Set(username),
        first_name: Set(String::new()),
        last_name: Set(String::new()),
        active_organization_id: Set(Some(org.id)),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    organization_member::ActiveModel {
        organization_id: Set(org.id),
        user_id: Set(user.id),
        role: Set(role.as_str().to_string()),
        is_active: Set(true),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let token = token.map(str::to_owned).unwrap_or_else(new_token);
    insert_token(&txn, user.id, &token).await?;
    let changes = audit::Changes::new()
        .value("email", &user.email)
        .value("role", role.as_str());
    let object = audit::Object::new(AuditObject::Member, user.id, &user.email);
    let actor = audit::Actor::system(org.id);
    audit::record(&txn, &actor, AuditAction::Create, object, changes).await?;
    txn.commit().await?;
    Ok((user, token))
}

/// Issues a new random token for the user with `email`.
pub async fn create_token<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    email: &str,
) -> Result<String, AccountError> {
    let email = email.trim().to_lowercase();
    let txn = crate::db::begin_write(db).await?;
    let user = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&txn)
        .await?
        .ok_or(AccountError::NoSuchUser(email))?;
    let token = new_token();
    let made = insert_token(&txn, user.id, &token).await?;
    if let Some(org) = user.active_organization_id {
        let actor = audit::Actor::system(org);
        audit_token(&txn, &actor, &user, &made, AuditAction::TokenCreate).await?;
    }
    txn.commit().await?;
    Ok(token)
}

/// Records that `actor` created or revoked `token` of `user` (the token's id only).
pub async fn audit_token(
    db: &impl ConnectionTrait,
    actor: &audit::Actor,
    user: &user::Model,
    token: &api_token::Model,
    action: AuditAction,
) -> crate::error::ApiResult<()> {
    let title = format!("API token {} of {}", token.id, user.email);
    let object = audit::Object::new(AuditObject::Token, token.id, title);
    audit::record(db, actor, action, object, audit::Changes::new()).await
}

async fn insert_token(
    db: &impl ConnectionTrait,
    user_id: i64,
    token: &str,
) -> Result<api_token::Model, DbErr> {
    api_token::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(hash_token(token)),
        created_at: Set(crate::util::now()),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// True when no user exists yet.
pub async fn is_empty(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    Ok(user::Entity::find().count(db).await? == 0)
}

/// Users by id, for the creators and annotators that views show.
pub async fn users_by_id(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, user::Model>, DbErr> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect())
}
