//! One accuracy everywhere (issue 19): a run with failures shows the same figure, failed tasks
//! counted wrong and the failures beside it, on its page, its live progress, the evaluation
//! card, table and chart, the prompt's page and the prompt list, and in the API's prompt,
//! version and indicator answers.
use crate::helpers::fixtures::{
    Fixture, batch, batch_failed, fixture, ground_truth, item, run_on, run_state,
};
use crate::helpers::reply::read;
use crate::helpers::web::{WebClient, set_password};
use crate::helpers::{CLS, Reply, TestApp, choice};
use prompter::views::Paginated;
use prompter::views::evaluation::IndicatorView;
use prompter::views::prompts::PromptDetailView;
use prompter::views::runs::RunView;
use prompter::views::versions::VersionView;
use serde_json::{Value, json};

/// The text of `html` after the first `start` up to the next `end` (panics when absent).
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} not on the page:\n{html}"))
        + start.len();
    let rest = &html[at..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// Whether a raw number (of an indicator's values) is `expected`.
fn close(v: &Value, expected: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() < 1e-9)
}

/// Whether a typed figure is `expected`.
fn near(v: Option<f64>, expected: f64) -> bool {
    v.is_some_and(|x| (x - expected).abs() < 1e-9)
}

#[tokio::test]
async fn a_run_with_failures_shows_one_accuracy_everywhere() {
    let app = TestApp::spawn().await;
    // 30 ground-truth tasks; the HasGT run answers 21 (9 of them right) and fails 9:
    // 9 of 30 = 30.0%, where leaving failures out would say 9 of 21 = 42.9%.
    let texts: Vec<String> = (0..30).map(|i| format!("review {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let f = fixture(&app, CLS, &refs).await;
    for task in &f.tasks {
        ground_truth(&app, *task, choice("Positive")).await;
    }
    let run = run_on(&app, &f, f.version, "HasGT").await;
    let answers: Vec<Value> = f.tasks[..21]
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let label = if i < 9 { "Positive" } else { "Negative" };
            item(*task, json!({"sentiment": label}))
        })
        .collect();
    batch(&app, run, Value::Array(answers)).await;
    let failures: Vec<Value> = f.tasks[21..]
        .iter()
        .map(|task| json!({"task_id": task, "message": "boom", "error_type": "Timeout"}))
        .collect();
    batch_failed(&app, run, Value::Array(failures)).await;
    let label = "30.0% · 9 failed";

    // The API: indicators, the prompt (list and detail) and its version. An indicator's
    // values are its JSON shape (no view type): raw.
    let accuracy: IndicatorView = app
        .get(&format!("/api/inference-runs/{run}/indicators/accuracy"))
        .await
        .good();
    let values = &accuracy.values;
    assert!(close(&values["accuracy"], 0.3), "{accuracy:?}");
    assert_eq!(values["total_failed_predictions"], 9);
    let gt: IndicatorView = app
        .get(&format!(
            "/api/inference-runs/{run}/indicators/ground_truth_accuracy"
        ))
        .await
        .good();
    assert!(close(&gt.values["accuracy"], 0.3), "{gt:?}");
    assert_eq!(gt.values["failed"], 9);
    let list: Paginated<PromptDetailView> = app.get("/api/prompts/").await.good();
    assert!(near(list.results[0].best_score, 0.3), "{list:?}");
    let prompt: PromptDetailView = app.get(&format!("/api/prompts/{}/", f.prompt)).await.good();
    assert!(near(prompt.best_score, 0.3), "{prompt:?}");
    let version: VersionView = app
        .get(&format!("/api/prompts/{}/versions/{}", f.prompt, f.version))
        .await
        .good();
    assert!(near(version.score, 0.3), "{version:?}");

    // The web app, page by page.
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let page = web.get(&format!("/runs/{run}")).await;
    assert_eq!(page.status, 200);
    let shown = between(&page.body, "id=\"run-accuracy\">", "</dd>");
    assert!(shown.trim_start().starts_with(label), "run page: {shown}");
    let progress = web.get(&format!("/app/runs/{run}/progress")).await;
    // The page script's own JSON (a private web type, no view): raw.
    let progress: Value = serde_json::from_str(&progress.body).expect("json");
    assert_eq!(progress["accuracy"], label);

    let page = web
        .get(&format!("/prompts/{}/evaluation?run={run}", f.prompt))
        .await;
    assert_eq!(page.status, 200);
    let card = between(&page.body, "id=\"eval-accuracy\"", "</div>");
    assert_eq!(between(card, "<p class=\"big\">", "</p>"), label, "card");
    let row = between(&page.body, "data-field=\"accuracy\">", "</td>");
    assert_eq!(row, label, "evaluation table");
    let bar = between(&page.body, "<rect", "</rect>");
    assert!(
        bar.contains(&format!("<title>v1: {label}</title>")),
        "chart: {bar}"
    );

    let page = web.get(&format!("/prompts/{}", f.prompt)).await;
    assert_eq!(page.status, 200);
    let tab = between(&page.body, &format!("?version={}\"", f.version), "</a>");
    assert!(tab.contains(label), "version tab: {tab}");
    let row = between(&page.body, "data-field=\"accuracy\">", "</td>");
    assert_eq!(row, label, "prompt page's runs");

    let page = web.get("/prompts").await;
    assert_eq!(page.status, 200);
    let best = between(&page.body, "data-field=\"best-score\">", "</td>");
    assert_eq!(best, label, "prompt list");
}

/// What the API says of run `run`'s accuracy: the run's own figure (its counters, as every
/// page and list reads it) and the evaluation's (recounted from the results and the ground
/// truth now), with the failures beside each.
async fn figures(app: &TestApp, f: &Fixture, run: i64) -> (Option<f64>, Value, Value) {
    let view: RunView = read(run_state(app, f.prompt, f.version, run).await);
    let counted = view.accuracy();
    let accuracy: IndicatorView = app
        .get(&format!("/api/inference-runs/{run}/indicators/accuracy"))
        .await
        .good();
    let gt: IndicatorView = app
        .get(&format!(
            "/api/inference-runs/{run}/indicators/ground_truth_accuracy"
        ))
        .await
        .good();
    assert_eq!(accuracy.values["accuracy"], gt.values["accuracy"], "{run}");
    assert_eq!(
        accuracy.values["scored_failed_predictions"], gt.values["failed"],
        "{run}"
    );
    assert_eq!(
        accuracy.values["scored_predictions"], gt.values["predicted"],
        "{run}"
    );
    assert_eq!(counted.value(), gt.values["accuracy"].as_f64(), "{run}");
    assert_eq!(
        view.total_scored_failed_predictions as u64, counted.failed,
        "{run}"
    );
    (
        counted.value(),
        gt.values["predicted"].clone(),
        gt.values["failed"].clone(),
    )
}

#[tokio::test]
async fn a_run_over_all_tasks_scores_only_its_ground_truth_tasks() {
    let app = TestApp::spawn().await;
    // Ten tasks, four with ground truth (Positive). The All run answers tasks 0-2 (2 right,
    // 1 wrong) and 4-8 (no ground truth), and fails task 3 (ground truth) and 9 (none):
    // 2 of 4 = 50.0%, where counting every task would say 2 of 10 = 20.0%.
    let texts: Vec<String> = (0..10).map(|i| format!("review {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let f = fixture(&app, CLS, &refs).await;
    for task in &f.tasks[..4] {
        ground_truth(&app, *task, choice("Positive")).await;
    }
    let run = run_on(&app, &f, f.version, "All").await;
    let answers: Vec<Value> = [0, 1, 2, 4, 5, 6, 7, 8]
        .iter()
        .map(|i| {
            let label = if *i == 2 { "Negative" } else { "Positive" };
            item(f.tasks[*i], json!({"sentiment": label}))
        })
        .collect();
    batch(&app, run, Value::Array(answers)).await;
    let failures: Vec<Value> = [3, 9]
        .iter()
        .map(|i| json!({"task_id": f.tasks[*i], "message": "boom", "error_type": "Timeout"}))
        .collect();
    batch_failed(&app, run, Value::Array(failures)).await;
    let (value, predicted, failed) = figures(&app, &f, run).await;
    assert!(near(value, 0.5), "{value:?}");
    assert_eq!((predicted, failed), (json!(3), json!(1)));

    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let page = web.get(&format!("/runs/{run}")).await;
    let shown = between(&page.body, "id=\"run-accuracy\">", "</dd>");
    assert!(
        shown.trim_start().starts_with("50.0% · 1 failed"),
        "{shown}"
    );

    // A retry that works replaces the failure of task 3: 3 of 4, none failed.
    batch(
        &app,
        run,
        json!([item(f.tasks[3], json!({"sentiment": "Positive"}))]),
    )
    .await;
    let (value, predicted, failed) = figures(&app, &f, run).await;
    assert!(near(value, 0.75), "{value:?}");
    assert_eq!((predicted, failed), (json!(4), json!(0)));
}

#[tokio::test]
async fn a_run_with_no_ground_truth_has_no_figure() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["one", "two", "three"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    batch(
        &app,
        run,
        json!([item(f.tasks[0], json!({"sentiment": "Positive"}))]),
    )
    .await;
    batch_failed(
        &app,
        run,
        json!([{"task_id": f.tasks[1], "message": "boom", "error_type": "Timeout"}]),
    )
    .await;
    let (value, _, _) = figures(&app, &f, run).await;
    assert_eq!(value, None, "no ground truth, no figure (not 0%)");
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let page = web.get(&format!("/runs/{run}")).await;
    let shown = between(&page.body, "id=\"run-accuracy\">", "</dd>");
    assert!(
        shown.trim().starts_with("— (no task done has ground truth"),
        "run page: {shown}"
    );
    let page = web.get(&format!("/prompts/{}", f.prompt)).await;
    let row = between(&page.body, "data-field=\"accuracy\">", "</td>");
    assert_eq!(row, "—", "prompt page's runs");
}

#[tokio::test]
async fn ground_truth_changed_after_a_run_moves_its_accuracy_everywhere() {
    let app = TestApp::spawn().await;
    // Four tasks, no ground truth yet; the run answers Positive on 0-2 and fails task 3.
    let f = fixture(&app, CLS, &["a", "b", "c", "d"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    let answers: Vec<Value> = f.tasks[..3]
        .iter()
        .map(|t| item(*t, json!({"sentiment": "Positive"})))
        .collect();
    batch(&app, run, Value::Array(answers)).await;
    batch_failed(
        &app,
        run,
        json!([{"task_id": f.tasks[3], "message": "boom", "error_type": "Timeout"}]),
    )
    .await;
    assert_eq!(figures(&app, &f, run).await.0, None);

    let annotate = |task: i64, label: &str| {
        let app = &app;
        let body = json!({"result": choice(label), "ground_truth": true});
        async move {
            let (status, body) = app
                .post(&format!("/api/tasks/{task}/annotations/"), body)
                .await;
            assert_eq!(status, 201, "{body}");
            body["id"].as_i64().expect("annotation id")
        }
    };
    let first = annotate(f.tasks[0], "Positive").await;
    assert!(near(figures(&app, &f, run).await.0, 1.0));
    let second = annotate(f.tasks[1], "Negative").await;
    assert!(near(figures(&app, &f, run).await.0, 0.5));
    // Ground truth on the failed task: it counts as wrong.
    annotate(f.tasks[3], "Positive").await;
    let (value, predicted, failed) = figures(&app, &f, run).await;
    assert!(near(value, 1.0 / 3.0), "{value:?}");
    assert_eq!((predicted, failed), (json!(2), json!(1)));
    // Corrected: task 1 was Positive after all.
    let (status, body) = app
        .patch(
            &format!("/api/annotations/{second}/"),
            json!({"result": choice("Positive")}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(near(figures(&app, &f, run).await.0, 2.0 / 3.0));
    // No longer ground truth, then deleted.
    let (status, body) = app
        .patch(
            &format!("/api/annotations/{second}/"),
            json!({"ground_truth": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(near(figures(&app, &f, run).await.0, 0.5));
    let (status, body) = app.delete(&format!("/api/annotations/{first}/")).await;
    assert_eq!(status, 204, "{body}");
    let (value, predicted, failed) = figures(&app, &f, run).await;
    assert!(near(value, 0.0), "{value:?}");
    assert_eq!((predicted, failed), (json!(0), json!(1)));

    // A run's prediction edited by hand is scored again.
    annotate(f.tasks[2], "Negative").await;
    assert!(near(figures(&app, &f, run).await.0, 0.0));
    let predictions: Value = app
        .get(&format!("/api/predictions/?task={}", f.tasks[2]))
        .await
        .1;
    let id = predictions[0]["id"].as_i64().expect("prediction id");
    let (status, body) = app
        .patch(
            &format!("/api/predictions/{id}/"),
            json!({"result": choice("Negative")}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(near(figures(&app, &f, run).await.0, 0.5));
}

#[tokio::test]
async fn the_migration_fills_the_scored_counters_of_runs_already_there() {
    use migration::{MigrateCommand, run_command};
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b", "c"]).await;
    ground_truth(&app, f.tasks[0], choice("Positive")).await;
    ground_truth(&app, f.tasks[2], choice("Positive")).await;
    let run = run_on(&app, &f, f.version, "All").await;
    let answers: Vec<Value> = f.tasks[..2]
        .iter()
        .map(|t| item(*t, json!({"sentiment": "Positive"})))
        .collect();
    batch(&app, run, Value::Array(answers)).await;
    batch_failed(
        &app,
        run,
        json!([{"task_id": f.tasks[2], "message": "boom", "error_type": "Timeout"}]),
    )
    .await;
    let before: RunView = read(run_state(&app, f.prompt, f.version, run).await);
    assert_eq!(
        (
            before.total_scored_predictions,
            before.total_scored_failed_predictions
        ),
        (1, 1)
    );
    run_command(&app.db, &MigrateCommand::Down { num: 1 })
        .await
        .expect("down");
    run_command(&app.db, &MigrateCommand::Up { num: None })
        .await
        .expect("up");
    let after: RunView = read(run_state(&app, f.prompt, f.version, run).await);
    assert_eq!(
        (
            after.total_scored_predictions,
            after.total_scored_failed_predictions
        ),
        (1, 1)
    );
    assert_eq!(after.accuracy(), before.accuracy());
}
