//! One accuracy everywhere (issue 19): a run with failures shows the same figure, failed tasks
//! counted wrong and the failures beside it, on its page, its live progress, the evaluation
//! card, table and chart, the prompt's page and the prompt list, and in the API's prompt,
//! version and indicator answers.
use crate::helpers::fixtures::{batch, batch_failed, fixture, ground_truth, item, run_on};
use crate::helpers::web::{WebClient, set_password};
use crate::helpers::{CLS, Reply, TestApp, choice};
use prompter::views::Paginated;
use prompter::views::evaluation::IndicatorView;
use prompter::views::prompts::PromptDetailView;
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
