//! Evaluation: subsets, the subset-tasks drill-down and the indicators of a run.
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// A subset of a project's tasks.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubsetView {
    /// `All`, `HasGT` or `Sample`.
    pub subset: entity::enums::Subset,
    /// Tasks in it.
    pub count: u64,
    /// The task-data columns the label config reads.
    #[schema(value_type = Vec<Object>)]
    pub columns_schema: Vec<Value>,
}

/// Ordering of the subsets; accepted and ignored.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SubsetsQuery {
    /// Ignored.
    pub ordering: Option<String>,
}

/// Parameters of the subset-tasks drill-down.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SubsetTasksParams {
    /// The prompt (required: 400 without it).
    #[param(required = true, value_type = i64)]
    pub parent_model: Option<i64>,
    /// Show this run's predictions.
    pub model_run: Option<i64>,
    /// Without `model_run`: the latest run of this version on the project.
    pub model_version: Option<i64>,
    /// `All`, `HasGT`, `Sample` or `Custom` (empty: any).
    #[param(value_type = Option<entity::enums::Subset>)]
    pub project_subset: Option<String>,
    /// Count the matching tasks (default true); false omits `task_count`.
    #[param(value_type = Option<bool>)]
    pub include_total: Option<String>,
    /// `id` (default) or `-id`.
    pub ordering: Option<String>,
    /// Comma-separated version ids: tasks with predictions of every one.
    pub prediction_version_ids: Option<String>,
    /// Tasks whose prediction has this class...
    pub output_class: Option<String>,
    /// ...in this control.
    pub output_from_name: Option<String>,
    /// Tasks whose prediction/ground-truth alignment for this class...
    pub alignment_class: Option<String>,
    /// ...in this control...
    pub alignment_from_name: Option<String>,
    /// ...is `all`, `true_positive`, `false_positive` or `false_negative`.
    pub alignment_outcome: Option<String>,
    /// Prompter extension: add the shown run's score `summary` (default true); false skips
    /// its computation.
    #[param(value_type = Option<bool>)]
    pub include_summary: Option<String>,
    /// Prompter extension: the run the summary's `version_comparison` compares with (another
    /// run of the project); default: the prompt's other versions' latest completed runs on the
    /// same project and subset.
    pub compare_to: Option<i64>,
}

/// A page of subset tasks, in the SDK's nesting.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubsetTasksView {
    /// Matching tasks (with `include_total=false`: those up to this page).
    pub count: u64,
    /// Next page URL.
    pub next: Option<String>,
    /// Previous page URL.
    pub previous: Option<String>,
    /// One element: `{task_count, next_cursor, previous_cursor, task_result_list}`.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<Value>,
    /// Prompter extension, when a run is shown: `{model_run, accuracy,
    /// ground_truth_accuracy, version_comparison}`, as the indicators of the same keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub summary: Option<Value>,
}

/// An indicator of a run.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IndicatorView {
    /// Key, for `indicators/{key}`.
    pub key: String,
    /// Title.
    pub title: String,
    /// Values.
    #[schema(value_type = Object)]
    pub values: Value,
}

/// Parameters of the indicators.
#[derive(Debug, Deserialize, IntoParams)]
pub struct IndicatorsQuery {
    /// Prompter extension: the run `version_comparison` compares with (another run of the same
    /// project); default: the prompt's other versions' latest completed runs on the same
    /// project and subset (at most five).
    pub compare_to: Option<i64>,
}

/// The default accuracy target of an acceptance.
pub const DEFAULT_TARGET: f64 = 0.95;

/// The default confidence of an acceptance.
pub const DEFAULT_CONFIDENCE: f64 = 0.9;

/// What to accept: an accuracy target and the confidence it must hold with.
#[derive(Debug, Default, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptanceInput {
    /// The accuracy the accepted predictions must have, strictly between 0 and 1 (default
    /// 0.95).
    #[schema(exclusive_minimum = 0.0, exclusive_maximum = 1.0)]
    #[param(exclusive_minimum = 0.0, exclusive_maximum = 1.0)]
    pub target: Option<f64>,
    /// The confidence that accuracy holds with, 0.5 to below 1 (default 0.9).
    #[schema(minimum = 0.5, exclusive_maximum = 1.0)]
    #[param(minimum = 0.5, exclusive_maximum = 1.0)]
    pub confidence: Option<f64>,
}

/// The lowest score threshold whose predictions meet an accuracy target with a guarantee on the
/// run's ground truth, and what it accepts of the whole run.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AcceptanceView {
    /// The accuracy to meet.
    pub target: f64,
    /// The confidence it holds with.
    pub confidence: f64,
    /// Accept predictions scoring at least this; null when no threshold meets the target.
    pub threshold: Option<f64>,
    /// The accuracy of the accepted labeled predictions that holds with that confidence (an
    /// exact binomial lower bound).
    pub guaranteed_accuracy: Option<f64>,
    /// Labeled predictions at or above the threshold.
    pub labeled_accepted: u64,
    /// Of them, wrong.
    pub labeled_wrong: u64,
    /// Their share of the labeled predictions.
    pub labeled_coverage: f64,
    /// The run's predictions at or above the threshold.
    pub accepted: u64,
    /// The run's answered tasks.
    pub tasks: u64,
    /// `accepted` over `tasks`: the share of the run the threshold takes off review.
    pub coverage: f64,
    /// The other tasks, least sure first (up to 100 ids): what to review.
    pub review: Vec<i64>,
    /// Why there is no threshold, when there is none.
    pub message: Option<String>,
}

/// What accepting did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AcceptedView {
    /// The acceptance carried out.
    pub acceptance: AcceptanceView,
    /// Annotations written, one per accepted prediction whose task had none.
    pub created: u64,
    /// Accepted predictions whose task already had an annotation (left alone).
    pub already_annotated: u64,
}
