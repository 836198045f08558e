//! Projects: the project view, its counters, writable fields, list filters, import and
//! label-config validation.
use super::users::UserSimple;
use crate::label_config::LabelConfig;
use chrono::{DateTime, Utc};
use entity::{project, user};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// A project as Label Studio returns it (create, get, update and list items).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProjectView {
    /// Project id.
    pub id: i64,
    /// Project name.
    pub title: String,
    /// Description.
    pub description: String,
    /// Label config (XML).
    pub label_config: String,
    /// The label config, parsed: control name → type, targets, inputs and labels.
    #[schema(value_type = Object)]
    pub parsed_label_config: Value,
    /// Whether the config has any control tag.
    pub config_has_control_tags: bool,
    /// Whether the config suits bulk annotation (a single Choices control).
    pub config_suitable_for_bulk_annotation: bool,
    /// Instructions for annotators.
    pub expert_instruction: String,
    /// Show instructions before labeling.
    pub show_instruction: bool,
    /// Show the skip button.
    pub show_skip_button: bool,
    /// Allow empty annotations.
    pub enable_empty_annotation: bool,
    /// Show annotation history.
    pub show_annotation_history: bool,
    /// Show predictions to annotators.
    pub show_collab_predictions: bool,
    /// Show ground-truth tasks first.
    pub show_ground_truth_first: bool,
    /// Show overlapping tasks first.
    pub show_overlap_first: bool,
    /// Percentage of tasks with overlap.
    pub overlap_cohort_percentage: i32,
    /// Annotations per task.
    pub maximum_annotations: i32,
    /// Annotations before training.
    pub min_annotations_to_start_training: i32,
    /// Always false.
    pub start_training_on_annotation_update: bool,
    /// Evaluate predictions automatically.
    pub evaluate_predictions_automatically: bool,
    /// Reveal pre-annotations interactively.
    pub reveal_preannotations_interactively: bool,
    /// Published to annotators.
    pub is_published: bool,
    /// Draft project.
    pub is_draft: bool,
    /// Colour.
    pub color: String,
    /// Model version shown for predictions.
    pub model_version: String,
    /// Sampling mode.
    pub sampling: String,
    /// Skip queue mode.
    pub skip_queue: String,
    /// Control weights.
    #[schema(value_type = Object)]
    pub control_weights: Value,
    /// Organization id.
    pub organization: i64,
    /// Always null (workspaces are an Enterprise feature Prompter does not model).
    pub workspace: Option<i64>,
    /// Creator.
    pub created_by: Option<UserSimple>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Updated at.
    pub updated_at: DateTime<Utc>,
    /// Pinned at.
    pub pinned_at: Option<DateTime<Utc>>,
    /// Tasks.
    pub task_number: i64,
    /// Non-cancelled annotations.
    pub total_annotations_number: i64,
    /// Predictions.
    pub total_predictions_number: i64,
    /// Tasks with annotations.
    pub num_tasks_with_annotations: i64,
    /// Completed tasks.
    pub finished_task_number: i64,
    /// Non-cancelled annotations of completed tasks.
    pub useful_annotation_number: i64,
    /// Ground-truth annotations.
    pub ground_truth_number: i64,
    /// Skipped annotations.
    pub skipped_annotations_number: i64,
    /// Tasks in the labeling queue.
    pub queue_total: i64,
    /// Completed tasks in the queue.
    pub queue_done: i64,
    /// Always null.
    pub task_data_login: Option<String>,
    /// Always null.
    pub task_data_password: Option<String>,
}

impl ProjectView {
    /// Builds the view of `p` with its counters and creator.
    pub fn new(
        p: project::Model,
        config: &LabelConfig,
        stats: ProjectStats,
        creator: Option<&user::Model>,
    ) -> Self {
        let choices = config
            .controls
            .iter()
            .filter(|c| c.tag == "Choices")
            .count();
        ProjectView {
            id: p.id,
            title: p.title,
            description: p.description,
            label_config: p.label_config,
            parsed_label_config: config.parsed_label_config(),
            config_has_control_tags: !config.controls.is_empty(),
            config_suitable_for_bulk_annotation: choices == 1 && config.controls.len() == 1,
            expert_instruction: p.expert_instruction,
            show_instruction: p.show_instruction,
            show_skip_button: p.show_skip_button,
            enable_empty_annotation: p.enable_empty_annotation,
            show_annotation_history: p.show_annotation_history,
            show_collab_predictions: p.show_collab_predictions,
            show_ground_truth_first: p.show_ground_truth_first,
            show_overlap_first: p.show_overlap_first,
            overlap_cohort_percentage: p.overlap_cohort_percentage,
            maximum_annotations: p.maximum_annotations,
            min_annotations_to_start_training: p.min_annotations_to_start_training,
            start_training_on_annotation_update: false,
            evaluate_predictions_automatically: p.evaluate_predictions_automatically,
            reveal_preannotations_interactively: p.reveal_preannotations_interactively,
            is_published: p.is_published,
            is_draft: p.is_draft,
            color: p.color,
            model_version: p.model_version,
            sampling: p.sampling,
            skip_queue: p.skip_queue,
            control_weights: p.control_weights,
            organization: p.organization_id,
            workspace: None,
            created_by: creator.map(UserSimple::from),
            created_at: p.created_at,
            updated_at: p.updated_at,
            pinned_at: p.pinned_at,
            task_number: stats.task_number,
            total_annotations_number: stats.total_annotations_number,
            total_predictions_number: stats.total_predictions_number,
            num_tasks_with_annotations: stats.num_tasks_with_annotations,
            finished_task_number: stats.finished_task_number,
            useful_annotation_number: stats.useful_annotation_number,
            ground_truth_number: stats.ground_truth_number,
            skipped_annotations_number: stats.skipped_annotations_number,
            queue_total: stats.task_number,
            queue_done: stats.finished_task_number,
            task_data_login: None,
            task_data_password: None,
        }
    }
}

/// Writable project fields, for create and PATCH. Absent and `null` both mean "leave as is"
/// (or the default, on create). Unknown keys are ignored, as Label Studio does.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"title": "Reviews", "label_config": "<View><Text name=\"text\" value=\"$text\"/><Choices name=\"sentiment\" toName=\"text\"><Choice value=\"Positive\"/><Choice value=\"Negative\"/></Choices></View>"}))]
pub struct ProjectInput {
    /// Project name, at most 50 characters.
    #[schema(max_length = 50)]
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Label config (XML); validated.
    pub label_config: Option<String>,
    /// Instructions for annotators (HTML).
    pub expert_instruction: Option<String>,
    /// Show instructions before labeling.
    pub show_instruction: Option<bool>,
    /// Show the skip button.
    pub show_skip_button: Option<bool>,
    /// Allow empty annotations.
    pub enable_empty_annotation: Option<bool>,
    /// Show annotation history.
    pub show_annotation_history: Option<bool>,
    /// Show predictions to annotators.
    pub show_collab_predictions: Option<bool>,
    /// Show ground-truth tasks first.
    pub show_ground_truth_first: Option<bool>,
    /// Show overlapping tasks first.
    pub show_overlap_first: Option<bool>,
    /// Percentage of tasks with overlap.
    pub overlap_cohort_percentage: Option<i32>,
    /// Annotations per task before it is complete.
    pub maximum_annotations: Option<i32>,
    /// Annotations needed before training starts.
    pub min_annotations_to_start_training: Option<i32>,
    /// Evaluate predictions against ground truth automatically.
    pub evaluate_predictions_automatically: Option<bool>,
    /// Reveal pre-annotations interactively.
    pub reveal_preannotations_interactively: Option<bool>,
    /// Published to annotators.
    pub is_published: Option<bool>,
    /// Draft project.
    pub is_draft: Option<bool>,
    /// Colour, e.g. `#FFFFFF`; at most 16 characters.
    #[schema(max_length = 16)]
    pub color: Option<String>,
    /// Model version shown for predictions.
    pub model_version: Option<String>,
    /// Task sampling: `Sequential sampling`, `Uniform sampling` or `Uncertainty sampling`.
    pub sampling: Option<String>,
    /// Skip queue: `REQUEUE_FOR_ME`, `REQUEUE_FOR_OTHERS` or `IGNORE_SKIPPED`.
    pub skip_queue: Option<String>,
    /// Weights of the control tags for agreement.
    #[schema(value_type = Option<Object>)]
    pub control_weights: Option<crate::util::JsonObject>,
    /// When the project was pinned; `null` unpins it.
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<chrono::DateTime<Utc>>)]
    pub pinned_at: Option<Option<chrono::DateTime<Utc>>>,
}

/// Counters of one project, as Label Studio reports them.
#[derive(Debug, Clone, Default)]
pub struct ProjectStats {
    /// Tasks.
    pub task_number: i64,
    /// Non-cancelled annotations.
    pub total_annotations_number: i64,
    /// Cancelled (skipped) annotations.
    pub skipped_annotations_number: i64,
    /// Predictions.
    pub total_predictions_number: i64,
    /// Tasks with at least one annotation.
    pub num_tasks_with_annotations: i64,
    /// Tasks that have all the annotations they need.
    pub finished_task_number: i64,
    /// Non-cancelled annotations of finished tasks.
    pub useful_annotation_number: i64,
    /// Ground-truth annotations.
    pub ground_truth_number: i64,
}

/// Filters of the project list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ProjectListQuery {
    /// Title contains (case-insensitive).
    pub title: Option<String>,
    /// Title or description contains (case-insensitive).
    pub search: Option<String>,
    /// Comma-separated project ids.
    pub ids: Option<String>,
    /// `id`, `title`, `created_at`, `updated_at`, `pinned_at`; `-` for descending.
    pub ordering: Option<String>,
}

/// Options of an import.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportQuery {
    /// `false` checks and counts the import without saving it (default `true`).
    #[param(value_type = Option<bool>)]
    pub commit_to_project: Option<String>,
    /// `true` adds the new task ids to the response.
    #[param(value_type = Option<bool>)]
    pub return_task_ids: Option<String>,
    /// Accepted and ignored.
    pub preannotated_from_fields: Option<String>,
    /// Prompter extension: `true` makes every imported annotation that is not cancelled ground
    /// truth (the one a `HasGT` run and the scores compare with), whatever its own
    /// `ground_truth` says.
    #[param(value_type = Option<bool>)]
    pub ground_truth: Option<String>,
}

/// What an import did, in Label Studio's shape (both `prediction_count` and the SDK's
/// `predictions_count`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportView {
    /// Tasks created.
    pub task_count: usize,
    /// Annotations created.
    pub annotation_count: usize,
    /// Predictions created.
    pub prediction_count: usize,
    /// Predictions created (the SDK's name).
    pub predictions_count: usize,
    /// Seconds taken.
    pub duration: f64,
    /// Always empty: imports come as JSON, not files.
    pub file_upload_ids: Vec<i64>,
    /// Always false.
    pub could_be_tasks_list: bool,
    /// Always empty.
    pub found_formats: Vec<String>,
    /// Data keys seen in the tasks.
    pub data_columns: Vec<String>,
    /// Ids of the new tasks, with `return_task_ids=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_ids: Option<Vec<i64>>,
}

/// A label config to validate.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LabelConfigInput {
    /// Label config (XML).
    pub label_config: String,
}

/// A valid label config, and whether it changes the project's controls or labels.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LabelConfigView {
    /// The config, as sent.
    pub label_config: String,
    /// Whether controls, their targets or labels differ from the project's current config.
    pub config_essential_data_has_changed: bool,
}
