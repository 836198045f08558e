//! Tests of the honest scores over HTTP: accuracy over every ground-truth task with its Wilson
//! interval, McNemar's comparison of two versions on the same tasks (default baselines and
//! `compare_to`), Rating/Number closeness, dropped spans, the subset-tasks summary, and the cost
//! per correct label. Results arrive through `batch-predictions`, so every number is
//! hand-checked (the cost per correct label also through the engine, for a priced model and an
//! unpriced one).
use crate::helpers::engine::{TEXTS, engine_app, fake, finished, setup, start};
use crate::helpers::fixtures::{
    Fixture, assert_field_error, batch, batch_failed, fixture, ground_truth, id_of, item, new_run,
    new_version, run_on, run_state,
};
use crate::helpers::reply::read;
use crate::helpers::subsets::{indicator_values, task_ids, task_list};
use crate::helpers::{CLS, NER, Reply, TestApp, choice};
use entity::enums::RunStatus;
use prompter::fake_llm::FakeLlmConfig;
use prompter::views::evaluation::{IndicatorView, SubsetTasksView};
use prompter::views::predictions::PredictionView;
use prompter::views::runs::RunView;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Whether a raw number (of an indicator's values) is `b`.
fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-6)
}

/// Whether a typed figure is `b`.
fn near(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6)
}

/// An indicator's values (asserts 200 and its key). The values are the indicators' JSON
/// shapes, which have no view type: they stay raw.
async fn indicator(app: &TestApp, run: i64, key: &str, query: &str) -> Value {
    indicator_values(app, run, key, query).await
}

/// The `summary` of a subset-tasks page: the run and, raw, the values of the indicators of
/// the same keys (the server builds it as JSON; no view type).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Summary {
    model_run: i64,
    accuracy: Value,
    ground_truth_accuracy: Value,
    version_comparison: Value,
}

const LABELS: [&str; 10] = [
    "Positive", "Negative", "Positive", "Negative", "Positive", "Negative", "Positive", "Negative",
    "Positive", "Negative",
];

fn flip(label: &str) -> &'static str {
    if label == "Positive" {
        "Negative"
    } else {
        "Positive"
    }
}

/// Ten ground-truth tasks; v1's HasGT run: 6 right, 2 wrong, 2 failed; v2's: 9 right, 1 wrong.
/// Per task (v1, v2): 0-5 (right, right), 6 (wrong, right), 7 (wrong, wrong),
/// 8-9 (failed, right).
async fn two_versions(app: &TestApp) -> (Fixture, i64, i64, i64) {
    let texts: Vec<String> = (0..10).map(|i| format!("review {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let f = fixture(app, CLS, &refs).await;
    for (task, label) in f.tasks.iter().zip(LABELS) {
        ground_truth(app, *task, choice(label)).await;
    }
    let run1 = run_on(app, &f, f.version, "HasGT").await;
    let items: Vec<Value> = f.tasks[..8]
        .iter()
        .zip(LABELS)
        .enumerate()
        .map(|(i, (task, label))| {
            let label = if i < 6 { label } else { flip(label) };
            item(*task, json!({"sentiment": label}))
        })
        .collect();
    batch(app, run1, Value::Array(items)).await;
    batch_failed(
        app,
        run1,
        json!([
            {"task_id": f.tasks[8], "message": "boom", "error_type": "Timeout"},
            {"task_id": f.tasks[9], "message": "boom", "error_type": "Timeout"}
        ]),
    )
    .await;
    let v2 = id_of(&new_version(app, f.prompt, f.connection, "v2").await);
    let run2 = run_on(app, &f, v2, "HasGT").await;
    let items: Vec<Value> = (0..10)
        .map(|i| {
            let label = if i == 7 { flip(LABELS[i]) } else { LABELS[i] };
            item(f.tasks[i], json!({"sentiment": label}))
        })
        .collect();
    batch(app, run2, Value::Array(items)).await;
    (f, v2, run1, run2)
}

#[tokio::test]
async fn accuracy_over_all_ground_truth_tasks_counts_failures_as_wrong() {
    let app = TestApp::spawn().await;
    let (_, _, run1, _) = two_versions(&app).await;
    // The wire accuracy counts the failed tasks as wrong too: 6 of 8 answered + 2 failed.
    let wire = indicator(&app, run1, "accuracy", "").await;
    assert!(close(&wire["accuracy"], 0.6), "{wire}");
    // The same over the ten ground-truth tasks: 6 of 10, Wilson 95% [0.3127, 0.8318].
    let gt = indicator(&app, run1, "ground_truth_accuracy", "").await;
    assert!(close(&gt["accuracy"], 0.6), "{gt}");
    assert_eq!(gt["correct"], 6);
    assert_eq!(gt["ground_truth_tasks"], 10);
    assert_eq!(gt["predicted"], 8);
    assert_eq!(gt["wrong"], 2);
    assert_eq!(gt["failed"], 2);
    assert_eq!(gt["unanswered"], 0);
    assert!(close(&gt["ci_low"], 0.312_674), "{gt}");
    assert!(close(&gt["ci_high"], 0.831_820), "{gt}");
    assert_eq!(gt["confidence_level"], 0.95);
    assert_eq!(gt["interval"], "wilson");
    // The existing keys keep their shapes; the new ones are listed after them.
    let list: Vec<IndicatorView> = app
        .get(&format!("/api/inference-runs/{run1}/indicators/"))
        .await
        .good();
    let keys: Vec<&str> = list.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "accuracy",
            "f1",
            "predictions",
            "failed_predictions",
            "cost",
            "classification_report",
            "ground_truth_accuracy",
            "version_comparison",
            "closeness",
            "dropped_spans",
            "calibration",
            "project_accuracy",
            "cost_per_correct_label"
        ]
    );
    assert_eq!(
        list[0].values,
        json!({"accuracy": 0.6, "total_correct_predictions": 6, "total_predictions": 8,
            "total_failed_predictions": 2, "scored_predictions": 8,
            "scored_failed_predictions": 2})
    );
    let f1 = indicator(&app, run1, "f1", "").await;
    assert_eq!(f1["scored_tasks"], 8);
    assert_eq!(f1["correct_tasks"], 6);
    // The results cost nothing: a right answer costs nothing either, whatever the accuracy.
    let free = indicator(&app, run1, "cost_per_correct_label", "").await;
    assert_eq!(
        free,
        json!({"cost_per_correct_label": 0.0, "interval": [0.0, 0.0], "correct_predictions": 6,
            "answered_tasks": 10, "cost_per_task": 0.0, "accuracy": 0.6})
    );
}

/// Whether a raw figure is `b` to a relative 1e-9 (costs are small numbers).
fn same(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() <= 1e-9 * b.abs())
}

/// What a right answer costs, on a `HasGT` run the engine made through the fake LLM with a
/// priced model (gpt-4o-mini): the run's cost over its correct predictions, with the interval
/// accuracy's Wilson interval implies, the same in the `cost` indicator; and no figure for a
/// model without a price, though its accuracy is the same.
#[tokio::test]
async fn cost_per_correct_label_is_the_cost_over_the_correct_predictions() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let s = setup(
        &app,
        &llm,
        CLS,
        &TEXTS,
        "Classify the sentiment. Text: {text}",
    )
    .await;
    // Four ground-truth tasks, three answered as annotated by the fake's keyword rule.
    for (i, label) in [
        (0, "Positive"),
        (1, "Negative"),
        (2, "Positive"),
        (3, "Positive"),
    ] {
        ground_truth(&app, s.tasks[i], choice(label)).await;
    }
    let run = start(&app, &s, json!({"project_subset": "HasGT"})).await;
    let state: RunView = read(finished(&app, &s, run).await);
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");
    assert_eq!(
        (state.total_predictions, state.total_correct_predictions),
        (4, 3)
    );
    let cost = state.total_cost_usd.expect("gpt-4o-mini has a price");
    assert!(cost > 0.0);
    let c = indicator(&app, run, "cost_per_correct_label", "").await;
    assert!(
        same(&c["cost_per_correct_label"], cost / 3.0),
        "{c} vs {cost}"
    );
    assert_eq!(c["correct_predictions"], 3);
    assert_eq!(c["answered_tasks"], 4);
    assert!(same(&c["cost_per_task"], cost / 4.0), "{c}");
    assert!(close(&c["accuracy"], 0.75), "{c}");
    let (low, high) = prompter::stats::wilson(3, 4, prompter::stats::Z95).expect("an interval");
    assert!(same(&c["interval"][0], cost / 4.0 / high), "{c}");
    assert!(same(&c["interval"][1], cost / 4.0 / low), "{c}");
    // The `cost` indicator carries the same figure beside its existing keys.
    let costs = indicator(&app, run, "cost", "").await;
    assert_eq!(costs["cost_per_correct_label"], c["cost_per_correct_label"]);
    assert!(same(&costs["total_cost_usd"], cost));
    // A model without a price: its cost is not known, so neither is what a right answer costs.
    let (status, body) = app
        .post(
            &format!("/api/prompts/{}/versions", s.prompt),
            json!({"title": "unpriced", "prompt": "Classify the sentiment. Text: {text}",
                "provider_model_id": "house-model", "provider": "Custom",
                "model_provider_connection": s.connection}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let unpriced = id_of(&body);
    let body = new_run(
        &app,
        s.prompt,
        unpriced,
        json!({"project": s.project, "project_subset": "HasGT"}),
    )
    .await;
    let unpriced_run = id_of(&body);
    app.engine_idle().await;
    let state: RunView = read(run_state(&app, s.prompt, unpriced, unpriced_run).await);
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");
    assert_eq!(state.total_cost_usd, None);
    let c = indicator(&app, unpriced_run, "cost_per_correct_label", "").await;
    assert_eq!(
        c,
        json!({"cost_per_correct_label": null, "interval": null, "correct_predictions": 3,
            "answered_tasks": 4, "cost_per_task": null, "accuracy": 0.75})
    );
    let costs = indicator(&app, unpriced_run, "cost", "").await;
    assert_eq!(costs["total_cost_usd"], Value::Null);
    assert_eq!(costs["cost_per_correct_label"], Value::Null);
}

#[tokio::test]
async fn two_versions_on_the_same_tasks_are_compared_with_mcnemar() {
    let app = TestApp::spawn().await;
    let (f, v2, run1, run2) = two_versions(&app).await;
    // Default baseline of v1's run: v2's latest completed run on the same project and subset.
    let cmp = indicator(&app, run1, "version_comparison", "").await;
    assert_eq!(cmp["alpha"], 0.05);
    let list = cmp["comparisons"].as_array().expect("comparisons");
    assert_eq!(list.len(), 1, "{cmp}");
    let c = &list[0];
    assert_eq!(c["baseline_run"], run2);
    assert_eq!(c["baseline_version"], v2);
    assert_eq!(c["baseline_version_title"], "v2");
    assert_eq!(c["paired_tasks"], 10);
    assert_eq!(c["both_correct"], 6);
    assert_eq!(c["only_this_correct"], 0);
    assert_eq!(c["only_baseline_correct"], 3);
    assert_eq!(c["both_wrong"], 1);
    assert!(close(&c["accuracy"], 0.6));
    assert!(close(&c["baseline_accuracy"], 0.9));
    assert!(close(&c["difference"], -0.3));
    // 0 of 3 discordant pairs: exact binomial p = 2·(1/8) = 0.25, not significant.
    assert_eq!(c["test"], "exact_binomial");
    assert_eq!(c["statistic"], Value::Null);
    assert!(close(&c["p_value"], 0.25), "{c}");
    assert_eq!(c["significant"], false);
    // The other way round, explicitly.
    let cmp = indicator(
        &app,
        run2,
        "version_comparison",
        &format!("?compare_to={run1}"),
    )
    .await;
    let c = &cmp["comparisons"][0];
    assert_eq!(c["baseline_run"], run1);
    assert_eq!(c["only_this_correct"], 3);
    assert!(close(&c["difference"], 0.3));
    // compare_to must be another run of the same project (in the organization).
    for bad in [run2.to_string(), "999999".into()] {
        let (status, body) = app
            .get(&format!(
                "/api/inference-runs/{run2}/indicators/version_comparison?compare_to={bad}"
            ))
            .await;
        assert_field_error(status, &body, "compare_to");
    }
    let other = fixture(&app, CLS, &["x"]).await;
    let elsewhere = run_on(&app, &other, other.version, "All").await;
    let (status, body) = app
        .get(&format!(
            "/api/inference-runs/{run2}/indicators/?compare_to={elsewhere}"
        ))
        .await;
    assert_field_error(status, &body, "compare_to");
    // A run with no other version's run to compare with lists none.
    let cmp = indicator(&app, elsewhere, "version_comparison", "").await;
    assert_eq!(cmp["comparisons"], json!([]));
    // The subset-tasks summary carries the same numbers.
    let page: SubsetTasksView = app
        .get(&format!(
            "/api/projects/{}/subset-tasks?parent_model={}&model_run={run1}",
            f.project, f.prompt
        ))
        .await
        .good();
    let summary: Summary = read(page.summary.expect("a summary"));
    assert_eq!(summary.model_run, run1);
    assert!(close(&summary.accuracy["accuracy"], 0.6));
    assert!(close(&summary.ground_truth_accuracy["accuracy"], 0.6));
    assert!(close(&summary.ground_truth_accuracy["ci_low"], 0.312_674));
    assert_eq!(
        summary.version_comparison["comparisons"][0]["only_baseline_correct"],
        3
    );
    // `summary` is left out, not null: checked on the raw body.
    let (_, page) = app
        .get(&format!(
            "/api/projects/{}/subset-tasks?parent_model={}&model_run={run1}&include_summary=false",
            f.project, f.prompt
        ))
        .await;
    assert!(page.get("summary").is_none(), "{page}");
    let (status, body) = app
        .get(&format!(
            "/api/projects/{}/subset-tasks?parent_model={}&model_run={run1}&include_summary=maybe",
            f.project, f.prompt
        ))
        .await;
    assert_field_error(status, &body, "include_summary");
    // Without a run there is no summary (absent, on the raw body).
    let (_, page) = app
        .get(&format!(
            "/api/projects/{}/subset-tasks?parent_model={}",
            f.project, f.prompt
        ))
        .await;
    assert!(page.get("summary").is_none(), "{page}");
}

const SCALES: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Rating name="stars" toName="text" maxRating="5"/>
  <Number name="price" toName="text" min="0" max="100"/>
</View>"#;

#[tokio::test]
async fn ratings_and_numbers_are_scored_by_closeness() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, SCALES, &["a", "b", "c"]).await;
    let gt = |stars: i64, price: f64| {
        json!([
            {"from_name": "stars", "to_name": "text", "type": "rating", "value": {"rating": stars}},
            {"from_name": "price", "to_name": "text", "type": "number", "value": {"number": price}}
        ])
    };
    ground_truth(&app, f.tasks[0], gt(4, 50.0)).await;
    ground_truth(&app, f.tasks[1], gt(2, 10.0)).await;
    ground_truth(&app, f.tasks[2], gt(5, 90.0)).await;
    let run = run_on(&app, &f, f.version, "HasGT").await;
    batch(
        &app,
        run,
        json!([
            item(f.tasks[0], json!({"stars": 4, "price": 50})),
            item(f.tasks[1], json!({"stars": 3, "price": 30})),
        ]),
    )
    .await;
    batch_failed(
        &app,
        run,
        json!([{"task_id": f.tasks[2], "message": "x", "error_type": "Timeout"}]),
    )
    .await;
    let c = indicator(&app, run, "closeness", "").await;
    let stars = &c["controls"]["stars"];
    // Range 4: exact 1, one off 0.75, failed 0 → mean 0.5833.
    assert_eq!(stars["kind"], "rating");
    assert_eq!(stars["tasks"], 3);
    assert_eq!(stars["predicted"], 2);
    assert!(close(&stars["mean_closeness"], 1.75 / 3.0), "{c}");
    assert!(close(&stars["exact_accuracy"], 1.0 / 3.0));
    assert!(close(&stars["within_one_accuracy"], 2.0 / 3.0));
    assert!(close(&stars["mean_absolute_error"], 0.5));
    assert_eq!(stars["range"], 4.0);
    // Range 100: exact 1, 20 off 0.8, failed 0 → 0.6.
    let price = &c["controls"]["price"];
    assert_eq!(price["kind"], "number");
    assert!(close(&price["mean_closeness"], 0.6), "{c}");
    assert!(close(&price["mean_absolute_error"], 10.0));
    assert!(price.get("within_one_accuracy").is_none());
    // Exact match still decides correctness: one task of three.
    let gt = indicator(&app, run, "ground_truth_accuracy", "").await;
    assert_eq!(gt["correct"], 1);
    // Each predicted task shows its closeness in the drill-down.
    let page: SubsetTasksView = app
        .get(&format!(
            "/api/projects/{}/subset-tasks?parent_model={}&model_run={run}",
            f.project, f.prompt
        ))
        .await
        .good();
    let list = task_list(&page);
    assert_eq!(
        list[0].closeness,
        Some(BTreeMap::from([
            ("price".into(), 1.0),
            ("stars".into(), 1.0)
        ]))
    );
    let closeness = list[1].closeness.as_ref().expect("closeness");
    assert!(near(closeness.get("stars").copied(), 0.75), "{closeness:?}");
    assert!(near(closeness.get("price").copied(), 0.8), "{closeness:?}");
    assert!(near(list[1].score, 0.0));
    // A failed task has no `closeness` key at all (absent, not null): the raw task.
    let raw = page.results[0]
        .get("task_result_list")
        .and_then(|l| l.get(2))
        .expect("a third task");
    assert!(raw.get("closeness").is_none(), "{raw}");
}

#[tokio::test]
async fn spans_whose_text_is_absent_are_dropped_and_counted() {
    let app = TestApp::spawn().await;
    let f = fixture(
        &app,
        NER,
        &["東京で Ann に会った。Ann は 🙂", "Nobody here"],
    )
    .await;
    let run = run_on(&app, &f, f.version, "All").await;
    batch(
        &app,
        run,
        json!([
            // Quotes only: repeated names land on distinct occurrences, counted in code points.
            item(
                f.tasks[0],
                json!({"label": [
                    {"text": "Ann", "labels": ["PER"]},
                    {"text": "Ann", "labels": ["PER"]},
                    {"text": "Bob", "labels": ["PER"]}
                ]})
            ),
            // Every span dropped: still a prediction, with no region.
            item(
                f.tasks[1],
                json!({"label": [{"text": "Acme", "labels": ["ORG"]}]})
            ),
        ]),
    )
    .await;
    let preds: Vec<PredictionView> = app
        .get(&format!("/api/predictions/?project={}", f.project))
        .await
        .good();
    assert_eq!(preds.len(), 2, "{preds:?}");
    let first = preds.iter().find(|p| p.task == f.tasks[0]).expect("p");
    // Label Studio regions: raw JSON.
    let spans: Vec<(i64, i64)> = first
        .result
        .as_array()
        .expect("regions")
        .iter()
        .map(|r| {
            (
                r["value"]["start"].as_i64().expect("start"),
                r["value"]["end"].as_i64().expect("end"),
            )
        })
        .collect();
    assert_eq!(spans, [(4, 7), (13, 16)]);
    let second = preds.iter().find(|p| p.task == f.tasks[1]).expect("p");
    assert_eq!(second.result, json!([]));
    let dropped = indicator(&app, run, "dropped_spans", "").await;
    assert_eq!(
        dropped,
        json!({"dropped_spans": 2, "predictions_with_dropped_spans": 2})
    );
    let page: SubsetTasksView = app
        .get(&format!(
            "/api/projects/{}/subset-tasks?parent_model={}&model_run={run}",
            f.project, f.prompt
        ))
        .await
        .good();
    let dropped: Vec<Option<u64>> = task_list(&page)
        .iter()
        .map(|t| t.prediction.as_ref().and_then(|p| p.dropped_spans))
        .collect();
    assert_eq!(dropped, [Some(1), Some(1)]);
}

const PAIRWISE_TAXONOMY: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Text name="other" value="$text"/>
  <Pairwise name="better" toName="text,other"/>
  <Taxonomy name="topic" toName="text">
    <Choice value="Online"><Choice value="Paywall"/></Choice><Choice value="Offline"/>
  </Taxonomy>
</View>"#;

#[tokio::test]
async fn pairwise_and_taxonomy_are_scored_and_filtered_as_classes() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, PAIRWISE_TAXONOMY, &["a", "b"]).await;
    let gt = |side: &str, path: Value| {
        json!([
            {"from_name": "better", "to_name": "better", "type": "pairwise", "value": {"selected": side}},
            {"from_name": "topic", "to_name": "text", "type": "taxonomy", "value": {"taxonomy": path}}
        ])
    };
    ground_truth(&app, f.tasks[0], gt("left", json!([["Online", "Paywall"]]))).await;
    ground_truth(&app, f.tasks[1], gt("right", json!([["Offline"]]))).await;
    let run = run_on(&app, &f, f.version, "HasGT").await;
    batch(
        &app,
        run,
        json!([
            item(
                f.tasks[0],
                json!({"better": "left", "topic": [["Paywall"]]})
            ),
            item(
                f.tasks[1],
                json!({"better": "left", "topic": [["Offline"]]})
            ),
        ]),
    )
    .await;
    let gt_acc = indicator(&app, run, "ground_truth_accuracy", "").await;
    assert_eq!(gt_acc["correct"], 1, "{gt_acc}");
    let report = indicator(&app, run, "classification_report", "").await;
    assert_eq!(report["Online / Paywall"]["support"], 1, "{report}");
    assert!(close(&report["left"]["precision"], 0.5), "{report}");
    assert!(close(&report["right"]["recall"], 0.0), "{report}");
    let ids = |reply: (u16, Value)| task_ids(&reply.good::<SubsetTasksView>());
    let base = format!(
        "/api/projects/{}/subset-tasks?parent_model={}&model_run={run}",
        f.project, f.prompt
    );
    let page = app
        .get(&format!("{base}&output_class=Online%20%2F%20Paywall"))
        .await;
    assert_eq!(ids(page), [f.tasks[0]]);
    let page = app
        .get(&format!(
            "{base}&alignment_class=right&alignment_from_name=better&alignment_outcome=false_negative"
        ))
        .await;
    assert_eq!(ids(page), [f.tasks[1]]);
}
