//! Anthropic's Message Batches: the requests in one body (`custom_id` and the Messages
//! `params`), up to 100,000 requests or 256 MB; the results as JSONL, in any order: `succeeded`
//! with the message, `errored` with the error, `canceled` or `expired` (not executed).
use super::{BatchItem, BatchProvider, BatchState, BatchStatus, ChunkLimits, Encoded, ItemResult};
use crate::anthropic::{API_VERSION, DEFAULT_BASE, body, read_answer};
use crate::rules;
use crate::{Credentials, LlmError, Provider};
use reqwest::RequestBuilder;
use serde_json::{Value, json};

/// An Anthropic connection's batch API.
pub struct AnthropicBatches {
    base: String,
    key: String,
    http: outbound::Outbound,
}

impl AnthropicBatches {
    /// The batch API of an Anthropic connection (`endpoint` overrides the API base).
    pub fn new(credentials: &Credentials, http: outbound::Outbound) -> Result<Self, LlmError> {
        let (key, base) = crate::key_and_base(credentials, DEFAULT_BASE, "/v1")?;
        Ok(AnthropicBatches { base, key, http })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.http
            .client()
            .request(method, format!("{}/v1/messages/batches{path}", self.base))
            .header("x-api-key", &self.key)
            .header("anthropic-version", API_VERSION)
    }

    async fn json(&self, request: RequestBuilder) -> Result<Value, LlmError> {
        crate::send_json(&self.http, request).await.map(|(v, _)| v)
    }
}

/// The typed error of an `errored` result's error (`{"type": "error", "error": {"type",
/// "message"}}`), as the same error of a single call would be.
fn item_error(error: &Value) -> LlmError {
    let kind = error
        .pointer("/error/type")
        .or_else(|| error.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let status = match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    };
    LlmError::from_status(status, &Default::default(), &error.to_string())
}

/// An item's result from its line; `None` when it was not executed.
fn item_result(result: &Value) -> Option<ItemResult> {
    match result.get("type").and_then(Value::as_str)? {
        "succeeded" => {
            let message = result.get("message").cloned().unwrap_or(Value::Null);
            Some(
                read_answer(&message)
                    .map(|(output, usage)| super::response(output, usage, Vec::new())),
            )
        }
        "errored" => Some(Err(item_error(result.get("error").unwrap_or(&Value::Null)))),
        _ => None,
    }
}

#[async_trait::async_trait]
impl BatchProvider for AnthropicBatches {
    fn limits(&self) -> ChunkLimits {
        ChunkLimits {
            max_requests: 100_000,
            max_bytes: 250 * 1024 * 1024,
        }
    }

    fn encode(&self, item: &BatchItem) -> Result<Encoded, LlmError> {
        let request = &item.request;
        let rules = rules::rules(Provider::Anthropic, &request.model, None);
        let settings = rules::settings(&rules, &request.model, &request.params);
        let entry = json!({"custom_id": item.custom_id, "params": body(request, &settings)});
        Ok(Encoded {
            custom_id: item.custom_id.clone(),
            entry: entry.to_string(),
        })
    }

    async fn submit(
        &self,
        _model: &str,
        items: &[Encoded],
        _name: &str,
    ) -> Result<String, LlmError> {
        let body = format!("{{\"requests\":{}}}", super::json_array(items));
        let batch = self
            .json(
                self.request(reqwest::Method::POST, "")
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body),
            )
            .await?;
        batch
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| LlmError::InvalidOutput {
                message: "the provider's batch answer is unusable: the batch has no id".into(),
                usage: Default::default(),
            })
    }

    async fn status(&self, id: &str) -> Result<BatchStatus, LlmError> {
        let batch = self
            .json(self.request(reqwest::Method::GET, &format!("/{id}")))
            .await?;
        let ended = batch.get("processing_status").and_then(Value::as_str) == Some("ended");
        let canceled = batch
            .get("cancel_initiated_at")
            .is_some_and(|c| !c.is_null());
        let counts = batch.get("request_counts");
        let n = |key: &str| super::count(counts.and_then(|c| c.get(key)));
        let (succeeded, errored) = (n("succeeded"), n("errored"));
        let (cancels, expired) = (n("canceled"), n("expired"));
        let state = match (ended, canceled, expired > 0) {
            (false, _, _) => BatchState::Running,
            (true, true, _) => BatchState::Canceled,
            (true, false, true) => BatchState::Expired,
            (true, false, false) => BatchState::Ended,
        };
        Ok(BatchStatus {
            state,
            total: n("processing") + succeeded + errored + cancels + expired,
            completed: succeeded,
            failed: errored,
            reason: None,
        })
    }

    async fn results(
        &self,
        id: &str,
        _custom_ids: &[String],
    ) -> Result<Vec<(String, ItemResult)>, LlmError> {
        // The results are read at the API base, not at the `results_url` the answer names:
        // Prompter only calls the hosts its connections name.
        let bytes = super::send_bytes(
            &self.http,
            self.request(reqwest::Method::GET, &format!("/{id}/results")),
        )
        .await?;
        Ok(super::json_lines(&bytes)
            .iter()
            .filter_map(|line| {
                let custom_id = line.get("custom_id").and_then(Value::as_str)?;
                let result = item_result(line.get("result")?)?;
                Some((custom_id.to_string(), result))
            })
            .collect())
    }

    async fn cancel(&self, id: &str) -> Result<(), LlmError> {
        self.json(self.request(reqwest::Method::POST, &format!("/{id}/cancel")))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_answers_typed_errors_or_not_executed() {
        let ok = json!({"type": "succeeded", "message": {
            "content": [{"type": "tool_use", "name": "record_labels", "input": {"a": "x"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 5, "output_tokens": 2}}});
        let output = item_result(&ok).and_then(Result::ok).map(|r| r.output);
        assert_eq!(output, Some(json!({"a": "x"})));
        let errored = json!({"type": "errored", "error": {"type": "error",
            "error": {"type": "api_error", "message": "Internal server error"}}});
        assert!(matches!(
            item_result(&errored),
            Some(Err(LlmError::Server { status: 500, .. }))
        ));
        let refused = json!({"type": "errored", "error": {"type": "error",
            "error": {"type": "invalid_request_error", "message": "bad"}}});
        assert!(matches!(
            item_result(&refused),
            Some(Err(LlmError::Request { status: 400, .. }))
        ));
        assert!(item_result(&json!({"type": "canceled"})).is_none());
        assert!(item_result(&json!({"type": "expired"})).is_none());
    }
}
