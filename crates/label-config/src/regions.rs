//! Turns an LLM's output object into Label Studio result regions.
//!
//! Mirrors the Label Studio SDK's `LabelInterface.create_regions(output)` as Label Studio uses
//! it for prompt predictions:
//!
//! - `output` maps control name → payload; unknown names and `null` payloads are skipped.
//! - A string or number is one label; a list of strings/numbers is one region's labels; an
//!   object is one region; a list of objects is one region per object (`Labels` spans). An
//!   empty list gives no region.
//! - Each region is `{"id": <uuid4>, "from_name", "to_name" (first toName), "type" (tag
//!   lowercased), "value"}`.
//!
//! Per control:
//!
//! - `Choices`: `{"choices": [labels]}`, labels checked against the config.
//! - Text spans (`Labels` on a `<Text>`): `{"start", "end", "labels"}`, offsets in code points
//!   found by [`SpanLocator`] from the quoted `text` (the model's `start` only chooses between
//!   occurrences). `HyperTextLabels` on a `<HyperText>`: Label Studio's XPath range (see
//!   [`HtmlText`]) plus `text` and `hypertextlabels`. A span whose text does not occur (or
//!   repeats a span already placed with the same labels) is dropped and reported in
//!   [`Converted::dropped`]; the rest of the output stands. A span without `text` keeps explicit
//!   `start`/`end` offsets when they fit the source (the form of workers that located spans
//!   themselves).
//! - `TextArea`: `{"text": [..]}`; `Rating`: `{"rating": n}` (0 to `maxRating`); `Number`:
//!   `{"number": x}`.
//! - `Pairwise`: `{"selected": "left" | "right"}`, with `to_name` the control's own name (the
//!   editor's `Pairwise.js` creates its result on itself; the SDK's `PairwiseTag.label` too).
//! - `Taxonomy`: `{"taxonomy": [[root, …, node], …]}`, each path checked against the tree (a
//!   path naming one node by its tail, e.g. the leaf alone, is completed).
//!
//! Any other invalid item (unknown label, bad rating, …) fails the whole output with a
//! [`RegionError`], so the caller records one failed prediction for the task.

use std::fmt;

use serde_json::{Map, Value, json};

use super::hypertext::HtmlText;
use super::schema::max_rating;
use super::spans::{Located, Occurrence, SpanLocator};
use super::taxonomy::Tree;
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

/// A span of the output that did not become a region.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedSpan {
    /// The control it was for.
    pub control: String,
    /// The text the model quoted (empty when it gave none).
    pub text: String,
    /// `absent` (the text does not occur in the source), `duplicate` (every occurrence already
    /// has a span with the same labels), `no_text` (neither a text nor usable offsets) or
    /// `unplaceable` (the HyperText range ends on no text node).
    pub reason: &'static str,
}

/// The regions of an output, and the spans dropped on the way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Converted {
    /// Label Studio result regions.
    pub regions: Vec<Value>,
    /// Spans that were left out.
    pub dropped: Vec<DroppedSpan>,
    /// Where each region's labels are in the output, region by region (`None` for free text,
    /// which has no labels to be sure of): what its score is read from.
    pub origins: Vec<Option<Origin>>,
}

/// Where a region's labels are in the model's output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    /// The control.
    pub control: String,
    /// The JSON pointer of the output part holding the region's labels (`/sentiment`,
    /// `/entities/2/labels`): every value under it is one of them.
    pub pointer: String,
    /// The values a label could take (empty: any, as a `Number`'s).
    pub allowed: Vec<String>,
}

/// A JSON pointer segment (RFC 6901).
fn segment(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The values a control's labels could take.
fn allowed(shape: Shape, control: &ControlTag) -> Vec<String> {
    match shape {
        Shape::Choices | Shape::Span | Shape::Taxonomy => control.labels.clone(),
        Shape::Pairwise => vec!["left".into(), "right".into()],
        Shape::Rating => (0..=max_rating(control).clamp(0, 100))
            .map(|r| r.to_string())
            .collect(),
        Shape::Number | Shape::TextArea => Vec::new(),
    }
}

/// One item of a control's payload, after the SDK's normalisation.
enum Item<'a> {
    /// A bare label or list of labels (`"Positive"`, `["A", "B"]`, `3`).
    Labels(Vec<&'a Value>),
    /// An object, passed to the control as keyword arguments.
    Object(&'a Map<String, Value>),
}

/// How a control's regions are built.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Shape {
    Choices,
    Span,
    TextArea,
    Rating,
    Number,
    Pairwise,
    Taxonomy,
}

/// A Taxonomy whose tree is in the config (not loaded from `apiUrl` or task data), used to
/// classify the whole object (not regions, not as a labeling tool).
pub(super) fn is_static_taxonomy(control: &ControlTag) -> bool {
    let on = |key: &str| control.attrs.get(key).is_some_and(|v| v == "true");
    !control.is_dynamic() && !on("labeling") && !on("perRegion") && !control.children.is_empty()
}

/// The shape of a control's regions, `None` when Prompter does not answer it.
pub(super) fn shape(config: &LabelConfig, control: &ControlTag) -> Option<Shape> {
    if config.is_span_control(control) {
        return Some(Shape::Span);
    }
    match control.kind() {
        ControlKind::Choices => Some(Shape::Choices),
        ControlKind::TextArea => Some(Shape::TextArea),
        ControlKind::Rating => Some(Shape::Rating),
        ControlKind::Number => Some(Shape::Number),
        ControlKind::Pairwise if control.to_name.len() == 2 => Some(Shape::Pairwise),
        ControlKind::Taxonomy if is_static_taxonomy(control) => Some(Shape::Taxonomy),
        _ => None,
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

/// Exactly one value of an item (`Rating`, `Number`, `Pairwise`).
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
pub(super) fn offset(value: &Value) -> Option<usize> {
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

/// Where a span control's spans are looked for.
enum SpanSource<'a> {
    /// A `<Text>`'s data.
    Plain(SpanLocator<'a>),
    /// A `<HyperText>`'s rendered text.
    Html(&'a HtmlText, SpanLocator<'a>),
    /// The task data has no text for the control.
    Missing,
}

impl<'a> SpanSource<'a> {
    fn locator(&mut self) -> Option<&mut SpanLocator<'a>> {
        match self {
            SpanSource::Plain(l) | SpanSource::Html(_, l) => Some(l),
            SpanSource::Missing => None,
        }
    }
}

/// Builds the spans of one control.
struct Spans<'a> {
    source: SpanSource<'a>,
    /// Spans placed so far: (occurrence, labels), to drop exact repeats.
    placed: Vec<(Occurrence, Vec<String>)>,
}

impl Spans<'_> {
    /// The value of one span item (without labels), or why it was dropped.
    fn value(
        &mut self,
        map: &Map<String, Value>,
        labels: &[String],
    ) -> Result<Map<String, Value>, &'static str> {
        let text = map
            .get("text")
            .and_then(Value::as_str)
            .filter(|t| !t.trim().is_empty());
        let hint = map.get("start").and_then(offset);
        let occurrence = match (text, self.source.locator()) {
            (Some(text), Some(locator)) => match locator.locate(text, hint) {
                Located::Found(o) => o,
                Located::Repeated(o) => {
                    let same = self.placed.iter().any(|(p, l)| *p == o && l == labels);
                    if same {
                        return Err("duplicate");
                    }
                    o
                }
                Located::Absent => return Err("absent"),
            },
            (text, locator) => {
                // No quote to find: explicit offsets, when they fit the source.
                let (Some(start), Some(end)) = (
                    map.get("start").and_then(offset),
                    map.get("end").and_then(offset),
                ) else {
                    return Err(if text.is_some() { "absent" } else { "no_text" });
                };
                let fits = locator.is_none_or(|l| end <= l.source().chars().count());
                if start >= end || !fits {
                    return Err("no_text");
                }
                Occurrence { start, end }
            }
        };
        let value = match &self.source {
            SpanSource::Html(html, locator) => {
                let Some(Value::Object(mut range)) = html.range(occurrence.start, occurrence.end)
                else {
                    return Err("unplaceable");
                };
                range.insert("text".into(), json!(locator.slice(occurrence)));
                range
            }
            _ => {
                let mut value = Map::new();
                value.insert("start".into(), json!(occurrence.start));
                value.insert("end".into(), json!(occurrence.end));
                value
            }
        };
        self.placed.push((occurrence, labels.to_vec()));
        Ok(value)
    }
}

/// The paths of a Taxonomy payload, checked against the tree.
fn taxonomy_paths(control: &ControlTag, payload: &Value) -> Result<Vec<Vec<String>>, RegionError> {
    let name = &control.name;
    let tree = Tree::of(control);
    let err = |why: String| RegionError::new(format!("output for \"{name}\": {why}"));
    let strings = |list: &[Value]| -> Result<Vec<String>, RegionError> {
        list.iter()
            .map(|v| label_string(name, v))
            .collect::<Result<Vec<_>, _>>()
    };
    let given: Vec<Vec<String>> = match payload {
        Value::Object(map) => match field(map, &["taxonomy", "label"]) {
            Some(inner) => return taxonomy_paths(control, inner),
            None => return Err(err("object has none of the keys [\"taxonomy\"]".into())),
        },
        Value::String(_) | Value::Number(_) => vec![vec![label_string(name, payload)?]],
        Value::Array(list) if list.iter().all(|v| v.is_string() || v.is_number()) => {
            let flat = strings(list)?;
            // One path from the root, or several selections named by their last labels.
            if tree.is_path(&flat) {
                vec![flat]
            } else {
                flat.into_iter().map(|label| vec![label]).collect()
            }
        }
        Value::Array(list) => list
            .iter()
            .map(|v| match v {
                Value::Array(path) => strings(path),
                Value::String(_) | Value::Number(_) => Ok(vec![label_string(name, v)?]),
                other => Err(err(format!("a path must be a list of labels, got {other}"))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => return Err(err(format!("unsupported payload {other}"))),
    };
    let mut out: Vec<Vec<String>> = Vec::new();
    for path in given {
        let full = tree.resolve(&path).map_err(err)?;
        if !out.contains(&full) {
            out.push(full);
        }
    }
    Ok(out)
}

/// The `value` of a non-span item.
fn plain_value(shape: Shape, control: &ControlTag, item: &Item<'_>) -> Result<Value, RegionError> {
    let name = &control.name;
    Ok(match shape {
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
        Shape::TextArea => {
            let values = item_values(control, item, &["text", "label"])?;
            let texts = values
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        RegionError::new(format!("output for \"{name}\": expected text, got {v}"))
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
            json!({"rating": rating as i64})
        }
        Shape::Number => {
            let raw = single_value(control, item, &["number", "label"])?;
            let n = number(raw).ok_or_else(|| {
                RegionError::new(format!("output for \"{name}\": {raw} is not a number"))
            })?;
            json!({"number": n})
        }
        Shape::Pairwise => {
            let raw = single_value(control, item, &["selected", "label"])?;
            match raw.as_str().map(str::trim) {
                Some(side @ ("left" | "right")) => json!({"selected": side}),
                _ => {
                    return Err(RegionError::new(format!(
                        "output for \"{name}\": {raw} is not \"left\" or \"right\""
                    )));
                }
            }
        }
        Shape::Span | Shape::Taxonomy => Value::Null,
    })
}

/// One region.
fn region(id_name: &str, to_name: &str, kind: &str, value: Value) -> Value {
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "from_name": id_name,
        "to_name": to_name,
        "type": kind,
        "value": value,
    })
}

impl LabelConfig {
    /// Converts an LLM/Adala output object (control name → payload) into Label Studio result
    /// regions, as described in the module docs. `data` is the task's data: span texts are
    /// located in `data[<data key of the control's first toName object>]` (rendered as HTML
    /// for a `<HyperText>`). See [`LabelConfig::convert`] for the dropped spans.
    pub fn to_regions(&self, output: &Value, data: &Value) -> Result<Vec<Value>, RegionError> {
        self.convert(output, data).map(|c| c.regions)
    }

    /// [`LabelConfig::to_regions`], also reporting the spans that were dropped.
    pub fn convert(&self, output: &Value, data: &Value) -> Result<Converted, RegionError> {
        let Some(output) = output.as_object() else {
            return Err(RegionError::new(format!(
                "output must be a JSON object, got {output}"
            )));
        };
        let mut out = Converted::default();
        for (name, payload) in output {
            if payload.is_null() {
                continue;
            }
            let Some(control) = self.control(name) else {
                continue;
            };
            let (Some(shape), Some(first_to)) = (shape(self, control), control.first_to_name())
            else {
                continue;
            };
            let kind = control.result_type();
            let origin = |pointer: String| {
                (shape != Shape::TextArea).then(|| Origin {
                    control: name.clone(),
                    pointer,
                    allowed: allowed(shape, control),
                })
            };
            let at = format!("/{}", segment(name));
            match shape {
                Shape::Taxonomy => {
                    let paths = taxonomy_paths(control, payload)?;
                    if !paths.is_empty() {
                        let value = json!({"taxonomy": paths});
                        out.regions.push(region(name, first_to, &kind, value));
                        out.origins.push(origin(at));
                    }
                }
                Shape::Span => self.spans(control, payload, data, &mut out)?,
                _ => {
                    // Pairwise results name the control itself as their target.
                    let to_name = if shape == Shape::Pairwise {
                        name.as_str()
                    } else {
                        first_to
                    };
                    let listed =
                        matches!(payload, Value::Array(l) if l.iter().any(Value::is_object));
                    for (i, item) in items(name, payload)?.iter().enumerate() {
                        let value = plain_value(shape, control, item)?;
                        out.regions.push(region(name, to_name, &kind, value));
                        out.origins.push(origin(if listed {
                            format!("{at}/{i}")
                        } else {
                            at.clone()
                        }));
                    }
                }
            }
        }
        Ok(out)
    }

    /// The regions of a span control's payload.
    fn spans(
        &self,
        control: &ControlTag,
        payload: &Value,
        data: &Value,
        out: &mut Converted,
    ) -> Result<(), RegionError> {
        let name = &control.name;
        let object = self.target_object(control);
        let raw = object
            .filter(|o| o.attrs.get("valueType").is_none_or(|t| t != "url"))
            .and_then(|o| o.data_key())
            .and_then(|key| data.get(key))
            .and_then(Value::as_str);
        let html = match (raw, self.is_hypertext_target(control)) {
            (Some(raw), true) => {
                let inline = object
                    .and_then(|o| o.attrs.get("inline"))
                    .is_some_and(|v| v == "true");
                Some(HtmlText::parse(raw, inline))
            }
            _ => None,
        };
        let source = match (&html, raw) {
            (Some(html), _) => SpanSource::Html(html, SpanLocator::new(&html.text)),
            (None, Some(raw)) => SpanSource::Plain(SpanLocator::new(raw)),
            (None, None) => SpanSource::Missing,
        };
        let mut spans = Spans {
            source,
            placed: Vec::new(),
        };
        let kind = control.result_type();
        let to_name = control.first_to_name().unwrap_or_default();
        let listed = payload.is_array();
        for (i, item) in items(name, payload)?.iter().enumerate() {
            let Item::Object(map) = item else {
                return Err(RegionError::new(format!(
                    "output for \"{name}\": spans must be objects with \"text\" and \"labels\""
                )));
            };
            let values = item_values(control, item, &["labels", "label", &kind])?;
            let labels = checked_labels(control, &values)?;
            match spans.value(map, &labels) {
                Ok(mut value) => {
                    value.insert(kind.clone(), json!(labels));
                    out.regions
                        .push(region(name, to_name, &kind, Value::Object(value)));
                    let key = ["labels", "label", kind.as_str()]
                        .into_iter()
                        .find(|k| map.get(*k).is_some_and(|v| !v.is_null()))
                        .unwrap_or("labels");
                    let item = if listed {
                        format!("/{}/{i}", segment(name))
                    } else {
                        format!("/{}", segment(name))
                    };
                    out.origins.push(Some(Origin {
                        control: name.clone(),
                        pointer: format!("{item}/{}", segment(key)),
                        allowed: control.labels.clone(),
                    }));
                }
                Err(reason) => out.dropped.push(DroppedSpan {
                    control: name.clone(),
                    text: map
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    reason,
                }),
            }
        }
        Ok(())
    }
}
