//! OpenAI's and Azure OpenAI's Batch API: the requests as a JSONL file (`purpose=batch`), one
//! batch over it on the chat completions endpoint with a 24 h window; the answers in the
//! output file, the failed items in the error file, both in any order.
//!
//! OpenAI takes up to 50,000 requests and 200 MB a file (Azure 100,000); Azure's paths are
//! `{endpoint}/openai/files` and `/openai/batches` with `api-version`, its model the deployment.
use super::{BatchItem, BatchProvider, BatchState, BatchStatus, ChunkLimits, Encoded, ItemResult};
use crate::openai::{body, read_answer, read_logprobs, split_api_version};
use crate::rules;
use crate::{Credentials, LlmError, Provider};
use rand::Rng;
use reqwest::RequestBuilder;
use serde_json::{Value, json};
use std::collections::HashMap;

/// An OpenAI or Azure OpenAI connection's batch API.
pub struct OpenAiBatches {
    /// `https://api.openai.com/v1`, or Azure's `{endpoint}/openai`.
    base: String,
    /// Azure's `api-version`.
    api_version: Option<String>,
    key: String,
    deployment: Option<String>,
    provider: Provider,
    http: outbound::Outbound,
}

impl OpenAiBatches {
    /// The batch API of an OpenAI or AzureOpenAI connection.
    pub fn new(credentials: &Credentials, http: outbound::Outbound) -> Result<Self, LlmError> {
        let key = credentials
            .api_key
            .clone()
            .or_else(|| credentials.auth_token.clone())
            .ok_or_else(|| LlmError::Authentication("the connection has no API key".into()))?;
        let endpoint = credentials
            .endpoint
            .as_deref()
            .map(|e| e.trim_end_matches('/').to_string());
        let (base, api_version) = if credentials.provider == Provider::AzureOpenAI {
            let endpoint = endpoint.ok_or_else(|| {
                LlmError::Unsupported("an AzureOpenAI connection needs its endpoint URL".into())
            })?;
            let (base, version) = split_api_version(&endpoint);
            (
                format!("{}/openai", base.trim_end_matches('/')),
                Some(version),
            )
        } else {
            (
                endpoint.unwrap_or_else(|| "https://api.openai.com/v1".into()),
                None,
            )
        };
        Ok(OpenAiBatches {
            base,
            api_version,
            key,
            deployment: credentials.deployment_name.clone(),
            provider: credentials.provider,
            http,
        })
    }

    fn azure(&self) -> bool {
        self.provider == Provider::AzureOpenAI
    }

    /// The chat completions path the batch's lines and the batch name.
    fn endpoint(&self) -> &'static str {
        if self.azure() {
            "/chat/completions"
        } else {
            "/v1/chat/completions"
        }
    }

    /// A request to `path` (under the base) with the connection's key.
    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let url = format!("{}{path}", self.base);
        let builder = self.http.client().request(method, url);
        match &self.api_version {
            Some(version) => builder
                .query(&[("api-version", version.as_str())])
                .header("api-key", &self.key),
            None => builder.bearer_auth(&self.key),
        }
    }

    async fn json(&self, request: RequestBuilder) -> Result<Value, LlmError> {
        crate::send_json(&self.http, request).await.map(|(v, _)| v)
    }

    /// Uploads `lines` as a batch input file; its id.
    async fn upload(&self, lines: &[Encoded], name: &str) -> Result<String, LlmError> {
        let boundary = format!("prompter-{:016x}", rand::thread_rng().r#gen::<u64>());
        let mut form =
            Vec::with_capacity(lines.iter().map(|l| l.entry.len() + 1).sum::<usize>() + 512);
        form.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{name}.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n"
            )
            .as_bytes(),
        );
        for line in lines {
            form.extend_from_slice(line.entry.as_bytes());
            form.push(b'\n');
        }
        form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let file = self
            .json(
                self.request(reqwest::Method::POST, "/files")
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        format!("multipart/form-data; boundary={boundary}"),
                    )
                    .body(form),
            )
            .await?;
        text(&file, "/id").ok_or_else(|| unreadable("the uploaded file has no id"))
    }

    /// The content of file `id`, as JSON lines.
    async fn file_lines(&self, id: &str) -> Result<Vec<Value>, LlmError> {
        let bytes = super::send_bytes(
            &self.http,
            self.request(reqwest::Method::GET, &format!("/files/{id}/content")),
        )
        .await?;
        Ok(super::json_lines(&bytes))
    }
}

/// A string at `pointer` of `value`.
fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn unreadable(what: &str) -> LlmError {
    LlmError::InvalidOutput {
        message: format!("the provider's batch answer is unusable: {what}"),
        usage: Default::default(),
    }
}

/// An item's result from its line of the output or error file; `None` when the item was not
/// executed (the batch was canceled or expired first).
fn item_result(line: &Value) -> Option<ItemResult> {
    let Some(response) = line.get("response").filter(|r| !r.is_null()) else {
        // `error` without a response: not executed (`batch_cancelled`, `batch_expired`) or
        // refused before it was sent; asked again either way.
        return None;
    };
    let status = response
        .get("status_code")
        .and_then(Value::as_u64)
        .unwrap_or(0) as u16;
    let body = response.get("body").cloned().unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Some(
            read_answer(&body)
                .map(|(output, usage)| super::response(output, usage, read_logprobs(&body))),
        );
    }
    Some(Err(LlmError::from_status(
        status,
        &Default::default(),
        &body.to_string(),
    )))
}

#[async_trait::async_trait]
impl BatchProvider for OpenAiBatches {
    fn limits(&self) -> ChunkLimits {
        ChunkLimits {
            max_requests: if self.azure() { 100_000 } else { 50_000 },
            // 200 MB less room for the form around it.
            max_bytes: 190 * 1024 * 1024,
        }
    }

    fn encode(&self, item: &BatchItem) -> Result<Encoded, LlmError> {
        let request = &item.request;
        let rules = rules::rules(self.provider, &request.model, self.deployment.as_deref());
        let settings = rules::settings(&rules, &request.model, &request.params);
        let mut body = body(request, &settings)?;
        if let (true, Some(deployment)) = (self.azure(), &self.deployment) {
            body["model"] = json!(deployment);
        }
        let line = json!({
            "custom_id": item.custom_id,
            "method": "POST",
            "url": self.endpoint(),
            "body": body,
        });
        Ok(Encoded {
            custom_id: item.custom_id.clone(),
            entry: line.to_string(),
        })
    }

    async fn submit(
        &self,
        _model: &str,
        items: &[Encoded],
        name: &str,
    ) -> Result<String, LlmError> {
        let file = self.upload(items, name).await?;
        let batch = self
            .json(
                self.request(reqwest::Method::POST, "/batches")
                    .json(&json!({
                        "input_file_id": file,
                        "endpoint": self.endpoint(),
                        "completion_window": "24h",
                        "metadata": {"prompter": name},
                    })),
            )
            .await?;
        text(&batch, "/id").ok_or_else(|| unreadable("the batch has no id"))
    }

    async fn status(&self, id: &str) -> Result<BatchStatus, LlmError> {
        let batch = self
            .json(self.request(reqwest::Method::GET, &format!("/batches/{id}")))
            .await?;
        let state = match batch.get("status").and_then(Value::as_str).unwrap_or("") {
            "completed" => BatchState::Ended,
            "cancelled" => BatchState::Canceled,
            "expired" => BatchState::Expired,
            "failed" => BatchState::Failed,
            _ => BatchState::Running,
        };
        let counts = batch.get("request_counts");
        let reason = batch
            .pointer("/errors/data/0/code")
            .and_then(Value::as_str)
            .filter(|c| crate::is_word(c))
            .map(str::to_string);
        Ok(BatchStatus {
            state,
            total: super::count(counts.and_then(|c| c.get("total"))),
            completed: super::count(counts.and_then(|c| c.get("completed"))),
            failed: super::count(counts.and_then(|c| c.get("failed"))),
            reason,
        })
    }

    async fn results(
        &self,
        id: &str,
        _custom_ids: &[String],
    ) -> Result<Vec<(String, ItemResult)>, LlmError> {
        let batch = self
            .json(self.request(reqwest::Method::GET, &format!("/batches/{id}")))
            .await?;
        let mut found: HashMap<String, ItemResult> = HashMap::new();
        for file in ["/output_file_id", "/error_file_id"] {
            let Some(file) = text(&batch, file) else {
                continue;
            };
            for line in self.file_lines(&file).await? {
                let Some(custom_id) = text(&line, "/custom_id") else {
                    continue;
                };
                if let Some(result) = item_result(&line) {
                    found.insert(custom_id, result);
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    async fn cancel(&self, id: &str) -> Result<(), LlmError> {
        self.json(self.request(reqwest::Method::POST, &format!("/batches/{id}/cancel")))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_as_answers_failures_or_not_executed() {
        let ok = json!({"custom_id": "t1", "response": {"status_code": 200, "body": {
            "choices": [{"message": {"content": "{\"a\": \"x\"}"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2}
        }}, "error": null});
        let answer = item_result(&ok).and_then(Result::ok).map(|r| r.output);
        assert_eq!(answer, Some(json!({"a": "x"})));
        let failed = json!({"custom_id": "t2", "response": {"status_code": 500, "body": {
            "error": {"message": "oops", "type": "server_error"}}}, "error": null});
        assert!(matches!(
            item_result(&failed),
            Some(Err(LlmError::Server { status: 500, .. }))
        ));
        let canceled = json!({"custom_id": "t3", "response": null,
            "error": {"code": "batch_cancelled", "message": "not executed"}});
        assert!(item_result(&canceled).is_none());
    }
}
