//! A provider's 400 that names a parameter the model does not take is retried without it, for
//! every dialect in one place.
//!
//! Each provider builds its request body (after `llm::rules`) and sends it through [`send`]:
//! when the answer is a 400 (or 422) whose body names a field of the request
//! ([`refused_parameter`]: OpenAI's `param` with `code: unsupported_parameter` or
//! `unsupported_value`, "Unsupported parameter: 'x'", Anthropic's "`x` is deprecated for this
//! model" or "x: Extra inputs are not permitted", Gemini's `Unknown name "x" at '...'`), the
//! field is removed and the call made once more, and the response's notes say so ("retried
//! without temperature: the provider refused it"). Each refused parameter costs one retry, at
//! most three per call; essential fields (`model`, `messages`, `tools`, ...) are never dropped.
//! The retry happens inside one [`LlmProvider::complete`](super::LlmProvider::complete), so
//! the scheduler sees one attempt that succeeded, not a failure.
//!
//! Refused parameters are remembered per model ([`Refused`]), so later calls of that provider
//! leave them out at once instead of collecting a 400 each.
use super::LlmError;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// The most parameters one call drops before it gives up.
const MAX_DROPS: usize = 3;

/// Parameters removed with another: (removed, companion).
const COMPANIONS: &[(&str, &str)] = &[
    ("logprobs", "top_logprobs"),
    ("responseLogprobs", "logprobs"),
];

/// Top-level fields that are the call itself: never dropped.
const ESSENTIAL: &[&str] = &[
    "model",
    "messages",
    "contents",
    "system",
    "systeminstruction",
    "tools",
    "toolchoice",
    "stream",
];

/// Fields whose insides are data (schemas), not parameters: never searched.
const OPAQUE: &[&str] = &[
    "messages",
    "contents",
    "tools",
    "responseformat",
    "responsejsonschema",
    "responseschema",
    "inputschema",
    "systeminstruction",
];

/// A field name without case or separators (`top_p`, `topP` and `top-p` are one name).
fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The first name quoted with `'`, `"` or backticks at the start of `text`.
fn quoted(text: &str) -> Option<String> {
    let text = text.trim_start();
    let quote = text
        .chars()
        .next()
        .filter(|c| matches!(c, '\'' | '"' | '`'))?;
    let rest = &text[quote.len_utf8()..];
    let end = rest.find(quote)?;
    Some(rest[..end].to_string()).filter(|n| !n.is_empty())
}

/// A parameter name as an error message writes it: quotes and backticks off.
fn bare(name: &str) -> Option<String> {
    let name = name
        .trim()
        .trim_matches(|c| matches!(c, '\'' | '"' | '`'))
        .to_string();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'));
    valid.then_some(name)
}

/// The parameter an error message says the model refuses.
fn from_message(message: &str) -> Option<String> {
    for prefix in ["Unsupported parameter: ", "Unsupported value: "] {
        if let Some(i) = message.find(prefix)
            && let Some(name) = quoted(&message[i + prefix.len()..])
        {
            return Some(name);
        }
    }
    let unrecognized = "Unrecognized request argument supplied: ";
    if let Some(i) = message.find(unrecognized) {
        let name: String = message[i + unrecognized.len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '.'))
            .collect();
        return (!name.is_empty()).then_some(name);
    }
    // Anthropic: "`temperature` and `top_p` cannot both be specified": the second gives way.
    if let Some(i) = message.find(" cannot both be specified") {
        return message[..i].rsplit(" and ").next().and_then(bare);
    }
    for phrase in [
        " is deprecated for this model",
        " is not supported with this model",
        " is not supported for this model",
    ] {
        if let Some(i) = message.find(phrase) {
            return message[..i].rsplit(' ').next().and_then(bare);
        }
    }
    // Pydantic, as Anthropic answers unknown fields: "seed: Extra inputs are not permitted".
    if let Some((name, rest)) = message.split_once(": ")
        && rest.starts_with("Extra inputs are not permitted")
    {
        return bare(name);
    }
    // Google: `Unknown name "seed" at 'generation_config': Cannot find field.`
    let unknown = "Unknown name \"";
    if let Some(i) = message.find(unknown) {
        let rest = &message[i + unknown.len()..];
        let name = &rest[..rest.find('"')?];
        let location = rest
            .find(" at '")
            .map(|j| &rest[j + 5..])
            .and_then(|l| l.find('\'').map(|k| &l[..k]))
            .filter(|l| !l.is_empty() && !l.contains('['));
        return Some(match location {
            Some(location) => format!("{location}.{name}"),
            None => name.to_string(),
        });
    }
    None
}

/// The parameter a provider's 4xx error body says the model does not take, if it names one.
pub fn refused_parameter(body: &str) -> Option<String> {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    if let Some(error) = error {
        let code = error.get("code").and_then(Value::as_str).unwrap_or("");
        let param = error.get("param").and_then(Value::as_str);
        if matches!(code, "unsupported_parameter" | "unsupported_value")
            && let Some(param) = param.filter(|p| !p.is_empty())
        {
            return Some(param.to_string());
        }
    }
    let message = error
        .and_then(|e| e.get("message"))
        .or_else(|| parsed.as_ref().and_then(|v| v.get("message")))
        .and_then(Value::as_str)
        .unwrap_or(body);
    from_message(message).or_else(|| {
        // Google, when the message names nothing: a `BadRequest` detail naming the field
        // (`generation_config.response_logprobs`). Read last: for an unknown field the detail
        // names only where it is (`generation_config`), and the message names the field.
        let error = error?;
        let violation = error
            .get("details")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| d.get("fieldViolations").and_then(Value::as_array))
            .flatten()
            .find_map(|v| v.get("field").and_then(Value::as_str))
            .filter(|f| {
                !f.is_empty()
                    && f.chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.'))
            });
        violation.map(str::to_string)
    })
}

/// The key of `map` that is `name` whatever its case or separators.
fn key_of(map: &Map<String, Value>, name: &str) -> Option<String> {
    let wanted = norm(name);
    map.keys().find(|k| norm(k) == wanted).cloned()
}

/// Finds `name` as a key of `map` or of its nested objects (three levels at most, never inside
/// [`OPAQUE`] fields); returns the path of keys, shallowest first.
fn find(map: &Map<String, Value>, name: &str, depth: usize) -> Option<Vec<String>> {
    if let Some(key) = key_of(map, name) {
        return Some(vec![key]);
    }
    if depth == 0 {
        return None;
    }
    map.iter()
        .filter(|(k, _)| !OPAQUE.contains(&norm(k).as_str()))
        .find_map(|(k, v)| {
            let inner = v.as_object()?;
            let mut path = find(inner, name, depth - 1)?;
            path.insert(0, k.clone());
            Some(path)
        })
}

/// Removes the field `name` names from a request body: a dotted path (`generation_config.seed`)
/// when it leads somewhere, else the key wherever it is (`top_p` in Gemini's
/// `generationConfig`); names match whatever their case or underscores. Returns the removed
/// field's path, or `None` when the body has no such field or it is essential.
pub fn remove_parameter(body: &mut Value, name: &str) -> Option<String> {
    let map = body.as_object_mut()?;
    let segments: Vec<&str> = name.split('.').filter(|s| !s.is_empty()).collect();
    let dotted = || -> Option<Vec<String>> {
        let mut path = Vec::new();
        let mut current = &*map;
        for (i, segment) in segments.iter().enumerate() {
            let key = key_of(current, segment)?;
            if i + 1 < segments.len() {
                current = current.get(&key)?.as_object()?;
            }
            path.push(key);
        }
        Some(path)
    };
    let path = dotted().or_else(|| find(map, segments.last()?, 2))?;
    if path.len() == 1 && ESSENTIAL.contains(&norm(&path[0]).as_str()) {
        return None;
    }
    let (last, parents) = path.split_last()?;
    let mut current = map;
    for key in parents {
        current = current.get_mut(key)?.as_object_mut()?;
    }
    current.remove(last)?;
    // A parameter that means nothing without the removed one goes with it (OpenAI refuses
    // `top_logprobs` without `logprobs`).
    if let Some((_, companion)) = COMPANIONS.iter().find(|(p, _)| norm(last) == norm(p)) {
        current.remove(*companion);
    }
    Some(path.join("."))
}

/// Parameters providers refused, per model: later calls leave them out at once.
#[derive(Debug, Default)]
pub struct Refused {
    by_model: Mutex<HashMap<String, Vec<String>>>,
}

impl Refused {
    /// The paths refused for `model` so far.
    fn known(&self, model: &str) -> Vec<String> {
        self.by_model
            .lock()
            .map(|m| m.get(model).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Remembers that `model` refused `path`.
    fn remember(&self, model: &str, path: &str) {
        if let Ok(mut m) = self.by_model.lock() {
            let paths = m.entry(model.to_string()).or_default();
            if !paths.iter().any(|p| p == path) {
                paths.push(path.to_string());
            }
        }
    }
}

/// Sends `body` with `send`; a 400 (or 422) naming one of its parameters is retried without it,
/// once per parameter and at most three times. `notes` gets a line per parameter left out.
pub async fn send<T, F, Fut>(
    refused: &Refused,
    model: &str,
    mut body: Value,
    notes: &mut Vec<String>,
    mut send: F,
) -> Result<T, LlmError>
where
    F: FnMut(Value) -> Fut,
    Fut: Future<Output = Result<T, LlmError>>,
{
    for path in refused.known(model) {
        if let Some(path) = remove_parameter(&mut body, &path) {
            notes.push(format!(
                "{path} not sent: the provider refused it on an earlier call"
            ));
        }
    }
    let mut drops = 0;
    loop {
        match send(body.clone()).await {
            Err(LlmError::Request {
                status,
                message,
                param: Some(param),
            }) if matches!(status, 400 | 422) && drops < MAX_DROPS => {
                let Some(path) = remove_parameter(&mut body, &param) else {
                    return Err(LlmError::Request {
                        status,
                        message,
                        param: Some(param),
                    });
                };
                drops += 1;
                tracing::debug!(model, parameter = %path, "retrying without a refused parameter");
                refused.remember(model, &path);
                notes.push(format!("retried without {path}: the provider refused it"));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refused_parameters_are_read_from_each_providers_errors() {
        let openai = r#"{"error":{"message":"Unsupported parameter: 'temperature' is not supported with this model.","type":"invalid_request_error","param":"temperature","code":"unsupported_parameter"}}"#;
        assert_eq!(refused_parameter(openai).as_deref(), Some("temperature"));
        let value = r#"{"error":{"message":"Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported.","type":"invalid_request_error","param":"temperature","code":"unsupported_value"}}"#;
        assert_eq!(refused_parameter(value).as_deref(), Some("temperature"));
        // Without the structured fields, the message alone.
        let bare_openai = r#"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."}}"#;
        assert_eq!(
            refused_parameter(bare_openai).as_deref(),
            Some("max_tokens")
        );
        let unrecognized =
            r#"{"error":{"message":"Unrecognized request argument supplied: top_k","param":null}}"#;
        assert_eq!(refused_parameter(unrecognized).as_deref(), Some("top_k"));
        let anthropic = r#"{"type":"error","error":{"type":"invalid_request_error","message":"`temperature` is deprecated for this model."}}"#;
        assert_eq!(refused_parameter(anthropic).as_deref(), Some("temperature"));
        let both = r#"{"type":"error","error":{"type":"invalid_request_error","message":"temperature and top_p cannot both be specified for this model. Please use only one."}}"#;
        assert_eq!(refused_parameter(both).as_deref(), Some("top_p"));
        let extra = r#"{"type":"error","error":{"type":"invalid_request_error","message":"seed: Extra inputs are not permitted"}}"#;
        assert_eq!(refused_parameter(extra).as_deref(), Some("seed"));
        let gemini = r#"{"error":{"code":400,"message":"Invalid JSON payload received. Unknown name \"seed\" at 'generation_config': Cannot find field.","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(
            refused_parameter(gemini).as_deref(),
            Some("generation_config.seed")
        );
        // Errors that name no refused parameter.
        let missing = r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}"#;
        assert_eq!(refused_parameter(missing), None);
        let range = r#"{"error":{"message":"Invalid 'temperature': decimal above maximum value.","param":"temperature","code":"decimal_above_max_value"}}"#;
        assert_eq!(refused_parameter(range), None);
        assert_eq!(refused_parameter("not json"), None);
    }

    #[test]
    fn parameters_are_removed_where_they_are() {
        let mut body = json!({
            "model": "m",
            "temperature": 0,
            "generationConfig": {"topP": 0.5, "seed": 3, "responseJsonSchema": {"properties": {"seed": {}}}},
            "output_config": {"effort": "low"},
        });
        assert_eq!(
            remove_parameter(&mut body, "generation_config.seed").as_deref(),
            Some("generationConfig.seed")
        );
        assert_eq!(
            remove_parameter(&mut body, "top_p").as_deref(),
            Some("generationConfig.topP")
        );
        assert_eq!(
            remove_parameter(&mut body, "temperature").as_deref(),
            Some("temperature")
        );
        assert_eq!(
            remove_parameter(&mut body, "output_config.effort").as_deref(),
            Some("output_config.effort")
        );
        // Schemas are data, and essential fields stay.
        assert_eq!(remove_parameter(&mut body, "seed"), None);
        assert_eq!(remove_parameter(&mut body, "model"), None);
        assert_eq!(remove_parameter(&mut body, "nothing"), None);
        assert_eq!(
            body,
            json!({"model": "m", "generationConfig": {"responseJsonSchema": {"properties": {"seed": {}}}}, "output_config": {}})
        );
    }

    #[test]
    fn a_google_field_violation_names_the_field_when_the_message_does_not() {
        let body = json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
            "message": "Logprobs is not supported for the current model.",
            "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": "generation_config.response_logprobs"}]}]}});
        assert_eq!(
            refused_parameter(&body.to_string()).as_deref(),
            Some("generation_config.response_logprobs")
        );
        let mut request =
            json!({"generationConfig": {"responseLogprobs": true, "logprobs": 5, "seed": 1}});
        assert_eq!(
            remove_parameter(&mut request, "generation_config.response_logprobs").as_deref(),
            Some("generationConfig.responseLogprobs")
        );
        assert_eq!(request, json!({"generationConfig": {"seed": 1}}));
    }

    #[test]
    fn top_logprobs_goes_with_logprobs() {
        let mut body = json!({"model": "m", "logprobs": true, "top_logprobs": 5});
        assert_eq!(
            remove_parameter(&mut body, "logprobs").as_deref(),
            Some("logprobs")
        );
        assert_eq!(body, json!({"model": "m"}));
    }

    fn refusal(param: &str) -> LlmError {
        LlmError::Request {
            status: 400,
            message: format!("Unsupported parameter: '{param}'"),
            param: Some(param.to_string()),
        }
    }

    #[tokio::test]
    async fn a_refused_parameter_is_retried_once_and_remembered() {
        let refused = Refused::default();
        let mut sent = Vec::new();
        let mut notes = Vec::new();
        let body = json!({"model": "m", "temperature": 0, "top_p": 1});
        let answer = send(&refused, "m", body.clone(), &mut notes, |b| {
            sent.push(b.clone());
            async move {
                if b.get("temperature").is_some() {
                    Err(refusal("temperature"))
                } else {
                    Ok(b)
                }
            }
        })
        .await
        .expect("the retry succeeds");
        assert_eq!(answer, json!({"model": "m", "top_p": 1}));
        assert_eq!(sent.len(), 2);
        assert_eq!(
            notes,
            vec!["retried without temperature: the provider refused it"]
        );
        // The next call leaves it out at once.
        let mut notes = Vec::new();
        let mut calls = 0;
        send(&refused, "m", body.clone(), &mut notes, |b| {
            calls += 1;
            async move { Ok::<_, LlmError>(b) }
        })
        .await
        .expect("answer");
        assert_eq!(calls, 1);
        assert!(notes[0].starts_with("temperature not sent"));
        // Another model has its own memory; a parameter the body lacks is not retried.
        let mut notes = Vec::new();
        let mut calls = 0;
        let error = send(&refused, "other", json!({"model": "x"}), &mut notes, |_| {
            calls += 1;
            async { Err::<Value, _>(refusal("temperature")) }
        })
        .await
        .expect_err("nothing to drop");
        assert_eq!(error.error_type(), "BadRequest");
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn at_most_three_parameters_are_dropped() {
        let refused = Refused::default();
        let mut notes = Vec::new();
        let body = json!({"model": "m", "a": 1, "b": 2, "c": 3, "d": 4});
        let mut calls = 0;
        let error = send(&refused, "m", body, &mut notes, |b| {
            calls += 1;
            let first = ["a", "b", "c", "d"]
                .into_iter()
                .find(|k| b.get(*k).is_some())
                .unwrap_or("a");
            async move { Err::<Value, _>(refusal(first)) }
        })
        .await
        .expect_err("gives up");
        assert_eq!(calls, 4);
        assert_eq!(notes.len(), 3);
        assert_eq!(error.error_type(), "BadRequest");
    }
}
