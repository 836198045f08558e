//! The audit log: every change is recorded by [`record`] in the transaction of the change,
//! with who made it ([`Actor`]), the organization, the action, the object ([`Object`]) and the
//! fields it changed ([`Changes`]). Entries are listed newest first by [`list`] and removed
//! after the retention period by [`prune`].
//!
//! **What a change holds.** Plain fields as `{"field", "old", "new"}` (`old` left out for a
//! new object). Secrets only as `{"field", "secret": "set" | "changed" | "removed"}`: a
//! [`Changes`] never takes a secret's value, because every name that looks like a secret
//! (`*_enc`, `*_hash`, `password`, `token`, `api_key`, `secret`...) is turned into a secret
//! state, whatever the caller passes. Long texts (prompts, label configs, task data over
//! [`MAX_TEXT_CHARS`] characters) are shortened to their start, their length and the first
//! 12 hex digits of their SHA-256, so two versions of a prompt can be told apart without the
//! log holding every prompt twice.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageRequest};
use chrono::{DateTime, Utc};
use entity::audit_log;
use entity::enums::{AuditAction, AuditActor, AuditObject};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::value::sea_value_to_json_value;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IdenStatic, Iterable, ModelTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use serde_json::{Value, json};

/// Texts (and JSON values written out) longer than this many characters are shortened.
pub const MAX_TEXT_CHARS: usize = 200;
/// Characters of a shortened text kept as its start.
const KEPT_CHARS: usize = 120;
/// Characters of an object's title kept for display.
const MAX_TITLE_CHARS: usize = 200;
/// Columns every table has that say nothing about a change.
const BOOKKEEPING: [&str; 6] = [
    "id",
    "organization_id",
    "created_at",
    "updated_at",
    "created_by_id",
    "updated_by_id",
];

/// Who made a change: a user (their id and email as they were), Prompter itself, or a
/// schedule; and the organization the change belongs to.
#[derive(Debug, Clone)]
pub struct Actor {
    kind: AuditActor,
    user_id: Option<i64>,
    email: Option<String>,
    organization_id: i64,
    /// The schedule that fired, for [`AuditActor::Schedule`].
    schedule_id: Option<i64>,
}

impl Actor {
    /// Prompter itself, acting in organization `organization_id` (a background job).
    pub fn system(organization_id: i64) -> Actor {
        Actor {
            kind: AuditActor::System,
            user_id: None,
            email: None,
            organization_id,
            schedule_id: None,
        }
    }

    /// Schedule `schedule_id` of organization `organization_id` firing (its entries name the
    /// schedule among their changes).
    pub fn schedule(organization_id: i64, schedule_id: i64) -> Actor {
        Actor {
            kind: AuditActor::Schedule,
            user_id: None,
            email: None,
            organization_id,
            schedule_id: Some(schedule_id),
        }
    }

    /// User `user` acting in organization `organization_id` (sign-in, where no caller exists yet).
    pub fn person(user: &entity::user::Model, organization_id: i64) -> Actor {
        Actor {
            kind: AuditActor::User,
            user_id: Some(user.id),
            email: Some(user.email.clone()),
            organization_id,
            schedule_id: None,
        }
    }

    /// The organization the change belongs to.
    pub fn organization_id(&self) -> i64 {
        self.organization_id
    }
}

/// Anything that can stand for who made a change: a caller, or an [`Actor`].
pub trait Acting {
    /// The actor.
    fn actor(&self) -> Actor;
}

impl Acting for Actor {
    fn actor(&self) -> Actor {
        self.clone()
    }
}

impl Acting for AuthUser {
    fn actor(&self) -> Actor {
        Actor::person(&self.user, self.organization_id)
    }
}

impl Acting for crate::auth::Manager {
    fn actor(&self) -> Actor {
        (**self).actor()
    }
}

impl Acting for crate::auth::Admin {
    fn actor(&self) -> Actor {
        (**self).actor()
    }
}

/// The object a change is about: its kind, id and a title to show.
#[derive(Debug, Clone)]
pub struct Object {
    kind: AuditObject,
    id: Option<i64>,
    title: String,
}

impl Object {
    /// Object `id` of kind `kind`, shown as `title` (cut to 200 characters).
    pub fn new(kind: AuditObject, id: i64, title: impl AsRef<str>) -> Object {
        Object {
            kind,
            id: Some(id),
            title: title.as_ref().chars().take(MAX_TITLE_CHARS).collect(),
        }
    }
}

/// The state of a secret after a change: the only thing the log says about a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretState {
    /// It had none and now has one.
    Set,
    /// It had one and now has another.
    Changed,
    /// It had one and now has none.
    Removed,
}

impl SecretState {
    /// The state from whether there was a secret before and after, and whether it changed;
    /// `None` when nothing changed.
    pub fn between(before: bool, after: bool, changed: bool) -> Option<SecretState> {
        match (before, after) {
            (false, true) => Some(SecretState::Set),
            (true, false) => Some(SecretState::Removed),
            (true, true) if changed => Some(SecretState::Changed),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SecretState::Set => "set",
            SecretState::Changed => "changed",
            SecretState::Removed => "removed",
        }
    }
}

/// Whether a field name looks like a secret's: its value must never be recorded.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.ends_with("_enc")
        || name.ends_with("_hash")
        || name.contains("password")
        || name.contains("secret")
        || name.contains("api_key")
        || name.contains("auth_token")
        || name.contains("credentials")
        || name == "token"
        || name == "key"
}

/// The shown name of a secret column (`api_key_enc` → `api_key`).
fn secret_label(name: &str) -> &str {
    name.strip_suffix("_enc")
        .or_else(|| name.strip_suffix("_hash"))
        .unwrap_or(name)
}

/// The fields a change changed, built one by one: plain values, long texts shortened, and
/// secrets only as their [`SecretState`]. A name that looks like a secret's never keeps its
/// value, whichever method it is given to.
#[derive(Debug, Clone, Default)]
pub struct Changes(Vec<Value>);

impl Changes {
    /// No changes yet.
    pub fn new() -> Changes {
        Changes(Vec::new())
    }

    /// Field `name` went from `old` to `new`; left out when they are equal.
    pub fn field<T: Serialize>(mut self, name: &'static str, old: T, new: T) -> Changes {
        let (old, new) = (to_json(old), to_json(new));
        if old == new {
            return self;
        }
        if is_secret_name(name) {
            let state = SecretState::between(!old.is_null(), !new.is_null(), true);
            return match state {
                Some(state) => self.secret(name, state),
                None => self,
            };
        }
        self.0
            .push(json!({"field": name, "old": shorten(old), "new": shorten(new)}));
        self
    }

    /// Field `name` has value `value` (a new object's field, or a count).
    pub fn value<T: Serialize>(mut self, name: &'static str, value: T) -> Changes {
        let value = to_json(value);
        if is_secret_name(name) {
            return if value.is_null() {
                self
            } else {
                self.secret(name, SecretState::Set)
            };
        }
        self.0.push(json!({"field": name, "new": shorten(value)}));
        self
    }

    /// Secret `name` was set, changed or removed; its value is never taken.
    pub fn secret(mut self, name: &str, state: SecretState) -> Changes {
        self.0
            .push(json!({"field": secret_label(name), "secret": state.as_str()}));
        self
    }

    /// The columns whose values differ between `before` and `after` (two states of one row);
    /// bookkeeping columns left out, secret columns as their state.
    pub fn diff<M: ModelTrait>(before: &M, after: &M) -> Changes {
        let mut changes = Changes::new();
        for column in <M::Entity as EntityTrait>::Column::iter() {
            let name = column.as_str();
            if BOOKKEEPING.contains(&name) {
                continue;
            }
            let (old, new) = (before.get(column), after.get(column));
            if old == new {
                continue;
            }
            let (old, new) = (sea_value_to_json_value(&old), sea_value_to_json_value(&new));
            if is_secret_name(name) {
                if let Some(state) = SecretState::between(!old.is_null(), !new.is_null(), true) {
                    changes = changes.secret(name, state);
                }
                continue;
            }
            if old != new {
                changes
                    .0
                    .push(json!({"field": name, "old": shorten(old), "new": shorten(new)}));
            }
        }
        changes
    }

    /// The columns of a new row that hold something (not null, not empty); bookkeeping
    /// columns left out, secret columns as "set".
    pub fn created<M: ModelTrait>(model: &M) -> Changes {
        let mut changes = Changes::new();
        for column in <M::Entity as EntityTrait>::Column::iter() {
            let name = column.as_str();
            if BOOKKEEPING.contains(&name) {
                continue;
            }
            let value = sea_value_to_json_value(&model.get(column));
            let empty = match &value {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                _ => false,
            };
            if empty {
                continue;
            }
            if is_secret_name(name) {
                changes = changes.secret(name, SecretState::Set);
            } else {
                changes
                    .0
                    .push(json!({"field": name, "new": shorten(value)}));
            }
        }
        changes
    }

    /// These changes without field `name`'s (it goes into an entry of its own).
    pub fn without(mut self, name: &str) -> Changes {
        self.0.retain(|c| c["field"] != name);
        self
    }

    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether field `name` is among the changes.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|c| c["field"] == name)
    }
}

/// A value as JSON (`null` if it cannot be written, which no plain value does).
fn to_json<T: Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A value as recorded: a string or a written-out JSON value over [`MAX_TEXT_CHARS`]
/// characters becomes its start, its length and a short digest; anything else is kept.
fn shorten(value: Value) -> Value {
    let text = match &value {
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => value.to_string(),
        _ => return value,
    };
    let chars = text.chars().count();
    if chars <= MAX_TEXT_CHARS {
        return value;
    }
    let start: String = text.chars().take(KEPT_CHARS).collect();
    let digest = crate::crypto::hash_token(&text);
    Value::String(format!(
        "{start}… ({chars} characters, sha256 {})",
        &digest[..12.min(digest.len())]
    ))
}

/// Records `action` by `actor` on `object` with `changes`, over `db` (the transaction of the
/// change, so the entry exists exactly when the change does).
pub async fn record(
    db: &impl ConnectionTrait,
    actor: &impl Acting,
    action: AuditAction,
    object: Object,
    changes: Changes,
) -> ApiResult<()> {
    let actor = actor.actor();
    let mut changes = changes;
    if let Some(schedule) = actor.schedule_id {
        changes = changes.value("schedule", schedule);
    }
    audit_log::ActiveModel {
        id: NotSet,
        organization_id: Set(actor.organization_id),
        actor_type: Set(actor.kind),
        actor_id: Set(actor.user_id),
        actor_email: Set(actor.email),
        action: Set(action),
        object_type: Set(object.kind),
        object_id: Set(object.id),
        object_title: Set(object.title),
        changes: Set(Value::Array(changes.0)),
        created_at: Set(crate::util::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// What [`list`] selects; every part optional.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Entries by this user.
    pub actor: Option<i64>,
    /// Entries of this action.
    pub action: Option<AuditAction>,
    /// Entries about this kind of object.
    pub object_type: Option<AuditObject>,
    /// Entries about the object with this id.
    pub object_id: Option<i64>,
    /// Entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub until: Option<DateTime<Utc>>,
}

impl Filter {
    /// The filter a query asks for; a value that is not one of its kind answers 400 on its
    /// field. Empty values mean no filter.
    pub fn parse(query: &crate::views::audit::AuditLogQuery) -> ApiResult<Filter> {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        let id = |field: &str, v: &Option<String>| -> ApiResult<Option<i64>> {
            given(v)
                .map(|s| {
                    s.parse::<i64>()
                        .map_err(|_| ApiError::field(field, format!("\"{s}\" is not an id.")))
                })
                .transpose()
        };
        let time = |field: &str, v: &Option<String>| -> ApiResult<Option<DateTime<Utc>>> {
            given(v)
                .map(|s| {
                    parse_time(s).ok_or_else(|| {
                        ApiError::field(
                            field,
                            format!(
                                "\"{s}\" is not a time: give 2026-12-08 or 2026-12-08T10:00:00Z."
                            ),
                        )
                    })
                })
                .transpose()
        };
        let filter = Filter {
            actor: id("actor", &query.actor)?,
            action: given(&query.action)
                .map(|s| {
                    AuditAction::parse(s)
                        .ok_or_else(|| ApiError::field("action", AuditAction::invalid_choice(s)))
                })
                .transpose()?,
            object_type: given(&query.object_type)
                .map(|s| {
                    AuditObject::parse(s).ok_or_else(|| {
                        ApiError::field("object_type", AuditObject::invalid_choice(s))
                    })
                })
                .transpose()?,
            object_id: id("object_id", &query.object_id)?,
            since: time("since", &query.since)?,
            until: time("until", &query.until)?,
        };
        if let (Some(since), Some(until)) = (filter.since, filter.until)
            && until < since
        {
            return Err(ApiError::field("until", "until is before since."));
        }
        Ok(filter)
    }
}

/// A time as RFC 3339, or a date (`YYYY-MM-DD`) meaning its start in UTC.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// One page of the caller organization's entries matching `filter`, newest first, with their
/// count and the page served.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    filter: &Filter,
    request: PageRequest,
) -> ApiResult<(Vec<audit_log::Model>, u64, Page)> {
    use audit_log::Column as C;
    let mut query = audit_log::Entity::find().filter(C::OrganizationId.eq(caller.organization_id));
    if let Some(actor) = filter.actor {
        query = query.filter(C::ActorId.eq(actor));
    }
    if let Some(action) = filter.action {
        query = query.filter(C::Action.eq(action));
    }
    if let Some(kind) = filter.object_type {
        query = query.filter(C::ObjectType.eq(kind));
    }
    if let Some(id) = filter.object_id {
        query = query.filter(C::ObjectId.eq(id));
    }
    if let Some(since) = filter.since {
        query = query.filter(C::CreatedAt.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(C::CreatedAt.lt(until));
    }
    let count = query.clone().count(db).await?;
    let page = request.locate(count);
    let items = query
        .order_by_desc(C::CreatedAt)
        .order_by_desc(C::Id)
        .offset(page.offset)
        .limit(page.size)
        .all(db)
        .await?;
    Ok((items, count, page))
}

/// Deletes the entries older than `days` days before `now` (none when `days` is 0: kept
/// forever); returns how many.
pub async fn prune(db: &impl ConnectionTrait, now: DateTime<Utc>, days: u64) -> ApiResult<u64> {
    if days == 0 {
        return Ok(0);
    }
    let days = i64::try_from(days)
        .unwrap_or(i64::MAX / 86_400)
        .min(1_000_000);
    let cutoff = now - chrono::Duration::days(days);
    let done = audit_log::Entity::delete_many()
        .filter(audit_log::Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// Records the creation of `model` as `object`, with its fields that hold something.
pub async fn created<M: ModelTrait>(
    db: &impl ConnectionTrait,
    actor: &impl Acting,
    object: Object,
    model: &M,
) -> ApiResult<()> {
    record(
        db,
        actor,
        AuditAction::Create,
        object,
        Changes::created(model),
    )
    .await
}

/// Records an update of `object` from `before` to `after`; nothing when no field changed.
pub async fn updated<M: ModelTrait>(
    db: &impl ConnectionTrait,
    actor: &impl Acting,
    object: Object,
    before: &M,
    after: &M,
) -> ApiResult<()> {
    let changes = Changes::diff(before, after);
    if changes.is_empty() {
        return Ok(());
    }
    record(db, actor, AuditAction::Update, object, changes).await
}

/// Records the deletion of `object`.
pub async fn deleted(
    db: &impl ConnectionTrait,
    actor: &impl Acting,
    object: Object,
) -> ApiResult<()> {
    record(db, actor, AuditAction::Delete, object, Changes::new()).await
}

/// The people who appear in the caller organization's audit log (id and newest email), by
/// email: what the log can be filtered by.
pub async fn actors(db: &impl ConnectionTrait, caller: &AuthUser) -> ApiResult<Vec<(i64, String)>> {
    use audit_log::Column as C;
    let rows: Vec<(Option<i64>, Option<String>)> = audit_log::Entity::find()
        .select_only()
        .column(C::ActorId)
        .column(C::ActorEmail)
        .filter(C::OrganizationId.eq(caller.organization_id))
        .filter(C::ActorId.is_not_null())
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut seen = std::collections::BTreeMap::new();
    for (id, email) in rows {
        if let (Some(id), Some(email)) = (id, email) {
            seen.insert(id, email);
        }
    }
    let mut out: Vec<(i64, String)> = seen.into_iter().collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}
