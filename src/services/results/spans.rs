//! The spans a result conversion dropped, noted on the prediction.
use serde_json::Value;

/// The most dropped span texts kept on a prediction (the count is always complete).
const MAX_DROPPED_TEXTS: usize = 20;

/// A prediction's `extra` with the spans the conversion dropped: `dropped_spans` (how many)
/// and `dropped_span_texts` (the first [`MAX_DROPPED_TEXTS`] quoted texts, with why:
/// `absent`, `duplicate`, `no_text`, `unplaceable`). Unchanged when nothing was dropped.
pub fn with_dropped_spans(
    extra: Option<Value>,
    dropped: &[crate::label_config::DroppedSpan],
) -> Option<Value> {
    if dropped.is_empty() {
        return extra;
    }
    let mut map = match extra {
        Some(Value::Object(map)) => map,
        Some(other) => serde_json::Map::from_iter([("extra".to_string(), other)]),
        None => serde_json::Map::new(),
    };
    map.insert("dropped_spans".into(), Value::from(dropped.len()));
    map.insert(
        "dropped_span_texts".into(),
        Value::Array(
            dropped
                .iter()
                .take(MAX_DROPPED_TEXTS)
                .map(|d| serde_json::json!({"control": d.control, "text": d.text, "reason": d.reason}))
                .collect(),
        ),
    );
    Some(Value::Object(map))
}
