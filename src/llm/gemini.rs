//! Google Gemini's `generateContent` over HTTP, with `responseMimeType: application/json` and
//! the output schema as `responseJsonSchema`.
use super::{LlmError, LlmProvider, LlmRequest, LlmResponse, Role, Usage};
use crate::services::model_providers::Credentials;
use serde_json::{Value, json};

/// The Gemini API base.
pub const DEFAULT_BASE: &str = "https://generativelanguage.googleapis.com";

/// A Gemini connection.
pub struct Gemini {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Gemini {
    /// The provider of a Gemini connection (`endpoint` overrides the API base).
    pub fn new(credentials: &Credentials, http: reqwest::Client) -> Result<Self, LlmError> {
        let (key, base) = super::key_and_base(credentials, DEFAULT_BASE, "/v1beta")?;
        Ok(Gemini { base, key, http })
    }
}

/// The `generateContent` body of `request`.
pub fn body(request: &LlmRequest) -> Value {
    let (system, rest) = super::split_system(&request.messages);
    let contents: Vec<Value> = rest
        .into_iter()
        .map(|m| {
            let role = if m.role == Role::Assistant {
                "model"
            } else {
                "user"
            };
            json!({"role": role, "parts": [{"text": m.text()}]})
        })
        .collect();
    let mut config = json!({
        "responseMimeType": "application/json",
        "responseJsonSchema": request.schema,
        "temperature": 0.0,
    });
    if let Some(max) = request.params.max_tokens {
        config["maxOutputTokens"] = json!(max);
    }
    let mut body = json!({"contents": contents, "generationConfig": config});
    if let Some(system) = system {
        body["systemInstruction"] = json!({"parts": [{"text": system}]});
    }
    body
}

/// The output and usage of a `generateContent` answer.
pub fn read_answer(answer: &Value) -> Result<(Value, Usage), LlmError> {
    let usage = Usage {
        prompt_tokens: answer
            .pointer("/usageMetadata/promptTokenCount")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        completion_tokens: answer
            .pointer("/usageMetadata/candidatesTokenCount")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        ..Default::default()
    };
    let text: String = answer
        .pointer("/candidates/0/content/parts")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if text.is_empty()
        && let Some(reason) = answer
            .pointer("/candidates/0/finishReason")
            .or_else(|| answer.pointer("/promptFeedback/blockReason"))
            .and_then(Value::as_str)
    {
        return Err(LlmError::InvalidOutput {
            message: format!("no answer (finish reason {reason})"),
            usage,
        });
    }
    super::parse::json_object(&text)
        .map(|v| (v, usage))
        .map_err(|message| LlmError::InvalidOutput { message, usage })
}

#[async_trait::async_trait]
impl LlmProvider for Gemini {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let model = request.model.trim_start_matches("models/");
        let (answer, headers) = super::send_json(
            self.http
                .post(format!(
                    "{}/v1beta/models/{model}:generateContent",
                    self.base
                ))
                .header("x-goog-api-key", &self.key)
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
    fn the_schema_is_sent_and_the_answer_read() {
        let request = LlmRequest {
            model: "gemini-2.5-flash".into(),
            messages: vec![
                Message::new(Role::System, "sys"),
                Message::new(Role::User, "u"),
                Message::new(Role::Assistant, "{}"),
            ],
            schema: json!({"type": "object"}),
            params: crate::llm::ModelParams {
                max_tokens: Some(50),
                ..Default::default()
            },
        };
        let b = body(&request);
        assert_eq!(b["systemInstruction"]["parts"][0]["text"], "sys");
        assert_eq!(b["contents"][1]["role"], "model");
        assert_eq!(
            b["generationConfig"]["responseJsonSchema"]["type"],
            "object"
        );
        assert_eq!(b["generationConfig"]["maxOutputTokens"], 50);
        let answer = json!({
            "candidates": [{"content": {"parts": [{"text": "{\"a\": 1}"}]}}],
            "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 2}
        });
        let (output, usage) = read_answer(&answer).expect("answer");
        assert_eq!(output, json!({"a": 1}));
        assert_eq!(usage.completion_tokens, 2);
    }
}
