//! Deployment labels: a name (`production`, `staging`, any) that points at one version of a
//! prompt at a time. `production` is the prompt's deployed version, the one its Label Studio ML
//! backend and its schedules without a version answer with: moving it is deploying, and the
//! prompt's `deployed_version` field reads it. Every move is kept in the prompt's history with
//! who and why; a protected label is moved or removed only by an Owner or Administrator.
//! Rolling back is moving the label back.
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::limits::{MAX_COMMENT_CHARS, MAX_LABELS_PER_PROMPT, check_chars};
use crate::services::audit::{self, Changes, Object};
use crate::services::{comments, prompts};
use entity::enums::{AuditAction, AuditObject, CommentKind};
use entity::{model_interface, model_version, version_label};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, PaginatorTrait,
    QueryFilter, QueryOrder, TransactionSession, TransactionTrait,
};

/// The label that is the prompt's deployed version.
pub const PRODUCTION: &str = "production";

/// The longest label name.
pub const MAX_NAME_CHARS: usize = 64;

/// What a change of label asks for.
#[derive(Debug, Clone, Default)]
pub struct LabelChange {
    /// The version the label is to point at; `None` removes the label.
    pub version: Option<i64>,
    /// Whether the label is protected from now on; `None` keeps it as it is (a new label is
    /// not protected).
    pub protected: Option<bool>,
    /// Why, kept in the prompt's history.
    pub reason: Option<String>,
}

/// Checks a label's name: 1 to 64 characters, lowercase ASCII letters, digits, `-`, `_` and
/// `.`, starting with a letter or digit (so it reads the same in a URL, a CLI flag and a
/// YAML file). Returns it trimmed.
pub fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::field(
            "name",
            format!("A label's name has 1 to {MAX_NAME_CHARS} characters."),
        ));
    }
    if !starts_well || !name.chars().all(ok_char) {
        return Err(ApiError::field(
            "name",
            "A label's name uses lowercase letters, digits, '-', '_' and '.', and starts with \
             a letter or a digit (for example production or staging-eu).",
        ));
    }
    Ok(name.to_string())
}

/// The labels of prompt `prompt_id` (already checked to be the caller's), by name.
pub async fn of_prompt(
    db: &impl ConnectionTrait,
    prompt_id: i64,
) -> ApiResult<Vec<version_label::Model>> {
    Ok(version_label::Entity::find()
        .filter(version_label::Column::PromptId.eq(prompt_id))
        .order_by_asc(version_label::Column::Name)
        .all(db)
        .await?)
}

/// The labels of the caller's prompt `prompt_id`; 404 for another organization's prompt.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
) -> ApiResult<Vec<version_label::Model>> {
    let prompt = prompts::get(db, caller, prompt_id).await?;
    of_prompt(db, prompt.id).await
}

/// The label `name` of prompt `prompt_id`, if it is set.
pub async fn find(
    db: &impl ConnectionTrait,
    prompt_id: i64,
    name: &str,
) -> ApiResult<Option<version_label::Model>> {
    Ok(version_label::Entity::find()
        .filter(version_label::Column::PromptId.eq(prompt_id))
        .filter(version_label::Column::Name.eq(name))
        .one(db)
        .await?)
}

/// The version label `name` of the caller's prompt `prompt_id` points at; 404 when the prompt
/// is not the caller's or has no such label.
pub async fn version_of(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    name: &str,
) -> ApiResult<model_version::Model> {
    let prompt = prompts::get(db, caller, prompt_id).await?;
    let label = find(db, prompt.id, name).await?.ok_or(ApiError::NotFound)?;
    model_version::Entity::find_by_id(label.version_id)
        .filter(model_version::Column::ParentModelId.eq(prompt.id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Sets, moves or removes label `name` of the caller's prompt `prompt_id`, with the history
/// entry and the audit record, in one transaction. `production` goes through the prompt's
/// deployment (the same history entry, audit action and webhook as changing
/// `deployed_version`). Returns the label as it now is (`None` once removed); removing a label
/// that is not set is a 404.
pub async fn set<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &Manager,
    prompt_id: i64,
    name: &str,
    change: LabelChange,
) -> ApiResult<Option<version_label::Model>> {
    let name = check_name(name)?;
    if change.version.is_none() {
        // Removing a label that is not set: 404, as for any object that is not there.
        let prompt = prompts::get(db, caller, prompt_id).await?;
        find(db, prompt.id, &name)
            .await?
            .ok_or(ApiError::NotFound)?;
    }
    if name == PRODUCTION {
        let prompt = prompts::get(db, caller, prompt_id).await?;
        if let Some(id) = change.version {
            version_of_prompt(db, caller, prompt.id, id).await?;
        }
        let input = crate::views::prompts::PromptInput {
            deployed_version: Some(change.version),
            reason: change.reason,
            ..Default::default()
        };
        let prompt = prompts::update_with(db, caller, prompt_id, input, change.protected).await?;
        return find(db, prompt.id, PRODUCTION).await;
    }
    let txn = crate::db::begin_write(db).await?;
    let prompt = prompts::get(&txn, caller, prompt_id).await?;
    let label = move_in(&txn, caller, &prompt, &name, &change).await?;
    txn.commit().await?;
    Ok(label)
}

/// Moves label `name` of `prompt` (read in `txn`) as `change` asks, checking the version and
/// the protection; records the history entry and the audit record of labels other than
/// `production` (whose entries the deployment writes). No change, no entry.
pub(crate) async fn move_in(
    txn: &impl ConnectionTrait,
    caller: &Manager,
    prompt: &model_interface::Model,
    name: &str,
    change: &LabelChange,
) -> ApiResult<Option<version_label::Model>> {
    let existing = find(txn, prompt.id, name).await?;
    let was_protected = existing.as_ref().is_some_and(|l| l.protected);
    let protect = change.protected.unwrap_or(was_protected);
    if was_protected || protect {
        // Moving, removing or (un)protecting a protected label takes an Owner or Administrator.
        AuthUser::clone(caller).admin()?;
    }
    let reason = match change.reason.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => {
            check_chars("reason", r, MAX_COMMENT_CHARS)?;
            Some(r.to_string())
        }
        _ => None,
    };
    let version = match change.version {
        Some(id) => Some(version_of_prompt(txn, caller, prompt.id, id).await?),
        None => None,
    };
    let now = crate::util::now();
    let after = match (&existing, &version) {
        (None, None) => return Ok(None),
        (Some(old), None) => {
            old.clone().delete(txn).await?;
            None
        }
        (Some(old), Some(v)) if old.version_id == v.id && old.protected == protect => {
            return Ok(existing);
        }
        (Some(old), Some(v)) => {
            let mut row: version_label::ActiveModel = old.clone().into();
            row.version_id = Set(v.id);
            row.protected = Set(protect);
            row.updated_by_id = Set(Some(caller.user.id));
            row.updated_at = Set(now);
            Some(row.update(txn).await?)
        }
        (None, Some(v)) => {
            let count = version_label::Entity::find()
                .filter(version_label::Column::PromptId.eq(prompt.id))
                .count(txn)
                .await?;
            if count >= MAX_LABELS_PER_PROMPT as u64 {
                return Err(ApiError::field(
                    "name",
                    format!(
                        "A prompt has at most {MAX_LABELS_PER_PROMPT} labels; remove one first."
                    ),
                ));
            }
            Some(
                version_label::ActiveModel {
                    id: NotSet,
                    organization_id: Set(prompt.organization_id),
                    prompt_id: Set(prompt.id),
                    name: Set(name.to_string()),
                    version_id: Set(v.id),
                    protected: Set(protect),
                    updated_by_id: Set(Some(caller.user.id)),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(txn)
                .await?,
            )
        }
    };
    // A move of `production` is a deployment, whose history entry and audit record the
    // prompt's update writes; protecting it or lifting its protection is recorded here.
    let moved = existing.as_ref().map(|l| l.version_id) != version.as_ref().map(|v| v.id);
    if name != PRODUCTION || !moved {
        record(
            txn,
            caller,
            prompt,
            name,
            existing.as_ref(),
            version.as_ref(),
            reason,
        )
        .await?;
    }
    Ok(after)
}

/// Version `id` of the caller's prompt `prompt_id` (a 400 on `version` when it is not one of
/// the prompt's versions).
async fn version_of_prompt(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    id: i64,
) -> ApiResult<model_version::Model> {
    crate::services::versions::get(db, caller, prompt_id, id)
        .await
        .map_err(|e| e.not_found_as_field("version", id))
}

/// The history entry and the audit record of a move of label `name` (not `production`).
async fn record(
    txn: &impl ConnectionTrait,
    caller: &Manager,
    prompt: &model_interface::Model,
    name: &str,
    before: Option<&version_label::Model>,
    after: Option<&model_version::Model>,
    reason: Option<String>,
) -> ApiResult<()> {
    let before_title = match before {
        Some(l) => model_version::Entity::find_by_id(l.version_id)
            .one(txn)
            .await?
            .map_or(format!("#{}", l.version_id), |v| v.title),
        None => String::new(),
    };
    let what = match (before, after) {
        (None, Some(v)) => format!("Label {name} set on {}.", v.title),
        (Some(_), Some(v)) if before.is_some_and(|l| l.version_id == v.id) => {
            let state = if before.is_some_and(|l| l.protected) {
                "no longer protected"
            } else {
                "protected"
            };
            format!("Label {name} on {} is {state}.", v.title)
        }
        (Some(_), Some(v)) => format!("Label {name} moved to {} (was {before_title}).", v.title),
        (Some(_), None) => format!("Label {name} removed (was on {before_title})."),
        (None, None) => return Ok(()),
    };
    let text = match &reason {
        Some(r) => format!("{what} Reason: {r}"),
        None => format!("{what} (no reason given)"),
    };
    comments::record(
        txn,
        caller,
        prompt.id,
        after.map(|v| v.id),
        CommentKind::Label,
        text,
    )
    .await?;
    let changes = Changes::new().value("label", name).field(
        "version",
        before.map(|l| l.version_id),
        after.map(|v| v.id),
    );
    let object = Object::new(AuditObject::Prompt, prompt.id, &prompt.title);
    audit::record(txn, &**caller, AuditAction::LabelMove, object, changes).await
}

/// Sets the document's labels on the versions the import made (by title). A label stays
/// protected only when the importer may protect it (an Owner or Administrator); otherwise it
/// arrives unprotected, and the answer's notes say so.
pub(crate) async fn import(
    txn: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt: &model_interface::Model,
    wanted: &[crate::views::registry::LabelAsset],
    created: &[model_version::Model],
    notes: &mut Vec<String>,
) -> ApiResult<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let manager = caller.clone().manager()?;
    let admin = caller.clone().admin().is_ok();
    for l in wanted {
        let name = check_name(&l.name).map_err(|_| {
            ApiError::bad_request(
                ErrorCode::InvalidImport,
                format!("\"{}\" is not a label's name", l.name),
            )
        })?;
        let Some(version) = created.iter().find(|v| v.title == l.version) else {
            notes.push(format!(
                "the label {name} points at \"{}\", which is not in the document",
                l.version
            ));
            continue;
        };
        if l.protected && !admin {
            notes.push(format!(
                "the label {name} arrives unprotected: only an Owner or Administrator protects a label"
            ));
        }
        let change = LabelChange {
            version: Some(version.id),
            protected: Some(l.protected && admin),
            reason: Some("imported".into()),
        };
        move_in(txn, &manager, prompt, &name, &change).await?;
    }
    Ok(())
}
