//! Builds Label Studio's `parsed_label_config` JSON from a [`LabelConfig`].
//!
//! Mirrors `parse_config` of the Label Studio SDK (`label_studio_tools.core.label_config`),
//! which Label Studio uses for a project's `parsed_label_config`. Keys are inserted in Label
//! Studio's order; whether that order survives depends on serde_json's `preserve_order`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{LabelConfig, ObjectTag};

/// `^\$[A-Za-z_]+$`: a value that is a single task-data variable.
fn has_variable(value: &str) -> bool {
    value.strip_prefix('$').is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
    })
}

/// One entry of a control's `inputs`.
fn input_json(object: &ObjectTag) -> Value {
    let mut input = Map::new();
    input.insert("type".into(), Value::String(object.tag.clone()));
    input.insert(
        "valueType".into(),
        object
            .attrs
            .get("valueType")
            .map_or(Value::Null, |v| Value::String(v.clone())),
    );
    if let Some(value) = object.attrs.get("value") {
        input.insert(
            "value".into(),
            Value::String(value.trim_start_matches('$').to_string()),
        );
    } else if let Some(list) = object.attrs.get("valueList") {
        input.insert(
            "valueList".into(),
            Value::String(list.trim_start_matches('$').to_string()),
        );
    }
    Value::Object(input)
}

/// See [`LabelConfig::parsed_label_config`].
pub(super) fn parsed_label_config(config: &LabelConfig) -> Value {
    let inputs: HashMap<&str, &ObjectTag> = config
        .objects
        .iter()
        .map(|o| (o.name.as_str(), o))
        .collect();
    let mut out = Map::new();
    for control in &config.controls {
        let has = |key: &str| control.attrs.get(key).filter(|v| !v.is_empty());
        if control.name.is_empty() || has("toName").is_none() || control.tag == "Filter" {
            continue;
        }
        let mut info = Map::new();
        info.insert("type".into(), Value::String(control.tag.clone()));
        info.insert("to_name".into(), json!(control.to_name));

        let mut regex = Map::new();
        for flag in &config.index_flags {
            if control.to_name.iter().any(|t| t.contains(flag.as_str())) {
                regex.insert(flag.clone(), Value::String(".*".into()));
            }
        }
        if !regex.is_empty() {
            info.insert("regex".into(), Value::Object(regex));
        }

        if control.attrs.get("perRegion").map(String::as_str) == Some("true") {
            let conditional = [
                ("whenTagName", "tag"),
                ("whenLabelValue", "label"),
                ("whenChoiceValue", "choice"),
            ]
            .into_iter()
            .find_map(|(attr, kind)| has(attr).map(|name| json!({"type": kind, "name": name})));
            if let Some(conditional) = conditional {
                info.insert("conditionals".into(), conditional);
            }
        }

        if has_variable(control.attrs.get("value").map_or("", String::as_str))
            || has("apiUrl").is_some()
        {
            info.insert("dynamic_labels".into(), Value::Bool(true));
        }

        let control_inputs: Vec<Value> = control
            .to_name
            .iter()
            .filter_map(|t| inputs.get(t.as_str()).map(|o| input_json(o)))
            .collect();
        info.insert("inputs".into(), Value::Array(control_inputs));

        let mut labels_attrs = Map::new();
        for child in &control.children {
            let attrs: Map<String, Value> = child
                .attrs
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            labels_attrs.insert(child.value.clone(), Value::Object(attrs));
        }
        let labels = &control.labels;
        info.insert("labels".into(), json!(labels));
        info.insert("labels_attrs".into(), Value::Object(labels_attrs));

        out.insert(control.name.clone(), Value::Object(info));
    }
    Value::Object(out)
}
