//! The JSON schema of the object an LLM must return for a label config.
//!
//! Follows the Label Studio SDK's `LabelInterface.to_json_schema()` (the schema Adala asks the
//! provider to fill): `{"type": "object", "properties": {<control name>: …}, "required": […]}`,
//! one property per control. Differences from the SDK, all to suit structured-output providers:
//!
//! - `required` lists every included control (the SDK lists only controls with
//!   `required="true"`, i.e. usually `[]`). OpenAI's strict structured output rejects a schema
//!   whose properties are not all required, and a missing key would only become a missing
//!   region anyway.
//! - Spans ask for the quoted `text` (required) and `labels`, with an optional `start` (the
//!   offset the model believes the span starts at) only to tell repeated occurrences apart:
//!   offsets are found by Prompter (see [`super::SpanLocator`]), never taken from the model,
//!   whose character counts are unreliable. The SDK asks for `start` and `end`.
//! - `TextArea` is a plain string (the SDK's `oneOf` string or array of strings).
//! - A `Choices` control with dynamic labels (no `<Choice>` children) has no `enum`: an empty
//!   `enum` could never be satisfied.
//! - `Pairwise` is the SDK's `{"type": "string", "enum": ["left", "right"]}`; `Taxonomy` the
//!   SDK's list of paths (lists of labels), its description listing the tree's paths.
//!
//! Only `Choices`, text-span `Labels`-family controls (see
//! [`LabelConfig::is_span_control`]), `TextArea`, `Rating`, `Number`, `Pairwise` (two objects)
//! and `Taxonomy` (a tree in the config, classifying the whole object) are included; other
//! controls are skipped.

use serde_json::{Map, Value, json};

use super::regions::{Shape, shape};
use super::taxonomy::Tree;
use super::{ControlTag, LabelConfig};

/// The most taxonomy paths a schema description lists.
const MAX_LISTED_PATHS: usize = 100;

/// The default `maxRating` of a `<Rating>` tag.
const DEFAULT_MAX_RATING: i64 = 5;

/// `{"type": "string", "enum": labels}`, without `enum` when there are no labels.
fn enum_strings(labels: &[String]) -> Map<String, Value> {
    let mut schema = Map::new();
    schema.insert("type".into(), json!("string"));
    if !labels.is_empty() {
        schema.insert("enum".into(), json!(labels));
    }
    schema
}

/// A numeric attribute as a finite float.
fn float_attr(control: &ControlTag, key: &str) -> Option<f64> {
    control
        .attrs
        .get(key)
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// The `maxRating` of a `<Rating>` control (5 when absent or not a whole number).
pub(super) fn max_rating(control: &ControlTag) -> i64 {
    control
        .attrs
        .get("maxRating")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(DEFAULT_MAX_RATING)
}

/// The property schema of one control, or `None` when the control is not included.
fn control_schema(config: &LabelConfig, control: &ControlTag) -> Option<Value> {
    let to = control.first_to_name().unwrap_or_default();
    if control.name.is_empty() {
        return None;
    }
    let description = |what: &str| Value::String(format!("{what} for {to}"));
    match shape(config, control)? {
        Shape::Span => {
            let mut labels = Map::new();
            labels.insert("type".into(), json!("array"));
            labels.insert("items".into(), Value::Object(enum_strings(&control.labels)));
            Some(json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["text", "labels"],
                    "properties": {
                        "text": {
                            "type": "string",
                            "description": "The span's text, copied exactly from the input",
                        },
                        "labels": labels,
                        "start": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "Optional: about where the span starts (character offset), to tell repeated occurrences of the same text apart",
                        },
                    },
                },
                "description": description("Labels and span texts"),
            }))
        }
        Shape::Choices => {
            let strings = Value::Object(enum_strings(&control.labels));
            if control.multiple {
                Some(json!({
                    "type": "array",
                    "items": strings,
                    "uniqueItems": true,
                    "description": description("Choices"),
                }))
            } else {
                let mut schema = enum_strings(&control.labels);
                schema.insert("description".into(), description("Choices"));
                Some(Value::Object(schema))
            }
        }
        Shape::TextArea => Some(json!({"type": "string", "description": description("Text")})),
        Shape::Rating => {
            let max = max_rating(control);
            Some(json!({
                "type": "integer",
                "minimum": 0,
                "maximum": max,
                "description": format!("Rating for {to} (0 to {max})"),
            }))
        }
        Shape::Number => {
            let mut schema = Map::new();
            schema.insert("type".into(), json!("number"));
            schema.insert("description".into(), description("Number"));
            if let Some(min) = float_attr(control, "min") {
                schema.insert("minimum".into(), json!(min));
            }
            if let Some(max) = float_attr(control, "max") {
                schema.insert("maximum".into(), json!(max));
            }
            Some(Value::Object(schema))
        }
        Shape::Pairwise => {
            let right = control.to_name.get(1).map_or("", String::as_str);
            Some(json!({
                "type": "string",
                "enum": ["left", "right"],
                "description": format!("Pairwise selection between {to} (left) and {right} (right)"),
            }))
        }
        Shape::Taxonomy => {
            let tree = Tree::of(control);
            let listed: Vec<String> = tree
                .selectable()
                .take(MAX_LISTED_PATHS)
                .map(|p| format!("{p:?}"))
                .collect();
            Some(json!({
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "enum": control.labels},
                },
                "description": format!(
                    "Taxonomy for {to}. Each item is a path from the root to a selected node, one of: {}",
                    listed.join(", ")
                ),
            }))
        }
    }
}

impl LabelConfig {
    /// The JSON schema of the object an LLM must return for this config: one property per
    /// included control (`Choices`, text-span `Labels`, `TextArea`, `Rating`, `Number`,
    /// `Pairwise`, `Taxonomy`), all of them listed in `required`. See the module docs for the shape of each property.
    pub fn output_schema(&self) -> Value {
        self.schema_of(|_| true)
    }

    /// [`LabelConfig::output_schema`] limited to the controls named in `names` (in config
    /// order; unknown or unsupported names are ignored).
    pub fn output_schema_for(&self, names: &[&str]) -> Value {
        self.schema_of(|c| names.contains(&c.name.as_str()))
    }

    /// The schema of the included controls that `keep` accepts.
    fn schema_of(&self, keep: impl Fn(&ControlTag) -> bool) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for control in self.controls.iter().filter(|c| keep(c)) {
            if properties.contains_key(&control.name) {
                continue;
            }
            if let Some(schema) = control_schema(self, control) {
                properties.insert(control.name.clone(), schema);
                required.push(Value::String(control.name.clone()));
            }
        }
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
        })
    }
}
