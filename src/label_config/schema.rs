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
//! - Span `start`/`end` are `{"type": "integer", "minimum": 0}` (the SDK's `oneOf` integer or
//!   number is not accepted by every provider, and offsets are whole characters).
//! - `TextArea` is a plain string (the SDK's `oneOf` string or array of strings).
//! - A `Choices` control with dynamic labels (no `<Choice>` children) has no `enum`: an empty
//!   `enum` could never be satisfied.
//!
//! Only `Choices`, text-span `Labels`-family controls (see
//! [`LabelConfig::is_span_control`]), `TextArea`, `Rating` and `Number` are included; other
//! controls are skipped.

use serde_json::{Map, Value, json};

use super::{ControlKind, ControlTag, LabelConfig};

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
    if config.is_span_control(control) {
        let mut labels = Map::new();
        labels.insert("type".into(), json!("array"));
        labels.insert("items".into(), Value::Object(enum_strings(&control.labels)));
        return Some(json!({
            "type": "array",
            "items": {
                "type": "object",
                "required": ["start", "end", "labels"],
                "properties": {
                    "start": {"type": "integer", "minimum": 0},
                    "end": {"type": "integer", "minimum": 0},
                    "labels": labels,
                    "text": {"type": "string"}
                }
            },
            "description": description("Labels and span indices"),
        }));
    }
    match control.kind() {
        ControlKind::Choices => {
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
        ControlKind::TextArea => {
            Some(json!({"type": "string", "description": description("Text")}))
        }
        ControlKind::Rating => {
            let max = max_rating(control);
            Some(json!({
                "type": "integer",
                "minimum": 0,
                "maximum": max,
                "description": format!("Rating for {to} (0 to {max})"),
            }))
        }
        ControlKind::Number => {
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
        ControlKind::Labels | ControlKind::Other => None,
    }
}

impl LabelConfig {
    /// The JSON schema of the object an LLM must return for this config: one property per
    /// included control (`Choices`, text-span `Labels`, `TextArea`, `Rating`, `Number`), all of
    /// them listed in `required`. See the module docs for the shape of each property.
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
