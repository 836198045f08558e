//! Response types of the Prompts API: prompts, versions, runs and their small answers.
use super::users::UserSimple;
use chrono::{DateTime, Utc};
use entity::{model_interface, model_refinement, model_run, model_version};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A prompt as create and update return it (`associated_projects` as ids).
#[derive(Debug, Serialize, ToSchema)]
pub struct PromptView {
    /// Prompt id.
    pub id: i64,
    /// Name.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// `TextClassification` or `NamedEntityRecognition`.
    pub skill_name: Option<String>,
    /// Task-data fields the prompt reads.
    #[schema(value_type = Vec<String>)]
    pub input_fields: Value,
    /// Label values the prompt outputs.
    #[schema(value_type = Vec<String>)]
    pub output_classes: Value,
    /// Project ids.
    pub associated_projects: Vec<i64>,
    /// Prompter extension: the version the prompt's Label Studio ML backend answers with;
    /// `null`: its newest version.
    pub deployed_version: Option<i64>,
    /// Organization id.
    pub organization: i64,
    /// Creator.
    pub created_by: Option<UserSimple>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Updated at.
    pub updated_at: DateTime<Utc>,
}

impl PromptView {
    /// The view of `p` with its project ids and creator.
    pub fn new(p: model_interface::Model, projects: Vec<i64>, creator: Option<UserSimple>) -> Self {
        PromptView {
            id: p.id,
            title: p.title,
            description: p.description,
            skill_name: p.skill_name,
            input_fields: p.input_fields,
            output_classes: p.output_classes,
            associated_projects: projects,
            deployed_version: p.deployed_version_id,
            organization: p.organization_id,
            created_by: creator,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A project a prompt works on.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssociatedProject {
    /// Project id.
    pub id: i64,
    /// Project title.
    pub title: Option<String>,
}

/// A prompt as list and get return it, with counts and best score.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromptDetailView {
    /// Prompt id.
    pub id: i64,
    /// Name.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// `TextClassification` or `NamedEntityRecognition`.
    pub skill_name: Option<String>,
    /// Task-data fields the prompt reads.
    #[schema(value_type = Vec<String>)]
    pub input_fields: Value,
    /// Label values the prompt outputs.
    #[schema(value_type = Vec<String>)]
    pub output_classes: Value,
    /// Projects, as `{id, title}`.
    pub associated_projects: Vec<AssociatedProject>,
    /// Prompter extension: the version the prompt's Label Studio ML backend answers with;
    /// `null`: its newest version.
    pub deployed_version: Option<i64>,
    /// Organization id.
    pub organization: i64,
    /// Creator.
    pub created_by: Option<UserSimple>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Updated at.
    pub updated_at: DateTime<Utc>,
    /// Number of versions.
    pub versions_count: i64,
    /// Number of runs across all versions.
    pub runs_count: i64,
    /// Best version score (accuracy of its latest completed HasGT run), or null.
    pub best_score: Option<f64>,
}

/// A prompt version.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    /// Version id.
    pub id: i64,
    /// Name, unique within the prompt.
    pub title: String,
    /// Prompt template.
    pub prompt: String,
    /// Provider.
    pub provider: String,
    /// Model id at the provider.
    pub provider_model_id: String,
    /// Model name for display (the provider's model id).
    pub model_display_name: String,
    /// Provider connection id.
    pub model_provider_connection: Option<i64>,
    /// Few-shot examples per call (0 = none).
    pub max_few_shot_examples: Option<i32>,
    /// Prompter extension: the version's model parameters (`{}` when it sets none; the
    /// connection's apply under them).
    pub model_params: crate::llm::ModelParams,
    /// Prompt id.
    pub parent_model: i64,
    /// Accuracy of the latest completed HasGT run (0..1), or null.
    pub score: Option<f64>,
    /// Organization id.
    pub organization: i64,
    /// Creator.
    pub created_by: Option<UserSimple>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Updated at.
    pub updated_at: DateTime<Utc>,
}

impl VersionView {
    /// The view of `v` with its score and creator.
    pub fn new(v: model_version::Model, score: Option<f64>, creator: Option<UserSimple>) -> Self {
        VersionView {
            id: v.id,
            title: v.title,
            prompt: v.prompt,
            provider: v.provider,
            model_display_name: v.provider_model_id.clone(),
            provider_model_id: v.provider_model_id,
            model_provider_connection: v.model_provider_connection_id,
            max_few_shot_examples: v.max_few_shot_examples,
            model_params: crate::llm::ModelParams::from_stored(v.model_params.as_ref()),
            parent_model: v.parent_model_id,
            score,
            organization: v.organization_id,
            created_by: creator,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

/// An inference run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    /// Run id.
    pub id: i64,
    /// Project id.
    pub project: i64,
    /// Version id.
    pub model_version: i64,
    /// Prompt id.
    pub parent_model: i64,
    /// `All`, `HasGT`, `Sample` or `Custom`.
    pub project_subset: entity::enums::Subset,
    /// `Pending`, `InProgress`, `Completed`, `Failed` or `Canceled`.
    pub status: entity::enums::RunStatus,
    /// Job id.
    pub job_id: Option<String>,
    /// Tasks in the subset.
    pub total_tasks: i64,
    /// Successful predictions stored.
    pub total_predictions: i64,
    /// Predictions matching ground truth.
    pub total_correct_predictions: i64,
    /// Prompter extension: tasks that ended in a failure.
    pub total_failed_predictions: i64,
    /// Sample size of a `Sample` run.
    pub sample_subset_size: Option<i32>,
    /// Data Manager filters, as sent.
    #[schema(value_type = Option<Object>)]
    pub filters_json: Option<Value>,
    /// Task ids of a `Custom` run.
    #[schema(value_type = Option<Vec<i64>>)]
    pub task_ids: Option<Value>,
    /// Whether only tasks without a prediction of this version were run.
    pub only_missing_predictions: bool,
    /// Source run of a re-evaluation.
    pub source_model_run: Option<i64>,
    /// Prompter extension: prompt tokens spent.
    pub prompt_tokens: i64,
    /// Prompter extension: completion tokens spent.
    pub completion_tokens: i64,
    /// Prompter extension: cost in USD.
    pub total_cost_usd: f64,
    /// Prompter extension: why the run failed, for a `Failed` run.
    pub error_message: Option<String>,
    /// Prompter extension: what was changed to get answers, each once (e.g. a parameter the
    /// provider refused, sent again without it).
    pub notes: Vec<String>,
    /// Organization id.
    pub organization: i64,
    /// Creator.
    pub created_by: Option<UserSimple>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// When the run was triggered.
    pub triggered_at: Option<DateTime<Utc>>,
    /// When a result was last stored.
    pub predictions_updated_at: Option<DateTime<Utc>>,
    /// When the run finished.
    pub completed_at: Option<DateTime<Utc>>,
}

impl RunView {
    /// The view of `r` of the prompt `parent_model`.
    pub fn new(r: model_run::Model, parent_model: i64, creator: Option<UserSimple>) -> Self {
        RunView {
            id: r.id,
            project: r.project_id,
            model_version: r.model_version_id,
            parent_model,
            project_subset: r.project_subset,
            status: r.status,
            job_id: r.job_id,
            total_tasks: r.total_tasks,
            total_predictions: r.total_predictions,
            total_correct_predictions: r.total_correct_predictions,
            total_failed_predictions: r.total_failed,
            sample_subset_size: r.sample_subset_size,
            filters_json: r.filters_json,
            task_ids: r.task_ids,
            only_missing_predictions: r.only_missing_predictions,
            source_model_run: r.source_model_run_id,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            total_cost_usd: r.total_cost,
            error_message: r.error_message,
            notes: r
                .notes
                .and_then(|n| serde_json::from_value(n).ok())
                .unwrap_or_default(),
            organization: r.organization_id,
            created_by: creator,
            created_at: r.created_at,
            triggered_at: r.triggered_at,
            predictions_updated_at: r.predictions_updated_at,
            completed_at: r.completed_at,
        }
    }
}

/// The answer of a cancel.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelView {
    /// What happened.
    pub detail: String,
}

/// The default name of a new version.
#[derive(Debug, Serialize, ToSchema)]
pub struct DefaultVersionNameView {
    /// `v{n+1}`, free within the prompt.
    pub default_model_version_name: String,
    /// Always null.
    pub message: Option<String>,
}

/// A prompt refinement (Label Studio's `RefinedPromptResponse`), plus Prompter's
/// `new_version`, `project_id`, `teacher_model_name` and `error_message`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefinedPromptView {
    /// Title of the new version; null until the job completes (and when it failed).
    pub title: Option<String>,
    /// The teacher's reasoning; null until it answered.
    pub reasoning: Option<String>,
    /// The refined prompt: `""` until the teacher answered. When the job failed because the
    /// refined prompt was rejected, the rejected text (see `error_message`).
    pub prompt: String,
    /// The job id to poll `GET .../refine?refinement_job_id=` with.
    pub refinement_job_id: String,
    /// `Pending`, `InProgress`, `Completed` or `Failed`.
    pub refinement_status: entity::enums::RefinementStatus,
    /// Cost of the teacher call(s) in USD, a decimal string (`"0"` when the model has no
    /// price).
    pub total_cost: String,
    /// The version that was refined, as `GET .../versions/{id}` returns it.
    pub previous_version: Option<VersionView>,
    /// Prompter extension: the id of the version the refinement created (null until
    /// completed, or once that version is deleted).
    pub new_version: Option<i64>,
    /// Prompter extension: the project the teacher learned from.
    pub project_id: i64,
    /// Prompter extension: the teacher model.
    pub teacher_model_name: String,
    /// Prompter extension: why the job failed, null otherwise.
    pub error_message: Option<String>,
}

impl RefinedPromptView {
    /// The view of refinement `r` of `previous_version`.
    pub fn new(r: model_refinement::Model, previous_version: Option<VersionView>) -> Self {
        RefinedPromptView {
            title: r.title,
            reasoning: r.reasoning,
            prompt: r.prompt,
            refinement_job_id: r.job_id,
            refinement_status: r.status,
            total_cost: crate::pricing::usd(r.total_cost),
            previous_version,
            new_version: r.new_version_id,
            project_id: r.project_id,
            teacher_model_name: r.teacher_model_name,
            error_message: r.error_message,
        }
    }
}
