//! Closeness of `Rating` and `Number` answers: how far a predicted value is from the ground
//! truth, beside the exact match that task correctness uses.
//!
//! For one control on one task with a ground-truth value g and a predicted value p (the first
//! region of the control on each side):
//!
//! - **Rating** (`maxRating` M, Label Studio's stars 1..M): the range is R = max(M − 1, 1) and
//!   closeness = 1 − min(|p − g|, R) / R; *within one* when |p − g| ≤ 1.
//! - **Number** with both `min` and `max` attributes (max > min): R = max − min and
//!   closeness = 1 − min(|p − g|, R) / R. Without a range, closeness = 1 − min(1, |p − g| /
//!   max(|g|, 1)): the error relative to the truth, with a floor of 1 for small truths.
//! - No predicted value (the task failed, or its prediction has no region for the control):
//!   closeness 0, not exact, not within one.
//!
//! Closeness is 1 for an exact answer and 0 for one a full range (or a full truth) away. A run
//! aggregates it as the mean over its tasks with a ground-truth value for the control.

use serde_json::{Value, json};

use super::values_of;
use crate::label_config::{ControlKind, ControlTag, LabelConfig};

/// The closeness of one control's answer on one task.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlCloseness {
    /// The control's name.
    pub control: String,
    /// `rating` or `number`.
    pub kind: &'static str,
    /// The range R the distance is divided by (`None`: relative to the truth).
    pub range: Option<f64>,
    /// The ground truth's value.
    pub truth: f64,
    /// The predicted value, if any.
    pub predicted: Option<f64>,
    /// In [0, 1]; 1 is exact.
    pub closeness: f64,
}

impl ControlCloseness {
    /// |p − g|, when there is a prediction.
    pub fn abs_error(&self) -> Option<f64> {
        self.predicted.map(|p| (p - self.truth).abs())
    }

    /// The prediction equals the truth.
    pub fn exact(&self) -> bool {
        self.abs_error().is_some_and(|e| e < 1e-9)
    }

    /// The prediction is at most one away (Rating: "within one star").
    pub fn within_one(&self) -> bool {
        self.abs_error().is_some_and(|e| e <= 1.0 + 1e-9)
    }
}

/// A numeric attribute of a control.
fn attr(control: &ControlTag, key: &str) -> Option<f64> {
    control
        .attrs
        .get(key)
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// The first numeric value under `key` among a control's regions.
fn first_value(regions: &Value, control: &str, key: &str) -> Option<f64> {
    values_of(regions, control)?
        .into_iter()
        .find_map(|v| v.get(key).and_then(Value::as_f64))
}

/// The closeness of every Rating and Number control that has a ground-truth value (see the
/// module docs).
pub fn closeness(
    config: &LabelConfig,
    prediction: &Value,
    ground_truth: &Value,
) -> Vec<ControlCloseness> {
    let mut out = Vec::new();
    for control in &config.controls {
        let (kind, key, range) = match control.kind() {
            ControlKind::Rating => {
                let max = attr(control, "maxRating").unwrap_or(5.0);
                ("rating", "rating", Some((max - 1.0).max(1.0)))
            }
            ControlKind::Number => {
                let range = match (attr(control, "min"), attr(control, "max")) {
                    (Some(min), Some(max)) if max > min => Some(max - min),
                    _ => None,
                };
                ("number", "number", range)
            }
            _ => continue,
        };
        if control.name.is_empty() {
            continue;
        }
        let Some(truth) = first_value(ground_truth, &control.name, key) else {
            continue;
        };
        let predicted = first_value(prediction, &control.name, key);
        let closeness = predicted.map_or(0.0, |p| {
            let distance = (p - truth).abs();
            match range {
                Some(r) => 1.0 - distance.min(r) / r,
                None => 1.0 - (distance / truth.abs().max(1.0)).min(1.0),
            }
        });
        out.push(ControlCloseness {
            control: control.name.clone(),
            kind,
            range,
            truth,
            predicted,
            closeness,
        });
    }
    out
}

/// Closeness of one control summed over tasks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Closeness {
    /// `rating` or `number`.
    pub kind: &'static str,
    /// The range R (see the module docs), `None` when relative to the truth.
    pub range: Option<f64>,
    /// Tasks with a ground-truth value.
    pub tasks: u64,
    /// Of those, tasks with a predicted value.
    pub predicted: u64,
    /// Of those, exact answers.
    pub exact: u64,
    /// Of those, answers at most one away.
    pub within_one: u64,
    /// Sum of closeness over `tasks`.
    pub closeness_sum: f64,
    /// Sum of |p − g| over `predicted`.
    pub abs_error_sum: f64,
}

impl Closeness {
    /// Adds one task's closeness.
    pub fn add(&mut self, c: &ControlCloseness) {
        self.kind = c.kind;
        self.range = c.range;
        self.tasks += 1;
        self.predicted += u64::from(c.predicted.is_some());
        self.exact += u64::from(c.exact());
        self.within_one += u64::from(c.within_one());
        self.closeness_sum += c.closeness;
        self.abs_error_sum += c.abs_error().unwrap_or(0.0);
    }

    /// `{"kind", "tasks", "predicted", "mean_closeness", "exact_accuracy",
    /// "within_one_accuracy" (Rating only), "mean_absolute_error", "range"}`; means over
    /// `tasks` (the absolute error over `predicted`), null when there are none.
    pub fn to_json(&self) -> Value {
        let over = |sum: f64, n: u64| (n > 0).then(|| sum / n as f64);
        let mut out = json!({
            "kind": self.kind,
            "tasks": self.tasks,
            "predicted": self.predicted,
            "mean_closeness": over(self.closeness_sum, self.tasks),
            "exact_accuracy": over(self.exact as f64, self.tasks),
            "mean_absolute_error": over(self.abs_error_sum, self.predicted),
            "range": self.range,
        });
        if self.kind == "rating" {
            out["within_one_accuracy"] = json!(over(self.within_one as f64, self.tasks));
        }
        out
    }
}
