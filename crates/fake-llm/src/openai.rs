//! The OpenAI (and Azure OpenAI) dialect of the fake LLM: chat completions requests read as
//! strictly as OpenAI reads them, and answered and refused in OpenAI's shapes.
//!
//! * Reasoning models (`gpt-5*`, `o1*`, `o3*`, `o4*`) refuse `max_tokens` ("Use
//!   'max_completion_tokens' instead"), `temperature` and `top_p` (`gpt-5*`: any value but 1,
//!   `unsupported_value`; the o-series: any value, `unsupported_parameter`), and spend
//!   reasoning tokens by `reasoning_effort` (none 0, minimal 0, low 64, medium (default) 192,
//!   high 512, xhigh 1024); chat models (`gpt-4*`, `gpt-3.5*`) refuse `reasoning_effort`.
//! * A body field OpenAI does not know is "Unrecognized request argument supplied".
//! * Content parts must be `text` (any role), `image_url` with an object holding an `http(s)`
//!   or `data:image/{png,jpeg,gif,webp};base64,...` URL, `input_audio` or `file` (user), or
//!   `refusal` (assistant), each refused with OpenAI's message, `param` and `code`.
//! * Prompts of 1,024 tokens or more whose prefix (every message but the last) was seen
//!   before report `prompt_tokens_details.cached_tokens` in steps of 128.
use super::call::{
    BadRequest, Call, Finish, Prefix, Reply, content_text, conversation, fnv, is_base64, prefix_of,
};
use super::logprobs;
use super::server::Failure;
use serde_json::{Map, Value, json};

/// The body fields of a chat completions request.
const FIELDS: &[&str] = &[
    "model",
    "messages",
    "response_format",
    "temperature",
    "top_p",
    "n",
    "stream",
    "stream_options",
    "stop",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "user",
    "seed",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "functions",
    "function_call",
    "reasoning_effort",
    "verbosity",
    "service_tier",
    "store",
    "metadata",
    "modalities",
    "audio",
    "prediction",
    "web_search_options",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
];

/// The model id without a `provider/` path, lowercase.
fn base(model: &str) -> String {
    model.rsplit('/').next().unwrap_or(model).to_lowercase()
}

/// Whether OpenAI's reasoning rules apply to `model`.
pub(super) fn is_reasoning(model: &str) -> bool {
    let m = base(model);
    ["gpt-5", "o1", "o3", "o4"].iter().any(|p| m.starts_with(p))
}

/// Whether `model` is one of OpenAI's chat (non-reasoning) models.
fn is_chat(model: &str) -> bool {
    let m = base(model);
    ["gpt-4", "gpt-3.5", "chatgpt-"]
        .iter()
        .any(|p| m.starts_with(p))
}

/// Reasoning tokens a reasoning model spends at an effort.
fn effort_tokens(effort: Option<&str>) -> u64 {
    match effort {
        Some("none" | "minimal") => 0,
        Some("low") => 64,
        Some("high") => 512,
        Some("xhigh" | "max") => 1024,
        _ => 192,
    }
}

/// The refusal of a sampling parameter by a reasoning model.
fn sampling_refusal(model: &str, name: &str, value: &Value) -> Option<BadRequest> {
    if base(model).starts_with("gpt-5") {
        (value.as_f64() != Some(1.0)).then(|| {
            BadRequest::param(
                format!(
                    "Unsupported value: '{name}' does not support {value} with this model. Only \
                     the default (1) value is supported."
                ),
                name,
                "unsupported_value",
            )
        })
    } else {
        Some(BadRequest::param(
            format!("Unsupported parameter: '{name}' is not supported with this model."),
            name,
            "unsupported_parameter",
        ))
    }
}

/// Checks the parameters a model takes.
fn check_parameters(body: &Map<String, Value>, model: &str) -> Result<(), BadRequest> {
    if let Some(key) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(BadRequest::new(format!(
            "Unrecognized request argument supplied: {key}"
        )));
    }
    if is_reasoning(model) {
        if body.contains_key("max_tokens") {
            return Err(BadRequest::param(
                "Unsupported parameter: 'max_tokens' is not supported with this model. Use \
                 'max_completion_tokens' instead.",
                "max_tokens",
                "unsupported_parameter",
            ));
        }
        for name in ["temperature", "top_p"] {
            if let Some(refusal) = body
                .get(name)
                .and_then(|v| sampling_refusal(model, name, v))
            {
                return Err(refusal);
            }
        }
    } else if is_chat(model) && body.contains_key("reasoning_effort") {
        return Err(BadRequest::param(
            "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
            "reasoning_effort",
            "unsupported_parameter",
        ));
    }
    check_logprobs(body, model)
}

/// Checks an `image_url` part's URL.
fn check_image_url(url: &str, at: &str) -> Result<(), BadRequest> {
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(());
    }
    let param = format!("{at}.image_url.url");
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(BadRequest::param(
            format!(
                "Invalid '{param}'. Expected a base64-encoded data URL with an image MIME type \
                 (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got a value without \
                 the 'data:' prefix."
            ),
            param,
            "invalid_value",
        ));
    };
    let (media_type, data) = rest.split_once(";base64,").unwrap_or((rest, ""));
    if !matches!(
        media_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    ) {
        return Err(BadRequest::param(
            "You uploaded an unsupported image. Please make sure your image has of one the \
             following formats: ['png', 'jpeg', 'gif', 'webp'].",
            param,
            "invalid_image_format",
        ));
    }
    if !is_base64(data) {
        return Err(BadRequest::param(
            "You uploaded an unsupported image. Please make sure your image is valid.",
            param,
            "image_parse_error",
        ));
    }
    Ok(())
}

/// Checks the content parts of message `i` (a `role` message); counts its images.
fn check_content(
    i: usize,
    role: &str,
    content: &Value,
    images: &mut u64,
) -> Result<(), BadRequest> {
    let parts = match content {
        Value::Array(parts) => parts,
        Value::String(_) | Value::Null => return Ok(()),
        _ => {
            let param = format!("messages[{i}].content");
            return Err(BadRequest::param(
                format!(
                    "Invalid type for '{param}': expected one of a string or array of objects."
                ),
                param,
                "invalid_type",
            ));
        }
    };
    let allowed: &[&str] = match role {
        "user" => &["text", "image_url", "input_audio", "file"],
        "assistant" => &["text", "refusal"],
        _ => &["text"],
    };
    for (j, part) in parts.iter().enumerate() {
        let at = format!("messages[{i}].content[{j}]");
        let Some(kind) = part.get("type").and_then(Value::as_str) else {
            let param = format!("{at}.type");
            return Err(BadRequest::param(
                format!("Missing required parameter: '{param}'."),
                param,
                "missing_required_parameter",
            ));
        };
        if !allowed.contains(&kind) {
            let listed: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
            return Err(BadRequest::param(
                format!(
                    "Invalid value: '{kind}'. Supported values are: {}.",
                    listed.join(", ")
                ),
                format!("{at}.type"),
                "invalid_value",
            ));
        }
        match (kind, part.get(kind)) {
            ("text", _) if !part.get("text").is_some_and(Value::is_string) => {
                let param = format!("{at}.text");
                return Err(BadRequest::param(
                    format!("Missing required parameter: '{param}'."),
                    param,
                    "missing_required_parameter",
                ));
            }
            ("image_url", Some(Value::Object(image))) => {
                let Some(url) = image.get("url").and_then(Value::as_str) else {
                    let param = format!("{at}.image_url.url");
                    return Err(BadRequest::param(
                        format!("Missing required parameter: '{param}'."),
                        param,
                        "missing_required_parameter",
                    ));
                };
                check_image_url(url, &at)?;
                *images += 1;
            }
            ("image_url", Some(other)) => {
                let param = format!("{at}.image_url");
                let found = if other.is_string() {
                    "a string"
                } else {
                    "another type"
                };
                return Err(BadRequest::param(
                    format!(
                        "Invalid type for '{param}': expected an object, but got {found} instead."
                    ),
                    param,
                    "invalid_type",
                ));
            }
            ("image_url", None) => {
                let param = format!("{at}.image_url");
                return Err(BadRequest::param(
                    format!("Missing required parameter: '{param}'."),
                    param,
                    "missing_required_parameter",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Reads an OpenAI (or Azure) chat completions request.
pub(super) fn read(request: &Value, default_model: &str) -> Result<Call, BadRequest> {
    let body = request
        .as_object()
        .ok_or("The request body must be a JSON object.")?;
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            BadRequest::param(
                "Missing required parameter: 'messages'.",
                "messages",
                "missing_required_parameter",
            )
        })?;
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(default_model)
        .to_string();
    check_parameters(body, &model)?;
    let mut images = 0;
    let mut turns = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).map(str::to_string);
        let content = m.get("content").unwrap_or(&Value::Null);
        check_content(i, role.as_deref().unwrap_or(""), content, &mut images)?;
        turns.push((role, content_text(content)));
    }
    let (prompt_chars, user_text) = conversation(turns.iter().cloned());
    let schema = body
        .get("response_format")
        .filter(|f| f.get("type").and_then(Value::as_str) == Some("json_schema"))
        .and_then(|f| f.get("json_schema"))
        .and_then(|s| s.get("schema"))
        .cloned();
    let (hash, chars) = prefix_of("", &turns);
    let mut call = Call::new(model, prompt_chars, user_text);
    call.schema = schema;
    call.images = images;
    call.max_output = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64));
    if is_reasoning(&call.model) {
        call.reasoning = effort_tokens(body.get("reasoning_effort").and_then(Value::as_str));
    }
    call.prefix = Some(Prefix {
        hash,
        chars,
        explicit: false,
        step: 128,
    });
    call.key = fnv(0, request.to_string().as_bytes());
    call.seed = body.get("seed").and_then(Value::as_i64);
    if body.get("logprobs").and_then(Value::as_bool) == Some(true) {
        call.logprobs = Some(
            body.get("top_logprobs")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        );
    }
    Ok(call)
}

/// Checks `logprobs` and `top_logprobs` as OpenAI does: reasoning models take neither, and
/// `top_logprobs` is 0 to 20 and needs `logprobs`.
fn check_logprobs(body: &Map<String, Value>, model: &str) -> Result<(), BadRequest> {
    if is_reasoning(model) {
        for name in ["logprobs", "top_logprobs"] {
            if body.contains_key(name) {
                return Err(BadRequest::param(
                    format!("Unsupported parameter: '{name}' is not supported with this model."),
                    name,
                    "unsupported_parameter",
                ));
            }
        }
    }
    let Some(top) = body.get("top_logprobs").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    match top.as_u64() {
        Some(n) if n > logprobs::MAX_TOP_LOGPROBS => Err(BadRequest::param(
            format!(
                "Invalid 'top_logprobs': integer above maximum value. Expected a value <= {}, \
                 but got {n} instead.",
                logprobs::MAX_TOP_LOGPROBS
            ),
            "top_logprobs",
            "integer_above_max_value",
        )),
        Some(_) if body.get("logprobs").and_then(Value::as_bool) != Some(true) => {
            Err(BadRequest::param(
                "Invalid value for 'top_logprobs': 'logprobs' must be set to true when \
                 'top_logprobs' is used.",
                "top_logprobs",
                "invalid_value",
            ))
        }
        Some(_) => Ok(()),
        None => Err(BadRequest::param(
            format!("Invalid type for 'top_logprobs': expected an integer, but got {top} instead."),
            "top_logprobs",
            "invalid_type",
        )),
    }
}

/// A chat completion.
pub(super) fn answer(call: &Call, reply: &Reply, now: u64, n: u64) -> Value {
    let t = reply.tokens;
    let (content, refusal) = match reply.finish {
        Finish::Refusal => (Value::Null, json!(reply.text)),
        _ => (json!(reply.text), Value::Null),
    };
    let finish_reason = match reply.finish {
        Finish::Length => "length",
        Finish::Stop | Finish::Refusal => "stop",
    };
    let completion = t.output + t.reasoning;
    json!({
        "id": format!("chatcmpl-fake-{now}-{n}"),
        "object": "chat.completion",
        "created": now,
        "model": call.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": refusal},
            "logprobs": match (call.logprobs, reply.finish) {
                (Some(top), Finish::Stop) => {
                    logprobs::openai(&reply.text, call.schema.as_ref(), call.confidence, top)
                }
                _ => Value::Null,
            },
            "finish_reason": finish_reason,
        }],
        "usage": {
            "prompt_tokens": t.prompt,
            "completion_tokens": completion,
            "total_tokens": t.prompt + completion,
            "prompt_tokens_details": {"cached_tokens": t.cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": t.reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
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

/// The body of a refused request.
pub(super) fn bad_request_body(bad: &BadRequest) -> Value {
    json!({"error": {
        "message": bad.message,
        "type": "invalid_request_error",
        "param": bad.param,
        "code": bad.code,
    }})
}
