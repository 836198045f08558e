//! The ML backend's `/webhook` events, applied as jobs: annotation events (`ml_event` jobs) go
//! through [`mirror`] (ground truth unless cancelled, Label Studio's timestamps, an
//! out-of-date update skipped); `START_TRAINING` (an `ml_train` job) links the mirror to its
//! Label Studio project and syncs it in the same job. The handler only reads the event and
//! enqueues it: a worker of any process applies it, and one that dies has it taken over.
use super::client::{LsAnnotation, LsTask, parse_time};
use super::mirror::{self, Source};
use super::ml_mirror::{ProjectInfo, find_mirror, parse_config, project_key, upsert_mirror};
use crate::auth::AuthUser;
use crate::engine::Engine;
use crate::error::{ApiError, ApiResult};
use crate::jobs::{BackgroundJob, JobContext, JobError};
use crate::services::jobs::{self as job_rows, NewJob};
use crate::views::label_studio::{GroundTruthMode, LinkInput};
use crate::views::ml_backend::WebhookInput;
use entity::enums::JobKind;
use entity::{model_interface, project};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
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

/// An annotation event of the ML backend's webhook, to apply to the prompt's mirror.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MlEventJob {
    /// The prompt whose backend received the event.
    pub prompt_id: i64,
    /// The action.
    pub action: String,
    /// The event as Label Studio sent it (annotation data; never a token).
    pub body: WebhookInput,
}

impl BackgroundJob for MlEventJob {
    const KIND: JobKind = JobKind::MlEvent;

    async fn run(&self, cx: &JobContext) -> Result<String, JobError> {
        let (caller, prompt) = acting(cx, self.prompt_id).await?;
        let event = Event::read(&self.action, &self.body).ok_or_else(|| {
            JobError::Permanent("The event names no Label Studio project.".into())
        })?;
        let ls_project = event.ls_project.clone();
        let n = apply_event(&cx.engine, &caller, &prompt, event)
            .await
            .map_err(api_failure)?;
        Ok(format!(
            "{} for Label Studio project {ls_project}: {n} annotations written",
            self.action
        ))
    }
}

/// Label Studio's "Start Training" of a prompt's backend for a Label Studio project.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MlTrainJob {
    /// The prompt.
    pub prompt_id: i64,
    /// The Label Studio project key.
    pub ls_project: String,
}

impl BackgroundJob for MlTrainJob {
    const KIND: JobKind = JobKind::MlTrain;

    async fn run(&self, cx: &JobContext) -> Result<String, JobError> {
        let (caller, prompt) = acting(cx, self.prompt_id).await?;
        start_training(cx, &caller, &prompt, &self.ls_project).await
    }
}

/// An error of the services as a job error: a database error is worth another attempt.
fn api_failure(e: ApiError) -> JobError {
    match e {
        ApiError::Database(e) => JobError::from(e),
        other => JobError::Permanent(other.to_string()),
    }
}

/// The caller a job acts for (who sent the event) and the prompt.
async fn acting(
    cx: &JobContext,
    prompt_id: i64,
) -> Result<(AuthUser, model_interface::Model), JobError> {
    let db = cx.db();
    let caller = job_rows::caller_of(
        db,
        cx.job.organization_id.unwrap_or_default(),
        cx.job.created_by_id,
    )
    .await
    .map_err(api_failure)?
    .ok_or_else(|| {
        JobError::Permanent("The event's sender is no longer an active member.".into())
    })?;
    let prompt = crate::services::prompts::get(db, &caller, prompt_id)
        .await
        .map_err(api_failure)?;
    Ok((caller, prompt))
}

/// Enqueues a handled webhook event of `prompt_id`'s backend sent by `caller`: `START_TRAINING`
/// as an `ml_train` job (one open per prompt and Label Studio project), others as `ml_event`.
pub async fn enqueue_event(
    engine: &Engine,
    caller: &AuthUser,
    prompt_id: i64,
    event: &Event,
    body: WebhookInput,
) -> ApiResult<()> {
    let new = if event.action == "START_TRAINING" {
        let payload = MlTrainJob {
            prompt_id,
            ls_project: event.ls_project.clone(),
        };
        NewJob::new(
            MlTrainJob::KIND,
            Some(caller.organization_id),
            serde_json::to_value(payload).unwrap_or_default(),
        )
        .dedupe(format!("ml_train:{prompt_id}:{}", event.ls_project))
    } else {
        let payload = MlEventJob {
            prompt_id,
            action: event.action.clone(),
            body,
        };
        NewJob::new(
            MlEventJob::KIND,
            Some(caller.organization_id),
            serde_json::to_value(payload).unwrap_or_default(),
        )
    };
    let new = new
        .about(job_rows::subject::PROMPT, prompt_id)
        .by(caller.user.id);
    job_rows::enqueue(engine.db(), new).await?;
    engine.wake();
    Ok(())
}

/// Applies an event to the mirror of (prompt, Label Studio project), creating the mirror from
/// the payload's label config when Label Studio never called `/setup`. Returns how many
/// annotations were written or deleted.
pub async fn apply_event(
    engine: &Engine,
    caller: &AuthUser,
    prompt: &model_interface::Model,
    event: Event,
) -> ApiResult<usize> {
    let db = engine.db();
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
            upsert_mirror(
                db,
                engine.secrets(),
                caller,
                prompt,
                &event.ls_project,
                info,
            )
            .await?
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
/// token Label Studio sent in `/setup`, and synced like any linked project (in this job, while
/// the link shows the sync running), so every annotation made so far becomes ground truth even
/// when the annotation webhooks never reached Prompter. Without a `/setup` seen first (no host
/// or token known) there is nothing to pull from.
async fn start_training(
    cx: &JobContext,
    caller: &AuthUser,
    prompt: &model_interface::Model,
    ls_project: &str,
) -> Result<String, JobError> {
    let engine = &cx.engine;
    let db = engine.db();
    let Some(row) = find_mirror(db, prompt.id, ls_project)
        .await
        .map_err(api_failure)?
    else {
        return Ok("START_TRAINING before any /setup: nothing to pull".into());
    };
    let (Some(hostname), Some(sealed), Ok(ls_id)) = (
        row.hostname.clone(),
        row.access_token_enc.as_deref(),
        ls_project.parse::<i64>(),
    ) else {
        return Ok(
            "START_TRAINING without a Label Studio host and token from /setup: nothing to pull"
                .into(),
        );
    };
    let token = engine.secrets().open(sealed).map_err(|_| {
        JobError::Permanent("the stored Label Studio token could not be decrypted".into())
    })?;
    let input = LinkInput {
        url: Some(hostname),
        token: Some(token),
        ls_project: Some(ls_id),
    };
    let linked = match super::get(db, caller, row.project_id).await {
        Ok(_) => {
            super::update(
                db,
                engine.secrets(),
                engine.http(),
                caller,
                row.project_id,
                input,
            )
            .await
        }
        Err(ApiError::NotFound) => {
            super::create(
                db,
                engine.secrets(),
                engine.http(),
                caller,
                row.project_id,
                input,
            )
            .await
        }
        Err(e) => Err(e),
    };
    let l = match linked {
        Ok(l) => l,
        Err(ApiError::Database(e)) => return Err(e.into()),
        Err(e) => {
            // A sync already running, or Label Studio unreachable from here: the annotation
            // webhooks still keep the mirror current.
            tracing::warn!(prompt = prompt.id, ls_project, error = %e, "START_TRAINING: no sync");
            return Err(JobError::Permanent(format!("START_TRAINING: no sync: {e}")));
        }
    };
    tracing::info!(
        prompt = prompt.id,
        ls_project,
        project = row.project_id,
        "START_TRAINING: syncing the mirror project from Label Studio"
    );
    let summary = super::sync::run_job(cx, l.id, GroundTruthMode::default()).await;
    if let Err(JobError::Permanent(reason)) = &summary {
        super::jobs::give_up(db, l.id, reason).await?;
    }
    summary
}
