//! The Anthropic Messages dialect of the fake LLM: requests read (the schema is the forced
//! tool's `input_schema`), and answered and refused in Anthropic's shapes.
use super::server::{Call, Content, FAKE_MODEL, Failure, content_text, conversation};
use serde_json::{Value, json};

/// Reads an Anthropic Messages request.
pub(super) fn read(request: &Value) -> Result<Call, String> {
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages: Field required")?;
    let system = request.get("system").map(content_text).unwrap_or_default();
    let (chars, user_text) = conversation(messages.iter().map(|m| {
        (
            m.get("role").and_then(Value::as_str).map(str::to_string),
            m.get("content").map(content_text).unwrap_or_default(),
        )
    }));
    let tools = request
        .get("tools")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let named = request
        .get("tool_choice")
        .filter(|c| c.get("type").and_then(Value::as_str) == Some("tool"))
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str);
    let tool = match named {
        Some(name) => Some(
            tools
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
                .ok_or_else(|| format!("tool_choice names the unknown tool '{name}'"))?,
        ),
        None => tools.first(),
    };
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(FAKE_MODEL)
        .to_string();
    Ok(Call {
        model,
        prompt_chars: chars + system.chars().count(),
        user_text,
        schema: tool.and_then(|t| t.get("input_schema")).cloned(),
        tool: tool
            .and_then(|t| t.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// A Messages answer: the tool call when the request has a tool, else a text block.
pub(super) fn answer(call: &Call, content: &Content, usage: (u64, u64), n: u64) -> Value {
    let tool_call = match (content, &call.tool) {
        (Content::Json(text), Some(tool)) => serde_json::from_str::<Value>(text)
            .ok()
            .map(|input| (tool, input)),
        _ => None,
    };
    let (blocks, stop_reason) = match tool_call {
        Some((tool, input)) => (
            json!([{"type": "tool_use", "id": format!("toolu_fake_{n}"), "name": tool, "input": input}]),
            "tool_use",
        ),
        None => (
            json!([{"type": "text", "text": content.text()}]),
            "end_turn",
        ),
    };
    json!({
        "id": format!("msg_fake_{n}"),
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": usage.0, "output_tokens": usage.1},
    })
}

/// An error body: `{"type": "error", "error": {"type", "message"}}`.
pub(super) fn error_body(failure: Failure, message: &str) -> Value {
    let kind = match failure {
        Failure::MissingKey | Failure::WrongKey => "authentication_error",
        Failure::BadRequest => "invalid_request_error",
        Failure::NotFound => "not_found_error",
        Failure::RateLimited => "rate_limit_error",
        Failure::ServerError => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}
