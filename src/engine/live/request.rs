//! Live predictions of a version for a few tasks of a project (stored tasks by id, or data
//! given inline), answered at once and not stored: what the ML backend's `/predict` and the
//! `predict` endpoint serve.
use super::LiveTask;
use crate::auth::AuthUser;
use crate::engine::Engine;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::services::{projects, versions};
use crate::views::live::{LiveInput, LiveView};
use entity::{model_interface, task};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::Value;
use std::collections::HashMap;

/// Most tasks one live request may predict.
pub const MAX_TASKS: usize = 100;

/// Predicts the tasks of `input` with a version of a prompt.
pub async fn predict(
    db: &impl ConnectionTrait,
    engine: &Engine,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
    input: LiveInput,
) -> ApiResult<LiveView> {
    let project_id = input
        .project
        .ok_or_else(|| ApiError::field("project", "This field is required."))?;
    let version = versions::get(db, caller, prompt_id, version_id).await?;
    let project = projects::get_for_field(db, caller, project_id, "project").await?;
    let tasks: Vec<LiveTask> = match (input.task_ids, input.tasks) {
        (Some(_), Some(_)) => {
            return Err(ApiError::field(
                "tasks",
                "Give either task_ids or tasks, not both.",
            ));
        }
        (Some(ids), None) => {
            check_count("task_ids", ids.len())?;
            let found: HashMap<i64, Value> = task::Entity::find()
                .select_only()
                .columns([task::Column::Id, task::Column::Data])
                .filter(task::Column::ProjectId.eq(project.id))
                .filter(task::Column::Id.is_in(ids.clone()))
                .into_tuple::<(i64, Value)>()
                .all(db)
                .await?
                .into_iter()
                .collect();
            if let Some(missing) = ids.iter().find(|id| !found.contains_key(id)) {
                return Err(ApiError::field(
                    "task_ids",
                    format!("Task {missing} is not a task of project {}.", project.id),
                ));
            }
            ids.iter()
                .map(|id| LiveTask {
                    id: *id,
                    data: found.get(id).cloned().unwrap_or(Value::Null),
                })
                .collect()
        }
        (None, Some(inline)) => {
            check_count("tasks", inline.len())?;
            if inline.iter().any(|t| !t.data.is_object()) {
                return Err(ApiError::field(
                    "tasks",
                    "Each task's data must be a JSON object.",
                ));
            }
            inline
                .into_iter()
                .map(|t| LiveTask {
                    id: 0,
                    data: t.data,
                })
                .collect()
        }
        (None, None) => {
            return Err(ApiError::field(
                "task_ids",
                "Give task_ids or tasks to predict.",
            ));
        }
    };
    let prompt = model_interface::Entity::find_by_id(version.parent_model_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let label = versions::prediction_label(&prompt.title, &version.title);
    let config = projects::config_of(&project);
    let results = super::predict(
        engine,
        db,
        version,
        label.clone(),
        project.id,
        config,
        tasks,
    )
    .await
    .map_err(|e| ApiError::bad_request(ErrorCode::VersionCannotRun, e.0))?;
    Ok(LiveView {
        model_version: label,
        results,
    })
}

fn check_count(field: &str, n: usize) -> ApiResult<()> {
    if n == 0 || n > MAX_TASKS {
        return Err(ApiError::field(
            field,
            format!("Give 1 to {MAX_TASKS} tasks."),
        ));
    }
    Ok(())
}
