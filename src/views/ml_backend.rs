//! The wire shapes of the Label Studio ML backend protocol (shared/spec/ml-backend.md §3), as
//! Label Studio 1.23 sends and reads them. Requests are parsed leniently: unknown keys are
//! ignored, and `params`, `context`, `extra_params` may be null (`extra_params` may also be a
//! JSON string or an object).
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// `GET /health` (and `GET /`): the backend is up.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthView {
    /// Always `UP`.
    pub status: String,
    /// `Prompter`, where the ML backend SDK names its model class.
    pub model_class: String,
}

/// `POST /setup`: Label Studio registers (or refreshes) one of its projects.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SetupInput {
    /// `"<project id>.<created_at unix seconds>"`, e.g. `"7.1795325158"`; the part before the
    /// first dot identifies the Label Studio project. Label Studio sends a string; any other
    /// value is accepted (as the ML backend SDK does) and names no project.
    #[schema(value_type = Value, example = "7.1795325158")]
    pub project: Option<Value>,
    /// The project's label config (XML).
    pub schema: Option<String>,
    /// Label Studio's URL, e.g. `http://localhost:8080`.
    pub hostname: Option<String>,
    /// The project creator's legacy API token; stored encrypted, never returned.
    pub access_token: Option<String>,
    /// Free-form parameters of the backend record (a JSON string, an object, or null);
    /// accepted and ignored.
    #[schema(value_type = Option<Object>)]
    pub extra_params: Option<Value>,
}

/// The answer of `/setup`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SetupView {
    /// `"<prompt title>__<version title>"` of the deployed version, as its predictions carry
    /// it (Label Studio's dedupe key); never empty.
    pub model_version: String,
}

/// `POST /predict`: tasks to predict.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PredictInput {
    /// Label Studio task objects (`id`, `data`, ...), answered in this order.
    #[schema(value_type = Vec<Object>)]
    pub tasks: Option<Vec<Value>>,
    /// `"<project id>.<created_at>"`, as in `/setup`.
    #[schema(value_type = Option<String>)]
    pub project: Option<Value>,
    /// The project's label config (XML); shapes the answers. Label Studio always sends it.
    #[schema(required = true, value_type = String)]
    pub label_config: Option<String>,
    /// `{"login", "password", "context"}`; `context.result` holds the regions an annotator
    /// drew (interactive pre-annotation).
    #[schema(value_type = Option<Object>)]
    pub params: Option<Value>,
}

/// One prediction of a task (the SDK's `PredictionValue`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PredictionItem {
    /// Label Studio result regions; empty when the task could not be predicted.
    #[schema(value_type = Vec<Object>)]
    pub result: Vec<Value>,
    /// 1.0 for an answer, 0.0 for a task that could not be predicted.
    pub score: f64,
    /// The same string `/setup` reports.
    pub model_version: String,
}

/// The answer of `/predict`: exactly one item per task, in the request's order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PredictView {
    /// One prediction per task.
    pub results: Vec<PredictionItem>,
}

/// `POST /webhook`: a Label Studio event, `{"action": ..., "project": {...}, ...}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookInput {
    /// `ANNOTATION_CREATED`, `ANNOTATION_UPDATED`, `ANNOTATIONS_CREATED`,
    /// `ANNOTATIONS_DELETED`, `START_TRAINING`, or any other Label Studio action (ignored).
    #[schema(value_type = Option<String>)]
    pub action: Option<Value>,
    /// The Label Studio project (its `id` and `label_config` are read).
    #[schema(value_type = Option<Object>)]
    pub project: Option<Value>,
    /// An annotation (`ANNOTATION_*`), or a list of them (`ANNOTATIONS_CREATED`).
    #[schema(value_type = Option<Object>)]
    pub annotation: Option<Value>,
    /// `[{"id": ...}]` (`ANNOTATIONS_DELETED`).
    #[schema(value_type = Option<Vec<Object>>)]
    pub annotations: Option<Value>,
    /// The annotation's task, or a list of them (`ANNOTATIONS_CREATED`).
    #[schema(value_type = Option<Object>)]
    pub task: Option<Value>,
}

/// The answer of `/webhook`: `201 {"status": "ok", "result": ...}` for a handled event (the
/// work continues in the background), `200 {"status": "Unknown event"}` otherwise.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    /// `ok` or `Unknown event`.
    pub status: String,
    /// For a handled event: `{"action", "project"}` (the Label Studio project id).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
}

/// `GET /versions`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionsView {
    /// The `model_version` strings of the prompt's versions, oldest first.
    pub versions: Vec<String>,
}
