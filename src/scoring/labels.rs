//! The labels of a result, for people to read and for the confusion matrix: choices, labels,
//! taxonomy paths, text, ratings and numbers, in order and each once.
use serde_json::Value;

/// The label of a task without a prediction in a confusion matrix.
pub const NO_ANSWER: &str = "(no answer)";

/// The labels of a Label Studio result, in order and each once.
pub fn result_labels(result: &Value) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for item in result.as_array().into_iter().flatten() {
        let value = &item["value"];
        for key in ["choices", "labels", "taxonomy", "text"] {
            match &value[key] {
                Value::Array(items) => items.iter().for_each(|v| match v {
                    Value::String(s) => push(s.clone()),
                    Value::Array(path) => push(
                        path.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" / "),
                    ),
                    _ => {}
                }),
                Value::String(s) => push(s.clone()),
                _ => {}
            }
        }
        for key in ["rating", "number"] {
            if let Some(n) = value[key].as_f64() {
                push(n.to_string());
            }
        }
    }
    out
}

/// A result's labels as one key: `A`, `A + B` for several, `(empty)` for none.
pub fn labels_key(result: &Value) -> String {
    let found = result_labels(result);
    if found.is_empty() {
        "(empty)".to_string()
    } else {
        found.join(" + ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_labels_of_results() {
        let result = json!([
            {"type": "choices", "value": {"choices": ["Positive"]}},
            {"type": "labels", "value": {"start": 0, "end": 3, "labels": ["PER", "Positive"]}},
            {"type": "rating", "value": {"rating": 4}},
            {"type": "textarea", "value": {"text": ["a summary"]}},
            {"type": "taxonomy", "value": {"taxonomy": [["A", "B"]]}},
        ]);
        assert_eq!(
            result_labels(&result),
            vec!["Positive", "PER", "4", "a summary", "A / B"]
        );
        assert!(result_labels(&json!(null)).is_empty());
        assert_eq!(labels_key(&json!([])), "(empty)");
        assert_eq!(
            labels_key(&json!([{"value": {"choices": ["A", "B"]}}])),
            "A + B"
        );
    }
}
