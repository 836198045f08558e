//! What a prompt does as a Label Studio ML backend, over `&impl ConnectionTrait` and the
//! engine, without HTTP types: the version that answers, the mirror project of each Label Studio
//! project (`ml_backend_projects`), live predictions within Label Studio's time budget, and the
//! annotation events that keep the mirror's ground truth (the few-shot examples) current.
use super::protocol::{PredictInput, PredictView, PredictionItem, SetupInput, SetupView};
use crate::auth::AuthUser;
use crate::crypto::Secrets;
use crate::engine::live::{self, LiveOptions, LiveTask};
use crate::error::{ApiError, ApiResult};
use crate::label_config::LabelConfig;
use crate::services::projects::{self, ProjectInput};
use crate::services::tasks::{self, NewTask};
use crate::services::{counters, prompts, versions};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use entity::{annotation, ml_backend_project, model_interface, model_version, project, task};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, SqlErr,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long `/predict` may take: Label Studio gives up after 100 s (`ML_TIMEOUT_PREDICT`);
/// calls still running at this point are canceled and their tasks answered empty.
pub const PREDICT_BUDGET: Duration = Duration::from_secs(90);

/// The `model_class` `/health` reports.
pub const MODEL_CLASS: &str = "Prompter";

/// Longest Label Studio project key stored (`ml_backend_projects.ls_project`).
const MAX_KEY: usize = 64;

/// The Label Studio project key of a `project` value: the part of `"<id>.<created_at>"`
/// before the first dot; a number, or an object's `id` (webhooks), is taken as is.
pub fn project_key(value: &Value) -> Option<String> {
    let raw = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Object(o) => return o.get("id").and_then(project_key),
        _ => return None,
    };
    let key = raw.split('.').next().unwrap_or_default().trim();
    (!key.is_empty() && key.chars().count() <= MAX_KEY).then(|| key.to_string())
}

/// The prompt `prompt_id` of the caller's organization (404 otherwise), the version it answers
/// with, and that version's `model_version` label. A prompt without versions is a 400.
pub async fn answering(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
) -> ApiResult<(model_interface::Model, model_version::Model, String)> {
    let prompt = prompts::get(db, caller, prompt_id).await?;
    let version = prompts::answering_version(db, &prompt)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(
                "no_version",
                format!(
                    "Prompt {} (\"{}\") has no versions yet: create a version in Prompter, then connect the prompt again.",
                    prompt.id, prompt.title
                ),
            )
        })?;
    let label = versions::prediction_label(&prompt.title, &version.title);
    Ok((prompt, version, label))
}

/// What Label Studio told about one of its projects (all optional: an interactive `/predict`
/// or a webhook knows less than `/setup`).
#[derive(Debug, Default, Clone, Copy)]
pub struct ProjectInfo<'a> {
    /// The label config (XML), already validated.
    pub label_config: Option<&'a str>,
    /// Label Studio's URL.
    pub hostname: Option<&'a str>,
    /// The project creator's Label Studio token (stored sealed).
    pub access_token: Option<&'a str>,
}

/// The ML-backend row of (prompt, Label Studio project), if Label Studio was seen before.
pub async fn find_mirror(
    db: &impl ConnectionTrait,
    prompt_id: i64,
    ls_project: &str,
) -> ApiResult<Option<ml_backend_project::Model>> {
    Ok(ml_backend_project::Entity::find()
        .filter(ml_backend_project::Column::PromptId.eq(prompt_id))
        .filter(ml_backend_project::Column::LsProject.eq(ls_project))
        .one(db)
        .await?)
}

/// A mirror project's title: at most 50 characters, as every project title.
fn mirror_title(ls_project: &str, prompt_id: i64) -> String {
    let long = format!("Label Studio project {ls_project} (ML backend of prompt {prompt_id})");
    if long.chars().count() <= 50 {
        return long;
    }
    format!("LS project {ls_project}, prompt {prompt_id}")
        .chars()
        .take(50)
        .collect()
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// Whether `row` (and its project's label config `current`) already holds what `info` says.
fn up_to_date(
    row: &ml_backend_project::Model,
    current: Option<&str>,
    secrets: &Secrets,
    info: ProjectInfo<'_>,
) -> bool {
    let config_same = info.label_config.is_none_or(|c| Some(c) == current);
    let host_same = non_empty(info.hostname).is_none_or(|h| row.hostname.as_deref() == Some(h));
    let token_same = non_empty(info.access_token).is_none_or(|t| {
        row.access_token_enc
            .as_deref()
            .and_then(|sealed| secrets.open(sealed).ok())
            .is_some_and(|open| open == t)
    });
    config_same && host_same && token_same
}

/// Finds or creates the row of (prompt, `ls_project`) and its mirror project, then brings them
/// up to date with `info`: the mirror's label config, Label Studio's hostname and the sealed
/// access token. The mirror is created in the prompt's organization, by the caller, and
/// associated with the prompt. Nothing is written when nothing changed (`/setup` is called
/// constantly).
pub async fn upsert_mirror(
    db: &DatabaseConnection,
    secrets: &Secrets,
    caller: &AuthUser,
    prompt: &model_interface::Model,
    ls_project: &str,
    info: ProjectInfo<'_>,
) -> ApiResult<ml_backend_project::Model> {
    if let Some(row) = find_mirror(db, prompt.id, ls_project).await? {
        let current = project::Entity::find_by_id(row.project_id)
            .one(db)
            .await?
            .map(|p| p.label_config);
        if up_to_date(&row, current.as_deref(), secrets, info) {
            // A concurrent first association of the same link is as good as ours.
            match prompts::associate(db, prompt.id, row.project_id).await {
                Err(ApiError::Database(e)) if is_unique_violation(&e) => {}
                other => other?,
            }
            return Ok(row);
        }
    }
    // Two first sights at once (PostgreSQL): the loser's transaction fails on the unique
    // (prompt, ls_project) key and rolls its mirror project back; it then finds the winner's.
    match write_mirror(db, secrets, caller, prompt, ls_project, info).await {
        Err(ApiError::Database(e)) if is_unique_violation(&e) => {
            write_mirror(db, secrets, caller, prompt, ls_project, info).await
        }
        other => other,
    }
}

fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

async fn write_mirror(
    db: &DatabaseConnection,
    secrets: &Secrets,
    caller: &AuthUser,
    prompt: &model_interface::Model,
    ls_project: &str,
    info: ProjectInfo<'_>,
) -> ApiResult<ml_backend_project::Model> {
    let txn = crate::db::begin_write(db).await?;
    let now = crate::util::now();
    let hostname = non_empty(info.hostname).map(str::to_owned);
    let sealed = non_empty(info.access_token).map(|t| secrets.seal(t));
    let row = match find_mirror(&txn, prompt.id, ls_project).await? {
        Some(row) => {
            if let Some(xml) = info.label_config {
                project::Entity::update_many()
                    .col_expr(project::Column::LabelConfig, Expr::value(xml))
                    .col_expr(project::Column::UpdatedAt, Expr::value(now))
                    .filter(project::Column::Id.eq(row.project_id))
                    .filter(project::Column::LabelConfig.ne(xml))
                    .exec(&txn)
                    .await?;
            }
            let mut model: ml_backend_project::ActiveModel = row.into();
            if hostname.is_some() {
                model.hostname = Set(hostname);
            }
            if sealed.is_some() {
                model.access_token_enc = Set(sealed);
            }
            model.updated_at = Set(now);
            model.update(&txn).await?
        }
        None => {
            let description = format!(
                "Mirrors Label Studio project {ls_project}{}, which uses prompt {} (\"{}\") as its ML backend: the annotations its webhooks send are the ground truth the prompt takes few-shot examples from.",
                hostname
                    .as_deref()
                    .map(|h| format!(" at {h}"))
                    .unwrap_or_default(),
                prompt.id,
                prompt.title
            );
            let mirror = projects::create(
                &txn,
                caller,
                ProjectInput {
                    title: Some(mirror_title(ls_project, prompt.id)),
                    description: Some(description),
                    label_config: Some(
                        info.label_config
                            .unwrap_or(projects::EMPTY_CONFIG)
                            .to_string(),
                    ),
                    ..Default::default()
                },
            )
            .await?;
            ml_backend_project::ActiveModel {
                id: NotSet,
                organization_id: Set(prompt.organization_id),
                prompt_id: Set(prompt.id),
                ls_project: Set(ls_project.to_string()),
                project_id: Set(mirror.id),
                hostname: Set(hostname),
                access_token_enc: Set(sealed),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?
        }
    };
    prompts::associate(&txn, prompt.id, row.project_id).await?;
    txn.commit().await?;
    Ok(row)
}

/// Parses a label config sent by Label Studio; `field` names it in the 400.
fn parse_config(field: &str, xml: &str) -> ApiResult<LabelConfig> {
    let config = projects::parse_config(field, xml)?;
    let answerable = config.output_schema()["properties"]
        .as_object()
        .is_some_and(|p| !p.is_empty());
    if !answerable {
        return Err(ApiError::field(
            field,
            "The label config has no control a prompt can answer (Choices, Labels on text, TextArea, Rating or Number).",
        ));
    }
    Ok(config)
}

/// `/setup`: registers or refreshes a Label Studio project and reports the deployed version's
/// `model_version`. No LLM call.
pub async fn setup(
    state: &AppState,
    caller: &AuthUser,
    prompt_id: i64,
    input: SetupInput,
) -> ApiResult<SetupView> {
    let (prompt, _, label) = answering(&state.db, caller, prompt_id).await?;
    let key = input
        .project
        .as_ref()
        .and_then(project_key)
        .ok_or_else(|| {
            ApiError::field(
                "project",
                "Expected Label Studio's \"<project id>.<created_at>\" string.",
            )
        })?;
    let schema = input.schema.as_deref().filter(|s| !s.trim().is_empty());
    if let Some(xml) = schema {
        parse_config("schema", xml)?;
    }
    let info = ProjectInfo {
        label_config: schema,
        hostname: input.hostname.as_deref(),
        access_token: input.access_token.as_deref(),
    };
    upsert_mirror(&state.db, &state.secrets, caller, &prompt, &key, info).await?;
    Ok(SetupView {
        model_version: label,
    })
}

/// The hint of an interactive request: the regions the annotator drew (`context.result`),
/// one line each, for the model to stay consistent with.
pub fn context_hint(context: Option<&Value>) -> Option<String> {
    let regions = context?.get("result")?.as_array()?;
    let lines: Vec<String> = regions.iter().filter_map(describe_region).collect();
    if lines.is_empty() {
        return None;
    }
    Some(format!(
        "The annotator has already marked this task:\n{}\nKeep your answer consistent with these marks and complete what is missing.",
        lines.join("\n")
    ))
}

fn describe_region(region: &Value) -> Option<String> {
    let value = region.get("value")?.as_object()?;
    let name = region
        .get("from_name")
        .and_then(Value::as_str)
        .unwrap_or("region");
    let labels: Option<Vec<&str>> = region
        .get("type")
        .and_then(Value::as_str)
        .and_then(|t| value.get(t))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect());
    let span = match (
        value.get("text").and_then(Value::as_str),
        value.get("start").and_then(Value::as_i64),
        value.get("end").and_then(Value::as_i64),
    ) {
        (Some(text), Some(start), Some(end)) => Some((text, start, end)),
        _ => None,
    };
    Some(match (labels, span) {
        (Some(labels), Some((text, start, end))) => format!(
            "- {name}: {} {text:?} (characters {start}-{end})",
            labels.join(", ")
        ),
        (Some(labels), None) if !labels.is_empty() => format!("- {name}: {}", labels.join(", ")),
        _ => format!("- {name}: {}", Value::Object(value.clone())),
    })
}

/// `/predict`: every task through the deployed version at once, one item per task in order,
/// within [`PREDICT_BUDGET`] from `started`. A task that cannot be predicted (missing field,
/// provider failure, out of time) gets an empty result with score 0.
pub async fn predict(
    state: &AppState,
    caller: &AuthUser,
    prompt_id: i64,
    input: PredictInput,
    started: Instant,
) -> ApiResult<PredictView> {
    let tasks = input
        .tasks
        .ok_or_else(|| ApiError::field("tasks", "This field is required."))?;
    let db = &state.db;
    let (prompt, version, label) = answering(db, caller, prompt_id).await?;
    let xml = input.label_config.filter(|c| !c.trim().is_empty());
    let config = xml
        .as_deref()
        .map(|xml| parse_config("label_config", xml))
        .transpose()?;
    // Interactive requests come without /setup: the mirror is found or created here.
    let mirror = match input.project.as_ref().and_then(project_key) {
        Some(key) => match (find_mirror(db, prompt.id, &key).await?, xml.as_deref()) {
            (Some(row), _) => Some(row),
            (None, Some(xml)) => {
                let info = ProjectInfo {
                    label_config: Some(xml),
                    ..Default::default()
                };
                Some(upsert_mirror(db, &state.secrets, caller, &prompt, &key, info).await?)
            }
            (None, None) => None,
        },
        None => None,
    };
    let config = match (config, &mirror) {
        (Some(config), _) => config,
        (None, Some(row)) => {
            let stored = project::Entity::find_by_id(row.project_id)
                .one(db)
                .await?
                .ok_or(ApiError::NotFound)?;
            parse_config("label_config", &stored.label_config)?
        }
        (None, None) => return Err(ApiError::field("label_config", "This field is required.")),
    };
    if tasks.is_empty() {
        return Ok(PredictView { results: vec![] });
    }
    // Few-shot examples are the mirror's ground truth; a task's own is never its example.
    let mirror_project = mirror.as_ref().map_or(0, |m| m.project_id);
    let ls_ids: Vec<i64> = tasks
        .iter()
        .filter_map(|t| t.get("id").and_then(Value::as_i64))
        .collect();
    let known: HashMap<i64, i64> = if mirror_project > 0 && !ls_ids.is_empty() {
        task::Entity::find()
            .select_only()
            .columns([task::Column::LsTaskId, task::Column::Id])
            .filter(task::Column::ProjectId.eq(mirror_project))
            .filter(task::Column::LsTaskId.is_in(ls_ids))
            .into_tuple::<(Option<i64>, i64)>()
            .all(db)
            .await?
            .into_iter()
            .filter_map(|(ls, id)| Some((ls?, id)))
            .collect()
    } else {
        HashMap::new()
    };
    let live_tasks: Vec<LiveTask> = tasks
        .into_iter()
        .map(|t| {
            let id = t
                .get("id")
                .and_then(Value::as_i64)
                .and_then(|ls| known.get(&ls).copied())
                .unwrap_or(0);
            let data = match t {
                Value::Object(mut map) => map.remove("data").unwrap_or(Value::Null),
                _ => Value::Null,
            };
            LiveTask { id, data }
        })
        .collect();
    let context = input.params.as_ref().and_then(|p| p.get("context"));
    let options = LiveOptions {
        deadline: Some(PREDICT_BUDGET.saturating_sub(started.elapsed())),
        hint: context_hint(context),
    };
    let count = live_tasks.len();
    let answers = live::predict_with(
        &state.engine,
        db,
        version,
        label.clone(),
        mirror_project,
        config,
        live_tasks,
        options,
    )
    .await
    .map_err(|e| ApiError::bad_request("version_cannot_run", e.0))?;
    let failed: Vec<&str> = answers
        .iter()
        .filter_map(|a| a.error_type.as_deref())
        .collect();
    if !failed.is_empty() {
        tracing::info!(prompt = prompt.id, tasks = count, failed = failed.len(), kinds = ?failed, "ML backend predictions with failures");
    }
    Ok(PredictView {
        results: answers
            .into_iter()
            .map(|a| {
                let ok = a.error_type.is_none();
                PredictionItem {
                    result: if ok { a.result } else { vec![] },
                    score: if ok { 1.0 } else { 0.0 },
                    model_version: label.clone(),
                }
            })
            .collect(),
    })
}

/// The `model_version` labels of a prompt's versions, oldest first.
pub async fn version_labels(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
) -> ApiResult<Vec<String>> {
    let prompt = prompts::get(db, caller, prompt_id).await?;
    let titles: Vec<String> = model_version::Entity::find()
        .select_only()
        .column(model_version::Column::Title)
        .filter(model_version::Column::ParentModelId.eq(prompt.id))
        .order_by_asc(model_version::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(titles
        .iter()
        .map(|t| versions::prediction_label(&prompt.title, t))
        .collect())
}

/// The webhook actions that change what a prompt knows of a Label Studio project.
pub const HANDLED_ACTIONS: [&str; 5] = [
    "ANNOTATION_CREATED",
    "ANNOTATION_UPDATED",
    "ANNOTATIONS_CREATED",
    "ANNOTATIONS_DELETED",
    "START_TRAINING",
];

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
    use crate::label_studio::{self as connector, LinkInput, SyncInput};
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
        Ok(_) => connector::update(db, &state.secrets, caller, row.project_id, input).await,
        Err(ApiError::NotFound) => {
            connector::create(db, &state.secrets, caller, row.project_id, input).await
        }
        Err(e) => Err(e),
    };
    let started = match linked {
        Ok(_) => {
            connector::start_sync(
                db,
                &state.secrets,
                caller,
                row.project_id,
                SyncInput::default(),
            )
            .await
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

/// A Label Studio event, read from the webhook body, to apply in the background.
#[derive(Debug, Clone)]
pub struct Event {
    /// The action.
    pub action: String,
    /// The Label Studio project key.
    pub ls_project: String,
    /// The project's label config, when the payload carries it.
    pub label_config: Option<String>,
    /// (task, annotation) objects to upsert.
    pub upserts: Vec<(Value, Value)>,
    /// Label Studio ids of annotations to delete.
    pub deletes: Vec<i64>,
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
    pub fn read(action: &str, body: &super::protocol::WebhookInput) -> Option<Event> {
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
            upserts: vec![],
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
                    if let Some(task) = task {
                        event.upserts.push((task.clone(), a));
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
    let mirror = project::Entity::find_by_id(row.project_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !event.deletes.is_empty() {
        return delete_annotations(db, mirror.id, &event.deletes).await;
    }
    upsert_annotations(db, caller, &mirror, event.upserts).await
}

fn timestamp(value: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value?.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Upserts tasks (by `ls_task_id`) and their annotations (by `ls_annotation_id`) into the
/// mirror, in one transaction, and recounts the tasks touched. An annotation is ground truth
/// unless it was cancelled (skipped); an update older than the stored one (events applied out
/// of order) is skipped.
async fn upsert_annotations(
    db: &DatabaseConnection,
    caller: &AuthUser,
    mirror: &project::Model,
    pairs: Vec<(Value, Value)>,
) -> ApiResult<usize> {
    let txn = crate::db::begin_write(db).await?;
    let mut touched = vec![];
    for (ls_task, ls_annotation) in pairs {
        let (Some(ls_task_id), Some(ls_annotation_id)) = (
            ls_task.get("id").and_then(Value::as_i64),
            ls_annotation.get("id").and_then(Value::as_i64),
        ) else {
            continue;
        };
        let Some(task_id) = upsert_task(&txn, caller, mirror, ls_task_id, &ls_task).await? else {
            continue;
        };
        let result = match ls_annotation.get("result") {
            Some(v @ Value::Array(_)) => v.clone(),
            _ => json!([]),
        };
        let was_cancelled = ls_annotation
            .get("was_cancelled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let updated_at =
            timestamp(ls_annotation.get("updated_at")).unwrap_or_else(crate::util::now);
        let existing = annotation::Entity::find()
            .filter(annotation::Column::ProjectId.eq(mirror.id))
            .filter(annotation::Column::LsAnnotationId.eq(ls_annotation_id))
            .one(&txn)
            .await?;
        match existing {
            Some(found) if found.updated_at > updated_at => continue,
            Some(found) => {
                let old_task = found.task_id;
                let mut model: annotation::ActiveModel = found.into();
                model.task_id = Set(task_id);
                model.result = Set(result);
                model.was_cancelled = Set(was_cancelled);
                model.ground_truth = Set(!was_cancelled);
                model.lead_time = Set(ls_annotation.get("lead_time").and_then(Value::as_f64));
                model.last_action = Set(Some("updated".into()));
                model.updated_at = Set(updated_at);
                model.update(&txn).await?;
                touched.push(old_task);
            }
            None => {
                annotation::ActiveModel {
                    id: NotSet,
                    task_id: Set(task_id),
                    project_id: Set(mirror.id),
                    result: Set(result),
                    was_cancelled: Set(was_cancelled),
                    ground_truth: Set(!was_cancelled),
                    lead_time: Set(ls_annotation.get("lead_time").and_then(Value::as_f64)),
                    completed_by_id: Set(Some(caller.user.id)),
                    updated_by_id: Set(Some(caller.user.id)),
                    parent_prediction_id: Set(None),
                    parent_annotation_id: Set(None),
                    last_action: Set(Some("imported".into())),
                    ls_annotation_id: Set(Some(ls_annotation_id)),
                    created_at: Set(
                        timestamp(ls_annotation.get("created_at")).unwrap_or(updated_at)
                    ),
                    updated_at: Set(updated_at),
                }
                .insert(&txn)
                .await?;
            }
        }
        touched.push(task_id);
    }
    counters::recount_tasks(&txn, &touched).await?;
    txn.commit().await?;
    Ok(touched.len())
}

/// The mirror task of Label Studio task `ls_task_id`: updated with the payload's data, or
/// created (through the same insert as imports) and tagged with the Label Studio id. `None`
/// when the task is new and the payload has no data object.
async fn upsert_task(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    mirror: &project::Model,
    ls_task_id: i64,
    ls_task: &Value,
) -> ApiResult<Option<i64>> {
    let data = ls_task.get("data").filter(|d| d.is_object()).cloned();
    let existing = task::Entity::find()
        .filter(task::Column::ProjectId.eq(mirror.id))
        .filter(task::Column::LsTaskId.eq(ls_task_id))
        .one(db)
        .await?;
    if let Some(found) = existing {
        if let Some(data) = data.filter(|d| *d != found.data) {
            task::Entity::update_many()
                .col_expr(task::Column::Data, Expr::value(data))
                .col_expr(task::Column::UpdatedAt, Expr::value(crate::util::now()))
                .filter(task::Column::Id.eq(found.id))
                .exec(db)
                .await?;
        }
        return Ok(Some(found.id));
    }
    let Some(data) = data else {
        return Ok(None);
    };
    let meta = ls_task
        .get("meta")
        .filter(|m| m.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    let outcome = tasks::insert_many(db, caller, mirror, vec![NewTask::plain(data, meta)]).await?;
    let id = outcome
        .task_ids
        .first()
        .copied()
        .ok_or_else(|| ApiError::Internal("mirror task not created".into()))?;
    task::Entity::update_many()
        .col_expr(task::Column::LsTaskId, Expr::value(ls_task_id))
        .filter(task::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(Some(id))
}

/// Deletes the mirror's annotations with these Label Studio ids and recounts their tasks.
async fn delete_annotations(
    db: &DatabaseConnection,
    mirror_id: i64,
    ls_ids: &[i64],
) -> ApiResult<usize> {
    let txn = crate::db::begin_write(db).await?;
    let found: Vec<(i64, i64)> = annotation::Entity::find()
        .select_only()
        .columns([annotation::Column::Id, annotation::Column::TaskId])
        .filter(annotation::Column::ProjectId.eq(mirror_id))
        .filter(annotation::Column::LsAnnotationId.is_in(ls_ids.to_vec()))
        .into_tuple()
        .all(&txn)
        .await?;
    if !found.is_empty() {
        annotation::Entity::delete_many()
            .filter(annotation::Column::Id.is_in(found.iter().map(|(id, _)| *id)))
            .exec(&txn)
            .await?;
        let tasks: Vec<i64> = found.iter().map(|(_, t)| *t).collect();
        counters::recount_tasks(&txn, &tasks).await?;
    }
    txn.commit().await?;
    Ok(found.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_keys_are_the_part_before_the_dot() {
        assert_eq!(project_key(&json!("7.1795325158")).as_deref(), Some("7"));
        assert_eq!(project_key(&json!("12")).as_deref(), Some("12"));
        assert_eq!(project_key(&json!(12)).as_deref(), Some("12"));
        assert_eq!(
            project_key(&json!({"id": 3, "title": "x"})).as_deref(),
            Some("3")
        );
        assert_eq!(project_key(&json!(".17")), None);
        assert_eq!(project_key(&json!(null)), None);
        assert_eq!(project_key(&json!("x".repeat(65))), None);
    }

    #[test]
    fn mirror_titles_fit_fifty_characters() {
        assert_eq!(
            mirror_title("7", 3),
            "Label Studio project 7 (ML backend of prompt 3)"
        );
        assert!(mirror_title("123456789012", 123456).chars().count() <= 50);
        assert!(mirror_title(&"9".repeat(64), 1).chars().count() <= 50);
    }

    #[test]
    fn hints_describe_choices_and_spans() {
        let context = json!({"result": [
            {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Negative"]}},
            {"from_name": "label", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 4, "text": "John", "labels": ["PER"]}},
            {"from_name": "answer", "type": "textarea", "value": {"text": ["yes"]}},
            {"no": "value"}
        ], "annotation_id": null});
        let hint = context_hint(Some(&context)).expect("hint");
        assert!(hint.contains("- sentiment: Negative\n"), "{hint}");
        assert!(
            hint.contains("- label: PER \"John\" (characters 0-4)"),
            "{hint}"
        );
        assert!(hint.contains("- answer: {\"text\":[\"yes\"]}"), "{hint}");
        assert_eq!(context_hint(Some(&json!({"result": []}))), None);
        assert_eq!(context_hint(Some(&json!(null))), None);
        assert_eq!(context_hint(None), None);
    }
}
