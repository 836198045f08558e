//! Turns an LLM's output object into Label Studio result regions.
//!
//! Mirrors the Label Studio SDK's `LabelInterface.create_regions(output)` as Label Studio uses
//! it for prompt predictions, plus Adala's NER post-processing (locating quoted `text` to get
//! character offsets):
//!
//! - `output` maps control name → payload; unknown names and `null` payloads are skipped.
//! - A string or number is one label; a list of strings/numbers is one region's labels; an
//!   object is one region; a list of objects is one region per object (`Labels` spans). An
//!   empty list gives no region.
//! - Each region is `{"id": <uuid4>, "from_name", "to_name" (first toName), "type" (tag
//!   lowercased), "value"}`; `value` holds only the keys Label Studio's value class keeps
//!   (span `text` is dropped).
//!
//! Any invalid item (unknown label, bad offsets, unlocatable text, …) fails the whole output
//! with a [`RegionError`], so the caller can record one failed prediction for the task.
//!
//! Handled controls: `Choices`, text-span `Labels`-family controls
//! ([`LabelConfig::is_span_control`]), `TextArea`, `Rating` and `Number`. Payloads for other
//! controls are skipped, as they are not in [`LabelConfig::output_schema`].

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value, json};

use super::schema::max_rating;
use super::{ControlKind, ControlTag, LabelConfig};

/// Why an LLM output could not be turned into regions.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionError {
    /// What is wrong, in words (names the control).
    pub message: String,
}

impl RegionError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        RegionError {
            message: message.into(),
        }
    }
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RegionError {}

/// One item of a control's payload, after the SDK's normalisation.
enum Item<'a> {
    /// A bare label or list of labels (`"Positive"`, `["A", "B"]`, `3`).
    Labels(Vec<&'a Value>),
    /// An object, passed to the control as keyword arguments.
    Object(&'a Map<String, Value>),
}

/// How a control's regions are built.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Choices,
    Span,
    TextArea,
    Rating,
    Number,
}

fn shape(config: &LabelConfig, control: &ControlTag) -> Option<Shape> {
    if config.is_span_control(control) {
        return Some(Shape::Span);
    }
    match control.kind() {
        ControlKind::Choices => Some(Shape::Choices),
        ControlKind::TextArea => Some(Shape::TextArea),
        ControlKind::Rating => Some(Shape::Rating),
        ControlKind::Number => Some(Shape::Number),
        ControlKind::Labels | ControlKind::Other => None,
    }
}

/// Splits a payload into items: scalars and lists of scalars are one item, an object is one
/// item, a list of objects is one item each.
fn items<'a>(name: &str, payload: &'a Value) -> Result<Vec<Item<'a>>, RegionError> {
    match payload {
        Value::String(_) | Value::Number(_) => Ok(vec![Item::Labels(vec![payload])]),
        Value::Object(map) => Ok(vec![Item::Object(map)]),
        Value::Array(list) if list.is_empty() => Ok(Vec::new()),
        Value::Array(list) if list.iter().all(|v| v.is_string() || v.is_number()) => {
            Ok(vec![Item::Labels(list.iter().collect())])
        }
        Value::Array(list) => list
            .iter()
            .map(|v| match v {
                Value::Object(map) => Ok(Item::Object(map)),
                other => Err(RegionError::new(format!(
                    "output for \"{name}\": a list must hold only labels or only objects, got {other}"
                ))),
            })
            .collect(),
        other => Err(RegionError::new(format!(
            "output for \"{name}\": unsupported payload {other}"
        ))),
    }
}

/// The first of `keys` present (and not null) in an object item.
fn field<'a>(map: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter()
        .find_map(|k| map.get(*k).filter(|v| !v.is_null()))
}

/// The values of a label field: a scalar is one value, a list is many.
fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(list) => list.iter().collect(),
        other => vec![other],
    }
}

/// A label as a string: strings as they are, numbers in their JSON form (`1`, `2.5`).
fn label_string(name: &str, value: &Value) -> Result<String, RegionError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(RegionError::new(format!(
            "output for \"{name}\": expected a label string, got {other}"
        ))),
    }
}

/// Labels of an item, checked against the control's labels (unless they are dynamic).
fn checked_labels(control: &ControlTag, values: &[&Value]) -> Result<Vec<String>, RegionError> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        let label = label_string(&control.name, value)?;
        if !control.is_dynamic() && !control.labels.contains(&label) {
            return Err(RegionError::new(format!(
                "output for \"{}\": \"{label}\" is not one of the labels {:?}",
                control.name, control.labels
            )));
        }
        if !out.contains(&label) {
            out.push(label);
        }
    }
    if out.is_empty() {
        return Err(RegionError::new(format!(
            "output for \"{}\": no label given",
            control.name
        )));
    }
    Ok(out)
}

/// The values of an item: a bare label list, or the first of `keys` in an object.
fn item_values<'a>(
    control: &ControlTag,
    item: &Item<'a>,
    keys: &[&str],
) -> Result<Vec<&'a Value>, RegionError> {
    match item {
        Item::Labels(values) => Ok(values.clone()),
        Item::Object(map) => field(map, keys).map(as_list).ok_or_else(|| {
            RegionError::new(format!(
                "output for \"{}\": object has none of the keys {keys:?}",
                control.name
            ))
        }),
    }
}

/// Exactly one value of an item (`Rating`, `Number`).
fn single_value<'a>(
    control: &ControlTag,
    item: &Item<'a>,
    keys: &[&str],
) -> Result<&'a Value, RegionError> {
    match item_values(control, item, keys)?.as_slice() {
        [one] => Ok(one),
        other => Err(RegionError::new(format!(
            "output for \"{}\": expected one value, got {}",
            control.name,
            other.len()
        ))),
    }
}

/// A number from a JSON number or a numeric string.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|v| v.is_finite())
}

/// A whole number ≥ 0 (`4` or `4.0`; not `4.5`, `-1` or `"4"`).
fn offset(value: &Value) -> Option<usize> {
    if let Some(n) = value.as_u64() {
        return usize::try_from(n).ok();
    }
    let f = value.as_f64()?;
    if f >= 0.0 && f.fract() == 0.0 && f <= 9_007_199_254_740_992.0 {
        // Whole and within f64's exact integer range: the cast is exact.
        let n = f as u64;
        return usize::try_from(n).ok();
    }
    None
}

/// Character index → byte index in `s` (the length for an index at or past the end).
fn byte_at(s: &str, char_index: usize) -> usize {
    s.char_indices()
        .nth(char_index)
        .map_or(s.len(), |(byte, _)| byte)
}

/// The first occurrence of `needle` in `haystack` at or after character `from`, as
/// character offsets `(start, end)`.
fn find_chars(haystack: &str, needle: &str, from: usize) -> Option<(usize, usize)> {
    let from_byte = byte_at(haystack, from);
    let at = haystack.get(from_byte..)?.find(needle)?;
    let start = from + haystack[from_byte..from_byte + at].chars().count();
    Some((start, start + needle.chars().count()))
}

/// The characters `start..end` of `s`, if they are in it.
fn char_slice(s: &str, start: usize, end: usize) -> Option<&str> {
    if start >= end {
        return None;
    }
    let mut indices = s
        .char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(s.len()));
    let from = indices.nth(start)?;
    let to = indices.nth(end - start - 1)?;
    s.get(from..to)
}

/// The occurrence of `needle` in `haystack` whose start is nearest to character `near`, as
/// character offsets `(start, end)`.
fn nearest_chars(haystack: &str, needle: &str, near: usize) -> Option<(usize, usize)> {
    let len = needle.chars().count();
    let mut chars = 0;
    let mut last_byte = 0;
    haystack
        .match_indices(needle)
        .map(|(byte, _)| {
            chars += haystack[last_byte..byte].chars().count();
            last_byte = byte;
            chars
        })
        .min_by_key(|start| start.abs_diff(near))
        .map(|start| (start, start + len))
}

/// Builds span values for one control, remembering where each quoted text was last found.
struct SpanLocator<'a> {
    /// The source text the spans point into, when the task data has it as a string.
    source: Option<&'a str>,
    /// Its length in characters.
    len: usize,
    /// Quoted text → end of the previous span with that text.
    last_end: HashMap<String, usize>,
}

impl SpanLocator<'_> {
    /// `(start, end)` of a span item: the given offsets, checked against the source, or the
    /// located `text`.
    fn locate(
        &mut self,
        control: &ControlTag,
        map: &Map<String, Value>,
    ) -> Result<(usize, usize), RegionError> {
        let name = &control.name;
        let text = map.get("text").and_then(Value::as_str);
        let given = |key: &str| map.get(key).filter(|v| !v.is_null());
        let (start, end) = match (given("start"), given("end")) {
            (Some(start), Some(end)) => {
                let start = offset(start).ok_or_else(|| {
                    RegionError::new(format!(
                        "output for \"{name}\": start {start} is not a whole number ≥ 0"
                    ))
                })?;
                let end = offset(end).ok_or_else(|| {
                    RegionError::new(format!(
                        "output for \"{name}\": end {end} is not a whole number ≥ 0"
                    ))
                })?;
                // Models quote the text right and count its offsets wrong by a few
                // characters: a span whose offsets miss its quoted text goes to the nearest
                // occurrence of the text.
                let moved = match (self.source, text.filter(|t| !t.is_empty())) {
                    (Some(source), Some(text)) if char_slice(source, start, end) != Some(text) => {
                        nearest_chars(source, text, start)
                    }
                    _ => None,
                };
                match moved {
                    Some(span) => span,
                    None if start >= end || (self.source.is_some() && end > self.len) => {
                        return Err(RegionError::new(format!(
                            "output for \"{name}\": span [{start}, {end}) is out of range for a text of {} characters",
                            self.len
                        )));
                    }
                    None => (start, end),
                }
            }
            _ => {
                let Some(text) = text.filter(|t| !t.is_empty()) else {
                    return Err(RegionError::new(format!(
                        "output for \"{name}\": a span needs \"start\" and \"end\", or \"text\""
                    )));
                };
                let Some(source) = self.source else {
                    return Err(RegionError::new(format!(
                        "output for \"{name}\": no source text in the task data to locate \"{text}\" in"
                    )));
                };
                let from = self.last_end.get(text).copied().unwrap_or(0);
                find_chars(source, text, from)
                    .or_else(|| find_chars(source, text, 0))
                    .ok_or_else(|| {
                        RegionError::new(format!(
                            "output for \"{name}\": \"{text}\" does not occur in the source text"
                        ))
                    })?
            }
        };
        if let Some(text) = text {
            self.last_end.insert(text.to_string(), end);
        }
        Ok((start, end))
    }
}

impl LabelConfig {
    /// Converts an LLM/Adala output object (control name → payload) into Label Studio result
    /// regions, as described in the module docs. `data` is the task's data; span `text` is
    /// located in (and span offsets checked against) `data[<data key of the control's first
    /// toName object>]` when that is a string. Offsets are Unicode code-point indices.
    pub fn to_regions(&self, output: &Value, data: &Value) -> Result<Vec<Value>, RegionError> {
        let Some(output) = output.as_object() else {
            return Err(RegionError::new(format!(
                "output must be a JSON object, got {output}"
            )));
        };
        let mut regions = Vec::new();
        for (name, payload) in output {
            if payload.is_null() {
                continue;
            }
            let Some(control) = self.control(name) else {
                continue;
            };
            let (Some(shape), Some(to_name)) = (shape(self, control), control.first_to_name())
            else {
                continue;
            };
            let items = items(name, payload)?;
            let source = self
                .target_object(control)
                .and_then(|o| o.data_key())
                .and_then(|key| data.get(key))
                .and_then(Value::as_str);
            let mut locator = SpanLocator {
                source,
                len: source.map_or(0, |s| s.chars().count()),
                last_end: HashMap::new(),
            };
            let kind = control.result_type();
            for item in &items {
                let value = match shape {
                    Shape::Choices => {
                        let values = item_values(control, item, &["choices", "label"])?;
                        let choices = checked_labels(control, &values)?;
                        if !control.multiple && choices.len() > 1 {
                            return Err(RegionError::new(format!(
                                "output for \"{name}\": single-choice control given {} choices",
                                choices.len()
                            )));
                        }
                        json!({"choices": choices})
                    }
                    Shape::Span => {
                        let Item::Object(map) = item else {
                            return Err(RegionError::new(format!(
                                "output for \"{name}\": spans must be objects with start/end or text"
                            )));
                        };
                        let values = item_values(control, item, &["labels", "label", &kind])?;
                        let labels = checked_labels(control, &values)?;
                        let (start, end) = locator.locate(control, map)?;
                        let mut value = Map::new();
                        value.insert("start".into(), json!(start));
                        value.insert("end".into(), json!(end));
                        value.insert(kind.clone(), json!(labels));
                        Value::Object(value)
                    }
                    Shape::TextArea => {
                        let values = item_values(control, item, &["text", "label"])?;
                        let texts = values
                            .iter()
                            .map(|v| {
                                v.as_str().map(str::to_string).ok_or_else(|| {
                                    RegionError::new(format!(
                                        "output for \"{name}\": expected text, got {v}"
                                    ))
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        json!({"text": texts})
                    }
                    Shape::Rating => {
                        let raw = single_value(control, item, &["rating", "label"])?;
                        let max = max_rating(control);
                        let rating = number(raw)
                            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= max as f64)
                            .ok_or_else(|| {
                                RegionError::new(format!(
                                    "output for \"{name}\": rating {raw} is not a whole number from 0 to {max}"
                                ))
                            })?;
                        // Whole and within 0..=max: the cast is exact.
                        let rating = rating as i64;
                        json!({"rating": rating})
                    }
                    Shape::Number => {
                        let raw = single_value(control, item, &["number", "label"])?;
                        let n = number(raw).ok_or_else(|| {
                            RegionError::new(format!(
                                "output for \"{name}\": {raw} is not a number"
                            ))
                        })?;
                        json!({"number": n})
                    }
                };
                regions.push(json!({
                    "id": uuid::Uuid::new_v4().to_string(),
                    "from_name": name,
                    "to_name": to_name,
                    "type": kind,
                    "value": value,
                }));
            }
        }
        Ok(regions)
    }
}

impl LabelConfig {
    /// The inverse of [`LabelConfig::to_regions`]: the output object an LLM would have answered
    /// for an annotation's `result` (few-shot examples show the model such answers). Regions of
    /// controls outside the output schema are left out; span `text` is taken from the region,
    /// else cut from the source text in `data`.
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
                    let (Some(start), Some(end)) = (
                        value.get("start").and_then(offset),
                        value.get("end").and_then(offset),
                    ) else {
                        continue;
                    };
                    let text = value
                        .get("text")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .or_else(|| {
                            let key = self.target_object(control)?.data_key()?;
                            let source = data.get(key)?.as_str()?;
                            Some(
                                source
                                    .chars()
                                    .skip(start)
                                    .take(end.saturating_sub(start))
                                    .collect(),
                            )
                        })
                        .unwrap_or_default();
                    let labels = value.get(&key).cloned().unwrap_or(json!([]));
                    let entry = output
                        .entry(name.to_string())
                        .or_insert_with(|| Value::Array(vec![]));
                    if let Value::Array(spans) = entry {
                        spans.push(
                            json!({"start": start, "end": end, "labels": labels, "text": text}),
                        );
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
                Shape::Rating => {
                    if let Some(v) = value.get("rating") {
                        output.insert(name.to_string(), v.clone());
                    }
                }
                Shape::Number => {
                    if let Some(v) = value.get("number") {
                        output.insert(name.to_string(), v.clone());
                    }
                }
            }
        }
        Value::Object(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_move_to_the_nearest_occurrence_of_their_text() {
        assert_eq!(char_slice("Zoë met Ann", 4, 7), Some("met"));
        assert_eq!(char_slice("Zoë", 1, 3), Some("oë"));
        assert_eq!(char_slice("Zoë", 2, 4), None);
        assert_eq!(char_slice("Zoë", 2, 2), None);
        let text = "Ann met Ann. Zoë met Ann.";
        assert_eq!(nearest_chars(text, "Ann", 3), Some((0, 3)));
        assert_eq!(nearest_chars(text, "Ann", 9), Some((8, 11)));
        assert_eq!(nearest_chars(text, "Ann", 24), Some((21, 24)));
        assert_eq!(nearest_chars(text, "Bob", 0), None);
    }

    #[test]
    fn regions_keep_the_quoted_text_when_offsets_miss_it() {
        let config = crate::label_config::parse(crate::label_config::tests::NER).expect("config");
        let data = serde_json::json!({"text": "John works at Acme. Acme hires John."});
        let output = serde_json::json!({"label": [
            {"start": 2, "end": 6, "labels": ["PER"], "text": "John"},
            {"start": 12, "end": 16, "labels": ["ORG"], "text": "Acme"},
            {"start": 22, "end": 26, "labels": ["ORG"], "text": "Acme"},
            {"start": 31, "end": 36, "labels": ["PER"], "text": "John"},
            {"start": 0, "end": 4, "labels": ["PER"], "text": "Nobody"},
        ]});
        let regions = config.to_regions(&output, &data).expect("regions");
        let spans: Vec<(u64, u64)> = regions
            .iter()
            .map(|r| {
                let v = &r["value"];
                (
                    v["start"].as_u64().unwrap_or(99),
                    v["end"].as_u64().unwrap_or(99),
                )
            })
            .collect();
        // Off by 1 to 3 characters: moved; right: kept; text not in the source: offsets kept.
        assert_eq!(spans, [(0, 4), (14, 18), (20, 24), (31, 35), (0, 4)]);
        // Offsets past the end are saved by the text too.
        let past = serde_json::json!({"label": [{"start": 40, "end": 44, "labels": ["PER"], "text": "John"}]});
        let regions = config.to_regions(&past, &data).expect("moved into range");
        assert_eq!(regions[0]["value"]["start"], 31);
    }
}
