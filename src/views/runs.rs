//! Inference runs: the run view, its writable fields, list filters, cancel, and the result
//! callbacks of an external inference worker.
use super::users::UserSimple;
use chrono::{DateTime, Utc};
use entity::enums::Subset;
use entity::model_run;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// An inference run.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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
    /// Prompter extension: of `total_predictions`, those on tasks with ground truth (the
    /// predictions accuracy is computed over).
    pub total_scored_predictions: i64,
    /// Prompter extension: of `total_failed_predictions`, those on tasks with ground truth
    /// (they count as wrong in accuracy).
    pub total_scored_failed_predictions: i64,
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
    /// Prompter extension: cost in USD; `null` when the model has no known price (a note
    /// says so), never a misleading 0.
    pub total_cost_usd: Option<f64>,
    /// Prompter extension: `false` when the run asks the provider for every task (created with
    /// `cache: false`).
    pub cache: bool,
    /// Prompter extension: of `total_predictions`, those answered from the organization's
    /// response cache (cost 0).
    pub total_cached_predictions: i64,
    /// Prompter extension: `online` (one call per task) or `batch` (the provider's batch API).
    pub execution: entity::enums::RunExecution,
    /// Prompter extension: a batch run's progress at its provider (`null` for online runs).
    pub batches: Option<BatchProgressView>,
    /// Prompter extension: the run's latest failed task (kind, message, when), while it runs
    /// and after.
    pub last_error: Option<RunErrorView>,
    /// Prompter extension: while the run is active and this server's engine is retrying calls
    /// of its connection and model: how many wait and why.
    pub retry_state: Option<RetryStateView>,
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
    /// The run's accuracy from its counters, by the one definition ([`crate::scoring::Accuracy`]:
    /// failed tasks count as wrong).
    pub fn accuracy(&self) -> crate::scoring::Accuracy {
        crate::scoring::Accuracy::new(
            self.total_correct_predictions,
            self.total_scored_predictions,
            self.total_scored_failed_predictions,
        )
    }

    /// The view of `r` of the prompt `parent_model`.
    pub fn new(r: model_run::Model, parent_model: i64, creator: Option<UserSimple>) -> Self {
        let notes: Vec<String> = r
            .notes
            .and_then(|n| serde_json::from_value(n).ok())
            .unwrap_or_default();
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
            total_scored_predictions: r.total_scored_predictions,
            total_scored_failed_predictions: r.total_scored_failed,
            sample_subset_size: r.sample_subset_size,
            filters_json: r.filters_json,
            task_ids: r.task_ids,
            only_missing_predictions: r.only_missing_predictions,
            source_model_run: r.source_model_run_id,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            total_cost_usd: (!crate::pricing::has_unpriced_note(&notes)).then_some(r.total_cost),
            cache: r.use_cache,
            total_cached_predictions: r.total_cached_predictions,
            execution: r.execution,
            batches: None,
            last_error: None,
            retry_state: None,
            error_message: r.error_message,
            notes,
            organization: r.organization_id,
            created_by: creator,
            created_at: r.created_at,
            triggered_at: r.triggered_at,
            predictions_updated_at: r.predictions_updated_at,
            completed_at: r.completed_at,
        }
    }
}

/// A batch run's progress at its provider, summed over its batches.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchProgressView {
    /// Requests the provider accepted.
    pub submitted: i64,
    /// Answered inside batches.
    pub completed: i64,
    /// Failed inside batches, or never executed (a canceled or expired batch).
    pub failed: i64,
    /// Of those, asked again online (once each).
    pub retried_online: i64,
    /// The run's batches, in order.
    pub batches: Vec<ProviderBatchView>,
}

/// One batch of a run at its provider.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProviderBatchView {
    /// Its place among the run's batches, from 1.
    pub seq: i32,
    /// The provider's id (`batch_...` at OpenAI and Azure, `msgbatch_...` at Anthropic,
    /// `batches/...` at Gemini), once submitted.
    pub provider_batch_id: Option<String>,
    /// `submitting`, `running`, `collected`, `canceled` or `failed`.
    pub status: entity::enums::ProviderBatchStatus,
    /// Requests in it.
    pub requests: i64,
    /// Answered inside it (as the provider last reported, while it runs).
    pub completed: i64,
    /// Failed inside it, or never executed.
    pub failed: i64,
    /// Of its tasks, those asked again online.
    pub retried_online: i64,
    /// Why it failed as a whole.
    pub error: Option<String>,
    /// When the provider accepted it.
    pub submitted_at: Option<DateTime<Utc>>,
    /// When its results were written.
    pub ended_at: Option<DateTime<Utc>>,
}

/// A failed task of a run, as its progress shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunErrorView {
    /// The kind of failure (`Timeout`, `RateLimit`, `MissingField`, `InvalidOutput`, ...).
    pub error_type: Option<entity::enums::FailureKind>,
    /// What went wrong.
    pub message: Option<String>,
    /// The task.
    pub task: i64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// Calls of a run's connection and model that wait to be retried.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RetryStateView {
    /// Calls waiting out a backoff now.
    pub waiting: u64,
    /// Attempts retried since the server started (for this connection and model).
    pub retried: u64,
    /// The kind of the last retried error.
    pub last_error_type: entity::enums::FailureKind,
    /// The last retried error.
    pub last_error: String,
    /// When it happened.
    pub last_error_at: DateTime<Utc>,
}

impl From<crate::llm::scheduler::RetryState> for RetryStateView {
    fn from(s: crate::llm::scheduler::RetryState) -> Self {
        RetryStateView {
            waiting: s.waiting,
            retried: s.retried,
            last_error_type: s.last_error_type,
            last_error: s.last_error,
            last_error_at: s.last_error_at,
        }
    }
}

/// The answer of a cancel.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CancelView {
    /// What happened.
    pub detail: String,
}

/// A new run. Read-only keys the SDK may send (`organization`, `total_*`, `job_id`,
/// `predictions_updated_at`) are ignored.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(example = json!({"project": 1, "project_subset": "HasGT"}))]
pub struct RunInput {
    /// The project to run on (required); must be in the caller's organization.
    #[schema(required = true, value_type = i64)]
    pub project: Option<i64>,
    /// `All`, `HasGT` (default), `Sample` or `Custom` (with `task_ids`).
    pub project_subset: Option<Subset>,
    /// Only tasks without a successful prediction of this version; keeps the previous run.
    pub only_missing_predictions: Option<bool>,
    /// Tasks in a `Sample` run (default: the server's sample size).
    #[schema(minimum = 0)]
    pub sample_subset_size: Option<i32>,
    /// A Data Manager filter group; stored only.
    #[schema(value_type = Option<Object>)]
    pub filters_json: Option<crate::util::JsonObject>,
    /// Prompter extension: the task ids of a `Custom` run.
    pub task_ids: Option<Vec<i64>>,
    /// Prompter extension: `false` asks the provider for every task even when an identical
    /// call was answered before (default `true`: such calls are answered from the
    /// organization's response cache at cost 0).
    pub cache: Option<bool>,
    /// Prompter extension: `online` (default: one call per task, paced to the connection's
    /// limits) or `batch` (through the provider's batch API: answered within a day, at the
    /// provider's batch price, half the online one). Batch takes single-call versions of
    /// OpenAI, Azure OpenAI, Anthropic and Gemini connections.
    pub execution: Option<entity::enums::RunExecution>,
}

/// Filters of the run list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RunListQuery {
    /// Runs on this project.
    pub project: Option<i64>,
    /// `All`, `HasGT`, `Sample` or `Custom`.
    pub project_subset: Option<Subset>,
    /// The prompt; must be the one in the path when given.
    pub parent_model: Option<i64>,
    /// `id`, `created_at` (default `-created_at`), `completed_at`; `-` for descending.
    pub ordering: Option<String>,
}

/// Telemetry counts the SDK sends; ignored.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchQuery {
    /// Ignored.
    pub num_predictions: Option<i64>,
    /// Ignored.
    pub num_failed_predictions: Option<i64>,
}

/// Results of a run, as an external inference worker (Adala) sends them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchPredictionsInput {
    /// The run (required).
    #[schema(required = true, value_type = i64)]
    pub modelrun_id: Option<i64>,
    /// Items `{task_id, output: {control: value}, prompt_tokens, completion_tokens,
    /// prompt_cost_usd, completion_cost_usd, total_cost_usd, inference_time, error, message}`;
    /// an item without `output` is read in the older flat form.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<Value>,
    /// The worker's job id.
    pub job_id: Option<String>,
}

/// What was received, echoed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchPredictionsView {
    /// The run's job id, or "".
    pub job_id: String,
    /// The items, as sent.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<Value>,
}

/// Failures of a run, as an external inference worker sends them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchFailedInput {
    /// The run (required).
    #[schema(required = true, value_type = i64)]
    pub modelrun_id: Option<i64>,
    /// Items `{task_id, message, error_type}`.
    #[schema(value_type = Vec<Object>)]
    pub failed_predictions: Vec<Value>,
    /// The worker's job id.
    pub job_id: Option<String>,
}

/// What was received, echoed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchFailedView {
    /// The run's job id, or "".
    pub job_id: String,
    /// The items, as sent.
    #[schema(value_type = Vec<Object>)]
    pub failed_predictions: Vec<Value>,
}
