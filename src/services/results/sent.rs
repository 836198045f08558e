//! What is sent to be written: one task's answer ([`PredictionResult`]) or failure
//! ([`FailureResult`]), from the engine or from an outside worker.
use super::Confidence;
use entity::enums::FailureKind;
use serde_json::Value;

/// One task's successful result.
#[derive(Debug, Clone, Default)]
pub struct PredictionResult {
    /// The task.
    pub task_id: i64,
    /// Control name → payload, as an LLM answers (converted to regions here).
    pub output: Value,
    /// Prompt tokens.
    pub prompt_tokens: Option<i64>,
    /// Completion tokens.
    pub completion_tokens: Option<i64>,
    /// Prompt cost, USD.
    pub prompt_cost: Option<f64>,
    /// Completion cost, USD.
    pub completion_cost: Option<f64>,
    /// Total cost, USD.
    pub total_cost: Option<f64>,
    /// Seconds the call took.
    pub inference_time: Option<f64>,
    /// Extra metadata (message counts).
    pub extra: Option<Value>,
    /// How sure the model was, when it said (see [`Confidence`]).
    pub confidence: Confidence,
    /// The response cache's key to keep this answer under, written with the result (in its
    /// transaction, many at once) rather than by a statement of its own per call.
    pub keep: Option<crate::services::llm_cache::Keep>,
}

/// One task's failure.
#[derive(Debug, Clone)]
pub struct FailureResult {
    /// The task.
    pub task_id: i64,
    /// Why it failed.
    pub message: String,
    /// Its kind: `RateLimit`, `Timeout`, `ProviderError`, `InvalidOutput`, `Authentication`, ...
    pub error_type: FailureKind,
    /// Seconds spent.
    pub inference_time: Option<f64>,
    /// Prompt tokens spent.
    pub prompt_tokens: Option<i64>,
    /// Completion tokens spent.
    pub completion_tokens: Option<i64>,
    /// Cost spent, USD.
    pub total_cost: Option<f64>,
}

/// A failure of task 0 with no message, of kind `ProviderError` (what an outside worker's
/// failure without a kind is), for building one field by field.
impl Default for FailureResult {
    fn default() -> Self {
        FailureResult {
            task_id: 0,
            message: String::new(),
            error_type: FailureKind::ProviderError,
            inference_time: None,
            prompt_tokens: None,
            completion_tokens: None,
            total_cost: None,
        }
    }
}
