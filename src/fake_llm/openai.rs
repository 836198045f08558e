//! The OpenAI (and Azure OpenAI) dialect of the fake LLM: chat completions requests read, and
//! answered and refused in OpenAI's shapes.
use super::server::{Call, Content, Failure, content_text, conversation};
use serde_json::{Value, json};

/// Reads an OpenAI (or Azure) chat completions request.
pub(super) fn read(request: &Value, default_model: &str) -> Result<Call, String> {
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("'messages' is a required property")?;
    let (prompt_chars, user_text) = conversation(messages.iter().map(|m| {
        (
            m.get("role").and_then(Value::as_str).map(str::to_string),
            m.get("content").map(content_text).unwrap_or_default(),
        )
    }));
    let schema = request
        .get("response_format")
        .filter(|f| f.get("type").and_then(Value::as_str) == Some("json_schema"))
        .and_then(|f| f.get("json_schema"))
        .and_then(|s| s.get("schema"))
        .cloned();
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(default_model)
        .to_string();
    Ok(Call {
        model,
        prompt_chars,
        user_text,
        schema,
        tool: None,
    })
}

/// A chat completion.
pub(super) fn answer(call: &Call, content: &Content, usage: (u64, u64), now: u64, n: u64) -> Value {
    let (prompt_tokens, completion_tokens) = usage;
    json!({
        "id": format!("chatcmpl-fake-{now}-{n}"),
        "object": "chat.completion",
        "created": now,
        "model": call.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content.text(), "refusal": null},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": "fake",
    })
}

/// An error body: `{"error": {"message", "type", "param", "code"}}`.
pub(super) fn error_body(failure: Failure, message: &str) -> Value {
    let (kind, code) = match failure {
        Failure::MissingKey | Failure::WrongKey => {
            ("invalid_request_error", Some("invalid_api_key"))
        }
        Failure::BadRequest => ("invalid_request_error", None),
        Failure::NotFound => ("invalid_request_error", Some("not_found")),
        Failure::RateLimited => ("rate_limit_exceeded", Some("rate_limit_exceeded")),
        Failure::ServerError => ("server_error", None),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}
