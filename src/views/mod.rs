//! Response types: what the API sends, shaped as Label Studio sends it. Entities never go on
//! the wire; each view is built from them here.
use crate::label_config::LabelConfig;
use crate::services::projects::ProjectStats;
use crate::util::created_ago;
use chrono::{DateTime, Utc};
use entity::{annotation, prediction, project, task, user};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

pub mod label_studio;
pub mod prompts;

/// A user as other objects reference it (`UserSimple`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserSimple {
    /// User id.
    pub id: i64,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email address.
    pub email: String,
    /// Avatar URL; always null.
    pub avatar: Option<String>,
    /// Username.
    pub username: String,
}

impl From<&user::Model> for UserSimple {
    fn from(u: &user::Model) -> Self {
        UserSimple {
            id: u.id,
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            email: u.email.clone(),
            avatar: None,
            username: u.username.clone(),
        }
    }
}

/// A page of a DRF-paginated list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T: ToSchema> {
    /// Items matching the query, over all pages.
    pub count: u64,
    /// URL of the next page, or null.
    pub next: Option<String>,
    /// URL of the previous page, or null.
    pub previous: Option<String>,
    /// The items of this page.
    pub results: Vec<T>,
}

/// A project as Label Studio returns it (create, get, update and list items).
#[derive(Debug, Serialize, ToSchema)]
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

/// An annotation as Label Studio returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnnotationView {
    /// Annotation id.
    pub id: i64,
    /// Regions.
    #[schema(value_type = Vec<Object>)]
    pub result: Value,
    /// Human-readable age.
    pub created_ago: String,
    /// Email of the annotator.
    pub created_username: String,
    /// Annotator's user id.
    pub completed_by: Option<i64>,
    /// Last editor's user id.
    pub updated_by: Option<i64>,
    /// Task id.
    pub task: i64,
    /// Project id.
    pub project: i64,
    /// Skipped.
    pub was_cancelled: bool,
    /// Ground truth.
    pub ground_truth: bool,
    /// Seconds spent.
    pub lead_time: Option<f64>,
    /// The prediction it started from.
    pub parent_prediction: Option<i64>,
    /// The annotation it started from.
    pub parent_annotation: Option<i64>,
    /// Last action.
    pub last_action: Option<String>,
    /// Always false.
    pub bulk_created: bool,
    /// Always null.
    pub import_id: Option<i64>,
    /// Always null.
    pub draft_created_at: Option<DateTime<Utc>>,
    /// Always null.
    pub last_created_by: Option<i64>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Updated at.
    pub updated_at: DateTime<Utc>,
}

impl AnnotationView {
    /// The view of `a`; `username` is the annotator's email, or "" when unknown.
    pub fn new(a: annotation::Model, username: String) -> Self {
        AnnotationView {
            id: a.id,
            result: a.result,
            created_ago: created_ago(a.created_at),
            created_username: username,
            completed_by: a.completed_by_id,
            updated_by: a.updated_by_id,
            task: a.task_id,
            project: a.project_id,
            was_cancelled: a.was_cancelled,
            ground_truth: a.ground_truth,
            lead_time: a.lead_time,
            parent_prediction: a.parent_prediction_id,
            parent_annotation: a.parent_annotation_id,
            last_action: a.last_action,
            bulk_created: false,
            import_id: None,
            draft_created_at: None,
            last_created_by: None,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// A prediction as Label Studio returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PredictionView {
    /// Prediction id.
    pub id: i64,
    /// Regions.
    #[schema(value_type = Vec<Object>)]
    pub result: Value,
    /// Model version label.
    pub model_version: String,
    /// Human-readable age.
    pub created_ago: String,
    /// Confidence.
    pub score: Option<f64>,
    /// Cluster id.
    pub cluster: Option<i32>,
    /// Neighbours: a list or an object.
    #[schema(schema_with = crate::util::list_or_object_schema)]
    pub neighbors: Option<Value>,
    /// Mislabeling score.
    pub mislabeling: f64,
    /// ML backend id; always null.
    pub model: Option<i64>,
    /// The inference run that produced it, for prompt predictions.
    pub model_run: Option<i64>,
    /// Task id.
    pub task: i64,
    /// Project id.
    pub project: i64,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Updated at.
    pub updated_at: DateTime<Utc>,
}

impl From<prediction::Model> for PredictionView {
    fn from(p: prediction::Model) -> Self {
        PredictionView {
            id: p.id,
            result: p.result,
            model_version: p.model_version,
            created_ago: created_ago(p.created_at),
            score: p.score,
            cluster: p.cluster,
            neighbors: p.neighbors,
            mislabeling: p.mislabeling,
            model: None,
            model_run: p.model_run_id,
            task: p.task_id,
            project: p.project_id,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A task as Label Studio returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    /// Task id.
    pub id: i64,
    /// Task data.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Meta information.
    #[schema(value_type = Object)]
    pub meta: Value,
    /// Project id.
    pub project: i64,
    /// Whether the task has all its annotations.
    pub is_labeled: bool,
    /// Annotations needed.
    pub overlap: i32,
    /// Position in the project.
    pub inner_id: i64,
    /// Non-cancelled annotations.
    pub total_annotations: i32,
    /// Cancelled annotations.
    pub cancelled_annotations: i32,
    /// Predictions.
    pub total_predictions: i32,
    /// Annotations (all of them), when requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Vec<AnnotationView>>,
    /// Predictions, when requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predictions: Option<Vec<PredictionView>>,
    /// Drafts; always empty, when requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub drafts: Option<Vec<Value>>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Updated at.
    pub updated_at: DateTime<Utc>,
}

impl TaskView {
    /// The view of `t` without nested annotations and predictions.
    pub fn bare(t: task::Model) -> Self {
        TaskView {
            id: t.id,
            data: t.data,
            meta: t.meta,
            project: t.project_id,
            is_labeled: t.is_labeled,
            overlap: t.overlap,
            inner_id: t.inner_id,
            total_annotations: t.total_annotations,
            cancelled_annotations: t.cancelled_annotations,
            total_predictions: t.total_predictions,
            annotations: None,
            predictions: None,
            drafts: None,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }

    /// The view with its annotations (annotator emails from `username`) and predictions.
    pub fn full(
        detail: crate::services::tasks::TaskDetail,
        username: impl Fn(Option<i64>) -> String,
    ) -> Self {
        let mut view = TaskView::bare(detail.task);
        view.annotations = Some(
            detail
                .annotations
                .into_iter()
                .map(|a| {
                    let name = username(a.completed_by_id);
                    AnnotationView::new(a, name)
                })
                .collect(),
        );
        view.predictions = Some(
            detail
                .predictions
                .into_iter()
                .map(PredictionView::from)
                .collect(),
        );
        view.drafts = Some(vec![]);
        view
    }
}

/// A page of tasks, as Label Studio's data manager lists them.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskListView {
    /// The tasks of this page.
    pub tasks: Vec<TaskView>,
    /// Tasks matching the filter.
    pub total: u64,
    /// Non-cancelled annotations over the matching tasks.
    pub total_annotations: i64,
    /// Predictions over the matching tasks.
    pub total_predictions: i64,
}
