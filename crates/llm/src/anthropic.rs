//! Anthropic's Messages API over HTTP. Structured output is a forced tool call: one tool whose
//! `input_schema` is the output schema, and `tool_choice` naming it, so the answer is the
//! tool call's `input`. Images are `image` blocks (`base64` or `url` sources) in user messages;
//! `max_tokens` is always sent (the API requires it); the reasoning effort is
//! `output_config.effort`.
use super::refusals::{self, Refused};
use super::rules::{self, ANTHROPIC_DEFAULT_MAX_TOKENS, Settings};
use super::{
    ImageSource, LlmError, LlmProvider, LlmRequest, LlmResponse, Message, Part, Role, Usage,
};
use crate::{Credentials, Provider};
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
    http: outbound::Outbound,
    refused: Refused,
}

impl Anthropic {
    /// The provider of an Anthropic connection (`endpoint` overrides the API base).
    pub fn new(credentials: &Credentials, http: outbound::Outbound) -> Result<Self, LlmError> {
        let (key, base) = super::key_and_base(credentials, DEFAULT_BASE, "/v1")?;
        Ok(Anthropic {
            base,
            key,
            http,
            refused: Refused::default(),
        })
    }
}

/// The content of a message: its text, or `text` and `image` blocks in order when it has images.
fn content(message: &Message) -> Value {
    if message.role != Role::User || message.images().next().is_none() {
        return Value::String(message.text());
    }
    let blocks: Vec<Value> = message
        .parts
        .iter()
        .map(|part| match part {
            Part::Text(text) => json!({"type": "text", "text": text}),
            Part::Image(ImageSource::Inline { media_type, data }) => json!({
                "type": "image",
                "source": {"type": "base64", "media_type": media_type, "data": data},
            }),
            Part::Image(ImageSource::Url(url)) => {
                json!({"type": "image", "source": {"type": "url", "url": url}})
            }
        })
        .collect();
    Value::Array(blocks)
}

/// The Messages API body of `request` with `settings` (see `llm::rules`).
pub fn body(request: &LlmRequest, settings: &Settings) -> Value {
    let (system, rest) = super::split_system(&request.messages);
    let messages: Vec<Value> = rest
        .into_iter()
        .map(|m| {
            let role = if m.role == Role::Assistant {
                "assistant"
            } else {
                "user"
            };
            json!({"role": role, "content": content(m)})
        })
        .collect();
    let mut body = json!({
        "model": request.model,
        "max_tokens": settings.max_tokens.unwrap_or(ANTHROPIC_DEFAULT_MAX_TOKENS),
        "messages": messages,
        "tools": [{
            "name": TOOL,
            "description": "Record the labels of the task.",
            "input_schema": request.schema,
        }],
        "tool_choice": {"type": "tool", "name": TOOL},
    });
    if let Some(system) = system {
        body["system"] = Value::String(system);
    }
    if let Some(t) = settings.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(p) = settings.top_p {
        body["top_p"] = json!(p);
    }
    if let Some(effort) = &settings.reasoning_effort {
        // Anthropic's levels are low to max; OpenAI's "minimal" is its "low".
        let effort = match effort.as_str() {
            "minimal" => "low",
            other => other,
        };
        body["output_config"] = json!({"effort": effort});
    }
    rules::merge_extra(&mut body, &settings.extra);
    body
}

/// The usage of a Messages answer: `input_tokens` excludes cache reads and writes, so the
/// prompt tokens are the three added up.
pub fn read_usage(usage: Option<&Value>) -> Usage {
    let number = |key: &str| {
        usage
            .and_then(|u| u.get(key))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let cached = number("cache_read_input_tokens");
    Usage {
        prompt_tokens: number("input_tokens") + cached + number("cache_creation_input_tokens"),
        completion_tokens: number("output_tokens"),
        reasoning_tokens: 0,
        cached_tokens: cached,
    }
}

/// The output and usage of a Messages API answer. A refusal (`stop_reason: refusal`) and an
/// answer cut at `max_tokens` or by the context window are `InvalidOutput`.
pub fn read_answer(answer: &Value) -> Result<(Value, Usage), LlmError> {
    let usage = read_usage(answer.get("usage"));
    match answer.get("stop_reason").and_then(Value::as_str) {
        Some("refusal") => {
            let why = ["/stop_details/explanation", "/stop_details/category"]
                .iter()
                .find_map(|p| answer.pointer(p).and_then(Value::as_str))
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            return Err(super::withheld(
                format!("the model refused to answer (stop_reason: refusal){why}"),
                usage,
            ));
        }
        Some("max_tokens") => return Err(super::cut_at_limit("stop_reason: max_tokens", usage)),
        Some("model_context_window_exceeded") => {
            return Err(super::withheld(
                "the answer was cut: the model's context window is full (stop_reason: \
                 model_context_window_exceeded)"
                    .into(),
                usage,
            ));
        }
        _ => {}
    }
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
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    super::parse::json_object(&text)
        .map(|v| (v, usage))
        .map_err(|message| LlmError::InvalidOutput { message, usage })
}

#[async_trait::async_trait]
impl LlmProvider for Anthropic {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let rules = rules::rules(Provider::Anthropic, &request.model, None);
        let settings = rules::settings(&rules, &request.model, &request.params);
        let mut notes = settings.notes.clone();
        let url = format!("{}/v1/messages", self.base);
        let (answer, headers) = refusals::send(
            &self.refused,
            &request.model,
            body(request, &settings),
            &mut notes,
            |b| {
                super::send_json(
                    &self.http,
                    self.http
                        .client()
                        .post(&url)
                        .header("x-api-key", &self.key)
                        .header("anthropic-version", API_VERSION)
                        .json(&b),
                )
            },
        )
        .await?;
        let (output, usage) = read_answer(&answer)?;
        Ok(LlmResponse {
            output,
            usage,
            limits: super::rate_limits(&headers),
            notes,
            logprobs: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelParams;

    fn request(model: &str, messages: Vec<Message>, params: ModelParams) -> (LlmRequest, Settings) {
        let request = LlmRequest {
            model: model.into(),
            messages,
            schema: json!({"type": "object", "properties": {"a": {"type": "string"}}}),
            params,
        };
        let rules = rules::rules(Provider::Anthropic, model, None);
        let settings = rules::settings(&rules, model, &request.params);
        (request, settings)
    }

    #[test]
    fn the_tool_call_is_forced_and_read_back() {
        let (r, s) = request(
            "claude-sonnet-4-5",
            vec![
                Message::new(Role::System, "be brief"),
                Message::new(Role::User, "hi"),
            ],
            ModelParams::default(),
        );
        let b = body(&r, &s);
        assert_eq!(b["system"], "be brief");
        assert_eq!(b["messages"].as_array().map(Vec::len), Some(1));
        assert_eq!(b["messages"][0]["content"], "hi");
        assert_eq!(b["tool_choice"]["name"], TOOL);
        assert_eq!(b["tools"][0]["input_schema"]["type"], "object");
        assert_eq!(
            (b["max_tokens"].clone(), b["temperature"].clone()),
            (json!(4096), json!(0.0))
        );
        let answer = json!({
            "content": [{"type": "tool_use", "name": TOOL, "input": {"a": "x"}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 12, "output_tokens": 3}
        });
        let (output, usage) = read_answer(&answer).expect("tool input");
        assert_eq!(output, json!({"a": "x"}));
        assert_eq!(usage.prompt_tokens, 12);
        let text = json!({"content": [{"type": "text", "text": "oops"}]});
        assert_eq!(
            read_answer(&text).map_err(|e| e.error_type()),
            Err(crate::FailureKind::InvalidOutput)
        );
    }

    #[test]
    fn bodies_follow_the_rules() {
        // Opus 4.7: no temperature, the effort in output_config, the version's limit.
        let params = ModelParams {
            temperature: Some(0.0),
            max_tokens: Some(1000),
            reasoning_effort: Some("minimal".into()),
            extra: json!({"metadata": {"user_id": "u"}}).as_object().cloned(),
            ..Default::default()
        };
        let (r, s) = request(
            "claude-opus-4-7",
            vec![Message::new(Role::User, "hi")],
            params,
        );
        let b = body(&r, &s);
        assert!(b.get("temperature").is_none());
        assert_eq!(b["max_tokens"], 1000);
        assert_eq!(b["output_config"], json!({"effort": "low"}));
        assert_eq!(b["metadata"]["user_id"], "u");
        assert_eq!(s.notes.len(), 1);
    }

    #[test]
    fn images_are_image_blocks_in_order() {
        let message = Message::with_parts(
            Role::User,
            vec![
                Part::Text("Look:".into()),
                Part::Image(ImageSource::Inline {
                    media_type: "image/png".into(),
                    data: "aGVsbG8=".into(),
                }),
                Part::Image(ImageSource::Url("https://example.com/a.jpg".into())),
                Part::Text("Text: hi".into()),
            ],
        );
        let (r, s) = request("claude-haiku-4-5", vec![message], ModelParams::default());
        assert_eq!(
            body(&r, &s)["messages"][0]["content"],
            json!([
                {"type": "text", "text": "Look:"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGVsbG8="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                {"type": "text", "text": "Text: hi"},
            ])
        );
    }

    #[test]
    fn usage_counts_cached_input_and_stop_reasons_fail() {
        let usage = read_usage(Some(&json!({
            "input_tokens": 20, "cache_read_input_tokens": 3000,
            "cache_creation_input_tokens": 100, "output_tokens": 40,
        })));
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 3120,
                completion_tokens: 40,
                reasoning_tokens: 0,
                cached_tokens: 3000,
            }
        );
        let cut = json!({"content": [{"type": "tool_use", "name": TOOL, "input": {}}],
                         "stop_reason": "max_tokens", "usage": {"input_tokens": 5, "output_tokens": 16}});
        let e = read_answer(&cut).expect_err("cut");
        assert!(e.to_string().contains("token limit"), "{e}");
        assert_eq!(e.usage().completion_tokens, 16);
        let refusal = json!({"content": [], "stop_reason": "refusal",
                             "stop_details": {"category": "cyber", "explanation": null}});
        let e = read_answer(&refusal).expect_err("refused");
        assert!(
            e.to_string()
                .contains("refused to answer (stop_reason: refusal): cyber"),
            "{e}"
        );
    }
}
