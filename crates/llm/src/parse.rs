//! A tolerant parse of a model's JSON answer: code fences and text around the object are
//! dropped, as models without structured output add them.
use serde_json::Value;

/// The JSON object in `text`: the whole text, else its fenced block, else the span from the
/// first `{` to the last `}`.
pub fn json_object(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    let candidates = [
        Some(trimmed),
        fenced(trimmed),
        trimmed
            .find('{')
            .zip(trimmed.rfind('}'))
            .filter(|(a, b)| a < b)
            .map(|(a, b)| &trimmed[a..=b]),
    ];
    for candidate in candidates.into_iter().flatten() {
        if let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(candidate) {
            return Ok(value);
        }
    }
    let shown: String = trimmed.chars().take(200).collect();
    if trimmed.is_empty() {
        Err("the answer is empty".into())
    } else {
        Err(format!("expected a JSON object, got: {shown}"))
    }
}

/// The body of the first ``` fenced block.
fn fenced(text: &str) -> Option<&str> {
    let start = text.find("```")?;
    let rest = &text[start + 3..];
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    let end = rest.find("```")?;
    Some(rest[..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_plain_fenced_and_wrapped_objects() {
        assert_eq!(json_object(r#"{"a": 1}"#), Ok(json!({"a": 1})));
        assert_eq!(
            json_object("```json\n{\"a\": [1]}\n```"),
            Ok(json!({"a": [1]}))
        );
        assert_eq!(
            json_object("Here it is: {\"a\": \"b\"} hope it helps"),
            Ok(json!({"a": "b"}))
        );
        assert!(json_object("no json here").is_err());
        assert!(json_object("[1, 2]").is_err());
        assert!(json_object("").is_err());
    }
}
