//! Tasks: the task view (alone or with its annotations and predictions), the data-manager
//! list, and the writable fields.
use super::annotations::AnnotationView;
use super::predictions::PredictionView;
use crate::util::JsonObject;
use chrono::{DateTime, Utc};
use entity::{annotation, prediction, task};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// A task as Label Studio returns it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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

    /// The view with its `annotations` (annotator emails from `username`) and `predictions`.
    pub fn full(
        task: task::Model,
        annotations: Vec<annotation::Model>,
        predictions: Vec<prediction::Model>,
        username: impl Fn(Option<i64>) -> String,
    ) -> Self {
        let mut view = TaskView::bare(task);
        view.annotations = Some(
            annotations
                .into_iter()
                .map(|a| {
                    let name = username(a.completed_by_id);
                    AnnotationView::new(a, name)
                })
                .collect(),
        );
        view.predictions = Some(predictions.into_iter().map(PredictionView::from).collect());
        view.drafts = Some(vec![]);
        view
    }
}

/// A page of tasks, as Label Studio's data manager lists them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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

/// Filters of the task list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct TaskListQuery {
    /// Project id (required: Label Studio answers 400 "Neither project nor view id specified"
    /// without it, and data-manager views are not supported).
    #[param(required = true, value_type = i64)]
    pub project: Option<i64>,
    /// Data-manager view id; not supported, use `project`.
    pub view: Option<i64>,
    /// `all` includes each task's annotations, predictions and drafts; `task_only` does not.
    pub fields: Option<String>,
    /// Only tasks with at least one annotation.
    #[param(value_type = Option<bool>)]
    pub only_annotated: Option<String>,
    /// Accepted and ignored (data is returned as stored).
    pub resolve_uri: Option<String>,
}

/// A new task.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"project": 1, "data": {"text": "I love it"}}))]
pub struct TaskInput {
    /// Task data; must hold every `$field` the project's label config reads.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Project id.
    pub project: i64,
    /// Meta information.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<JsonObject>,
}

/// Writable task fields; counters and other read-only keys are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TaskUpdate {
    /// New data; checked against the label config.
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    /// New meta information.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<JsonObject>,
}
