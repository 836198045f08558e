//! Scoring predictions against ground truth (spec §4.4): per-task score and correctness, and
//! per-class true/false positives and false negatives for the classification report.
//!
//! Both sides are Label Studio result region lists (`[{"from_name", "value", …}]`). Every
//! scorable control of the label config that has a region on either side is scored:
//!
//! - `Choices`, `Pairwise`, `Taxonomy`: the set of chosen values P (all regions of the control:
//!   `choices`, `selected`, or each `taxonomy` path joined with ` / `) against the ground-truth
//!   set G. Score 1.0 when P == G, else 0.0. Per class c: TP if c ∈ P∩G, FP if c ∈ P\G, FN if
//!   c ∈ G\P.
//! - `Labels` family: spans match on exact (position, label), a region with several labels
//!   being one span per label. Position is the region's `globalOffsets` when it has them
//!   (HyperText), else its `value` without its labels and `text` (for text spans: `start` and
//!   `end`), compared with numbers normalised (`4` == `4.0`). Duplicates are matched as a
//!   multiset. Score 2TP/(2TP+FP+FN), 1.0 when both sides are empty. Per-class counts are by
//!   label.
//! - `TextArea`, `Rating`, `Number`: the multiset of values (`text` entries, `rating`, `number`)
//!   must be equal: 1.0, else 0.0. No classes. Rating and Number are also scored by closeness
//!   ([`closeness`]).
//!
//! The task score is the mean over scored controls (1.0 when none is scored); the task is
//! correct when that is 1.0. Regions whose `from_name` is not a control of the config are
//! ignored. Classes are keyed by label alone, so a label used by two controls sums both.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::label_config::{ControlKind, ControlTag, LabelConfig};

/// Tolerance for "score is 1.0".
const EPSILON: f64 = 1e-9;

/// True positives, false positives and false negatives of one class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClassCounts {
    /// Predicted and in the ground truth.
    pub tp: u64,
    /// Predicted but not in the ground truth.
    pub fp: u64,
    /// In the ground truth but not predicted (serialised as `fn`).
    #[serde(rename = "fn")]
    pub fn_: u64,
}

impl ClassCounts {
    /// Adds another count to this one.
    pub fn add(&mut self, other: &ClassCounts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }

    /// Ground-truth occurrences: `tp + fn`.
    pub fn support(&self) -> u64 {
        self.tp + self.fn_
    }
}

/// Adds every class count of `from` into `into` (e.g. to sum tasks into a run total).
pub fn merge_classes(
    into: &mut BTreeMap<String, ClassCounts>,
    from: &BTreeMap<String, ClassCounts>,
) {
    for (class, counts) in from {
        into.entry(class.clone()).or_default().add(counts);
    }
}

/// The score of one task's prediction against its ground truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskScore {
    /// Mean of the scored controls' scores, in [0, 1]; 1.0 when no control is scored.
    pub score: f64,
    /// `score` is 1.0.
    pub correct: bool,
    /// Per-class counts (label → counts) of `Choices` and `Labels`-family controls.
    pub classes: BTreeMap<String, ClassCounts>,
}

/// How a control is scored.
enum Scoring {
    /// Set of the labels under this key (`choices`, `selected`, `taxonomy` paths).
    Set(&'static str),
    /// Spans: (position, label) multiset.
    Spans,
    /// Multiset of the values under this key of `value`.
    Values(&'static str),
}

fn scoring(control: &ControlTag) -> Option<Scoring> {
    if control.name.is_empty() {
        return None;
    }
    if control.is_labels_family() {
        return Some(Scoring::Spans);
    }
    match control.kind() {
        ControlKind::Choices => Some(Scoring::Set("choices")),
        ControlKind::Pairwise => Some(Scoring::Set("selected")),
        ControlKind::Taxonomy => Some(Scoring::Set("taxonomy")),
        ControlKind::TextArea => Some(Scoring::Values("text")),
        ControlKind::Rating => Some(Scoring::Values("rating")),
        ControlKind::Number => Some(Scoring::Values("number")),
        ControlKind::Labels | ControlKind::Other => None,
    }
}

/// A canonical string for a JSON value: object keys sorted, whole numbers without a fraction.
fn canon(value: &Value) -> String {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
            Some(f) => format!("{f}"),
            None => n.to_string(),
        },
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canon).collect();
            format!("[{}]", inner.join(","))
        }
        Value::Object(map) => {
            let sorted: BTreeMap<&String, String> =
                map.iter().map(|(k, v)| (k, canon(v))).collect();
            let inner: Vec<String> = sorted
                .iter()
                .map(|(k, v)| format!("{}:{v}", Value::String((*k).clone())))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        other => other.to_string(),
    }
}

/// The `value` objects of the regions of one control.
pub(crate) fn values_of<'a>(regions: &'a Value, name: &str) -> Option<Vec<&'a Map<String, Value>>> {
    let list: Vec<&Value> = regions
        .as_array()
        .map(|r| {
            r.iter()
                .filter(|region| region.get("from_name").and_then(Value::as_str) == Some(name))
                .collect()
        })
        .unwrap_or_default();
    if list.is_empty() {
        return None;
    }
    Some(
        list.into_iter()
            .filter_map(|region| region.get("value").and_then(Value::as_object))
            .collect(),
    )
}

/// The strings of a field that is a string or a list of strings.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Chosen values under `key`, as a set: strings, and lists of strings (a Taxonomy path) joined
/// with ` / `.
fn label_set(values: &[&Map<String, Value>], key: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for value in values {
        match value.get(key) {
            Some(Value::Array(items)) if items.iter().any(Value::is_array) => {
                for path in items {
                    out.insert(strings(Some(path)).join(" / "));
                }
            }
            other => out.extend(strings(other)),
        }
    }
    out
}

/// (position, label) → count of the spans of `Labels`-family regions.
fn span_counts(values: &[&Map<String, Value>], label_key: &str) -> HashMap<(String, String), u64> {
    let mut counts = HashMap::new();
    for value in values {
        let labels = strings(value.get(label_key).or_else(|| value.get("labels")));
        let position = match value.get("globalOffsets").filter(|g| g.is_object()) {
            Some(global) => canon(global),
            None => {
                let position: Map<String, Value> = value
                    .iter()
                    .filter(|(k, _)| {
                        !matches!(k.as_str(), "labels" | "text") && k.as_str() != label_key
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                canon(&Value::Object(position))
            }
        };
        for label in labels {
            *counts.entry((position.clone(), label)).or_insert(0) += 1;
        }
    }
    counts
}

/// Sorted canonical values under `key` (a list is several values).
fn value_multiset(values: &[&Map<String, Value>], key: &str) -> Vec<String> {
    let mut out: Vec<String> = values
        .iter()
        .filter_map(|v| v.get(key))
        .flat_map(|v| match v {
            Value::Array(items) => items.iter().map(canon).collect(),
            other => vec![canon(other)],
        })
        .collect();
    out.sort();
    out
}

/// Scores one control; adds its class counts to `classes`.
fn score_control(
    how: &Scoring,
    label_key: &str,
    predicted: &[&Map<String, Value>],
    truth: &[&Map<String, Value>],
    classes: &mut BTreeMap<String, ClassCounts>,
) -> f64 {
    match how {
        Scoring::Set(key) => {
            let p = label_set(predicted, key);
            let g = label_set(truth, key);
            for class in p.union(&g) {
                let counts = classes.entry(class.clone()).or_default();
                match (p.contains(class), g.contains(class)) {
                    (true, true) => counts.tp += 1,
                    (true, false) => counts.fp += 1,
                    _ => counts.fn_ += 1,
                }
            }
            if p == g { 1.0 } else { 0.0 }
        }
        Scoring::Spans => {
            let p = span_counts(predicted, label_key);
            let g = span_counts(truth, label_key);
            let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
            let keys: BTreeSet<&(String, String)> = p.keys().chain(g.keys()).collect();
            for key in keys {
                let np = p.get(key).copied().unwrap_or(0);
                let ng = g.get(key).copied().unwrap_or(0);
                let matched = np.min(ng);
                let counts = ClassCounts {
                    tp: matched,
                    fp: np - matched,
                    fn_: ng - matched,
                };
                classes.entry(key.1.clone()).or_default().add(&counts);
                tp += counts.tp;
                fp += counts.fp;
                fn_ += counts.fn_;
            }
            if tp + fp + fn_ == 0 {
                1.0
            } else {
                (2 * tp) as f64 / (2 * tp + fp + fn_) as f64
            }
        }
        Scoring::Values(key) => {
            if value_multiset(predicted, key) == value_multiset(truth, key) {
                1.0
            } else {
                0.0
            }
        }
    }
}

/// Scores a prediction's regions against the ground truth's regions (see the module docs).
pub fn score_task(config: &LabelConfig, prediction: &Value, ground_truth: &Value) -> TaskScore {
    let mut classes = BTreeMap::new();
    let mut total = 0.0;
    let mut scored = 0u32;
    for control in &config.controls {
        let Some(how) = scoring(control) else {
            continue;
        };
        let predicted = values_of(prediction, &control.name);
        let truth = values_of(ground_truth, &control.name);
        if predicted.is_none() && truth.is_none() {
            continue;
        }
        let label_key = control.result_type();
        total += score_control(
            &how,
            &label_key,
            &predicted.unwrap_or_default(),
            &truth.unwrap_or_default(),
            &mut classes,
        );
        scored += 1;
    }
    let score = if scored == 0 {
        1.0
    } else {
        total / f64::from(scored)
    };
    TaskScore {
        score,
        correct: (score - 1.0).abs() < EPSILON,
        classes,
    }
}

mod accuracy;
mod closeness;
pub mod confidence;
mod cost;
mod labels;
mod report;
#[cfg(test)]
mod tests;

pub use accuracy::Accuracy;
pub use closeness::{Closeness, ControlCloseness, closeness};
pub use cost::CostPerCorrectLabel;
pub use labels::{NO_ANSWER, labels_key, result_labels};
pub use report::classification_report;
