//! Regions back to an LLM answer: the inverse of [`LabelConfig::to_regions`], used to show the
//! model ground-truth examples (few-shot) and a teacher model the current predictions.

use serde_json::{Map, Value, json};

use super::LabelConfig;
use super::regions::{Shape, offset, shape};

/// The code points `[start, end)` of `source`.
fn cut(source: &str, start: usize, end: usize) -> String {
    source
        .chars()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect()
}

impl LabelConfig {
    /// The output object an LLM would have answered for an annotation's `result`. Regions of
    /// controls outside the output schema are left out. Spans become
    /// `{"text", "labels", "start"}`: `text` from the region, else cut from the source text in
    /// `data` (`<Text>` only); `start` is the region's `start` (a `<Text>`) or its
    /// `globalOffsets.start` (a `<HyperText>`).
    pub fn to_output(&self, result: &Value, data: &Value) -> Value {
        let mut output = Map::new();
        for region in result.as_array().into_iter().flatten() {
            let Some(name) = region.get("from_name").and_then(Value::as_str) else {
                continue;
            };
            let (Some(control), Some(value)) = (self.control(name), region.get("value")) else {
                continue;
            };
            let Some(shape) = shape(self, control) else {
                continue;
            };
            let key = control.result_type();
            match shape {
                Shape::Choices => {
                    let choices: Vec<Value> = value
                        .get("choices")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let payload = if control.multiple {
                        Value::Array(choices)
                    } else {
                        choices.into_iter().next().unwrap_or(Value::Null)
                    };
                    output.insert(name.to_string(), payload);
                }
                Shape::Span => {
                    let offsets = value.get("globalOffsets").unwrap_or(value);
                    let (Some(start), Some(end)) = (
                        offsets.get("start").and_then(offset),
                        offsets.get("end").and_then(offset),
                    ) else {
                        continue;
                    };
                    let text = value
                        .get("text")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .or_else(|| {
                            if self.is_hypertext_target(control) {
                                return None;
                            }
                            let key = self.target_object(control)?.data_key()?;
                            Some(cut(data.get(key)?.as_str()?, start, end))
                        });
                    let Some(text) = text else { continue };
                    let labels = value.get(&key).cloned().unwrap_or(json!([]));
                    let entry = output
                        .entry(name.to_string())
                        .or_insert_with(|| Value::Array(vec![]));
                    if let Value::Array(spans) = entry {
                        spans.push(json!({"text": text, "labels": labels, "start": start}));
                    }
                }
                Shape::TextArea => {
                    let text = match value.get("text") {
                        Some(Value::Array(parts)) => parts
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("\n"),
                        Some(Value::String(s)) => s.clone(),
                        _ => continue,
                    };
                    output.insert(name.to_string(), Value::String(text));
                }
                Shape::Rating | Shape::Number | Shape::Pairwise | Shape::Taxonomy => {
                    let field = match shape {
                        Shape::Rating => "rating",
                        Shape::Number => "number",
                        Shape::Pairwise => "selected",
                        _ => "taxonomy",
                    };
                    if let Some(v) = value.get(field) {
                        output.insert(name.to_string(), v.clone());
                    }
                }
            }
        }
        Value::Object(output)
    }
}
