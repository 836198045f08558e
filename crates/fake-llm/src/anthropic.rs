//! The Anthropic Messages dialect of the fake LLM: requests read as strictly as Anthropic reads
//! them (the schema is the forced tool's `input_schema`), and answered and refused in
//! Anthropic's shapes.
//!
//! * `max_tokens` is required ("max_tokens: Field required"); a field Anthropic does not know
//!   is "x: Extra inputs are not permitted" (there is no `seed`).
//! * Claude 4 models (`claude-opus-4` to `-4-6`, `claude-sonnet-4*`, `claude-haiku-4*`) refuse
//!   `temperature` and `top_p` together; Opus 4.7 and later, Sonnet 5, Fable and Mythos refuse
//!   any `temperature`, `top_p` or `top_k` but the default ("`temperature` is deprecated for
//!   this model.").
//! * `thinking` (`enabled` or `adaptive`) spends its `budget_tokens` (256 when adaptive) and is
//!   refused with a forced `tool_choice`.
//! * Image blocks must have a `base64` source (`image/jpeg`, `png`, `gif` or `webp`, valid
//!   base64) or a `url` source; other blocks must be of a known type.
//! * With a `cache_control` anywhere, a prompt prefix (tools, system and every message but the
//!   last) of 1,024 tokens or more is written to the cache once (`cache_creation_input_tokens`)
//!   and read afterwards (`cache_read_input_tokens`); `input_tokens` excludes both.
use super::call::{
    BadRequest, Call, Finish, Prefix, Reply, content_text, conversation, fnv, is_base64, prefix_of,
};
use super::server::{FAKE_MODEL, Failure};
use serde_json::{Map, Value, json};

/// The body fields of a Messages request.
const FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "system",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "stop_sequences",
    "stream",
    "metadata",
    "thinking",
    "output_config",
    "service_tier",
    "container",
    "mcp_servers",
    "context_management",
    "cache_control",
    "inference_geo",
];

/// The content block types of a message.
const BLOCKS: &[&str] = &[
    "text",
    "image",
    "document",
    "search_result",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
];

/// The sampling rules of a Claude model: `Some(true)` when it takes no sampling parameter but
/// the default, `Some(false)` when it takes temperature or top_p but not both, `None` when
/// both are fine.
fn sampling(model: &str) -> Option<bool> {
    let m = model.to_lowercase();
    let newest = [
        "claude-sonnet-5",
        "claude-fable",
        "claude-mythos-5",
        "claude-opus-5",
    ];
    if newest.iter().any(|p| m.starts_with(p)) {
        return Some(true);
    }
    for family in ["claude-opus-4", "claude-sonnet-4", "claude-haiku-4"] {
        if let Some(rest) = m.strip_prefix(family) {
            let minor: u32 = rest
                .trim_start_matches('-')
                .split('-')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            return Some(family == "claude-opus-4" && (7..100).contains(&minor));
        }
    }
    None
}

/// Checks the parameters a model takes.
fn check_parameters(body: &Map<String, Value>, model: &str) -> Result<(), BadRequest> {
    if let Some(key) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(BadRequest::new(format!(
            "{key}: Extra inputs are not permitted"
        )));
    }
    if !body.contains_key("max_tokens") {
        return Err("max_tokens: Field required".into());
    }
    match sampling(model) {
        Some(true) => {
            for name in ["temperature", "top_p", "top_k"] {
                let default = if name == "top_k" { None } else { Some(1.0) };
                if let Some(v) = body.get(name)
                    && v.as_f64() != default
                {
                    return Err(BadRequest::new(format!(
                        "`{name}` is deprecated for this model."
                    )));
                }
            }
        }
        Some(false) if body.contains_key("temperature") && body.contains_key("top_p") => {
            return Err(
                "`temperature` and `top_p` cannot both be specified for this model. Please use \
                 only one."
                    .into(),
            );
        }
        _ => {}
    }
    Ok(())
}

/// Checks an image block at `at`.
fn check_image(block: &Value, at: &str) -> Result<(), BadRequest> {
    let Some(source) = block.get("source") else {
        return Err(BadRequest::new(format!(
            "{at}.image.source: Field required"
        )));
    };
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media_type = source.get("media_type").and_then(Value::as_str);
            if !matches!(
                media_type,
                Some("image/jpeg" | "image/png" | "image/gif" | "image/webp")
            ) {
                return Err(BadRequest::new(format!(
                    "{at}.image.source.base64.media_type: Input should be 'image/jpeg', \
                     'image/png', 'image/gif' or 'image/webp'"
                )));
            }
            let data = source.get("data").and_then(Value::as_str).unwrap_or("");
            if !is_base64(data) {
                return Err(BadRequest::new(format!(
                    "{at}.image.source.base64.data: The image data is not valid base64."
                )));
            }
        }
        Some("url") => {
            let url = source.get("url").and_then(Value::as_str).unwrap_or("");
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(BadRequest::new(format!(
                    "{at}.image.source.url.url: Input should be a valid URL"
                )));
            }
        }
        Some("file") => {}
        other => {
            return Err(BadRequest::new(format!(
                "{at}.image.source: Input tag '{}' found using 'type' does not match any of \
                 the expected tags: 'base64', 'url', 'file'",
                other.unwrap_or("")
            )));
        }
    }
    Ok(())
}

/// Checks the blocks of message `i`; counts its images.
fn check_blocks(i: usize, content: &Value, images: &mut u64) -> Result<(), BadRequest> {
    let Some(blocks) = content.as_array() else {
        return Ok(());
    };
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("messages.{i}.content.{j}");
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        if !BLOCKS.contains(&kind) {
            let expected: Vec<String> = BLOCKS.iter().map(|b| format!("'{b}'")).collect();
            return Err(BadRequest::new(format!(
                "{at}: Input tag '{kind}' found using 'type' does not match any of the expected \
                 tags: {}",
                expected.join(", ")
            )));
        }
        if kind == "image" {
            check_image(block, &at)?;
            *images += 1;
        }
    }
    Ok(())
}

/// Whether a `cache_control` marker is anywhere in the request.
fn asks_for_cache(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.contains_key("cache_control") || map.values().any(asks_for_cache),
        Value::Array(items) => items.iter().any(asks_for_cache),
        _ => false,
    }
}

/// Reads an Anthropic Messages request.
pub(super) fn read(request: &Value) -> Result<Call, BadRequest> {
    let body = request
        .as_object()
        .ok_or("The request body must be a JSON object.")?;
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages: Field required")?;
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(FAKE_MODEL)
        .to_string();
    check_parameters(body, &model)?;
    let mut images = 0;
    let mut turns = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let content = m.get("content").unwrap_or(&Value::Null);
        check_blocks(i, content, &mut images)?;
        let role = m.get("role").and_then(Value::as_str).map(str::to_string);
        turns.push((role, content_text(content)));
    }
    let system = body.get("system").map(content_text).unwrap_or_default();
    let (chars, user_text) = conversation(turns.iter().cloned());
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let forced = body
        .get("tool_choice")
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| matches!(t, "tool" | "any"));
    let thinking = body.get("thinking");
    let thinking_type = thinking.and_then(|t| t.get("type")).and_then(Value::as_str);
    let reasoning = match thinking_type {
        Some("enabled" | "adaptive") if forced => {
            return Err("Thinking may not be enabled when tool_choice forces tool use.".into());
        }
        Some("enabled") => thinking
            .and_then(|t| t.get("budget_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(1024)
            .min(256),
        Some("adaptive") => 256,
        _ => 0,
    };
    let named = body
        .get("tool_choice")
        .filter(|c| c.get("type").and_then(Value::as_str) == Some("tool"))
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str);
    let tool = match named {
        Some(name) => Some(
            tools
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
                .ok_or_else(|| {
                    BadRequest::new(format!("tool_choice names the unknown tool '{name}'"))
                })?,
        ),
        None => tools.first(),
    };
    let head = format!("{}{system}", Value::Array(tools.clone()));
    let (hash, prefix_chars) = prefix_of(&head, &turns);
    let mut call = Call::new(model, chars + system.chars().count(), user_text);
    call.schema = tool.and_then(|t| t.get("input_schema")).cloned();
    call.tool = tool
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    call.images = images;
    call.max_output = body.get("max_tokens").and_then(Value::as_u64);
    call.reasoning = reasoning;
    call.prefix = asks_for_cache(request).then_some(Prefix {
        hash,
        // The tools' JSON is not in the prompt's characters.
        chars: prefix_chars.saturating_sub(head.chars().count()) + system.chars().count(),
        explicit: true,
        step: 1,
    });
    call.key = fnv(0, request.to_string().as_bytes());
    Ok(call)
}

/// A Messages answer: the tool call when the request has a tool and the answer is its input,
/// else a text block (none for a refusal, which Anthropic's classifiers give before any output).
pub(super) fn answer(call: &Call, reply: &Reply, n: u64) -> Value {
    let tool_call = match (reply.json, reply.finish, &call.tool) {
        (true, Finish::Stop, Some(tool)) => serde_json::from_str::<Value>(&reply.text)
            .ok()
            .map(|input| (tool, input)),
        _ => None,
    };
    let mut blocks = Vec::new();
    if reply.tokens.reasoning > 0 {
        // Thinking is omitted from the answer by default; the block stays, empty.
        blocks.push(json!({"type": "thinking", "thinking": "", "signature": format!("fake-{n}")}));
    }
    let stop_reason = match (reply.finish, tool_call) {
        (Finish::Refusal, _) => "refusal",
        (Finish::Length, _) => "max_tokens",
        (Finish::Stop, Some((tool, input))) => {
            blocks.push(json!({"type": "tool_use", "id": format!("toolu_fake_{n}"), "name": tool, "input": input}));
            "tool_use"
        }
        (Finish::Stop, None) => "end_turn",
    };
    if stop_reason != "tool_use" && stop_reason != "refusal" && !reply.text.is_empty() {
        blocks.push(json!({"type": "text", "text": reply.text}));
    }
    let t = reply.tokens;
    let mut answer = json!({
        "id": format!("msg_fake_{n}"),
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {
            "input_tokens": t.prompt - t.cached - t.cache_written,
            "cache_creation_input_tokens": t.cache_written,
            "cache_read_input_tokens": t.cached,
            "output_tokens": t.output + t.reasoning,
        },
    });
    if reply.finish == Finish::Refusal {
        answer["stop_details"] =
            json!({"type": "refusal", "category": null, "explanation": reply.text});
    }
    answer
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
