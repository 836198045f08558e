//! The Gemini `generateContent` dialect of the fake LLM: requests read (the schema is
//! `generationConfig.responseJsonSchema`), and answered and refused in Google's shapes.
use super::server::{Call, Content, Failure, content_text, conversation};
use serde_json::{Value, json};

/// Reads a Gemini `generateContent` request for `model`.
pub(super) fn read(request: &Value, model: &str) -> Result<Call, String> {
    let contents = request
        .get("contents")
        .and_then(Value::as_array)
        .ok_or("* GenerateContentRequest.contents: contents is not specified")?;
    let parts_text = |c: &Value| c.get("parts").map(content_text).unwrap_or_default();
    let system = request
        .get("systemInstruction")
        .or_else(|| request.get("system_instruction"))
        .map(parts_text)
        .unwrap_or_default();
    let (chars, user_text) = conversation(contents.iter().map(|c| {
        // A content without a role is the user's.
        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
        (Some(role.to_string()), parts_text(c))
    }));
    let config = request
        .get("generationConfig")
        .or_else(|| request.get("generation_config"));
    let schema = config.and_then(|g| {
        [
            "responseJsonSchema",
            "response_json_schema",
            "responseSchema",
            "response_schema",
        ]
        .iter()
        .find_map(|k| g.get(*k))
        .cloned()
    });
    Ok(Call {
        model: model.to_string(),
        prompt_chars: chars + system.chars().count(),
        user_text,
        schema,
        tool: None,
    })
}

/// A `generateContent` answer.
pub(super) fn answer(call: &Call, content: &Content, usage: (u64, u64), n: u64) -> Value {
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": [{"text": content.text()}]},
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": {
            "promptTokenCount": usage.0,
            "candidatesTokenCount": usage.1,
            "totalTokenCount": usage.0 + usage.1,
        },
        "modelVersion": call.model,
        "responseId": format!("fake-{n}"),
    })
}

/// An error body: `{"error": {"code", "message", "status"}}`, with a `RetryInfo` detail when
/// the caller should wait `retry_secs`.
pub(super) fn error_body(failure: Failure, message: &str, retry_secs: Option<u64>) -> Value {
    let kind = match failure {
        Failure::MissingKey | Failure::WrongKey => "UNAUTHENTICATED",
        Failure::BadRequest => "INVALID_ARGUMENT",
        Failure::NotFound => "NOT_FOUND",
        Failure::RateLimited => "RESOURCE_EXHAUSTED",
        Failure::ServerError => "INTERNAL",
    };
    let mut error = json!({"code": failure.status().as_u16(), "message": message, "status": kind});
    if let Some(secs) = retry_secs {
        error["details"] = json!([{
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": format!("{secs}s"),
        }]);
    }
    json!({ "error": error })
}
