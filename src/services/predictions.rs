//! Predictions: Label Studio's result normalisation, CRUD, and counters.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::label_config::{ControlKind, LabelConfig};
use crate::services::audit::{self, Object};
use crate::services::{counters, projects, scored, tasks};
use crate::views::predictions::PredictionInput;

use entity::{model_run, prediction, project};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionSession, TransactionTrait,
};
use serde_json::{Value, json};

/// Turns a prediction `result` as clients send it into a region list, as Label Studio does:
/// a list of region objects is kept; an object becomes one region of the first control whose
/// type (`choices`, `labels`, ...) is one of its keys; a string or number becomes a region of
/// the first single-valued control (Choices, Rating, Number, TextArea).
pub fn normalize_result(raw: Value, config: &LabelConfig) -> Result<Value, String> {
    let region = |control: &crate::label_config::ControlTag, value: Value| {
        json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "from_name": control.name,
            "to_name": control.first_to_name().unwrap_or_default(),
            "type": control.result_type(),
            "value": value,
        })
    };
    match raw {
        Value::Array(items) => {
            if items.iter().all(Value::is_object) {
                Ok(Value::Array(items))
            } else {
                Err("each region of \"result\" must be a JSON object".into())
            }
        }
        Value::Object(map) => {
            let control = config
                .controls
                .iter()
                .find(|c| map.contains_key(&c.result_type()))
                .ok_or("\"result\" matches no control tag of the project's label config")?;
            Ok(Value::Array(vec![region(control, Value::Object(map))]))
        }
        scalar @ (Value::String(_) | Value::Number(_)) => {
            let control = config
                .controls
                .iter()
                .find(|c| {
                    matches!(c.kind(), ControlKind::Choices | ControlKind::Rating | ControlKind::Number | ControlKind::TextArea)
                })
                .ok_or("\"result\" is a single value but the label config has no single-valued control")?;
            Ok(Value::Array(vec![region(
                control,
                json!({ control.result_type(): [scalar] }),
            )]))
        }
        Value::Null => Err("This field may not be null.".into()),
        Value::Bool(_) => Err("\"result\" must be a list of regions, an object or a value".into()),
    }
}

/// A new prediction row (not yet inserted).
pub fn new_row(
    task_id: i64,
    project_id: i64,
    result: Value,
    score: Option<f64>,
    model_version: String,
    model_run_id: Option<i64>,
) -> prediction::ActiveModel {
    let now = crate::util::now();
    prediction::ActiveModel {
        id: NotSet,
        task_id: Set(task_id),
        project_id: Set(project_id),
        result: Set(result),
        score: Set(score),
        score_method: Set(None),
        model_version: Set(model_version),
        model_run_id: Set(model_run_id),
        cluster: Set(None),
        neighbors: Set(None),
        mislabeling: Set(0.0),
        inference_time: Set(None),
        prompt_tokens: Set(None),
        completion_tokens: Set(None),
        total_tokens: Set(None),
        prompt_cost: Set(None),
        completion_cost: Set(None),
        total_cost: Set(None),
        extra: Set(None),
        ls_prediction_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

async fn check_run(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    run_id: i64,
    project_id: i64,
) -> ApiResult<()> {
    let ok = model_run::Entity::find_by_id(run_id)
        .filter(model_run::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
        .is_some_and(|r| r.project_id == project_id);
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            "model_run",
            format!("Invalid pk \"{run_id}\" - object does not exist."),
        ))
    }
}

/// Creates a prediction of a task in the caller's organization.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    input: PredictionInput,
) -> ApiResult<prediction::Model> {
    let task_id = input
        .task
        .ok_or_else(|| ApiError::field("task", "This field is required."))?;
    let raw = input
        .result
        .ok_or_else(|| ApiError::field("result", "This field is required."))?;
    let txn = crate::db::begin_write(db).await?;
    let (task, project) = tasks::get_with_project(&txn, caller, task_id)
        .await
        .map_err(|e| e.not_found_as_field("task", task_id))?;
    if input.project.is_some_and(|p| p != task.project_id) {
        return Err(ApiError::field(
            "project",
            "The project must be the task's project.",
        ));
    }
    let result = normalize_result(raw, &projects::config_of(&project))
        .map_err(|m| ApiError::field("result", m))?;
    if let Some(run) = input.model_run {
        check_run(&txn, caller, run, task.project_id).await?;
    }
    let mut row = new_row(
        task.id,
        task.project_id,
        result,
        input.score,
        input.model_version.unwrap_or_default(),
        input.model_run,
    );
    row.cluster = Set(input.cluster);
    row.neighbors = Set(input.neighbors);
    row.mislabeling = Set(input.mislabeling.unwrap_or(0.0));
    let created = row.insert(&txn).await?;
    counters::recount_tasks(&txn, &[task.id]).await?;
    audit::created(&txn, caller, object(&created), &created).await?;
    txn.commit().await?;
    Ok(created)
}

/// A prediction as the audit log names it.
fn object(prediction: &prediction::Model) -> Object {
    let title = format!(
        "Prediction {} of task {}",
        prediction.id, prediction.task_id
    );
    Object::new(entity::enums::AuditObject::Prediction, prediction.id, title)
}

/// Filters of the prediction list; all optional, combined with AND.
#[derive(Debug, Default)]
pub struct ListFilter {
    /// Predictions of this task.
    pub task: Option<i64>,
    /// Predictions of this project.
    pub project: Option<i64>,
}

/// The caller organization's predictions matching `filter`, by id.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    filter: &ListFilter,
) -> ApiResult<Vec<prediction::Model>> {
    let org_projects = Query::select()
        .column(project::Column::Id)
        .from(project::Entity)
        .and_where(project::Column::OrganizationId.eq(caller.organization_id))
        .to_owned();
    let mut query =
        prediction::Entity::find().filter(prediction::Column::ProjectId.in_subquery(org_projects));
    if let Some(task) = filter.task {
        query = query.filter(prediction::Column::TaskId.eq(task));
    }
    if let Some(project) = filter.project {
        query = query.filter(prediction::Column::ProjectId.eq(project));
    }
    Ok(query.order_by_asc(prediction::Column::Id).all(db).await?)
}

/// The prediction `id` if its project is the caller organization's, or 404.
pub async fn get(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<prediction::Model> {
    Ok(get_with_project(db, caller, id).await?.0)
}

/// The prediction `id` and its project, if the project is the caller organization's, or 404.
async fn get_with_project(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<(prediction::Model, project::Model)> {
    let found = prediction::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let project = projects::get(db, caller, found.project_id).await?;
    Ok((found, project))
}

/// Applies a partial update; the task and project of a prediction do not change.
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    id: i64,
    input: PredictionInput,
) -> ApiResult<prediction::Model> {
    let txn = crate::db::begin_write(db).await?;
    let (existing, project) = get_with_project(&txn, caller, id).await?;
    let scores = scored::before(&txn, &[existing.task_id]).await?;
    if input.task.is_some_and(|t| t != existing.task_id) {
        return Err(ApiError::field(
            "task",
            "The task of a prediction cannot change.",
        ));
    }
    if input.project.is_some_and(|p| p != existing.project_id) {
        return Err(ApiError::field(
            "project",
            "The project of a prediction cannot change.",
        ));
    }
    if let Some(run) = input.model_run {
        check_run(&txn, caller, run, existing.project_id).await?;
    }
    let before = existing.clone();
    let mut model: prediction::ActiveModel = existing.into();
    if let Some(raw) = input.result {
        model.result = Set(normalize_result(raw, &projects::config_of(&project))
            .map_err(|m| ApiError::field("result", m))?);
    }
    if input.score.is_some() {
        model.score = Set(input.score);
    }
    if let Some(v) = input.model_version {
        model.model_version = Set(v);
    }
    if input.model_run.is_some() {
        model.model_run_id = Set(input.model_run);
    }
    if input.cluster.is_some() {
        model.cluster = Set(input.cluster);
    }
    if input.neighbors.is_some() {
        model.neighbors = Set(input.neighbors);
    }
    if let Some(v) = input.mislabeling {
        model.mislabeling = Set(v);
    }
    model.updated_at = Set(crate::util::now());
    let updated = model.update(&txn).await?;
    scores.apply(&txn).await?;
    audit::updated(&txn, caller, object(&updated), &before, &updated).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes a prediction and recounts its task.
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let existing = get(&txn, caller, id).await?;
    let scores = scored::before(&txn, &[existing.task_id]).await?;
    prediction::Entity::delete_by_id(existing.id)
        .exec(&txn)
        .await?;
    counters::recount_tasks(&txn, &[existing.task_id]).await?;
    scores.apply(&txn).await?;
    audit::deleted(&txn, caller, object(&existing)).await?;
    txn.commit().await?;
    Ok(())
}
