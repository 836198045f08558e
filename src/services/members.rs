//! The members of an organization and their roles, as Label Studio Enterprise manages them:
//! list, add (an existing user joins; an unknown email becomes a user without a password),
//! change a role, deactivate and reactivate. Every change of a membership is made here, in one
//! write transaction that holds the organization's row, so two changes at once cannot leave it
//! without an active Owner; and every change forgets the cached authentications, so a new role
//! or a deactivation holds from the next request on.
use crate::auth::{Admin, AuthCache, AuthUser, Role};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::limits::{
    MAX_EMAIL_CHARS, MAX_MEMBERS_PER_ORGANIZATION, MAX_PERSON_NAME_CHARS, check_chars,
};
use crate::pagination::{Page, PageRequest};
use crate::services::audit;
use crate::views::members::{MemberInput, MemberUpdate};
use entity::enums::{AuditAction, AuditObject};
use entity::{organization, organization_member as member, user};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};

/// A membership with its user.
pub type Member = (member::Model, user::Model);

/// The caller's organization when `organization_id` is it; 404 for any other id (another
/// organization's, or none), as for every object of another organization.
pub async fn organization(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    organization_id: i64,
) -> ApiResult<organization::Model> {
    if organization_id != caller.organization_id {
        return Err(ApiError::NotFound);
    }
    organization::Entity::find_by_id(organization_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The members of organization `organization_id` (the caller's, else 404), active or not,
/// oldest first, one page of them, with their total.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &Admin,
    organization_id: i64,
    request: PageRequest,
) -> ApiResult<(Vec<Member>, u64, Page)> {
    organization(db, caller, organization_id).await?;
    let query = member::Entity::find()
        .filter(member::Column::OrganizationId.eq(organization_id))
        .order_by_asc(member::Column::Id);
    let total = query.clone().count(db).await?;
    let page = request.locate(total);
    let rows = query.offset(page.offset).limit(page.size).all(db).await?;
    let ids: Vec<i64> = rows.iter().map(|m| m.user_id).collect();
    let mut users = super::accounts::users_by_id(db, &ids).await?;
    let members = rows
        .into_iter()
        .filter_map(|m| users.remove(&m.user_id).map(|u| (m, u)))
        .collect();
    Ok((members, total, page))
}

/// The membership of user `user_id` in organization `organization_id` (the caller's, else
/// 404), with its user; 404 when they are not a member.
pub async fn get(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    organization_id: i64,
    user_id: i64,
) -> ApiResult<Member> {
    organization(db, caller, organization_id).await?;
    find(db, organization_id, user_id).await
}

async fn find(db: &impl ConnectionTrait, organization_id: i64, user_id: i64) -> ApiResult<Member> {
    let found = member::Entity::find()
        .filter(member::Column::OrganizationId.eq(organization_id))
        .filter(member::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let user = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((found, user))
}

/// A role as sent, or a 400 on `field` listing the choices.
pub fn parse_role(field: &str, raw: &str) -> ApiResult<Role> {
    Role::parse(raw.trim()).ok_or_else(|| {
        ApiError::field(
            field,
            format!(
                "\"{raw}\" is not a valid choice: Owner, Administrator, Manager, Reviewer or \
                 Annotator."
            ),
        )
    })
}

/// The stored role of a membership (an unknown stored name reads as the least powerful).
fn role_of(m: &member::Model) -> Role {
    Role::parse(&m.role).unwrap_or(Role::Annotator)
}

fn last_owner() -> ApiError {
    ApiError::bad_request(
        ErrorCode::LastOwner,
        "This is the organization's last active Owner: make another member an Owner first.",
    )
}

/// Opens the write transaction of a membership change and holds organization
/// `organization_id`'s row in it (`FOR UPDATE` on PostgreSQL; SQLite's write transactions are
/// exclusive already), so the last-Owner check and the change are one step.
async fn begin<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    organization_id: i64,
) -> ApiResult<C::Transaction> {
    if organization_id != caller.organization_id {
        return Err(ApiError::NotFound);
    }
    let txn = crate::db::begin_write(db).await?;
    organization::Entity::find_by_id(organization_id)
        .select_only()
        .column(organization::Column::Id)
        .lock_exclusive()
        .into_tuple::<i64>()
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(txn)
}

/// Active Owners of the organization.
async fn active_owners(db: &impl ConnectionTrait, organization_id: i64) -> ApiResult<u64> {
    Ok(member::Entity::find()
        .filter(member::Column::OrganizationId.eq(organization_id))
        .filter(member::Column::Role.eq(Role::Owner.as_str()))
        .filter(member::Column::IsActive.eq(true))
        .count(db)
        .await?)
}

fn check_input(input: &MemberInput) -> ApiResult<String> {
    let email = input.email.trim().to_lowercase();
    check_chars("email", &email, MAX_EMAIL_CHARS)?;
    let (local, domain) = email.split_once('@').unwrap_or(("", ""));
    if local.is_empty() || domain.is_empty() || email.chars().any(char::is_whitespace) {
        return Err(ApiError::field("email", "Enter a valid email address."));
    }
    for (field, value) in [
        ("first_name", &input.first_name),
        ("last_name", &input.last_name),
    ] {
        if let Some(v) = value {
            check_chars(field, v, MAX_PERSON_NAME_CHARS)?;
        }
    }
    Ok(email)
}

/// Adds the person with `input.email` to organization `organization_id` (the caller's, else
/// 404) with `input.role` (Annotator when absent; only an Owner may add an Owner). A user with
/// that email joins (and works in this organization from then on when they had no active
/// membership elsewhere); an unknown email becomes a user without a password or token, who
/// signs in once an operator sets a password. Someone already a member (active or not) is a
/// 400 on `email`. Returns the membership, its user, and whether the user was created.
pub async fn add<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    cache: &AuthCache,
    caller: &Admin,
    organization_id: i64,
    input: MemberInput,
) -> ApiResult<(member::Model, user::Model, bool)> {
    let email = check_input(&input)?;
    let role = match input.role.as_deref() {
        None => Role::Annotator,
        Some(raw) => parse_role("role", raw)?,
    };
    if role == Role::Owner && caller.role != Role::Owner {
        return Err(ApiError::Forbidden);
    }
    let txn = begin(db, caller, organization_id).await?;
    let members = member::Entity::find()
        .filter(member::Column::OrganizationId.eq(organization_id))
        .count(&txn)
        .await?;
    if members >= MAX_MEMBERS_PER_ORGANIZATION {
        return Err(ApiError::field(
            "email",
            format!(
                "An organization has at most {MAX_MEMBERS_PER_ORGANIZATION} members, active or not."
            ),
        ));
    }
    let now = crate::util::now();
    let existing = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&txn)
        .await?;
    let (person, created) = match existing {
        Some(u) => {
            let already = member::Entity::find()
                .filter(member::Column::OrganizationId.eq(organization_id))
                .filter(member::Column::UserId.eq(u.id))
                .one(&txn)
                .await?;
            if let Some(m) = already {
                let what = if m.is_active {
                    "is already a member"
                } else {
                    "is a deactivated member: reactivate them instead"
                };
                return Err(ApiError::field("email", format!("{email} {what}.")));
            }
            (u, false)
        }
        None => {
            let username = email.split('@').next().unwrap_or_default().to_string();
            let created = user::ActiveModel {
                email: Set(email.clone()),
                username: Set(username),
                first_name: Set(input.first_name.clone().unwrap_or_default().trim().into()),
                last_name: Set(input.last_name.clone().unwrap_or_default().trim().into()),
                active_organization_id: Set(Some(organization_id)),
                is_active: Set(true),
                password_hash: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            (created, true)
        }
    };
    let membership = member::ActiveModel {
        organization_id: Set(organization_id),
        user_id: Set(person.id),
        role: Set(role.as_str().to_string()),
        is_active: Set(true),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let person = if created || works_elsewhere(&txn, &person).await? {
        person
    } else {
        let mut active: user::ActiveModel = person.into();
        active.active_organization_id = Set(Some(organization_id));
        active.updated_at = Set(now);
        active.update(&txn).await?
    };
    let changes = audit::Changes::new()
        .value("email", person.email.as_str())
        .value("role", role.as_str())
        .value("new_user", created);
    let object = audit::Object::new(AuditObject::Member, person.id, &person.email);
    audit::record(&txn, caller, AuditAction::Create, object, changes).await?;
    txn.commit().await?;
    cache.clear();
    tracing::info!(
        organization = organization_id,
        user = person.id,
        role = role.as_str(),
        created,
        by = caller.user.id,
        "added a member"
    );
    Ok((membership, person, created))
}

/// Whether `person` has an active membership in their active organization.
async fn works_elsewhere(db: &impl ConnectionTrait, person: &user::Model) -> ApiResult<bool> {
    let Some(org) = person.active_organization_id else {
        return Ok(false);
    };
    Ok(member::Entity::find()
        .filter(member::Column::OrganizationId.eq(org))
        .filter(member::Column::UserId.eq(person.id))
        .filter(member::Column::IsActive.eq(true))
        .one(db)
        .await?
        .is_some())
}

/// Changes the role and/or the active flag of user `user_id`'s membership in organization
/// `organization_id` (the caller's, else 404; 404 when not a member). Only an Owner may make
/// or unmake an Owner (or deactivate or reactivate one), else 403; a change that would leave
/// no active Owner is a 400 `last_owner`.
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    cache: &AuthCache,
    caller: &Admin,
    organization_id: i64,
    user_id: i64,
    input: MemberUpdate,
) -> ApiResult<Member> {
    let new_role = input
        .role
        .as_deref()
        .map(|raw| parse_role("role", raw))
        .transpose()?;
    let txn = begin(db, caller, organization_id).await?;
    let (found, person) = find(&txn, organization_id, user_id).await?;
    let old_role = role_of(&found);
    let role = new_role.unwrap_or(old_role);
    let active = input.active.unwrap_or(found.is_active);
    let asked = input.role.is_some() || input.active.is_some();
    let touches_owner = role == Role::Owner || old_role == Role::Owner;
    if asked && touches_owner && caller.role != Role::Owner {
        return Err(ApiError::Forbidden);
    }
    if role == old_role && active == found.is_active {
        return Ok((found, person));
    }
    let stays_owner = role == Role::Owner && active;
    if old_role == Role::Owner
        && found.is_active
        && !stays_owner
        && active_owners(&txn, organization_id).await? <= 1
    {
        return Err(last_owner());
    }
    let was_active = found.is_active;
    let mut change: member::ActiveModel = found.into();
    change.role = Set(role.as_str().to_string());
    change.is_active = Set(active);
    let updated = change.update(&txn).await?;
    let action = if role == old_role {
        AuditAction::Update
    } else {
        AuditAction::MemberRoleChanged
    };
    let changes = audit::Changes::new()
        .field("role", old_role.as_str(), role.as_str())
        .field("active", was_active, active);
    let object = audit::Object::new(AuditObject::Member, person.id, &person.email);
    audit::record(&txn, caller, action, object, changes).await?;
    txn.commit().await?;
    cache.clear();
    tracing::info!(
        organization = organization_id,
        user = user_id,
        role = role.as_str(),
        active,
        by = caller.user.id,
        "changed a membership"
    );
    Ok((updated, person))
}

/// Deactivates user `user_id`'s membership (the `DELETE` of the API): kept, with what they
/// made, and reactivated by [`update`] with `active: true`. The same rules as [`update`].
pub async fn deactivate<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    cache: &AuthCache,
    caller: &Admin,
    organization_id: i64,
    user_id: i64,
) -> ApiResult<Member> {
    let input = MemberUpdate {
        role: None,
        active: Some(false),
    };
    update(db, cache, caller, organization_id, user_id, input).await
}
