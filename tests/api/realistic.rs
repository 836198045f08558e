//! Runs against the fake in its realistic mode (issue 10, item 6): answers in fences or prose,
//! span offsets a few characters off, refusals, answers cut at the token limit and answers
//! that ignore the response format. Every task still ends right: with the same prediction as
//! against a perfect model, or with one typed failure that says why.
use crate::helpers::engine::{
    Setup, custom_connection, fake, finished, quick_engine, start, version,
};
use crate::helpers::fixtures::{id_of, new_prompt, predictions_of_run};
use crate::helpers::reply::read;
use crate::helpers::{CLS, NER, Reply, TestApp};
use entity::enums::RunStatus;
use prompter::fake_llm::FakeLlmConfig;
use prompter::views::evaluation::SubsetTasksView;
use prompter::views::predictions::PredictionView;
use prompter::views::runs::RunView;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Thirty texts with words the fake labels by (sentiment words, capitalised names).
fn texts() -> Vec<String> {
    let words = ["love", "awful", "great", "bad", "excellent", "terrible"];
    (0..30)
        .map(|i| {
            format!(
                "Ada Lovelace met Alan Turing in London; it was {} (day {i}). Ada wrote to Alan.",
                words[i % words.len()]
            )
        })
        .collect()
}

/// What a run ended with for a task.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// A prediction: its regions' values and control names.
    Predicted(Vec<Value>),
    /// A failure: its type (as the wire names it) and message.
    Failed(Value, Value),
}

/// Runs a version of a prompt over `config`'s project on a plain and on a realistic fake, and
/// returns the two runs' results per task: the prediction's result, or the failure's type.
async fn plain_and_realistic(
    config: &str,
) -> (Vec<i64>, HashMap<i64, Outcome>, HashMap<i64, Outcome>, u64) {
    let plain = fake(FakeLlmConfig::default()).await;
    let realistic = fake(FakeLlmConfig {
        realistic: true,
        realistic_rate: 0.6,
        seed: 7,
        ..Default::default()
    })
    .await;
    let app = TestApp::spawn_with(quick_engine).await;
    let project = app.project(config).await;
    let data: Vec<Value> = texts().iter().map(|t| json!({"text": t})).collect();
    let tasks = app.import(project, Value::Array(data)).await;
    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "Realistic", "associated_projects": [project]}),
        )
        .await,
    );
    let mut results = vec![];
    for (title, llm) in [("plain", &plain), ("realistic", &realistic)] {
        let connection = custom_connection(&app, llm, "fake-key").await;
        let version = version(&app, prompt, connection, title, "Label: {text}").await;
        let s = Setup {
            project,
            tasks: tasks.clone(),
            prompt,
            version,
            connection,
        };
        let run = start(&app, &s, json!({"project_subset": "All"})).await;
        let state: RunView = read(finished(&app, &s, run).await);
        assert_eq!(state.status, RunStatus::Completed, "{title}: {state:?}");
        let mut by_task: HashMap<i64, Outcome> = predictions_of_run(&app, project, run)
            .await
            .into_iter()
            .map(|p| {
                let p: PredictionView = read(p);
                // Regions are Label Studio's untyped result JSON.
                let regions: Vec<Value> = p
                    .result
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| json!({"value": r["value"], "from_name": r["from_name"]}))
                    .collect();
                (p.task, Outcome::Predicted(regions))
            })
            .collect();
        let page: SubsetTasksView = app
            .get(&format!(
                "/api/projects/{project}/subset-tasks?model_run={run}&page_size=100&parent_model={prompt}"
            ))
            .await
            .good();
        // The task result list is untyped in the view (the SDK's nesting, built as JSON).
        for item in page.results[0]["task_result_list"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if item["error"].is_object() {
                by_task.insert(
                    item["id"].as_i64().unwrap_or_default(),
                    Outcome::Failed(
                        item["error"]["error_type"].clone(),
                        item["error"]["message"].clone(),
                    ),
                );
            }
        }
        assert_eq!(
            by_task.len(),
            tasks.len(),
            "{title}: every task has one result"
        );
        results.push(by_task);
    }
    let realistic_results = results.pop().unwrap_or_default();
    let plain_results = results.pop().unwrap_or_default();
    (
        tasks,
        plain_results,
        realistic_results,
        realistic.stats().quirked,
    )
}

/// Checks each realistic result against the plain one: the same prediction, or an
/// `InvalidOutput` failure whose message says what the model did wrong.
fn assert_ends_right(
    tasks: &[i64],
    plain: &HashMap<i64, Outcome>,
    realistic: &HashMap<i64, Outcome>,
) -> (usize, usize) {
    let (mut same, mut failed) = (0, 0);
    for task in tasks {
        let expected = &plain[task];
        assert!(
            matches!(expected, Outcome::Predicted(_)),
            "the perfect model answers task {task}: {expected:?}"
        );
        let got = &realistic[task];
        if let Outcome::Failed(kind, message) = got {
            assert_eq!(kind, "InvalidOutput", "task {task}: {got:?}");
            let message = message.as_str().unwrap_or_default();
            assert!(
                ["refused", "token limit", "JSON", "cut"]
                    .iter()
                    .any(|w| message.contains(w)),
                "task {task}: the failure says why: {message}"
            );
            failed += 1;
        } else {
            assert_eq!(got, expected, "task {task}: the same prediction");
            same += 1;
        }
    }
    (same, failed)
}

#[tokio::test]
async fn a_classification_run_ends_right_against_realistic_answers() {
    let (tasks, plain, realistic, quirked) = plain_and_realistic(CLS).await;
    assert!(quirked >= 10, "the fake changed answers: {quirked}");
    let (same, failed) = assert_ends_right(&tasks, &plain, &realistic);
    assert!(
        same > failed,
        "fenced and prose answers are read: {same} same, {failed} failed"
    );
}

#[tokio::test]
async fn an_ner_run_finds_spans_where_the_text_is_not_where_the_model_says() {
    let (tasks, plain, realistic, quirked) = plain_and_realistic(NER).await;
    assert!(quirked >= 10, "the fake changed answers: {quirked}");
    let (same, _) = assert_ends_right(&tasks, &plain, &realistic);
    assert!(
        same >= tasks.len() / 2,
        "{same} of {} predictions as a perfect model's",
        tasks.len()
    );
}
