//! Live predictions: the request (stored task ids or inline tasks) and the answers per task.
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The answer for one task.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LivePrediction {
    /// The task.
    pub task: i64,
    /// Label Studio result regions; empty when the task failed.
    #[schema(value_type = Vec<Object>)]
    pub result: Vec<Value>,
    /// 1.0 for an answer, null for a failure.
    pub score: Option<f64>,
    /// `<prompt title>__<version title>`.
    pub model_version: String,
    /// The failure's kind (`RateLimit`, `Timeout`, `ProviderError`, `InvalidOutput`,
    /// `Authentication`, `MissingField`, ...), null on success.
    pub error_type: Option<entity::enums::FailureKind>,
    /// The failure's message, null on success.
    pub error_message: Option<String>,
    /// Prompt tokens used.
    pub prompt_tokens: Option<i64>,
    /// Completion tokens used.
    pub completion_tokens: Option<i64>,
    /// Cost in USD, when the model has a price.
    pub total_cost_usd: Option<f64>,
    /// Seconds the call took.
    pub inference_time: Option<f64>,
}

/// Inline task data.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InlineTask {
    /// The task data, as a task of the project would hold it.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// A live prediction request: a project and either stored task ids or inline tasks.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"project": 1, "task_ids": [1, 2]}))]
pub struct LiveInput {
    /// The project whose label config shapes the answers (and holds `task_ids`); required.
    #[schema(required = true, value_type = i64)]
    pub project: Option<i64>,
    /// Ids of stored tasks of the project (1 to 100).
    pub task_ids: Option<Vec<i64>>,
    /// Inline tasks (1 to 100), instead of `task_ids`.
    pub tasks: Option<Vec<InlineTask>>,
}

/// The answers of a live request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LiveView {
    /// `<prompt title>__<version title>`, as run predictions carry it.
    pub model_version: String,
    /// One item per task, in the request's order.
    pub results: Vec<LivePrediction>,
}
