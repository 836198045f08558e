//! The Gemini `generateContent` dialect of the fake LLM: requests read as strictly as Google
//! reads them (the schema is `generationConfig.responseJsonSchema`), and answered and refused
//! in Google's shapes.
//!
//! * A field Google does not know, at the top, in `generationConfig` or in a part, is
//!   `Invalid JSON payload received. Unknown name "x" at '...': Cannot find field.` (names are
//!   taken in camelCase or snake_case, as Google's JSON mapping does).
//! * `inline_data` parts need a `mime_type` (image, audio, video, PDF or text) and base64
//!   `data`; `file_data` parts an `http(s)`, `gs://` or Files API `file_uri`.
//! * Gemini 2.5 and 3 are thinking models: they report `thoughtsTokenCount` (2.5: the
//!   `thinkingBudget`, at most 160, dynamic 160, and a budget of 0 refused by Pro; 3: 64, 128 or
//!   256 by `thinkingLevel` low, medium, high (default)), and implicit caching: a prompt prefix
//!   of 1,024 tokens or more seen before is reported as `cachedContentTokenCount`.
//! * `maxOutputTokens` bounds thoughts and answer together (`finishReason: MAX_TOKENS`); a
//!   refusal is `finishReason: SAFETY` with no content.
use super::call::{
    BadRequest, Call, Finish, Prefix, Reply, content_text, conversation, fnv, is_base64, prefix_of,
};
use super::logprobs;
use super::server::Failure;
use serde_json::{Map, Value, json};

/// The top-level fields of a request.
const FIELDS: &[&str] = &[
    "contents",
    "systemInstruction",
    "generationConfig",
    "safetySettings",
    "tools",
    "toolConfig",
    "cachedContent",
    "labels",
];

/// The fields of `generationConfig`.
const GENERATION: &[&str] = &[
    "temperature",
    "topP",
    "topK",
    "candidateCount",
    "maxOutputTokens",
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "_responseJsonSchema",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "thinkingConfig",
    "responseModalities",
    "mediaResolution",
    "speechConfig",
    "enableEnhancedCivicAnswers",
];

/// The fields of a part.
const PART: &[&str] = &[
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "thought",
    "thoughtSignature",
    "executableCode",
    "codeExecutionResult",
    "videoMetadata",
    "mediaResolution",
];

/// A field name as Google's JSON mapping compares it: `inline_data` is `inlineData`.
fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The value of `map`'s field `name`, in camelCase or snake_case.
pub(super) fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| norm(k) == norm(name))
        .map(|(_, v)| v)
}

/// Refuses a field of `map` not in `known`; `at` is where, as Google writes it.
fn check_fields(map: &Map<String, Value>, known: &[&str], at: &str) -> Result<(), BadRequest> {
    let Some(unknown) = map
        .keys()
        .find(|k| !known.iter().any(|f| norm(f) == norm(k)))
    else {
        return Ok(());
    };
    let located = if at.is_empty() {
        String::new()
    } else {
        format!(" at '{at}'")
    };
    let message = format!(
        "Invalid JSON payload received. Unknown name \"{unknown}\"{located}: Cannot find field."
    );
    Err(BadRequest {
        param: Some(at.to_string()),
        ..BadRequest::new(message)
    })
}

/// Checks the parts of content `i`; counts its images.
fn check_parts(i: usize, parts: &[Value], images: &mut u64) -> Result<(), BadRequest> {
    for (j, part) in parts.iter().enumerate() {
        let at = format!("contents[{i}].parts[{j}]");
        let Some(map) = part.as_object() else {
            return Err(BadRequest::new(format!(
                "Invalid value at '{at}', expected an object."
            )));
        };
        check_fields(map, PART, &at)?;
        if let Some(inline) = field(map, "inline_data") {
            let mime = inline
                .as_object()
                .and_then(|o| field(o, "mime_type"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let known = ["image/", "audio/", "video/", "text/", "application/pdf"];
            if mime.is_empty() {
                return Err(BadRequest::new(format!(
                    "* GenerateContentRequest.{at}.inline_data.mime_type: a mime type is required"
                )));
            }
            if !known.iter().any(|k| mime.starts_with(k)) {
                return Err(BadRequest::new(format!("Unsupported MIME type: {mime}")));
            }
            let data = inline
                .as_object()
                .and_then(|o| field(o, "data"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if !is_base64(data) {
                let shown: String = data.chars().take(20).collect();
                return Err(BadRequest::new(format!(
                    "Invalid value at '{at}.inline_data.data' (TYPE_BYTES), Base64 decoding \
                     failed for \"{shown}\""
                )));
            }
            *images += 1;
        }
        if let Some(file) = field(map, "file_data") {
            let uri = file
                .as_object()
                .and_then(|o| field(o, "file_uri"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let fetchable = ["https://", "http://", "gs://"];
            if !fetchable.iter().any(|p| uri.starts_with(p)) {
                return Err(BadRequest::new(format!(
                    "* GenerateContentRequest.{at}.file_data.file_uri: Invalid or unsupported \
                     file uri: {uri}"
                )));
            }
            *images += 1;
        }
    }
    Ok(())
}

/// Thoughts a model spends, or the refusal of its thinking settings.
fn thoughts(model: &str, config: Option<&Map<String, Value>>) -> Result<u64, BadRequest> {
    let thinking = config
        .and_then(|c| field(c, "thinking_config"))
        .and_then(Value::as_object);
    let budget = thinking
        .and_then(|t| field(t, "thinking_budget"))
        .and_then(Value::as_i64);
    let level = thinking
        .and_then(|t| field(t, "thinking_level"))
        .and_then(Value::as_str);
    let m = model.to_lowercase();
    if m.starts_with("gemini-2.5") {
        if budget == Some(0) && m.contains("pro") {
            return Err("Budget 0 is invalid. This model only works in thinking mode.".into());
        }
        return Ok(match budget {
            Some(b) if b >= 0 => (b as u64).min(160),
            _ => 160,
        });
    }
    if m.starts_with("gemini-3") {
        return Ok(match (level, budget) {
            (Some("minimal" | "low"), _) => 64,
            (Some("medium"), _) => 128,
            (None, Some(b)) if b >= 0 => (b as u64).min(256),
            _ => 256,
        });
    }
    Ok(0)
}

/// Reads a Gemini `generateContent` request for `model`.
pub(super) fn read(request: &Value, model: &str) -> Result<Call, BadRequest> {
    let body = request
        .as_object()
        .ok_or("Invalid JSON payload received.")?;
    check_fields(body, FIELDS, "")?;
    let contents = field(body, "contents")
        .and_then(Value::as_array)
        .ok_or("* GenerateContentRequest.contents: contents is not specified")?;
    let config = field(body, "generation_config").and_then(Value::as_object);
    if let Some(config) = config {
        check_fields(config, GENERATION, "generation_config")?;
    }
    let parts_text = |c: &Value| c.get("parts").map(content_text).unwrap_or_default();
    let system = field(body, "system_instruction")
        .map(parts_text)
        .unwrap_or_default();
    let mut images = 0;
    let mut turns = Vec::new();
    for (i, c) in contents.iter().enumerate() {
        let parts = c.get("parts").and_then(Value::as_array);
        check_parts(i, parts.map_or(&[][..], Vec::as_slice), &mut images)?;
        // A content without a role is the user's.
        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
        turns.push((Some(role.to_string()), parts_text(c)));
    }
    let (chars, user_text) = conversation(turns.iter().cloned());
    let schema = config.and_then(|g| {
        [
            "response_json_schema",
            "_response_json_schema",
            "response_schema",
        ]
        .iter()
        .find_map(|k| field(g, k))
        .cloned()
    });
    let mut call = Call::new(model.to_string(), chars + system.chars().count(), user_text);
    call.schema = schema;
    call.images = images;
    call.reasoning = thoughts(model, config)?;
    call.max_output = config
        .and_then(|c| field(c, "max_output_tokens"))
        .and_then(Value::as_u64);
    call.seed = config
        .and_then(|c| field(c, "seed"))
        .and_then(Value::as_i64);
    if config
        .and_then(|c| field(c, "response_logprobs"))
        .and_then(Value::as_bool)
        == Some(true)
    {
        // Thinking models give no log-probabilities.
        if call.reasoning > 0 || model.to_lowercase().starts_with("gemini-3") {
            return Err(BadRequest::param(
                "Logprobs is not supported for the current model.",
                "generation_config.response_logprobs",
                "invalid_argument",
            ));
        }
        let top = config
            .and_then(|c| field(c, "logprobs"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if top > logprobs::MAX_TOP_LOGPROBS {
            return Err(BadRequest::param(
                format!("logprobs must be in the range [0, 20], got {top}."),
                "generation_config.logprobs",
                "invalid_argument",
            ));
        }
        call.logprobs = Some(top);
    }
    let thinking_model = ["gemini-2.5", "gemini-3"]
        .iter()
        .any(|p| model.to_lowercase().starts_with(p));
    if thinking_model {
        let (hash, prefix_chars) = prefix_of(&system, &turns);
        call.prefix = Some(Prefix {
            hash,
            chars: prefix_chars,
            explicit: false,
            step: 1,
        });
    }
    call.key = fnv(0, request.to_string().as_bytes());
    Ok(call)
}

/// A `generateContent` answer.
pub(super) fn answer(call: &Call, reply: &Reply, n: u64) -> Value {
    let t = reply.tokens;
    let finish = match reply.finish {
        Finish::Stop => "STOP",
        Finish::Length => "MAX_TOKENS",
        Finish::Refusal => "SAFETY",
    };
    let mut candidate = json!({"finishReason": finish, "index": 0});
    if reply.finish != Finish::Refusal && !reply.text.is_empty() {
        candidate["content"] = json!({"role": "model", "parts": [{"text": reply.text}]});
    }
    if let (Some(top), Finish::Stop) = (call.logprobs, reply.finish) {
        candidate["logprobsResult"] =
            logprobs::gemini(&reply.text, call.schema.as_ref(), call.confidence, top);
        candidate["avgLogprobs"] = json!(call.confidence.ln());
    }
    if reply.finish == Finish::Refusal {
        candidate["safetyRatings"] = json!([
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true},
        ]);
    }
    let mut usage = json!({
        "promptTokenCount": t.prompt,
        "candidatesTokenCount": t.output,
        "totalTokenCount": t.prompt + t.output + t.reasoning,
    });
    if t.reasoning > 0 {
        usage["thoughtsTokenCount"] = json!(t.reasoning);
    }
    if t.cached > 0 {
        usage["cachedContentTokenCount"] = json!(t.cached);
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": usage,
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

/// The body of a refused request, with a `BadRequest` field violation when it names a field.
pub(super) fn bad_request_body(bad: &BadRequest) -> Value {
    let mut body = error_body(Failure::BadRequest, &bad.message, None);
    if let Some(field) = &bad.param {
        body["error"]["details"] = json!([{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": field, "description": bad.message}],
        }]);
    }
    body
}
