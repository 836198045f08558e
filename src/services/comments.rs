//! A prompt's history of comments: notes people write, and the reasons of deployment,
//! status, tag and domain changes. Append-only: nothing here edits or deletes a comment.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageRequest};
use crate::services::audit;
use entity::enums::{AuditObject, CommentKind};
use entity::{model_version, prompt_comment};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession,
};

/// Appends a comment of `kind` to prompt `prompt_id` (already checked to be the caller's).
pub async fn record(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: Option<i64>,
    kind: CommentKind,
    text: String,
) -> ApiResult<prompt_comment::Model> {
    Ok(prompt_comment::ActiveModel {
        id: NotSet,
        organization_id: Set(caller.organization_id),
        prompt_id: Set(prompt_id),
        version_id: Set(version_id),
        author_id: Set(Some(caller.user.id)),
        kind: Set(kind),
        text: Set(text),
        created_at: Set(crate::util::now()),
    }
    .insert(db)
    .await?)
}

/// A comment someone writes on prompt `prompt_id`, optionally about one of its versions.
pub async fn create<C: ConnectionTrait + sea_orm::TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    prompt_id: i64,
    text: Option<String>,
    version_id: Option<i64>,
) -> ApiResult<prompt_comment::Model> {
    let prompt = super::prompts::get(db, caller, prompt_id).await?;
    let text = text.unwrap_or_default().trim().to_string();
    if text.is_empty() {
        return Err(ApiError::field("text", "This field may not be blank."));
    }
    crate::limits::check_chars("text", &text, crate::limits::MAX_COMMENT_CHARS)?;
    if let Some(version) = version_id {
        model_version::Entity::find_by_id(version)
            .filter(model_version::Column::ParentModelId.eq(prompt.id))
            .one(db)
            .await?
            .ok_or_else(|| {
                ApiError::field(
                    "version",
                    format!("Invalid pk \"{version}\" - not a version of this prompt."),
                )
            })?;
    }
    let txn = crate::db::begin_write(db).await?;
    let made = record(
        &txn,
        caller,
        prompt.id,
        version_id,
        CommentKind::Comment,
        text,
    )
    .await?;
    let title = format!("Comment {} on {}", made.id, prompt.title);
    let object = audit::Object::new(AuditObject::Comment, made.id, title);
    audit::created(&txn, caller, object, &made).await?;
    txn.commit().await?;
    Ok(made)
}

/// One page of the comments of prompt `prompt_id`, newest first, with their count and the
/// page served.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    request: PageRequest,
) -> ApiResult<(Vec<prompt_comment::Model>, u64, Page)> {
    let prompt = super::prompts::get(db, caller, prompt_id).await?;
    let query =
        prompt_comment::Entity::find().filter(prompt_comment::Column::PromptId.eq(prompt.id));
    let count = query.clone().count(db).await?;
    let page = request.locate(count);
    let items = query
        .order_by_desc(prompt_comment::Column::Id)
        .offset(page.offset)
        .limit(page.size)
        .all(db)
        .await?;
    Ok((items, count, page))
}
