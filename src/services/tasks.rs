//! Tasks: creation (one, or thousands by import), reads with their annotations and
//! predictions, partial updates and deletion.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::label_config::LabelConfig;
use crate::pagination::PageRequest;
use crate::services::audit::{self, Object};
use crate::services::predictions::normalize_result;
use crate::services::projects::{self, ImportOutcome, config_of};
use crate::util::JsonObject;

use entity::{annotation, prediction, project, task};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use serde_json::Value;
use std::collections::HashMap;

/// A task to insert, with its inline annotations and predictions.
#[derive(Debug)]
pub struct NewTask {
    data: Value,
    meta: Value,
    annotations: Vec<NewAnnotation>,
    predictions: Vec<NewPrediction>,
}

#[derive(Debug)]
struct NewAnnotation {
    result: Value,
    was_cancelled: bool,
    ground_truth: bool,
    lead_time: Option<f64>,
}

#[derive(Debug)]
struct NewPrediction {
    result: Value,
    score: Option<f64>,
    model_version: String,
}

/// Checks that `data` is an object holding every `$field` the config's objects read.
pub fn check_data(data: &Value, config: &LabelConfig) -> Result<(), String> {
    let Some(map) = data.as_object() else {
        return Err("\"data\" must be a JSON object".into());
    };
    for object in &config.objects {
        if let Some(key) = object.data_key()
            && object.value == format!("${key}")
            && !map.contains_key(key)
        {
            return Err(format!(
                "\"{key}\" key is expected in task data (the <{}> tag \"{}\" reads it)",
                object.tag, object.name
            ));
        }
    }
    Ok(())
}

impl NewTask {
    /// A task from an import item: either a bare data object, or `{"data": {...}, ...}`. With
    /// `all_ground_truth`, every annotation that is not cancelled is ground truth, whatever its
    /// own `ground_truth` says.
    pub fn from_import(
        item: Value,
        config: &LabelConfig,
        all_ground_truth: bool,
    ) -> Result<Self, String> {
        let Value::Object(mut map) = item else {
            return Err("each task must be a JSON object".into());
        };
        let structured = matches!(map.get("data"), Some(Value::Object(_)));
        let (data, meta, annotations, predictions) = if structured {
            let data = map.remove("data").unwrap_or(Value::Null);
            let meta = match map.remove("meta") {
                None | Some(Value::Null) => serde_json::json!({}),
                Some(meta @ Value::Object(_)) => meta,
                Some(other) => {
                    return Err(format!(
                        "\"meta\" must be a JSON object, got {}",
                        crate::util::json_type(&other)
                    ));
                }
            };
            (
                data,
                meta,
                map.remove("annotations"),
                map.remove("predictions"),
            )
        } else {
            (Value::Object(map), serde_json::json!({}), None, None)
        };
        check_data(&data, config)?;
        let annotations = list_of(annotations, "annotations")?
            .into_iter()
            .map(|a| {
                Ok(NewAnnotation {
                    result: result_list(a.get("result"), "annotation")?,
                    was_cancelled: a
                        .get("was_cancelled")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    ground_truth: a
                        .get("ground_truth")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                        || (all_ground_truth
                            && !a
                                .get("was_cancelled")
                                .and_then(Value::as_bool)
                                .unwrap_or(false)),
                    lead_time: a.get("lead_time").and_then(Value::as_f64),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let predictions = list_of(predictions, "predictions")?
            .into_iter()
            .map(|p| {
                let raw = p.get("result").cloned().unwrap_or(Value::Null);
                Ok(NewPrediction {
                    result: normalize_result(raw, config)
                        .map_err(|e| format!("prediction: {e}"))?,
                    score: p.get("score").and_then(Value::as_f64),
                    model_version: p
                        .get("model_version")
                        .map(version_string)
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(NewTask {
            data,
            meta,
            annotations,
            predictions,
        })
    }

    /// A task with data and meta only.
    pub fn plain(data: Value, meta: Value) -> Self {
        NewTask {
            data,
            meta,
            annotations: vec![],
            predictions: vec![],
        }
    }
}

fn version_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn list_of(
    value: Option<Value>,
    what: &str,
) -> Result<Vec<serde_json::Map<String, Value>>, String> {
    match value {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|i| match i {
                Value::Object(m) => Ok(m),
                _ => Err(format!("each of \"{what}\" must be a JSON object")),
            })
            .collect(),
        Some(_) => Err(format!("\"{what}\" must be a list")),
    }
}

fn result_list(value: Option<&Value>, what: &str) -> Result<Value, String> {
    match value {
        None | Some(Value::Null) => Ok(Value::Array(vec![])),
        Some(v @ Value::Array(_)) => Ok(v.clone()),
        Some(_) => Err(format!("{what} \"result\" must be a list of regions")),
    }
}

/// Locks the project for writing (a row lock on PostgreSQL, the write lock on SQLite) and
/// returns the next free `inner_id`.
async fn lock_and_next_inner_id(db: &impl ConnectionTrait, project_id: i64) -> ApiResult<i64> {
    project::Entity::update_many()
        .col_expr(project::Column::UpdatedAt, Expr::value(crate::util::now()))
        .filter(project::Column::Id.eq(project_id))
        .exec(db)
        .await?;
    let max: Option<Option<i64>> = task::Entity::find()
        .select_only()
        .expr(Expr::col(task::Column::InnerId).max())
        .filter(task::Column::ProjectId.eq(project_id))
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().unwrap_or(0) + 1)
}

/// A task's `data` and `meta` (`None`: unchanged) are within
/// [`crate::limits::MAX_TASK_DATA_BYTES`] each and can be stored and read back; else a 400
/// naming the field under `prefix` (`data.x`, `[2].data.x`).
pub fn check_task_json(prefix: &str, data: Option<&Value>, meta: Option<&Value>) -> ApiResult<()> {
    use crate::limits::{MAX_TASK_DATA_BYTES, check_json_bytes};
    for (name, value) in [("data", data), ("meta", meta)] {
        if let Some(value) = value {
            let field = format!("{prefix}{name}");
            check_json_bytes(&field, value, MAX_TASK_DATA_BYTES)?;
            crate::util::check_storable_json(value, &field)?;
        }
    }
    Ok(())
}

/// Every JSON value of `new_tasks` is within its limit and can be stored and read back (see
/// [`crate::util::unstorable_json`]); else a 400 naming the task's field (`[2].data.x`).
pub fn check_storable(new_tasks: &[NewTask]) -> ApiResult<()> {
    for (i, t) in new_tasks.iter().enumerate() {
        check_task_json(&format!("[{i}]."), Some(&t.data), Some(&t.meta))?;
        for (j, a) in t.annotations.iter().enumerate() {
            crate::util::check_storable_json(&a.result, &format!("[{i}].annotations[{j}].result"))?;
        }
        for (j, p) in t.predictions.iter().enumerate() {
            crate::util::check_storable_json(&p.result, &format!("[{i}].predictions[{j}].result"))?;
        }
    }
    Ok(())
}

/// Inserts tasks with their annotations and predictions in bulk. Call inside a transaction.
pub async fn insert_many(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    project: &project::Model,
    new_tasks: Vec<NewTask>,
) -> ApiResult<ImportOutcome> {
    check_storable(&new_tasks)?;
    let base = lock_and_next_inner_id(db, project.id).await?;
    let now = crate::util::now();
    let overlap = Ord::max(project.maximum_annotations, 1);
    let mut columns: Vec<String> = vec![];
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let rows: Vec<task::ActiveModel> = new_tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if let Some(map) = t.data.as_object() {
                for key in map.keys() {
                    if seen.insert(key.as_str()) {
                        columns.push(key.clone());
                    }
                }
            }
            let done = t.annotations.iter().filter(|a| !a.was_cancelled).count() as i32;
            task::ActiveModel {
                id: NotSet,
                project_id: Set(project.id),
                data: Set(t.data.clone()),
                meta: Set(t.meta.clone()),
                is_labeled: Set(done >= overlap),
                overlap: Set(overlap),
                inner_id: Set(base + i as i64),
                total_annotations: Set(done),
                cancelled_annotations: Set(t.annotations.len() as i32 - done),
                total_predictions: Set(t.predictions.len() as i32),
                ls_task_id: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
        })
        .collect();
    let count = rows.len();
    for chunk in crate::util::chunked(rows, 500) {
        task::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    let ids: HashMap<i64, i64> = task::Entity::find()
        .select_only()
        .columns([task::Column::InnerId, task::Column::Id])
        .filter(task::Column::ProjectId.eq(project.id))
        .filter(task::Column::InnerId.gte(base))
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut task_ids = Vec::with_capacity(count);
    let mut annotations = vec![];
    let mut predictions = vec![];
    for (i, t) in new_tasks.into_iter().enumerate() {
        let task_id = *ids.get(&(base + i as i64)).ok_or_else(|| {
            ApiError::Internal("an imported task was not found after insert".into())
        })?;
        task_ids.push(task_id);
        for a in t.annotations {
            annotations.push(annotation::ActiveModel {
                id: NotSet,
                task_id: Set(task_id),
                project_id: Set(project.id),
                result: Set(a.result),
                was_cancelled: Set(a.was_cancelled),
                ground_truth: Set(a.ground_truth),
                lead_time: Set(a.lead_time),
                completed_by_id: Set(Some(caller.user.id)),
                updated_by_id: Set(Some(caller.user.id)),
                parent_prediction_id: Set(None),
                parent_annotation_id: Set(None),
                last_action: Set(Some("imported".into())),
                ls_annotation_id: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
        for p in t.predictions {
            predictions.push(crate::services::predictions::new_row(
                task_id,
                project.id,
                p.result,
                p.score,
                p.model_version,
                None,
            ));
        }
    }
    let annotation_count = annotations.len();
    let prediction_count = predictions.len();
    for chunk in crate::util::chunked(annotations, 500) {
        annotation::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    for chunk in crate::util::chunked(predictions, 500) {
        prediction::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(ImportOutcome {
        task_ids,
        annotation_count,
        prediction_count,
        data_columns: columns,
    })
}

/// Creates one task in `project_id` (which must be the caller's).
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    project_id: i64,
    data: Value,
    meta: Option<JsonObject>,
) -> ApiResult<task::Model> {
    let meta = Value::Object(meta.unwrap_or_default());
    check_task_json("", Some(&data), Some(&meta))?;
    let txn = crate::db::begin_write(db).await?;
    let project = projects::get_for_field(&txn, caller, project_id, "project").await?;
    check_data(&data, &config_of(&project)).map_err(|m| ApiError::field("data", m))?;
    let outcome = insert_many(&txn, caller, &project, vec![NewTask::plain(data, meta)]).await?;
    let id = outcome
        .task_ids
        .first()
        .copied()
        .ok_or_else(|| ApiError::Internal("task not created".into()))?;
    let task = task::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?;
    audit::created(&txn, caller, object(&task), &task).await?;
    txn.commit().await?;
    Ok(task)
}

/// A task as the audit log names it.
pub fn object(task: &task::Model) -> Object {
    Object::new(
        entity::enums::AuditObject::Task,
        task.id,
        format!("Task {}", task.id),
    )
}

/// The task `id` if its project is in the caller's organization, or 404.
pub async fn get(db: &impl ConnectionTrait, caller: &AuthUser, id: i64) -> ApiResult<task::Model> {
    Ok(get_with_project(db, caller, id).await?.0)
}

/// The task `id` and its project, if the project is in the caller's organization, or 404.
pub async fn get_with_project(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<(task::Model, project::Model)> {
    let task = task::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let project = projects::get(db, caller, task.project_id).await?;
    Ok((task, project))
}

/// A task with its annotations (non-cancelled first is not implied: all, by id) and predictions.
#[derive(Debug)]
pub struct TaskDetail {
    /// The task.
    pub task: task::Model,
    /// Its annotations, by id.
    pub annotations: Vec<annotation::Model>,
    /// Its predictions, by id.
    pub predictions: Vec<prediction::Model>,
}

/// Loads the annotations and predictions of `tasks` in two queries.
pub async fn with_children(
    db: &impl ConnectionTrait,
    tasks: Vec<task::Model>,
) -> ApiResult<Vec<TaskDetail>> {
    let ids: Vec<i64> = tasks.iter().map(|t| t.id).collect();
    let mut annotations: HashMap<i64, Vec<annotation::Model>> = HashMap::new();
    let mut predictions: HashMap<i64, Vec<prediction::Model>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for a in annotation::Entity::find()
            .filter(annotation::Column::TaskId.is_in(chunk.to_vec()))
            .order_by_asc(annotation::Column::Id)
            .all(db)
            .await?
        {
            annotations.entry(a.task_id).or_default().push(a);
        }
        for p in prediction::Entity::find()
            .filter(prediction::Column::TaskId.is_in(chunk.to_vec()))
            .order_by_asc(prediction::Column::Id)
            .all(db)
            .await?
        {
            predictions.entry(p.task_id).or_default().push(p);
        }
    }
    Ok(tasks
        .into_iter()
        .map(|task| TaskDetail {
            annotations: annotations.remove(&task.id).unwrap_or_default(),
            predictions: predictions.remove(&task.id).unwrap_or_default(),
            task,
        })
        .collect())
}

/// A page of a project's tasks (by id) with the totals Label Studio's task list reports.
#[derive(Debug)]
pub struct TaskPage {
    /// The tasks of the page.
    pub tasks: Vec<task::Model>,
    /// Tasks matching the filter.
    pub total: u64,
    /// Non-cancelled annotations over the matching tasks.
    pub total_annotations: i64,
    /// Predictions over the matching tasks.
    pub total_predictions: i64,
}

/// Lists a project's tasks; `only_annotated` keeps tasks with at least one annotation.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    project_id: i64,
    only_annotated: bool,
    request: PageRequest,
) -> ApiResult<TaskPage> {
    projects::get(db, caller, project_id).await?;
    let mut query = task::Entity::find().filter(task::Column::ProjectId.eq(project_id));
    if only_annotated {
        query = query.filter(task::Column::TotalAnnotations.gt(0));
    }
    let totals: Option<(i64, Option<i64>, Option<i64>)> = query
        .clone()
        .select_only()
        .expr(Expr::cust("COUNT(*)"))
        .expr(Expr::cust("CAST(SUM(total_annotations) AS BIGINT)"))
        .expr(Expr::cust("CAST(SUM(total_predictions) AS BIGINT)"))
        .into_tuple()
        .one(db)
        .await?;
    let (total, annotations, predictions) = totals.unwrap_or((0, None, None));
    let page = request.locate(Ord::max(total, 0) as u64);
    let tasks = query
        .order_by_asc(task::Column::Id)
        .offset(page.offset)
        .limit(page.size)
        .all(db)
        .await?;
    Ok(TaskPage {
        tasks,
        total: Ord::max(total, 0) as u64,
        total_annotations: annotations.unwrap_or(0),
        total_predictions: predictions.unwrap_or(0),
    })
}

/// Updates a task's `data` (checked against the config), `meta` or `overlap`.
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    id: i64,
    data: Option<Value>,
    meta: Option<JsonObject>,
) -> ApiResult<task::Model> {
    let meta = meta.map(Value::Object);
    check_task_json("", data.as_ref(), meta.as_ref())?;
    let txn = crate::db::begin_write(db).await?;
    let (existing, project) = get_with_project(&txn, caller, id).await?;
    let before = existing.clone();
    if let Some(data) = &data {
        check_data(data, &config_of(&project)).map_err(|m| ApiError::field("data", m))?;
    }
    let mut model: task::ActiveModel = existing.into();
    if let Some(data) = data {
        model.data = Set(data);
    }
    if let Some(meta) = meta {
        model.meta = Set(meta);
    }
    model.updated_at = Set(crate::util::now());
    let updated = model.update(&txn).await?;
    audit::updated(&txn, caller, object(&updated), &before, &updated).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes a task with its annotations and predictions.
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let task = get(&txn, caller, id).await?;
    task::Entity::delete_by_id(task.id).exec(&txn).await?;
    audit::deleted(&txn, caller, object(&task)).await?;
    txn.commit().await?;
    Ok(())
}

/// Deletes every task of a project; returns how many. One audit entry for all of them.
pub async fn delete_all<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    project_id: i64,
) -> ApiResult<u64> {
    let txn = crate::db::begin_write(db).await?;
    let project = projects::get(&txn, caller, project_id).await?;
    let count = task::Entity::find()
        .filter(task::Column::ProjectId.eq(project_id))
        .count(&txn)
        .await?;
    task::Entity::delete_many()
        .filter(task::Column::ProjectId.eq(project_id))
        .exec(&txn)
        .await?;
    let changes = audit::Changes::new().field("tasks", count, 0);
    let action = entity::enums::AuditAction::Delete;
    audit::record(&txn, caller, action, projects::object(&project), changes).await?;
    txn.commit().await?;
    Ok(count)
}
