//! Annotations of tasks; every change recounts the task's counters.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::services::audit::{self, Object};
use crate::services::{counters, projects, scored, tasks};
use crate::views::annotations::AnnotationInput;

use entity::{annotation, prediction};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionSession, TransactionTrait,
};
use serde_json::Value;

fn result_of(value: Option<Option<Value>>) -> ApiResult<Option<Value>> {
    match value.map(|v| v.unwrap_or(Value::Null)) {
        None => Ok(None),
        Some(Value::Array(items)) => {
            if items.iter().all(Value::is_object) {
                Ok(Some(Value::Array(items)))
            } else {
                Err(ApiError::field(
                    "result",
                    "Each region must be a JSON object.",
                ))
            }
        }
        Some(Value::Null) => Err(ApiError::field("result", "This field may not be null.")),
        Some(_) => Err(ApiError::field("result", "Expected a list of regions.")),
    }
}

async fn check_parents(
    db: &impl ConnectionTrait,
    task_id: i64,
    input: &AnnotationInput,
) -> ApiResult<()> {
    if let Some(id) = input.parent_prediction {
        let ok = prediction::Entity::find_by_id(id)
            .one(db)
            .await?
            .is_some_and(|p| p.task_id == task_id);
        if !ok {
            return Err(ApiError::field(
                "parent_prediction",
                format!("Invalid pk \"{id}\" - object does not exist."),
            ));
        }
    }
    if let Some(id) = input.parent_annotation {
        let ok = annotation::Entity::find_by_id(id)
            .one(db)
            .await?
            .is_some_and(|a| a.task_id == task_id);
        if !ok {
            return Err(ApiError::field(
                "parent_annotation",
                format!("Invalid pk \"{id}\" - object does not exist."),
            ));
        }
    }
    Ok(())
}

/// Creates an annotation of task `task_id` by the caller.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    task_id: i64,
    input: AnnotationInput,
) -> ApiResult<annotation::Model> {
    let txn = crate::db::begin_write(db).await?;
    let task = tasks::get(&txn, caller, task_id).await?;
    let result = result_of(input.result.clone())?.unwrap_or_else(|| Value::Array(vec![]));
    check_parents(&txn, task.id, &input).await?;
    let scores = scored::before(&txn, &[task.id]).await?;
    let now = crate::util::now();
    let created = annotation::ActiveModel {
        id: NotSet,
        task_id: Set(task.id),
        project_id: Set(task.project_id),
        result: Set(result),
        was_cancelled: Set(input.was_cancelled.unwrap_or(false)),
        ground_truth: Set(input.ground_truth.unwrap_or(false)),
        lead_time: Set(input.lead_time),
        completed_by_id: Set(Some(caller.user.id)),
        updated_by_id: Set(Some(caller.user.id)),
        parent_prediction_id: Set(input.parent_prediction),
        parent_annotation_id: Set(input.parent_annotation),
        last_action: Set(input.last_action.or_else(|| Some("submitted".into()))),
        ls_annotation_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    counters::recount_tasks(&txn, &[task.id]).await?;
    scores.apply(&txn).await?;
    audit::created(&txn, caller, object(&created), &created).await?;
    txn.commit().await?;
    Ok(created)
}

/// An annotation as the audit log names it.
fn object(annotation: &annotation::Model) -> Object {
    let title = format!(
        "Annotation {} of task {}",
        annotation.id, annotation.task_id
    );
    Object::new(entity::enums::AuditObject::Annotation, annotation.id, title)
}

/// The non-cancelled annotations of a task, by id (as Label Studio lists them).
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    task_id: i64,
    request: crate::pagination::PageRequest,
) -> ApiResult<(Vec<annotation::Model>, u64, crate::pagination::Page)> {
    use sea_orm::{PaginatorTrait, QuerySelect};
    let task = tasks::get(db, caller, task_id).await?;
    let query = annotation::Entity::find()
        .filter(annotation::Column::TaskId.eq(task.id))
        .filter(annotation::Column::WasCancelled.eq(false));
    let count = query.clone().count(db).await?;
    let page = request.locate(count);
    let items = query
        .order_by_asc(annotation::Column::Id)
        .offset(page.offset)
        .limit(page.size)
        .all(db)
        .await?;
    Ok((items, count, page))
}

/// The annotation `id` if its project is the caller organization's, or 404.
pub async fn get(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<annotation::Model> {
    let found = annotation::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    projects::get(db, caller, found.project_id).await?;
    Ok(found)
}

/// Annotators may change only their own annotations; reviewers and managers any.
fn check_owner(caller: &AuthUser, existing: &annotation::Model) -> ApiResult<()> {
    if caller.role == crate::auth::Role::Annotator
        && existing.completed_by_id != Some(caller.user.id)
    {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

/// Applies a partial update and recounts the task.
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    id: i64,
    input: AnnotationInput,
) -> ApiResult<annotation::Model> {
    let txn = crate::db::begin_write(db).await?;
    let existing = get(&txn, caller, id).await?;
    check_owner(caller, &existing)?;
    check_parents(&txn, existing.task_id, &input).await?;
    let result = result_of(input.result)?;
    let scores = scored::before(&txn, &[existing.task_id]).await?;
    let before = existing.clone();
    let mut model: annotation::ActiveModel = existing.into();
    if let Some(result) = result {
        model.result = Set(result);
    }
    if let Some(v) = input.ground_truth {
        model.ground_truth = Set(v);
    }
    if let Some(v) = input.was_cancelled {
        model.was_cancelled = Set(v);
    }
    if input.lead_time.is_some() {
        model.lead_time = Set(input.lead_time);
    }
    if input.parent_prediction.is_some() {
        model.parent_prediction_id = Set(input.parent_prediction);
    }
    if input.parent_annotation.is_some() {
        model.parent_annotation_id = Set(input.parent_annotation);
    }
    model.last_action = Set(Some(input.last_action.unwrap_or_else(|| "updated".into())));
    model.updated_by_id = Set(Some(caller.user.id));
    model.updated_at = Set(crate::util::now());
    let updated = model.update(&txn).await?;
    counters::recount_tasks(&txn, &[updated.task_id]).await?;
    scores.apply(&txn).await?;
    audit::updated(&txn, caller, object(&updated), &before, &updated).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes an annotation and recounts the task.
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let existing = get(&txn, caller, id).await?;
    check_owner(caller, &existing)?;
    let scores = scored::before(&txn, &[existing.task_id]).await?;
    annotation::Entity::delete_by_id(existing.id)
        .exec(&txn)
        .await?;
    counters::recount_tasks(&txn, &[existing.task_id]).await?;
    scores.apply(&txn).await?;
    audit::deleted(&txn, caller, object(&existing)).await?;
    txn.commit().await?;
    Ok(())
}

/// A project task with its ground truth, for few-shot examples and refinement.
#[derive(Debug, Clone)]
pub struct GroundTruthTask {
    /// The task.
    pub task_id: i64,
    /// The result of its newest non-cancelled ground-truth annotation.
    pub result: Value,
    /// The task's data.
    pub data: Value,
}

/// Up to `limit` tasks of a project with ground truth, newest annotations first, each with the
/// result of its newest ground-truth annotation and its data. Two queries, whatever the size
/// of the project.
pub async fn ground_truth_sample(
    db: &impl ConnectionTrait,
    project_id: i64,
    limit: usize,
) -> Result<Vec<GroundTruthTask>, sea_orm::DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    let annotations: Vec<(i64, Value)> = annotation::Entity::find()
        .select_only()
        .columns([annotation::Column::TaskId, annotation::Column::Result])
        .filter(annotation::Column::ProjectId.eq(project_id))
        .filter(annotation::Column::GroundTruth.eq(true))
        .filter(annotation::Column::WasCancelled.eq(false))
        .order_by_desc(annotation::Column::Id)
        .limit((limit * 4) as u64)
        .into_tuple()
        .all(db)
        .await?;
    let mut newest: Vec<(i64, Value)> = vec![];
    for (task_id, result) in annotations {
        if newest.len() < limit && !newest.iter().any(|(t, _)| *t == task_id) {
            newest.push((task_id, result));
        }
    }
    let ids: Vec<i64> = newest.iter().map(|(t, _)| *t).collect();
    let mut data: std::collections::HashMap<i64, Value> = entity::task::Entity::find()
        .select_only()
        .columns([entity::task::Column::Id, entity::task::Column::Data])
        .filter(entity::task::Column::Id.is_in(ids))
        .into_tuple::<(i64, Value)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(newest
        .into_iter()
        .filter_map(|(task_id, result)| {
            Some(GroundTruthTask {
                task_id,
                result,
                data: data.remove(&task_id)?,
            })
        })
        .collect())
}
