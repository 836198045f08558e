//! Predictions: the prediction view, its writable fields and list filters.
use crate::util::created_ago;
use chrono::{DateTime, Utc};
use entity::prediction;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// A prediction as Label Studio returns it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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
    /// How sure the model was, 0 to 1 (see `score_method`); Label Studio's constant 1.0 when
    /// nothing is known.
    pub score: Option<f64>,
    /// Prompter extension: how `score` was found: `logprobs` (the probability the model gave its
    /// labels), `agreement` (the share of several answers that agreed), or null (nothing known,
    /// or a client's own score).
    pub score_method: Option<entity::enums::ScoreMethod>,
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
            score_method: p.score_method,
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

/// Writable prediction fields (create and PATCH). `model` (an ML backend id) is ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"task": 1, "model_version": "baseline", "score": 0.9, "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Positive"]}}]}))]
pub struct PredictionInput {
    /// Regions (a list), or an object / value to be turned into one region.
    #[schema(value_type = Option<Value>)]
    pub result: Option<Value>,
    /// The task (required on create).
    pub task: Option<i64>,
    /// The project; defaults to the task's and must match it.
    pub project: Option<i64>,
    /// Confidence.
    pub score: Option<f64>,
    /// Model version label.
    pub model_version: Option<String>,
    /// Inference run that produced it.
    pub model_run: Option<i64>,
    /// Cluster id.
    pub cluster: Option<i32>,
    /// Neighbours: a list (Label Studio stores the ids of the closest tasks) or an object.
    #[serde(default, deserialize_with = "crate::util::list_or_object")]
    #[schema(schema_with = crate::util::list_or_object_schema)]
    pub neighbors: Option<Value>,
    /// Mislabeling score.
    pub mislabeling: Option<f64>,
}

/// Filters of the prediction list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PredictionListQuery {
    /// Predictions of this task.
    pub task: Option<i64>,
    /// Predictions of this project.
    pub project: Option<i64>,
    /// Predictions of this project (the SDK's `task_project`).
    #[serde(rename = "task__project")]
    #[param(rename = "task__project")]
    pub task_project: Option<i64>,
}
