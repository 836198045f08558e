//! Annotations: the annotation view and its writable fields.
use crate::util::created_ago;
use chrono::{DateTime, Utc};
use entity::annotation;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// An annotation as Label Studio returns it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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

/// Writable annotation fields. Read-only keys the SDK may send (`task`, `project`,
/// `completed_by`, `created_username`, ...) are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"result": [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Positive"]}}], "ground_truth": true}))]
pub struct AnnotationInput {
    /// Label Studio regions (`null` is rejected).
    #[serde(default, deserialize_with = "crate::util::double_option")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub result: Option<Option<Value>>,
    /// Whether this annotation is the task's ground truth.
    pub ground_truth: Option<bool>,
    /// Whether the annotator skipped the task.
    pub was_cancelled: Option<bool>,
    /// Seconds spent.
    pub lead_time: Option<f64>,
    /// The prediction this annotation started from (same task).
    pub parent_prediction: Option<i64>,
    /// The annotation this annotation started from (same task).
    pub parent_annotation: Option<i64>,
    /// Last action, e.g. `submitted`, `updated`.
    pub last_action: Option<String>,
}
