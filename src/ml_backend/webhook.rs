//! `/webhook`: the Label Studio events that keep a mirror project current. Annotation events
//! go through [`label_studio::mirror`](crate::label_studio::mirror) (ground truth unless
//! cancelled, Label Studio's timestamps, an out-of-date update skipped); `START_TRAINING` links
//! the mirror to its Label Studio project and syncs it.
use super::projects::{ProjectInfo, find_mirror, parse_config, project_key, upsert_mirror};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::label_studio as connector;
use crate::label_studio::client::{LsAnnotation, LsTask, parse_time};
use crate::label_studio::mirror::{self, Source};
use crate::state::AppState;
use crate::views::label_studio::{LinkInput, SyncInput};
use crate::views::ml_backend::WebhookInput;
use entity::{model_interface, project};
use sea_orm::EntityTrait;
use serde_json::Value;

/// The webhook actions that change what a prompt knows of a Label Studio project.
pub const HANDLED_ACTIONS: [&str; 5] = [
    "ANNOTATION_CREATED",
    "ANNOTATION_UPDATED",
    "ANNOTATIONS_CREATED",
    "ANNOTATIONS_DELETED",
    "START_TRAINING",
];

/// A Label Studio event, read from the webhook body, to apply in the background.
#[derive(Debug, Clone)]
pub struct Event {
    /// The action.
    pub action: String,
    /// The Label Studio project key.
    pub ls_project: String,
    /// The project's label config, when the payload carries it.
    pub label_config: Option<String>,
    /// Label Studio tasks to upsert, each listed with one annotation of the event.
    pub tasks: Vec<LsTask>,
    /// Label Studio ids of annotations to delete.
    pub deletes: Vec<i64>,
}

/// A payload's task listed with one of its annotations, read field by field as the mirror
/// takes them (a field of another type reads as absent); `None` without their ids.
fn listed_with(task: &Value, annotation: &Value) -> Option<LsTask> {
    let annotation = LsAnnotation {
        id: annotation.get("id")?.as_i64()?,
        result: annotation.get("result").cloned(),
        was_cancelled: flag(annotation, "was_cancelled"),
        ground_truth: flag(annotation, "ground_truth"),
        lead_time: annotation.get("lead_time").and_then(Value::as_f64),
        created_at: annotation.get("created_at").and_then(parse_time),
        updated_at: annotation.get("updated_at").and_then(parse_time),
    };
    Some(LsTask {
        id: task.get("id")?.as_i64()?,
        data: task.get("data").cloned().unwrap_or(Value::Null),
        meta: task.get("meta").cloned(),
        annotations: vec![annotation],
    })
}

fn flag(object: &Value, key: &str) -> bool {
    object.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn objects(value: Option<&Value>) -> Vec<Value> {
    match value {
        Some(Value::Array(items)) => items.iter().filter(|i| i.is_object()).cloned().collect(),
        Some(v @ Value::Object(_)) => vec![v.clone()],
        _ => vec![],
    }
}

impl Event {
    /// Reads a handled event from a webhook body; `None` when the body names no Label Studio
    /// project.
    pub fn read(action: &str, body: &WebhookInput) -> Option<Event> {
        let annotations = objects(body.annotation.as_ref());
        let tasks = objects(body.task.as_ref());
        let ls_project = body
            .project
            .as_ref()
            .and_then(project_key)
            .or_else(|| {
                annotations
                    .iter()
                    .find_map(|a| a.get("project")?.as_i64())
                    .map(|p| p.to_string())
            })
            .or_else(|| {
                tasks
                    .iter()
                    .find_map(|t| t.get("project")?.as_i64())
                    .map(|p| p.to_string())
            })?;
        let label_config = body
            .project
            .as_ref()
            .and_then(|p| p.get("label_config"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut event = Event {
            action: action.to_string(),
            ls_project,
            label_config,
            tasks: vec![],
            deletes: vec![],
        };
        match action {
            "ANNOTATION_CREATED" | "ANNOTATION_UPDATED" | "ANNOTATIONS_CREATED" => {
                // Pair each annotation with its task (by `annotation.task`, else the only task).
                for a in annotations {
                    let task_id = a
                        .get("task")
                        .and_then(|t| t.as_i64().or_else(|| t.get("id").and_then(Value::as_i64)));
                    let task = tasks
                        .iter()
                        .find(|t| {
                            t.get("id").and_then(Value::as_i64) == task_id && task_id.is_some()
                        })
                        .or(if tasks.len() == 1 {
                            tasks.first()
                        } else {
                            None
                        });
                    if let Some(listed) = task.and_then(|task| listed_with(task, &a)) {
                        event.tasks.push(listed);
                    }
                }
            }
            "ANNOTATIONS_DELETED" => {
                event.deletes = objects(body.annotations.as_ref())
                    .iter()
                    .filter_map(|a| a.get("id").and_then(Value::as_i64))
                    .collect();
            }
            _ => {}
        }
        Some(event)
    }
}

/// Applies an event to the mirror of (prompt, Label Studio project), creating the mirror from
/// the payload's label config when Label Studio never called `/setup`. Returns how many
/// annotations were written or deleted.
pub async fn apply_event(
    state: &AppState,
    caller: &AuthUser,
    prompt: &model_interface::Model,
    event: Event,
) -> ApiResult<usize> {
    let db = &state.db;
    if event.action == "START_TRAINING" {
        return start_training(state, caller, prompt, &event.ls_project).await;
    }
    let row = match find_mirror(db, prompt.id, &event.ls_project).await? {
        Some(row) => row,
        None => {
            let Some(xml) = event.label_config.as_deref() else {
                tracing::warn!(prompt = prompt.id, ls_project = %event.ls_project, action = %event.action, "event for a Label Studio project never set up, without a label config: ignored");
                return Ok(0);
            };
            parse_config("label_config", xml)?;
            let info = ProjectInfo {
                label_config: Some(xml),
                ..Default::default()
            };
            upsert_mirror(db, &state.secrets, caller, prompt, &event.ls_project, info).await?
        }
    };
    let project = project::Entity::find_by_id(row.project_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !event.deletes.is_empty() {
        return mirror::delete_annotations(db, project.id, &event.deletes).await;
    }
    let written = mirror::upsert(db, caller, &project, Source::Events, &event.tasks).await?;
    Ok((written.annotations_created + written.annotations_updated) as usize)
}

/// `START_TRAINING` ("Start Training" in Label Studio, the one event that carries the backend's
/// basic auth): the mirror project is linked to its Label Studio project with the host and
/// token Label Studio sent in `/setup`, and synced like any linked project, so every annotation
/// made so far becomes ground truth even when the annotation webhooks never reached Prompter.
/// Without a `/setup` seen first (no host or token known) there is nothing to pull from.
async fn start_training(
    state: &AppState,
    caller: &AuthUser,
    prompt: &model_interface::Model,
    ls_project: &str,
) -> ApiResult<usize> {
    let db = &state.db;
    let Some(row) = find_mirror(db, prompt.id, ls_project).await? else {
        tracing::info!(
            prompt = prompt.id,
            ls_project,
            "START_TRAINING before any /setup: nothing to pull"
        );
        return Ok(0);
    };
    let (Some(hostname), Some(sealed), Ok(ls_id)) = (
        row.hostname.clone(),
        row.access_token_enc.as_deref(),
        ls_project.parse::<i64>(),
    ) else {
        tracing::info!(
            prompt = prompt.id,
            ls_project,
            "START_TRAINING without a Label Studio host and token from /setup: nothing to pull"
        );
        return Ok(0);
    };
    let token = state.secrets.open(sealed).map_err(|_| {
        ApiError::Internal("the stored Label Studio token could not be decrypted".into())
    })?;
    let input = LinkInput {
        url: Some(hostname),
        token: Some(token),
        ls_project: Some(ls_id),
    };
    let linked = match connector::get(db, caller, row.project_id).await {
        Ok(_) => connector::update(db, &state.secrets, state.engine.http(), caller, row.project_id, input).await,
        Err(ApiError::NotFound) => {
            connector::create(db, &state.secrets, state.engine.http(), caller, row.project_id, input).await
        }
        Err(e) => Err(e),
    };
    let started = match linked {
        Ok(_) => {
            connector::start_sync(&state.engine, caller, row.project_id, SyncInput::default()).await
        }
        Err(e) => Err(e),
    };
    match started {
        Ok(_) => {
            tracing::info!(
                prompt = prompt.id,
                ls_project,
                project = row.project_id,
                "START_TRAINING: syncing the mirror project from Label Studio"
            );
            Ok(1)
        }
        Err(e) => {
            // A sync already running, or Label Studio unreachable from here: the annotation
            // webhooks still keep the mirror current.
            tracing::warn!(prompt = prompt.id, ls_project, error = %e, "START_TRAINING: no sync");
            Ok(0)
        }
    }
}
