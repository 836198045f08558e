//! Anthropic's Messages API over HTTP. Structured output is a forced tool call: one tool whose
//! `input_schema` is the output schema, and `tool_choice` naming it, so the answer is the
//! tool call's `input`.
use super::{LlmError, LlmProvider, LlmRequest, LlmResponse, Role, Usage};
use crate::services::model_providers::Credentials;
use serde_json::{Value, json};

/// Anthropic's API base.
pub const DEFAULT_BASE: &str = "https://api.anthropic.com";
/// The API version header Prompter speaks.
pub const API_VERSION: &str = "2023-06-01";
/// The tool the model is made to call.
const TOOL: &str = "record_labels";

/// An Anthropic connection.
pub struct Anthropic {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Anthropic {
    /// The provider of an Anthropic connection (`endpoint` overrides the API base).
    pub fn new(credentials: &Credentials, http: reqwest::Client) -> Result<Self, LlmError> {
        let (key, base) = super::key_and_base(credentials, DEFAULT_BASE, "/v1")?;
        Ok(Anthropic { base, key, http })
    }
}

/// The Messages API body of `request`.
pub fn body(request: &LlmRequest) -> Value {
    let (system, rest) = super::split_system(&request.messages);
    let messages: Vec<Value> = rest
        .into_iter()
        .map(|m| {
            let role = if m.role == Role::Assistant {
                "assistant"
            } else {
                "user"
            };
            json!({"role": role, "content": m.text()})
        })
        .collect();
    let mut body = json!({
        "model": request.model,
        "max_tokens": request.params.max_tokens.unwrap_or(4096),
        "messages": messages,
        "tools": [{
            "name": TOOL,
            "description": "Record the labels of the task.",
            "input_schema": request.schema,
        }],
        "tool_choice": {"type": "tool", "name": TOOL},
        "temperature": 0.0,
    });
    if let Some(system) = system {
        body["system"] = Value::String(system);
    }
    body
}

/// The output and usage of a Messages API answer.
pub fn read_answer(answer: &Value) -> Result<(Value, Usage), LlmError> {
    let usage = Usage {
        prompt_tokens: answer
            .pointer("/usage/input_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        completion_tokens: answer
            .pointer("/usage/output_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        ..Default::default()
    };
    let blocks = answer
        .get("content")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(input) = blocks
        .iter()
        .find(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
        .and_then(|b| b.get("input"))
    {
        return match input {
            Value::Object(_) => Ok((input.clone(), usage)),
            other => Err(LlmError::InvalidOutput {
                message: format!("the tool input is not an object: {other}"),
                usage,
            }),
        };
    }
    // No tool call: fall back to a JSON object in the text.
    let text: String = blocks
        .iter()
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    super::parse::json_object(&text)
        .map(|v| (v, usage))
        .map_err(|message| LlmError::InvalidOutput { message, usage })
}

#[async_trait::async_trait]
impl LlmProvider for Anthropic {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let (answer, headers) = super::send_json(
            self.http
                .post(format!("{}/v1/messages", self.base))
                .header("x-api-key", &self.key)
                .header("anthropic-version", API_VERSION)
                .json(&body(request)),
        )
        .await?;
        let (output, usage) = read_answer(&answer)?;
        Ok(LlmResponse {
            output,
            usage,
            limits: super::rate_limits(&headers),
            notes: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Message;

    #[test]
    fn the_tool_call_is_forced_and_read_back() {
        let request = LlmRequest {
            model: "claude-sonnet-4-5".into(),
            messages: vec![
                Message::new(Role::System, "be brief"),
                Message::new(Role::User, "hi"),
            ],
            schema: json!({"type": "object", "properties": {"a": {"type": "string"}}}),
            params: Default::default(),
        };
        let b = body(&request);
        assert_eq!(b["system"], "be brief");
        assert_eq!(b["messages"].as_array().map(Vec::len), Some(1));
        assert_eq!(b["tool_choice"]["name"], TOOL);
        assert_eq!(b["tools"][0]["input_schema"]["type"], "object");
        let answer = json!({
            "content": [{"type": "tool_use", "name": TOOL, "input": {"a": "x"}}],
            "usage": {"input_tokens": 12, "output_tokens": 3}
        });
        let (output, usage) = read_answer(&answer).expect("tool input");
        assert_eq!(output, json!({"a": "x"}));
        assert_eq!(usage.prompt_tokens, 12);
        let text = json!({"content": [{"type": "text", "text": "oops"}]});
        assert_eq!(
            read_answer(&text).map_err(|e| e.error_type()),
            Err("InvalidOutput")
        );
    }
}
