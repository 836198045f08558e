//! Scoring predictions against ground truth (spec §4.4): per-task score and correctness, and
//! per-class true/false positives and false negatives for the classification report.
//!
//! Both sides are Label Studio result region lists (`[{"from_name", "value", …}]`). Every
//! scorable control of the label config that has a region on either side is scored:
//!
//! - `Choices`: the set of chosen values P (all regions of the control) against the ground-truth
//!   set G. Score 1.0 when P == G, else 0.0. Per class c: TP if c ∈ P∩G, FP if c ∈ P\G, FN if
//!   c ∈ G\P.
//! - `Labels` family: spans match on exact (position, label), a region with several labels
//!   being one span per label. Position is the region's `value` without its labels and `text`
//!   (for text spans: `start` and `end`), compared with numbers normalised (`4` == `4.0`).
//!   Duplicates are matched as a multiset. Score 2TP/(2TP+FP+FN), 1.0 when both sides are
//!   empty. Per-class counts are by label.
//! - `TextArea`, `Rating`, `Number`: the multiset of values (`text` entries, `rating`, `number`)
//!   must be equal: 1.0, else 0.0. No classes.
//!
//! The task score is the mean over scored controls (1.0 when none is scored); the task is
//! correct when that is 1.0. Regions whose `from_name` is not a control of the config are
//! ignored. Classes are keyed by label alone, so a label used by two controls sums both.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::{Map, Value, json};

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
    /// Set of `choices`.
    Choices,
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
        ControlKind::Choices => Some(Scoring::Choices),
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
fn values_of<'a>(regions: &'a Value, name: &str) -> Option<Vec<&'a Map<String, Value>>> {
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

/// Chosen values of `Choices` regions, as a set.
fn choice_set(values: &[&Map<String, Value>]) -> BTreeSet<String> {
    values
        .iter()
        .flat_map(|v| strings(v.get("choices")))
        .collect()
}

/// (position, label) → count of the spans of `Labels`-family regions.
fn span_counts(values: &[&Map<String, Value>], label_key: &str) -> HashMap<(String, String), u64> {
    let mut counts = HashMap::new();
    for value in values {
        let labels = strings(value.get(label_key).or_else(|| value.get("labels")));
        let position: Map<String, Value> = value
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "labels" | "text") && k.as_str() != label_key)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let position = canon(&Value::Object(position));
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
        Scoring::Choices => {
            let p = choice_set(predicted);
            let g = choice_set(truth);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label_config::parse;

    const CHOICES: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
    <Choice value="Positive"/><Choice value="Negative"/><Choice value="Neutral"/>
  </Choices>
</View>"#;

    const MULTI: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="topics" toName="text" choice="multiple">
    <Choice value="Politics"/><Choice value="Business"/><Choice value="Sports"/>
  </Choices>
</View>"#;

    const NER: &str = r#"<View>
  <Labels name="label" toName="text">
    <Label value="PER"/><Label value="ORG"/><Label value="LOC"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>"#;

    const MIXED: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
    <Choice value="Positive"/><Choice value="Negative"/>
  </Choices>
  <TextArea name="summary" toName="text"/>
  <Rating name="stars" toName="text"/>
  <Number name="count" toName="text"/>
</View>"#;

    fn choice(name: &str, values: &[&str]) -> Value {
        json!({"id": "x", "from_name": name, "to_name": "text", "type": "choices",
               "value": {"choices": values}})
    }

    fn span(start: u64, end: u64, label: &str) -> Value {
        json!({"id": "x", "from_name": "label", "to_name": "text", "type": "labels",
               "value": {"start": start, "end": end, "labels": [label]}})
    }

    fn counts(tp: u64, fp: u64, fn_: u64) -> ClassCounts {
        ClassCounts { tp, fp, fn_ }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn choices_correct() {
        let config = parse(CHOICES).unwrap();
        let s = score_task(
            &config,
            &json!([choice("sentiment", &["Positive"])]),
            &json!([choice("sentiment", &["Positive"])]),
        );
        assert_eq!(s.score, 1.0);
        assert!(s.correct);
        assert_eq!(s.classes.len(), 1);
        assert_eq!(s.classes["Positive"], counts(1, 0, 0));
    }

    #[test]
    fn choices_incorrect() {
        let config = parse(CHOICES).unwrap();
        let s = score_task(
            &config,
            &json!([choice("sentiment", &["Negative"])]),
            &json!([choice("sentiment", &["Positive"])]),
        );
        assert_eq!(s.score, 0.0);
        assert!(!s.correct);
        assert_eq!(s.classes["Negative"], counts(0, 1, 0));
        assert_eq!(s.classes["Positive"], counts(0, 0, 1));
    }

    #[test]
    fn choices_missing_prediction_is_wrong() {
        let config = parse(CHOICES).unwrap();
        let s = score_task(
            &config,
            &json!([]),
            &json!([choice("sentiment", &["Neutral"])]),
        );
        assert_eq!(s.score, 0.0);
        assert_eq!(s.classes["Neutral"], counts(0, 0, 1));
    }

    #[test]
    fn multi_choice_partial() {
        let config = parse(MULTI).unwrap();
        let s = score_task(
            &config,
            &json!([choice("topics", &["Politics", "Business"])]),
            &json!([choice("topics", &["Business", "Sports"])]),
        );
        assert_eq!(s.score, 0.0);
        assert!(!s.correct);
        assert_eq!(s.classes["Business"], counts(1, 0, 0));
        assert_eq!(s.classes["Politics"], counts(0, 1, 0));
        assert_eq!(s.classes["Sports"], counts(0, 0, 1));
        // Same set in another order is correct.
        let s = score_task(
            &config,
            &json!([choice("topics", &["Sports", "Business"])]),
            &json!([choice("topics", &["Business", "Sports"])]),
        );
        assert!(s.correct);
    }

    #[test]
    fn ner_exact() {
        let config = parse(NER).unwrap();
        // Ground truth from the editor carries `text`; it does not matter.
        let gt = json!([
            {"from_name": "label", "to_name": "text", "type": "labels",
             "value": {"end": 4, "start": 0, "text": "John", "labels": ["PER"]}},
            span(14, 20, "ORG"),
        ]);
        let s = score_task(
            &config,
            &json!([span(0, 4, "PER"), span(14, 20, "ORG")]),
            &gt,
        );
        assert_eq!(s.score, 1.0);
        assert!(s.correct);
        assert_eq!(s.classes["PER"], counts(1, 0, 0));
        assert_eq!(s.classes["ORG"], counts(1, 0, 0));
    }

    #[test]
    fn ner_partial() {
        let config = parse(NER).unwrap();
        // TP: (0,4,PER). FP: (10,15,ORG) wrong end. FN: (10,14,ORG).
        let s = score_task(
            &config,
            &json!([span(0, 4, "PER"), span(10, 15, "ORG")]),
            &json!([span(0, 4, "PER"), span(10, 14, "ORG")]),
        );
        assert!(close(s.score, 0.5));
        assert!(!s.correct);
        assert_eq!(s.classes["PER"], counts(1, 0, 0));
        assert_eq!(s.classes["ORG"], counts(0, 1, 1));
        // Wrong label at the right place: FP for LOC, FN for PER; 2·1/(2+1+1).
        let s = score_task(
            &config,
            &json!([span(0, 4, "LOC"), span(5, 9, "PER")]),
            &json!([span(0, 4, "PER"), span(5, 9, "PER")]),
        );
        assert!(close(s.score, 0.5));
        assert_eq!(s.classes["PER"], counts(1, 0, 1));
        assert_eq!(s.classes["LOC"], counts(0, 1, 0));
    }

    #[test]
    fn ner_numbers_normalised_and_duplicates() {
        let config = parse(NER).unwrap();
        let s = score_task(
            &config,
            &json!([
                {"from_name": "label", "value": {"start": 0.0, "end": 4.0, "labels": ["PER"]}},
                span(0, 4, "PER"),
            ]),
            &json!([span(0, 4, "PER")]),
        );
        // One match, one duplicate FP: 2/(2+1).
        assert!(close(s.score, 2.0 / 3.0));
        assert_eq!(s.classes["PER"], counts(1, 1, 0));
    }

    #[test]
    fn ner_both_empty() {
        let config = parse(NER).unwrap();
        let s = score_task(&config, &json!([]), &json!([]));
        assert_eq!(s.score, 1.0);
        assert!(s.correct);
        assert!(s.classes.is_empty());
        // A region with no labels on both sides: counted, both span sets empty.
        let empty = json!([{"from_name": "label", "value": {"start": 0, "end": 1, "labels": []}}]);
        let s = score_task(&config, &empty, &empty);
        assert_eq!(s.score, 1.0);
        // Prediction has spans, ground truth none: 0.
        let s = score_task(&config, &json!([span(0, 4, "PER")]), &json!([]));
        assert_eq!(s.score, 0.0);
        assert_eq!(s.classes["PER"], counts(0, 1, 0));
    }

    #[test]
    fn text_area_rating_number() {
        let config = parse(MIXED).unwrap();
        let region = |name: &str, value: Value| json!({"from_name": name, "value": value});
        let gt = json!([
            region("summary", json!({"text": ["A short summary."]})),
            region("stars", json!({"rating": 4})),
            region("count", json!({"number": 3.0})),
        ]);
        let exact = json!([
            region("summary", json!({"text": ["A short summary."]})),
            region("stars", json!({"rating": 4})),
            region("count", json!({"number": 3})),
        ]);
        let s = score_task(&config, &exact, &gt);
        assert_eq!(s.score, 1.0);
        assert!(s.classes.is_empty());
        let off = json!([
            region("summary", json!({"text": ["a short summary."]})),
            region("stars", json!({"rating": 4})),
            region("count", json!({"number": 2})),
        ]);
        let s = score_task(&config, &off, &gt);
        assert!(close(s.score, 1.0 / 3.0));
        assert!(!s.correct);
    }

    #[test]
    fn mean_over_counted_controls_and_unknown_regions() {
        let config = parse(MIXED).unwrap();
        let s = score_task(
            &config,
            &json!([
                choice("sentiment", &["Positive"]),
                {"from_name": "summary", "value": {"text": ["x"]}},
                choice("not_a_control", &["Positive"]),
            ]),
            &json!([
                choice("sentiment", &["Positive"]),
                {"from_name": "summary", "value": {"text": ["y"]}},
            ]),
        );
        // sentiment 1.0, summary 0.0; stars and count appear nowhere; unknown name ignored.
        assert!(close(s.score, 0.5));
        assert_eq!(s.classes.len(), 1);
        // No scored control at all.
        let s = score_task(&config, &json!([]), &json!([]));
        assert_eq!(s.score, 1.0);
        assert!(s.correct);
        // Not a list: treated as empty.
        let s = score_task(&config, &json!(null), &json!({}));
        assert!(s.correct);
    }

    #[test]
    fn counts_add_merge_and_serialize() {
        let mut a = counts(1, 2, 3);
        a.add(&counts(10, 20, 30));
        assert_eq!(a, counts(11, 22, 33));
        assert_eq!(a.support(), 44);
        assert_eq!(
            serde_json::to_value(a).unwrap(),
            json!({"tp": 11, "fp": 22, "fn": 33})
        );
        let mut total = BTreeMap::from([("A".to_string(), counts(1, 0, 0))]);
        merge_classes(
            &mut total,
            &BTreeMap::from([
                ("A".to_string(), counts(1, 1, 0)),
                ("B".to_string(), counts(0, 0, 1)),
            ]),
        );
        assert_eq!(total["A"], counts(2, 1, 0));
        assert_eq!(total["B"], counts(0, 0, 1));
    }

    #[test]
    fn report_numbers() {
        // A: tp 3, fp 1, fn 0 → p 0.75, r 1, f1 6/7, support 3.
        // B: tp 1, fp 0, fn 1 → p 1, r 0.5, f1 2/3, support 2.
        // C: tp 0, fp 1, fn 0 → p 0, r 0 (0/0), f1 0, support 0.
        let classes = BTreeMap::from([
            ("A".to_string(), counts(3, 1, 0)),
            ("B".to_string(), counts(1, 0, 1)),
            ("C".to_string(), counts(0, 1, 0)),
        ]);
        let report = classification_report(&classes);
        let get = |row: &str, key: &str| report[row][key].as_f64().unwrap();
        assert!(close(get("A", "precision"), 0.75));
        assert!(close(get("A", "recall"), 1.0));
        assert!(close(get("A", "f1-score"), 6.0 / 7.0));
        assert_eq!(report["A"]["support"], json!(3));
        assert!(close(get("B", "precision"), 1.0));
        assert!(close(get("B", "recall"), 0.5));
        assert!(close(get("B", "f1-score"), 2.0 / 3.0));
        assert_eq!(
            report["C"],
            json!({"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
        );
        // micro: tp 4, fp 2, fn 1 → p 4/6, r 4/5, f1 8/11.
        assert!(close(get("micro avg", "precision"), 4.0 / 6.0));
        assert!(close(get("micro avg", "recall"), 0.8));
        assert!(close(get("micro avg", "f1-score"), 8.0 / 11.0));
        assert_eq!(report["micro avg"]["support"], json!(5));
        // macro: p (0.75+1+0)/3, r (1+0.5+0)/3, f1 (6/7+2/3+0)/3.
        assert!(close(get("macro avg", "precision"), 1.75 / 3.0));
        assert!(close(get("macro avg", "recall"), 0.5));
        assert!(close(
            get("macro avg", "f1-score"),
            (6.0 / 7.0 + 2.0 / 3.0) / 3.0
        ));
        assert_eq!(report["macro avg"]["support"], json!(5));
        // weighted by support 3, 2, 0: p (2.25+2)/5, r (3+1)/5, f1 (18/7+4/3)/5.
        assert!(close(get("weighted avg", "precision"), 0.85));
        assert!(close(get("weighted avg", "recall"), 0.8));
        assert!(close(
            get("weighted avg", "f1-score"),
            (18.0 / 7.0 + 4.0 / 3.0) / 5.0
        ));
        let keys: Vec<&String> = report.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["A", "B", "C", "micro avg", "macro avg", "weighted avg"]
        );
    }

    #[test]
    fn report_empty() {
        let report = classification_report(&BTreeMap::new());
        let zero = json!({"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0});
        assert_eq!(report["micro avg"], zero);
        assert_eq!(report["macro avg"], zero);
        assert_eq!(report["weighted avg"], zero);
    }

    #[test]
    fn task_score_from_counts_feeds_report() {
        let config = parse(CHOICES).unwrap();
        let mut total = BTreeMap::new();
        for (p, g) in [
            ("Positive", "Positive"),
            ("Negative", "Positive"),
            ("Neutral", "Neutral"),
        ] {
            let s = score_task(
                &config,
                &json!([choice("sentiment", &[p])]),
                &json!([choice("sentiment", &[g])]),
            );
            merge_classes(&mut total, &s.classes);
        }
        assert_eq!(total["Positive"], counts(1, 0, 1));
        assert_eq!(total["Negative"], counts(0, 1, 0));
        assert_eq!(total["Neutral"], counts(1, 0, 0));
        let report = classification_report(&total);
        assert_eq!(report["micro avg"]["f1-score"], json!(2.0 / 3.0));
    }
}
