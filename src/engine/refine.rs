//! Prompt refinement (`versions.refine_prompt`): a "teacher" model, through a provider
//! connection of the organization, rewrites a version's prompt from the project's label config,
//! ground truth and the version's current predictions; the rewrite is saved as a new version of
//! the same prompt.
//!
//! A refinement is a row (`model_refinements`) that moves `Pending` → `InProgress` →
//! `Completed` or `Failed`; clients poll it by its `job_id`. The work is a `refine` job of the
//! job queue ([`crate::jobs`]), enqueued with the row in one transaction: any worker of any
//! process runs it under a lease, and when its worker dies another one takes it over. The
//! teacher's answer is kept on the row before the new version is saved, so a job taken over
//! after the teacher answered does not pay for a second call. The new version, the row's
//! `Completed` and the check that the worker still holds the job commit together: however
//! often workers die, a refinement makes at most one version. The teacher call goes through
//! the engine's scheduler of the teacher connection and model, like every other LLM call. Jobs
//! of one version save their versions one at a time under the prompt's row lock, so
//! concurrent jobs never collide on a title.
//!
//! A refined prompt is accepted only if it renders and reads no task-data field beyond those
//! the current prompt reads and the project's data keys; otherwise the job fails with an
//! `error_message`, and the rejected text stays in `prompt` for the user to see.
use super::Engine;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::jobs::handlers::RefineJob;
use crate::jobs::{BackgroundJob, JobContext};
use crate::services::jobs::{self as job_rows, NewJob};
use crate::services::model_providers;
use crate::services::{projects, versions};
use crate::template;
use crate::views::refine::RefineInput;
use entity::enums::RefinementStatus;
use entity::{model_interface, model_refinement, model_version, project};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, TransactionSession, TransactionTrait,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Ground-truth tasks shown to the teacher, at most.
pub const MAX_EXAMPLES: usize = 20;

/// Largest title a version may have.
const MAX_TITLE_CHARS: usize = 500;

pub(crate) mod context;
mod resume;
use context::Context;
pub use resume::{give_up, run_job, wait_end};

/// A refinement ready to run: its row and what it was checked against.
#[derive(Debug, Clone)]
struct Job {
    /// The refinement row (`Pending`).
    pub refinement: model_refinement::Model,
    version: model_version::Model,
    project: project::Model,
    caller: AuthUser,
}

fn required<T>(value: Option<T>, field: &str) -> ApiResult<T> {
    value.ok_or_else(|| ApiError::field(field, "This field is required."))
}

/// Checks a refinement request of version `version_id` of prompt `prompt_id`, records it as
/// `Pending` and enqueues its `refine` job, in one transaction. Unknown or foreign prompt and
/// version answer 404; a missing field, or an unknown or foreign project or connection,
/// answers 400 naming the field.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
    input: RefineInput,
) -> ApiResult<model_refinement::Model> {
    let txn = crate::db::begin_write(db).await?;
    let created = create_in(&txn, caller, prompt_id, version_id, input).await?;
    let job = NewJob::new(
        RefineJob::KIND,
        Some(caller.organization_id),
        serde_json::to_value(RefineJob {
            refinement_id: created.id,
        })
        .unwrap_or_default(),
    )
    .about(job_rows::subject::REFINEMENT, created.id)
    .by(caller.user.id);
    job_rows::enqueue(
        &txn,
        NewJob {
            max_attempts: RefineJob::MAX_ATTEMPTS,
            ..job
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

async fn create_in(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
    input: RefineInput,
) -> ApiResult<model_refinement::Model> {
    let version = versions::get(db, caller, prompt_id, version_id).await?;
    let project_id = required(input.project_id, "project_id")?;
    // The project first: a request missing both names the project.
    let project = projects::get_for_field(db, caller, project_id, "project_id").await?;
    let (model, connection) = model_providers::teacher(
        db,
        caller,
        input.teacher_model_name.as_deref(),
        input.teacher_model_provider_connection_id,
    )
    .await?;
    let now = crate::util::now();
    let refinement = model_refinement::ActiveModel {
        id: NotSet,
        organization_id: Set(caller.organization_id),
        prompt_id: Set(prompt_id),
        previous_version_id: Set(version.id),
        project_id: Set(project.id),
        teacher_model_name: Set(model),
        teacher_connection_id: Set(connection),
        job_id: Set(uuid::Uuid::new_v4().simple().to_string()),
        status: Set(RefinementStatus::Pending),
        new_version_id: Set(None),
        title: Set(None),
        reasoning: Set(None),
        prompt: Set(String::new()),
        total_cost: Set(0.0),
        error_message: Set(None),
        created_by_id: Set(Some(caller.user.id)),
        lease_expires_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let refinement = refinement.insert(db).await?;
    crate::services::audit::record(
        db,
        caller,
        entity::enums::AuditAction::RefineStart,
        crate::services::audit::Object::new(
            entity::enums::AuditObject::Refinement,
            refinement.id,
            format!("Refinement of {}", version.title),
        ),
        crate::services::audit::Changes::created(&refinement),
    )
    .await?;
    Ok(refinement)
}

/// The refinement `job_id` of version `version_id` of prompt `prompt_id`, or 404 (also for a
/// job of another version or organization).
pub async fn get(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
    job_id: &str,
) -> ApiResult<model_refinement::Model> {
    versions::get(db, caller, prompt_id, version_id).await?;
    model_refinement::Entity::find()
        .filter(model_refinement::Column::JobId.eq(job_id))
        .filter(model_refinement::Column::PreviousVersionId.eq(version_id))
        .filter(model_refinement::Column::PromptId.eq(prompt_id))
        .filter(model_refinement::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Whether a refinement status means the job has not finished.
pub fn is_running(s: &RefinementStatus) -> bool {
    matches!(s, RefinementStatus::Pending | RefinementStatus::InProgress)
}

/// Attempts at saving a job's end before it is failed as unsaved.
const SAVE_ATTEMPTS: usize = 3;

/// The teacher's answer and what it cost.
#[derive(Debug, Default, Clone)]
struct Outcome {
    cost: f64,
    reasoning: Option<String>,
    title: Option<String>,
    prompt: String,
    /// Why the job failed, if it did.
    error: Option<String>,
}

/// Calls the teacher and checks its answer.
async fn teach(engine: &Engine, db: &DatabaseConnection, job: &Job) -> Outcome {
    let r = &job.refinement;
    let fail = |message: String| Outcome {
        error: Some(message),
        ..Default::default()
    };
    let config = projects::config_of(&job.project);
    let context = match Context::load(db, &job.version, &job.project, &config).await {
        Ok(c) => c,
        Err(e) => return fail(format!("database: {e}")),
    };
    let teacher = super::teacher::Teacher {
        organization_id: r.organization_id,
        connection_id: r.teacher_connection_id,
        model: &r.teacher_model_name,
    };
    let messages = context.messages(&job.version.prompt, &job.project.label_config);
    let answer = match super::teacher::ask(engine, teacher, messages, answer_schema()).await {
        Ok(a) => a,
        Err(f) => {
            return Outcome {
                cost: f.cost,
                ..fail(f.message)
            };
        }
    };
    let cost = answer.cost;
    let output = &answer.output;
    let text = |key: &str| {
        output
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let reasoning = text("reasoning");
    let title = text("new_prompt_title");
    let Some(prompt) = output
        .get("new_prompt_content")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
    else {
        return Outcome {
            cost,
            reasoning,
            ..fail("The teacher model's answer has no new_prompt_content.".into())
        };
    };
    let error = check_prompt(
        &prompt,
        &job.version.prompt,
        &context.data_keys,
        r.project_id,
    )
    .err();
    Outcome {
        cost,
        reasoning,
        title,
        prompt,
        error,
    }
}

/// The root of a template field: `a` of `a.b`, `a[0]`, `a!r` or `a:>10`.
fn root(field: &str) -> &str {
    field.split(['.', '[', '!', ':']).next().unwrap_or(field)
}

/// Checks a refined prompt: it renders, and reads only fields the current prompt reads or data
/// keys of the project.
pub(crate) fn check_prompt(
    new: &str,
    current: &str,
    data_keys: &BTreeSet<String>,
    project_id: i64,
) -> Result<(), String> {
    let fields =
        template::fields(new).map_err(|e| format!("The refined prompt is not valid: {e}."))?;
    let mut known = data_keys.clone();
    known.extend(
        template::fields(current)
            .unwrap_or_default()
            .iter()
            .map(|f| root(f).to_string()),
    );
    let unknown: Vec<String> = fields
        .iter()
        .filter(|f| !known.contains(root(f)))
        .map(|f| format!("{{{f}}}"))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "The refined prompt reads {}, which is neither a field of the current prompt nor a \
             data key of project {project_id}; it was not saved.",
            unknown.join(", ")
        ))
    }
}

/// The JSON schema of the teacher's answer.
pub(crate) fn answer_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "reasoning": {
                "type": "string",
                "description": "What is wrong with the current prompt and what the new one changes."
            },
            "new_prompt_title": {
                "type": "string",
                "description": "A short name for the new prompt (a few words)."
            },
            "new_prompt_content": {
                "type": "string",
                "description": "The complete new prompt, with the placeholders of the current prompt."
            }
        },
        "required": ["reasoning", "new_prompt_title", "new_prompt_content"],
        "additionalProperties": false
    })
}

/// What saving a refinement's end did.
#[derive(Debug)]
enum Finished {
    /// The row as saved (or as found, when it had already ended).
    Saved(Box<model_refinement::Model>),
    /// The row or its prompt is gone.
    Gone,
    /// The worker no longer holds the job: nothing was saved.
    Lost,
}

/// Records the end of a refinement: on success, the new version and `Completed`, in one
/// transaction that also checks that the worker still holds the job; otherwise `Failed` with
/// the message.
async fn finish(
    db: &DatabaseConnection,
    job: &Job,
    outcome: Outcome,
    cx: &JobContext,
) -> ApiResult<Finished> {
    let txn = crate::db::begin_write(db).await?;
    // The prompt's row lock serializes the jobs (and version creations) of one prompt on
    // PostgreSQL, so the title chosen below is still free at the insert; SQLite's
    // `BEGIN IMMEDIATE` already admits one writer at a time.
    if model_interface::Entity::find_by_id(job.version.parent_model_id)
        .lock(LockType::NoKeyUpdate)
        .one(&txn)
        .await?
        .is_none()
    {
        return Ok(Finished::Gone);
    }
    if !cx.holds(&txn).await.unwrap_or(false) {
        return Ok(Finished::Lost);
    }
    let Some(row) = model_refinement::Entity::find_by_id(job.refinement.id)
        .one(&txn)
        .await?
    else {
        return Ok(Finished::Gone);
    };
    if !is_running(&row.status) {
        return Ok(Finished::Saved(Box::new(row)));
    }
    let now = crate::util::now();
    let mut update: model_refinement::ActiveModel = row.into();
    update.lease_expires_at = Set(None);
    update.total_cost = Set(outcome.cost);
    update.reasoning = Set(outcome.reasoning);
    update.prompt = Set(outcome.prompt.clone());
    update.updated_at = Set(now);
    match outcome.error {
        Some(message) => {
            update.status = Set(RefinementStatus::Failed);
            update.error_message = Set(Some(message));
        }
        None => {
            let previous = &job.version;
            let title = match outcome.title {
                Some(t)
                    if t.chars().count() <= MAX_TITLE_CHARS
                        && !versions::title_taken(&txn, previous.parent_model_id, &t, None)
                            .await? =>
                {
                    t
                }
                _ => versions::default_name(&txn, &job.caller, previous.parent_model_id).await?,
            };
            // Everything of the previous version but its name and prompt (a pipeline's last
            // step's) carries over.
            let changes = versions::VersionChanges {
                title: Some(title.clone()),
                prompt: Some(outcome.prompt.clone()),
                ..Default::default()
            };
            match versions::derive_from(&txn, &job.caller, previous, changes).await {
                Ok(created) => {
                    update.status = Set(RefinementStatus::Completed);
                    update.title = Set(Some(title));
                    update.new_version_id = Set(Some(created.id));
                    update.error_message = Set(None);
                }
                Err(ApiError::Validation { errors }) => {
                    let said: Vec<String> = errors.into_values().flatten().collect();
                    update.status = Set(RefinementStatus::Failed);
                    update.error_message = Set(Some(format!(
                        "The refined prompt cannot be saved as a version: {}",
                        said.join(" ")
                    )));
                }
                Err(e) => return Err(e),
            }
        }
    }
    let saved = update.update(&txn).await?;
    crate::services::webhooks::refinement_ended(&txn, &saved).await?;
    txn.commit().await?;
    Ok(Finished::Saved(Box::new(saved)))
}

#[cfg(test)]
mod tests {
    use super::context::{Example, cut};
    use super::*;

    fn keys(k: &[&str]) -> BTreeSet<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_refined_prompt_reads_only_known_fields() {
        let data = keys(&["text", "meta"]);
        assert!(check_prompt("Now: {text}", "Old: {text}", &data, 1).is_ok());
        assert!(check_prompt("{meta.lang} {text}", "{text}", &data, 1).is_ok());
        assert!(check_prompt("{extra} {text}", "{extra} {text}", &keys(&[]), 1).is_ok());
        let err = check_prompt("{text} {label}", "{text}", &data, 7).unwrap_err();
        assert!(
            err.contains("{label}") && err.contains("project 7"),
            "{err}"
        );
        let err = check_prompt("{text", "{text}", &data, 1).unwrap_err();
        assert!(err.contains("not valid"), "{err}");
    }

    #[test]
    fn long_inputs_are_cut() {
        assert_eq!(cut("abcdef", 3), "abc…");
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("ééé", 2), "éé…");
    }

    #[test]
    fn the_user_message_wraps_the_current_prompt() {
        let context = Context {
            examples: vec![Example {
                input: "Classify: good".into(),
                ground_truth: json!({"sentiment": "Positive"}),
                prediction: None,
            }],
            data_keys: keys(&["text"]),
        };
        let messages = context.messages("Classify: {text}", "<View/>");
        assert_eq!(messages.len(), 2);
        assert!(messages[0].text().contains("{text}"));
        let user = &messages[1].text();
        assert!(user.contains("<current_prompt>Classify: {text}</current_prompt>"));
        assert!(user.contains(r#"Ground truth: {"sentiment":"Positive"}"#));
        assert!(user.contains("Current prediction: none"));
    }
}
