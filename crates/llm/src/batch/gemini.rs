//! Gemini's batch mode: the requests inline in a `batchGenerateContent` body (up to 20 MB), a
//! long-running operation `batches/{id}`; when it is done, the answers inline in its
//! `response`, in the order of the requests (each request's `metadata.key` is not always given
//! back, so answers are matched by position).
use super::{BatchItem, BatchProvider, BatchState, BatchStatus, ChunkLimits, Encoded, ItemResult};
use crate::gemini::{DEFAULT_BASE, body, read_answer, read_logprobs};
use crate::rules;
use crate::{Credentials, LlmError, Provider};
use reqwest::RequestBuilder;
use serde_json::{Value, json};

/// A Gemini connection's batch API.
pub struct GeminiBatches {
    base: String,
    key: String,
    http: outbound::Outbound,
}

impl GeminiBatches {
    /// The batch API of a Gemini connection (`endpoint` overrides the API base).
    pub fn new(credentials: &Credentials, http: outbound::Outbound) -> Result<Self, LlmError> {
        let (key, base) = crate::key_and_base(credentials, DEFAULT_BASE, "/v1beta")?;
        Ok(GeminiBatches { base, key, http })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.http
            .client()
            .request(method, format!("{}/v1beta/{path}", self.base))
            .header("x-goog-api-key", &self.key)
    }

    async fn operation(&self, id: &str) -> Result<Value, LlmError> {
        crate::send_json(
            &self.http,
            self.request(reqwest::Method::GET, &batch_name(id)?),
        )
        .await
        .map(|(v, _)| v)
    }
}

/// `batches/{id}`, checked: the id comes from the provider and goes back into a path.
fn batch_name(id: &str) -> Result<String, LlmError> {
    let bare = id.strip_prefix("batches/").unwrap_or(id);
    if bare.is_empty()
        || !bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        return Err(LlmError::InvalidOutput {
            message: "the provider's batch id is not usable".into(),
            usage: Default::default(),
        });
    }
    Ok(format!("batches/{bare}"))
}

/// The typed error of an inlined response's `error` (a `google.rpc.Status`).
fn item_error(error: &Value) -> LlmError {
    let code = error.get("code").and_then(Value::as_u64).unwrap_or(500) as u16;
    let status = if (400..600).contains(&code) {
        code
    } else {
        500
    };
    LlmError::from_status(
        status,
        &Default::default(),
        &json!({"error": error}).to_string(),
    )
}

/// An inlined response's result.
fn item_result(item: &Value) -> ItemResult {
    if let Some(answer) = item.get("response") {
        return read_answer(answer)
            .map(|(output, usage)| super::response(output, usage, read_logprobs(answer)));
    }
    Err(item_error(item.get("error").unwrap_or(&Value::Null)))
}

/// The state of the batch an operation describes (`BATCH_STATE_*`; older answers say
/// `JOB_STATE_*`).
fn state(operation: &Value) -> BatchState {
    let state = operation
        .pointer("/metadata/state")
        .and_then(Value::as_str)
        .unwrap_or("");
    let word = state
        .trim_start_matches("BATCH_STATE_")
        .trim_start_matches("JOB_STATE_");
    match word {
        "SUCCEEDED" => BatchState::Ended,
        "CANCELLED" => BatchState::Canceled,
        "EXPIRED" => BatchState::Expired,
        "FAILED" => BatchState::Failed,
        _ => BatchState::Running,
    }
}

#[async_trait::async_trait]
impl BatchProvider for GeminiBatches {
    fn limits(&self) -> ChunkLimits {
        ChunkLimits {
            max_requests: 100_000,
            // Inline requests: 20 MB a body, less room for the envelope.
            max_bytes: 19 * 1024 * 1024,
        }
    }

    fn encode(&self, item: &BatchItem) -> Result<Encoded, LlmError> {
        let request = &item.request;
        let model = request.model.trim_start_matches("models/");
        let rules = rules::rules(Provider::Gemini, model, None);
        let settings = rules::settings(&rules, model, &request.params);
        let entry = json!({
            "request": body(request, rules.effort, &settings),
            "metadata": {"key": item.custom_id},
        });
        Ok(Encoded {
            custom_id: item.custom_id.clone(),
            entry: entry.to_string(),
        })
    }

    async fn submit(&self, model: &str, items: &[Encoded], name: &str) -> Result<String, LlmError> {
        let model = model.trim_start_matches("models/");
        let body = format!(
            "{{\"batch\":{{\"display_name\":{},\"input_config\":{{\"requests\":{{\"requests\":{}}}}}}}}}",
            Value::from(name),
            super::json_array(items)
        );
        let (operation, _) = crate::send_json(
            &self.http,
            self.request(
                reqwest::Method::POST,
                &format!("models/{model}:batchGenerateContent"),
            )
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body),
        )
        .await?;
        let name = operation
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| LlmError::InvalidOutput {
                message: "the provider's batch answer is unusable: the batch has no name".into(),
                usage: Default::default(),
            })?;
        batch_name(name)
    }

    async fn status(&self, id: &str) -> Result<BatchStatus, LlmError> {
        let operation = self.operation(id).await?;
        let stats = operation.pointer("/metadata/batchStats");
        let n = |key: &str| super::count(stats.and_then(|s| s.get(key)));
        Ok(BatchStatus {
            state: state(&operation),
            total: n("requestCount"),
            completed: n("successfulRequestCount"),
            failed: n("failedRequestCount"),
            reason: None,
        })
    }

    async fn results(
        &self,
        id: &str,
        custom_ids: &[String],
    ) -> Result<Vec<(String, ItemResult)>, LlmError> {
        let operation = self.operation(id).await?;
        let inlined = [
            "/response/inlinedResponses/inlinedResponses",
            "/metadata/output/inlinedResponses/inlinedResponses",
        ]
        .iter()
        .find_map(|p| operation.pointer(p).and_then(Value::as_array))
        .cloned()
        .unwrap_or_default();
        Ok(inlined
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                // By the key when it is given back, else by position.
                let custom_id = item
                    .pointer("/metadata/key")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| custom_ids.get(i).cloned())?;
                Some((custom_id, item_result(item)))
            })
            .collect())
    }

    async fn cancel(&self, id: &str) -> Result<(), LlmError> {
        crate::send_json(
            &self.http,
            self.request(
                reqwest::Method::POST,
                &format!("{}:cancel", batch_name(id)?),
            ),
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_ids_and_inlined_results_are_read() {
        let op = json!({"metadata": {"state": "BATCH_STATE_SUCCEEDED"}});
        assert_eq!(state(&op), BatchState::Ended);
        assert_eq!(
            state(&json!({"metadata": {"state": "JOB_STATE_RUNNING"}})),
            BatchState::Running
        );
        assert_eq!(
            batch_name("batches/abc-1").ok().as_deref(),
            Some("batches/abc-1")
        );
        assert!(batch_name("batches/../x").is_err());
        let ok = json!({"response": {"candidates": [{"content": {"parts": [{"text": "{\"a\":\"x\"}"}]},
            "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 3}}});
        assert_eq!(
            item_result(&ok).ok().map(|r| r.output),
            Some(json!({"a": "x"}))
        );
        let failed = json!({"error": {"code": 500, "message": "x", "status": "INTERNAL"}});
        assert!(matches!(
            item_result(&failed),
            Err(LlmError::Server { status: 500, .. })
        ));
    }
}
