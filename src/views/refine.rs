//! Prompt refinement: the request, its options and the refinement view.
use super::versions::VersionView;
use entity::model_refinement;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A prompt refinement (Label Studio's `RefinedPromptResponse`), plus Prompter's
/// `new_version`, `project_id`, `teacher_model_name` and `error_message`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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

/// A refinement request (all fields required).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"teacher_model_provider_connection_id": 1, "teacher_model_name": "gpt-4o", "project_id": 1}))]
pub struct RefineInput {
    /// The project whose data, ground truth and predictions the teacher learns from; must be
    /// in the caller's organization.
    #[schema(value_type = i64, required = true)]
    pub project_id: Option<i64>,
    /// The teacher model at the provider, e.g. `gpt-4o`.
    #[schema(value_type = String, required = true)]
    pub teacher_model_name: Option<String>,
    /// The provider connection of the caller's organization the teacher is called through.
    #[schema(value_type = i64, required = true)]
    pub teacher_model_provider_connection_id: Option<i64>,
}

/// Options of a refinement.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RefineQuery {
    /// `true` (default): answer at once with status `Pending` and refine in the background;
    /// `false`: refine first and answer `Completed` or `Failed`.
    #[serde(rename = "async")]
    #[param(rename = "async", value_type = Option<bool>)]
    pub run_async: Option<String>,
}

/// The job to read.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RefinedQuery {
    /// The `refinement_job_id` the refine call returned (required).
    #[param(required = true, value_type = String, min_length = 1)]
    pub refinement_job_id: Option<String>,
}
