//! Tests of per-task scores and the classification report.

use super::*;
use crate::label_config::parse;
use serde_json::json;

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

const MORE: &str = r#"<View>
  <Text name="a" value="$a"/>
  <Text name="b" value="$b"/>
  <HyperText name="page" value="$html"/>
  <Pairwise name="pw" toName="a,b"/>
  <Taxonomy name="tax" toName="a">
    <Choice value="X"><Choice value="Y"/></Choice><Choice value="Z"/>
  </Taxonomy>
  <HyperTextLabels name="ents" toName="page"><Label value="PER"/></HyperTextLabels>
  <Rating name="stars" toName="a" maxRating="5"/>
  <Number name="price" toName="a" min="0" max="200"/>
  <Number name="count" toName="a"/>
</View>"#;

fn region(name: &str, value: Value) -> Value {
    json!({"from_name": name, "value": value})
}

#[test]
fn pairwise_and_taxonomy_are_sets() {
    let config = parse(MORE).unwrap();
    let s = score_task(
        &config,
        &json!([region("pw", json!({"selected": "left"}))]),
        &json!([region("pw", json!({"selected": "left"}))]),
    );
    assert!(s.correct);
    assert_eq!(s.classes["left"], counts(1, 0, 0));
    let s = score_task(
        &config,
        &json!([region("pw", json!({"selected": "left"}))]),
        &json!([region("pw", json!({"selected": "right"}))]),
    );
    assert!(!s.correct);
    let path = |paths: Value| json!([region("tax", json!({ "taxonomy": paths }))]);
    let s = score_task(
        &config,
        &path(json!([["Z"], ["X", "Y"]])),
        &path(json!([["X", "Y"], ["Z"]])),
    );
    assert!(s.correct);
    assert_eq!(s.classes["X / Y"], counts(1, 0, 0));
    let s = score_task(&config, &path(json!([["X"]])), &path(json!([["X", "Y"]])));
    assert!(!s.correct);
    assert_eq!(s.classes["X"], counts(0, 1, 0));
    assert_eq!(s.classes["X / Y"], counts(0, 0, 1));
}

#[test]
fn hypertext_spans_match_on_global_offsets() {
    let config = parse(MORE).unwrap();
    // The editor's annotation and Prompter's prediction of the same span: XPaths may be
    // spelled differently, the global offsets agree.
    let gt = json!([region(
        "ents",
        json!({
        "start": "/p[1]/text()[1]", "startOffset": 0, "end": "/p[1]/text()[1]", "endOffset": 3,
        "globalOffsets": {"start": 0, "end": 3}, "text": "Ann", "hypertextlabels": ["PER"]})
    )]);
    let predicted = json!([region(
        "ents",
        json!({
        "start": "/p[1]/text()[1]", "startOffset": 0, "end": "/p[1]/text()[1]", "endOffset": 3,
        "globalOffsets": {"end": 3.0, "start": 0}, "hypertextlabels": ["PER"]})
    )]);
    assert!(score_task(&config, &predicted, &gt).correct);
    let moved = json!([region(
        "ents",
        json!({
        "start": "/p[1]/text()[1]", "startOffset": 1, "end": "/p[1]/text()[1]", "endOffset": 3,
        "globalOffsets": {"start": 1, "end": 3}, "hypertextlabels": ["PER"]})
    )]);
    assert!(!score_task(&config, &moved, &gt).correct);
}

#[test]
fn closeness_of_ratings_and_numbers() {
    let config = parse(MORE).unwrap();
    let gt = json!([
        region("stars", json!({"rating": 4})),
        region("price", json!({"number": 100})),
        region("count", json!({"number": 10})),
    ]);
    let predicted = json!([
        region("stars", json!({"rating": 3})),
        region("price", json!({"number": 150})),
        region("count", json!({"number": 13})),
    ]);
    let c = closeness(&config, &predicted, &gt);
    let by = |name: &str| c.iter().find(|x| x.control == name).unwrap().clone();
    // Rating: range 5 − 1 = 4, one star off: 1 − 1/4.
    let stars = by("stars");
    assert!(close(stars.closeness, 0.75));
    assert!(stars.within_one() && !stars.exact());
    assert_eq!(stars.range, Some(4.0));
    // Number with min/max: range 200, 50 off: 1 − 50/200.
    assert!(close(by("price").closeness, 0.75));
    // Number without a range: relative to the truth, 3 off 10: 0.7.
    let count = by("count");
    assert!(close(count.closeness, 0.7));
    assert_eq!(count.range, None);
    assert_eq!(count.abs_error(), Some(3.0));
    // Far off saturates at 0; no prediction is 0 and not within one.
    let c = closeness(
        &config,
        &json!([
            region("stars", json!({"rating": 0})),
            region("count", json!({"number": -50}))
        ]),
        &gt,
    );
    assert!(close(c[0].closeness, 0.0));
    assert!(close(c[2].closeness, 0.0));
    assert_eq!(c[1].predicted, None);
    assert!(close(c[1].closeness, 0.0));
    assert!(!c[1].within_one());
    // Controls without a ground-truth value are not scored.
    assert!(closeness(&config, &predicted, &json!([])).is_empty());
    // Summed over tasks.
    let mut total = Closeness::default();
    total.add(&stars);
    for x in &c {
        if x.control == "stars" {
            total.add(x);
        }
    }
    let summary = total.to_json();
    assert_eq!(summary["tasks"], 2);
    assert_eq!(summary["predicted"], 2);
    assert!(close(summary["mean_closeness"].as_f64().unwrap(), 0.375));
    assert!(close(summary["within_one_accuracy"].as_f64().unwrap(), 0.5));
    assert!(close(summary["exact_accuracy"].as_f64().unwrap(), 0.0));
    assert!(close(summary["mean_absolute_error"].as_f64().unwrap(), 2.5));
    assert_eq!(summary["kind"], "rating");
    assert_eq!(
        Closeness::default().to_json()["mean_closeness"],
        Value::Null
    );
}
