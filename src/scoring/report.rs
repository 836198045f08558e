//! The scikit-learn style classification report of per-class counts.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::ClassCounts;

/// `a / b`, 0.0 when `b` is 0.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// One report row: `{"precision", "recall", "f1-score", "support"}`.
fn row(precision: f64, recall: f64, f1: f64, support: u64) -> Value {
    json!({"precision": precision, "recall": recall, "f1-score": f1, "support": support})
}

/// A scikit-learn style `classification_report(..., output_dict=True)` from class counts:
/// one row per class (`precision`, `recall`, `f1-score`, `support` = tp + fn), then
/// `"micro avg"` (from summed counts), `"macro avg"` (unweighted mean of the class rows) and
/// `"weighted avg"` (mean weighted by support), each with the total support. A zero
/// denominator gives 0.0, and the averages of no classes are 0.0.
pub fn classification_report(classes: &BTreeMap<String, ClassCounts>) -> Value {
    let mut out = Map::new();
    let mut total = ClassCounts::default();
    let (mut sum_p, mut sum_r, mut sum_f) = (0.0, 0.0, 0.0);
    let (mut w_p, mut w_r, mut w_f) = (0.0, 0.0, 0.0);
    for (class, c) in classes {
        let precision = ratio(c.tp, c.tp + c.fp);
        let recall = ratio(c.tp, c.support());
        let f1 = ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn_);
        out.insert(class.clone(), row(precision, recall, f1, c.support()));
        total.add(c);
        sum_p += precision;
        sum_r += recall;
        sum_f += f1;
        let weight = c.support() as f64;
        w_p += precision * weight;
        w_r += recall * weight;
        w_f += f1 * weight;
    }
    let support = total.support();
    out.insert(
        "micro avg".into(),
        row(
            ratio(total.tp, total.tp + total.fp),
            ratio(total.tp, support),
            ratio(2 * total.tp, 2 * total.tp + total.fp + total.fn_),
            support,
        ),
    );
    let n = classes.len() as f64;
    let mean = |sum: f64| if classes.is_empty() { 0.0 } else { sum / n };
    out.insert(
        "macro avg".into(),
        row(mean(sum_p), mean(sum_r), mean(sum_f), support),
    );
    let weighted = |sum: f64| {
        if support == 0 {
            0.0
        } else {
            sum / support as f64
        }
    };
    out.insert(
        "weighted avg".into(),
        row(weighted(w_p), weighted(w_r), weighted(w_f), support),
    );
    Value::Object(out)
}
