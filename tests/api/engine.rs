//! End-to-end tests of the run engine over real HTTP, a real database and the project's fake
//! OpenAI-compatible LLM server (through a Custom connection): runs over Choices and NER
//! projects, faults, cancel, replacement, only-missing resumes, job-level failures, and crash
//! safety with `prompter worker` processes killed mid-run.
use crate::helpers::engine::{
    Setup, TEXTS, assert_exactly_once, engine_app, fake, finished_by_other_processes, quick_engine,
    results_per_task, setup, start, version,
};
use crate::helpers::fixtures::{ground_truth, id_of, new_prompt, runs_path};
use crate::helpers::reply::read;
use crate::helpers::{CLS, NER, Reply, TestApp, bad_field, choice, field_errors};
use entity::enums::{FailureKind, RunStatus};
use entity::prediction;
use prompter::fake_llm::FakeLlmConfig;
use prompter::views::evaluation::SubsetTasksView;
use prompter::views::live::LiveView;
use prompter::views::model_providers::ModelProviderConnectionView;
use prompter::views::predictions::PredictionView;
use prompter::views::runs::{CancelView, RunView};
use prompter::views::versions::VersionView;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// The run `run` of the setup's version as the run list shows it.
async fn run_state(app: &TestApp, prompt: i64, version: i64, run: i64) -> RunView {
    read(crate::helpers::fixtures::run_state(app, prompt, version, run).await)
}

/// Waits for the engine to be idle and reads the run (see [`engine::finished`]).
///
/// [`engine::finished`]: crate::helpers::engine::finished
async fn finished(app: &TestApp, s: &Setup, run: i64) -> RunView {
    read(crate::helpers::engine::finished(app, s, run).await)
}

/// The choices of the first region of a Label Studio result (raw: the regions are Label
/// Studio's result format, checked as it is on the wire).
fn first_choices(result: &[Value]) -> &Value {
    &result[0]["value"]["choices"]
}

#[tokio::test]
async fn a_choices_run_completes_with_predictions_accuracy_and_cost() {
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
    // Ground truth: four right by the keyword rule, one deliberately "wrong".
    for (i, label) in [
        (0, "Positive"),
        (1, "Negative"),
        (2, "Positive"),
        (3, "Positive"),
    ] {
        ground_truth(&app, s.tasks[i], choice(label)).await;
    }
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished(&app, &s, run).await;
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");
    assert_eq!(state.total_tasks, 6);
    assert_eq!(state.total_predictions, 6);
    assert_eq!(state.total_failed_predictions, 0);
    assert!(state.completed_at.is_some());
    // Four ground-truth tasks, three answered as annotated.
    assert_eq!(state.total_correct_predictions, 3);
    // Cost is the run's tokens at gpt-4o-mini's prices.
    let (p, c) = (state.prompt_tokens as f64, state.completion_tokens as f64);
    assert!(p > 0.0 && c > 0.0);
    let expected = (p * 0.15 + c * 0.60) / 1e6;
    let cost = state.total_cost_usd.expect("cost");
    assert!((cost - expected).abs() < 1e-9, "{cost} vs {expected}");
    assert_eq!(llm.stats().ok, 6);
    // Each prediction carries the keyword answer, the run and the label.
    let preds: Vec<PredictionView> = app
        .get(&format!("/api/predictions/?project={}", s.project))
        .await
        .good();
    let by_task: HashMap<i64, PredictionView> = preds.into_iter().map(|p| (p.task, p)).collect();
    for (i, want) in [
        "Positive", "Negative", "Positive", "Negative", "Positive", "Negative",
    ]
    .iter()
    .enumerate()
    {
        let p = &by_task[&s.tasks[i]];
        assert_eq!(p.model_run, Some(run));
        assert_eq!(p.model_version, "Engine__v1");
        // The fake gives each answer a probability between 0.55 and 0.99 (tests/api/confidence.rs
        // checks the figures).
        assert!(p.score.is_some_and(|s| (0.55..=0.99).contains(&s)), "{p:?}");
        assert_eq!(p.score_method, Some(entity::enums::ScoreMethod::Logprobs));
        let regions = p.result.as_array().expect("regions");
        assert_eq!(first_choices(regions), &json!([want]), "{p:?}");
        assert_eq!(regions[0]["from_name"], "sentiment");
    }
    // A HasGT run scores the version: three of four right.
    let scored = start(&app, &s, json!({"project_subset": "HasGT"})).await;
    let state = finished(&app, &s, scored).await;
    assert_eq!(state.total_tasks, 4);
    assert_eq!(state.total_correct_predictions, 3);
    let v: VersionView = app
        .get(&format!("/api/prompts/{}/versions/{}", s.prompt, s.version))
        .await
        .good();
    assert_eq!(v.score.map(|x| (x * 1000.0).round()), Some(750.0), "{v:?}");
}

#[tokio::test]
async fn a_ner_run_locates_spans() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let texts = [
        "John Smith joined Acme Corp yesterday.",
        "Mary met Google people",
    ];
    let s = setup(&app, &llm, NER, &texts, "Find the entities. Text: {text}").await;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished(&app, &s, run).await;
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");
    assert_eq!(state.total_predictions, 2);
    let preds: Vec<PredictionView> = app
        .get(&format!("/api/predictions/?task={}", s.tasks[0]))
        .await
        .good();
    // The regions are Label Studio's result format, checked raw.
    let regions = preds[0].result.as_array().expect("regions").clone();
    let spans: Vec<(i64, i64, String)> = regions
        .iter()
        .map(|r| {
            assert_eq!(r["type"], "labels");
            (
                r["value"]["start"].as_i64().expect("start"),
                r["value"]["end"].as_i64().expect("end"),
                r["value"]["labels"][0].as_str().expect("label").to_string(),
            )
        })
        .collect();
    let text = texts[0];
    for (start, end, label) in &spans {
        let quoted: String = text
            .chars()
            .skip(*start as usize)
            .take((end - start) as usize)
            .collect();
        match quoted.as_str() {
            "John Smith" => assert_eq!(label, "PER"),
            "Acme Corp" => assert_eq!(label, "ORG"),
            other => panic!("unexpected span {other:?}"),
        }
    }
    assert_eq!(spans.len(), 2, "{regions:?}");
}

#[tokio::test]
async fn faults_end_every_task_in_one_prediction_or_one_typed_failure() {
    let llm = fake(FakeLlmConfig {
        error_rate: 0.12,
        timeout_rate: 0.06,
        timeout_ms: 3000,
        malformed_rate: 0.06,
        invalid_rate: 0.06,
        seed: 7,
        ..Default::default()
    })
    .await;
    let app = TestApp::spawn_with(|c| {
        quick_engine(c);
        c.engine.llm_max_attempts = 2;
        c.engine.llm_timeout_secs = 0.5;
    })
    .await;
    let texts: Vec<String> = (0..60).map(|i| format!("item {i} is good")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let s = setup(&app, &llm, CLS, &refs, "Text: {text}").await;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished(&app, &s, run).await;
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");
    let results = results_per_task(&app, run).await;
    assert_exactly_once(&results, &s.tasks);
    let failures: Vec<String> = results.values().flat_map(|(_, f)| f.clone()).collect();
    assert_eq!(state.total_predictions + state.total_failed_predictions, 60);
    assert_eq!(state.total_failed_predictions as usize, failures.len());
    for kind in &failures {
        assert!(
            ["ProviderError", "Timeout", "InvalidOutput"].contains(&kind.as_str()),
            "unexpected error type {kind}"
        );
    }
    // Malformed and out-of-schema answers are not retried: they fail as InvalidOutput.
    let stats = llm.stats();
    assert!(stats.malformed + stats.invalid > 0, "{stats:?}");
    assert!(
        failures.iter().any(|k| k == "InvalidOutput"),
        "{failures:?}"
    );
    // 5xx and timeouts were retried.
    assert!(stats.requests > 60, "{stats:?}");
}

#[tokio::test]
async fn cancel_stops_new_calls() {
    let llm = fake(FakeLlmConfig {
        latency_ms: 300,
        ..Default::default()
    })
    .await;
    let app = TestApp::spawn_with(|c| {
        quick_engine(c);
        c.engine.concurrency = 2;
    })
    .await;
    let texts: Vec<String> = (0..40).map(|i| format!("text {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let s = setup(&app, &llm, CLS, &refs, "Text: {text}").await;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    // Wait for the first results, then cancel (a state midway: polled, the hook waits for the
    // end).
    for _ in 0..200 {
        if run_state(&app, s.prompt, s.version, run)
            .await
            .total_predictions
            > 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _: CancelView = app
        .post(
            &format!("{}/{run}/cancel", runs_path(s.prompt, s.version)),
            json!({}),
        )
        .await
        .good();
    // The watcher notices within half a second; calls in flight are dropped and the slices
    // given back: the engine goes idle.
    app.engine_idle().await;
    let seen = llm.stats().requests;
    // No call may come after that: a call needs a claimed slice, and the idle hook (which
    // wakes the workers when anything is claimable) waits for any claim to settle.
    app.engine_idle().await;
    assert_eq!(
        llm.stats().requests,
        seen,
        "no call after the cancel settled"
    );
    let state = run_state(&app, s.prompt, s.version, run).await;
    assert_eq!(state.status, RunStatus::Canceled);
    let done = state.total_predictions;
    assert!(done > 0 && done < 40, "{state:?}");
}

#[tokio::test]
async fn a_new_run_replaces_the_previous_one_and_only_missing_resumes() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let s = setup(&app, &llm, CLS, &TEXTS, "Text: {text}").await;
    ground_truth(&app, s.tasks[0], choice("Positive")).await;
    ground_truth(&app, s.tasks[1], choice("Negative")).await;
    let first = start(&app, &s, json!({"project_subset": "HasGT"})).await;
    assert_eq!(finished(&app, &s, first).await.total_predictions, 2);
    // The same subset again: the first run and its predictions are replaced (asking the
    // provider again: the response cache would answer these identical calls).
    let second = start(&app, &s, json!({"project_subset": "HasGT", "cache": false})).await;
    let state = finished(&app, &s, second).await;
    assert_eq!(state.total_correct_predictions, 2);
    assert!(results_per_task(&app, first).await.is_empty());
    assert_eq!(llm.stats().ok, 4);
    // All tasks, only those without a prediction of this version: four more calls.
    let rest = start(
        &app,
        &s,
        json!({"project_subset": "All", "only_missing_predictions": true}),
    )
    .await;
    let state = finished(&app, &s, rest).await;
    assert_eq!(state.total_tasks, 4, "{state:?}");
    assert_eq!(state.status, RunStatus::Completed);
    assert_eq!(llm.stats().ok, 8);
    assert_exactly_once(&results_per_task(&app, rest).await, &s.tasks[2..]);
    // The HasGT run is kept.
    assert_eq!(results_per_task(&app, second).await.len(), 2);
}

/// Issue 9, item 4: ten creations of the same (version, project, subset) at once leave one run,
/// and one prediction per task (on PostgreSQL they used to leave several runs, each writing
/// its own predictions).
#[tokio::test]
async fn ten_simultaneous_run_creations_leave_one_run_and_one_prediction_per_task() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let s = setup(&app, &llm, CLS, &TEXTS, "Text: {text}").await;
    let path = runs_path(s.prompt, s.version);
    let body = json!({"project": s.project, "project_subset": "All"});
    let created =
        futures_util::future::join_all((0..10).map(|_| app.post(&path, body.clone()))).await;
    for reply in created {
        let _: RunView = reply.created();
    }
    let runs: Vec<RunView> = app.get(&path).await.good();
    assert_eq!(runs.len(), 1, "one run survives: {runs:?}");
    let survivor = runs[0].id;
    let state = finished(&app, &s, survivor).await;
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");
    assert_exactly_once(&results_per_task(&app, survivor).await, &s.tasks);
    let predicted: Vec<i64> = prediction::Entity::find()
        .select_only()
        .column(prediction::Column::TaskId)
        .filter(prediction::Column::ProjectId.eq(s.project))
        .into_tuple()
        .all(&app.db)
        .await
        .expect("predictions");
    assert_eq!(predicted.len(), s.tasks.len(), "one prediction per task");
}

#[tokio::test]
async fn refused_credentials_fail_the_run_at_once() {
    let llm = fake(FakeLlmConfig {
        require_key: Some("the-right-key".into()),
        ..Default::default()
    })
    .await;
    let app = engine_app().await;
    let s = setup(&app, &llm, CLS, &TEXTS, "Text: {text}").await;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished(&app, &s, run).await;
    assert_eq!(state.status, RunStatus::Failed, "{state:?}");
    let message = state.error_message.as_deref().expect("message");
    assert!(message.contains("refused the credentials"), "{message}");
    assert!(
        !message.contains("fake-key"),
        "the key never shows: {message}"
    );
    assert!(state.completed_at.is_some());
    assert_eq!(state.total_failed_predictions, 0, "no failure per task");
    assert!(llm.stats().unauthorized <= 16, "{:?}", llm.stats());
}

#[tokio::test]
async fn a_missing_field_is_a_failure_that_names_it() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    // The field exists in the project (so the version is accepted) but not in every task.
    let mut s = setup(&app, &llm, CLS, &["I love it"], "Text: {text}").await;
    app.import(s.project, json!([{"text": "so so", "source": "mail"}]))
        .await;
    s.version = version(
        &app,
        s.prompt,
        s.connection,
        "v2",
        "Text: {text} ({source})",
    )
    .await;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished(&app, &s, run).await;
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");
    let tasks: SubsetTasksView = app
        .get(&format!(
            "/api/projects/{}/subset-tasks?parent_model={}&model_run={run}&project_subset=All",
            s.project, s.prompt
        ))
        .await
        .good();
    // The task result list is untyped in the view (the SDK's nesting, built as JSON).
    let errors: Vec<String> = tasks
        .results
        .iter()
        .map(|t| t["task_result_list"][0]["error"].to_string())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("MissingField") && e.contains("source")),
        "{tasks:?}"
    );
    assert_eq!(llm.stats().requests, 1);
}

#[tokio::test]
async fn versions_of_unsupported_providers_are_refused() {
    let app = TestApp::spawn().await;
    let prompt = id_of(&new_prompt(&app, json!({"title": "p"})).await);
    let connection: ModelProviderConnectionView = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "VertexAI", "google_project_id": "p"}),
        )
        .await
        .created();
    let error = app
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": "v", "prompt": "{text}", "provider_model_id": "gemini-2.5-pro",
                   "provider": "VertexAI", "model_provider_connection": connection.id}),
        )
        .await
        .bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert!(
        field_errors(&error, "provider")
            .first()
            .is_some_and(|m| m.contains("not supported")),
        "{error:?}"
    );
}

/// Starts `prompter worker` on the app's database.
fn worker_process(app: &TestApp, concurrency: usize) -> std::process::Child {
    crate::helpers::engine::worker_command(app, concurrency)
        .spawn()
        .expect("start prompter worker")
}

#[tokio::test]
async fn a_worker_killed_mid_run_loses_and_duplicates_nothing() {
    let llm = fake(FakeLlmConfig {
        latency_ms: 100,
        ..Default::default()
    })
    .await;
    // The server runs no worker; separate processes do the work.
    let app = TestApp::spawn().await;
    let texts: Vec<String> = (0..250).map(|i| format!("review {i}: good")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let s = setup(&app, &llm, CLS, &refs, "Text: {text}").await;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let mut first = worker_process(&app, 8);
    // Another process does the work: polled (the idle hook sees only this process's engine).
    for _ in 0..600 {
        let done = run_state(&app, s.prompt, s.version, run)
            .await
            .total_predictions;
        if done >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill().expect("SIGKILL the worker");
    let _ = first.wait();
    let partial = run_state(&app, s.prompt, s.version, run).await;
    assert!(
        partial.total_predictions < 250,
        "killed mid-run: {partial:?}"
    );
    let mut second = worker_process(&app, 8);
    let state: RunView = read(finished_by_other_processes(&app, &s, run).await);
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");
    assert_eq!(state.total_predictions, 250);
    assert_eq!(state.total_failed_predictions, 0);
    assert_exactly_once(&results_per_task(&app, run).await, &s.tasks);
}

#[tokio::test]
async fn two_workers_never_process_a_task_twice() {
    let llm = fake(FakeLlmConfig {
        latency_ms: 20,
        ..Default::default()
    })
    .await;
    let app = TestApp::spawn().await;
    let texts: Vec<String> = (0..400).map(|i| format!("note {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let s = setup(&app, &llm, CLS, &refs, "Text: {text}").await;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let mut a = worker_process(&app, 8);
    let mut b = worker_process(&app, 8);
    let state: RunView = read(finished_by_other_processes(&app, &s, run).await);
    for w in [&mut a, &mut b] {
        let _ = w.kill();
        let _ = w.wait();
    }
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");
    assert_exactly_once(&results_per_task(&app, run).await, &s.tasks);
    // One call per task: no task was sent by both workers.
    assert_eq!(llm.stats().requests, 400);
}

#[tokio::test]
async fn live_predictions_answer_at_once_and_store_nothing() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = TestApp::spawn_with(|c| c.engine.workers = 0).await;
    let s = setup(&app, &llm, CLS, &TEXTS[..2], "Text: {text}").await;
    let path = format!("/api/prompts/{}/versions/{}/predict", s.prompt, s.version);
    let body: LiveView = app
        .post(
            &path,
            json!({"project": s.project, "task_ids": [s.tasks[1], s.tasks[0]]}),
        )
        .await
        .good();
    assert_eq!(body.model_version, "Engine__v1");
    let results = &body.results;
    assert_eq!(results[0].task, s.tasks[1]);
    assert_eq!(first_choices(&results[0].result), &json!(["Negative"]));
    assert_eq!(first_choices(&results[1].result), &json!(["Positive"]));
    // Scored from the answer's log-probabilities, as a run's predictions are.
    assert!(
        results[1].score.is_some_and(|s| (0.55..=0.99).contains(&s)),
        "{:?}",
        results[1]
    );
    assert!(results[1].prompt_tokens.unwrap_or(0) > 0);
    assert!(results[1].error_type.is_none());
    let preds: Vec<PredictionView> = app
        .get(&format!("/api/predictions/?project={}", s.project))
        .await
        .good();
    assert!(preds.is_empty(), "nothing stored: {preds:?}");
    // Inline data, and a task missing the prompt's field.
    let body: LiveView = app
        .post(
            &path,
            json!({"project": s.project, "tasks": [{"data": {"text": "so good"}}, {"data": {"other": 1}}]}),
        )
        .await
        .good();
    assert_eq!(first_choices(&body.results[0].result), &json!(["Positive"]));
    assert_eq!(body.results[1].error_type, Some(FailureKind::MissingField));
    assert!(body.results[1].result.is_empty());
}

#[tokio::test]
async fn live_predictions_check_their_input() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = TestApp::spawn_with(|c| c.engine.workers = 0).await;
    let s = setup(&app, &llm, CLS, &TEXTS[..1], "Text: {text}").await;
    let other = app.project(CLS).await;
    let foreign = app.import(other, json!([{"text": "x"}])).await[0];
    let path = format!("/api/prompts/{}/versions/{}/predict", s.prompt, s.version);
    for (body, field) in [
        (json!({"task_ids": [s.tasks[0]]}), "project"),
        (json!({"project": s.project}), "task_ids"),
        (json!({"project": s.project, "task_ids": []}), "task_ids"),
        (
            json!({"project": s.project, "task_ids": [foreign]}),
            "task_ids",
        ),
        (
            json!({"project": s.project, "task_ids": [s.tasks[0]], "tasks": [{"data": {}}]}),
            "tasks",
        ),
        (
            json!({"project": s.project, "tasks": [{"data": "text"}]}),
            "tasks",
        ),
        (json!({"project": 999_999, "task_ids": [1]}), "project"),
    ] {
        bad_field(app.post(&path, body.clone()).await, field);
    }
    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({"data": {"text": i.to_string()}}))
        .collect();
    bad_field(
        app.post(&path, json!({"project": s.project, "tasks": too_many}))
            .await,
        "tasks",
    );
    // Other organizations see no such version; annotators may not spend on calls.
    let body = json!({"project": s.project, "task_ids": [s.tasks[0]]});
    let (status, _) = app
        .send(
            reqwest::Method::POST,
            &path,
            Some(&app.other_token),
            Some(&body),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(
            reqwest::Method::POST,
            &path,
            Some(&app.annotator_token),
            Some(&body),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(llm.stats().requests, 0);
}

#[tokio::test]
async fn the_run_command_starts_a_run_and_follows_it_to_the_end() {
    let llm = fake(FakeLlmConfig {
        latency_ms: 20,
        ..Default::default()
    })
    .await;
    let app = engine_app().await;
    let texts: Vec<String> = (0..30).map(|i| format!("text {i} is great")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let s = setup(&app, &llm, CLS, &refs, "Text: {text}").await;
    let address = app.address.clone();
    let token = app.token.clone();
    let (prompt, version, project) = (s.prompt, s.version, s.project);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_prompter"))
            .args(["run", "--url", &address, "--subset", "All"])
            .args([
                "--prompt",
                &prompt.to_string(),
                "--version",
                &version.to_string(),
            ])
            .args(["--project", &project.to_string()])
            .env("PROMPTER_TOKEN", token)
            .output()
            .expect("run prompter run")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("30 tasks"), "{stdout}");
    assert!(
        stdout.contains("Completed: 30 predictions, 0 failed"),
        "{stdout}"
    );
    // A bad token: a clear error and a failing exit code.
    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_prompter"))
            .args(["run", "--url", &address, "--token", "wrong-token-123"])
            .args([
                "--prompt",
                &prompt.to_string(),
                "--version",
                &version.to_string(),
            ])
            .args(["--project", &project.to_string()])
            .output()
            .expect("run prompter run")
    })
    .await
    .expect("join");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refused the run (401"), "{stderr}");
}

#[tokio::test]
async fn few_shot_examples_come_from_other_tasks_ground_truth() {
    use prompter::engine::{Engine, EngineConfig, plan::Plan};
    use prompter::llm::Role;
    let llm = fake(FakeLlmConfig::default()).await;
    let app = TestApp::spawn_with(|c| c.engine.workers = 0).await;
    let s = setup(&app, &llm, CLS, &TEXTS[..4], "Classify: {text}").await;
    ground_truth(&app, s.tasks[0], choice("Positive")).await;
    ground_truth(&app, s.tasks[1], choice("Negative")).await;
    ground_truth(&app, s.tasks[2], choice("Positive")).await;
    let patched: VersionView = app
        .patch(
            &format!("/api/prompts/{}/versions/{}", s.prompt, s.version),
            json!({"max_few_shot_examples": 2}),
        )
        .await
        .good();
    assert_eq!(patched.max_few_shot_examples, Some(2));
    let engine = Engine::new(
        app.db.clone(),
        prompter::crypto::Secrets::from_secret("integration-test-secret-key").expect("secret"),
        prompter::pricing::PriceTable::default(),
        EngineConfig::default(),
    );
    let version = entity::model_version::Entity::find_by_id(s.version)
        .one(&app.db)
        .await
        .expect("query")
        .expect("version");
    let project = entity::project::Entity::find_by_id(s.project)
        .one(&app.db)
        .await
        .expect("query")
        .expect("project");
    let config = prompter::services::projects::config_of(&project);
    let plan = Plan::load(&engine, &app.db, version, s.project, config)
        .await
        .expect("plan");
    // For a task with ground truth itself, its own annotation is never an example.
    let messages = plan
        .messages(s.tasks[2], &json!({"text": "great stuff"}))
        .expect("messages");
    let roles: Vec<Role> = messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::System,
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant,
            Role::User
        ]
    );
    assert!(
        messages[0]
            .text()
            .contains("\"enum\":[\"Positive\",\"Negative\"]"),
        "{}",
        messages[0].text()
    );
    assert_eq!(messages[1].text(), "Classify: awful service");
    assert_eq!(messages[2].text(), r#"{"sentiment":"Negative"}"#);
    assert_eq!(messages[3].text(), "Classify: I love it");
    assert_eq!(messages[4].text(), r#"{"sentiment":"Positive"}"#);
    assert_eq!(messages[5].text(), "Classify: great stuff");
}

#[tokio::test]
async fn calls_in_flight_at_cancel_store_nothing() {
    let llm = fake(FakeLlmConfig {
        latency_ms: 1000,
        ..Default::default()
    })
    .await;
    let app = TestApp::spawn_with(|c| {
        quick_engine(c);
        c.engine.concurrency = 4;
        c.engine.llm_timeout_secs = 5.0;
    })
    .await;
    let s = setup(&app, &llm, CLS, &TEXTS, "Text: {text}").await;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    // Until the first call is in flight (a state midway: polled).
    for _ in 0..400 {
        if llm.stats().requests > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let body: CancelView = app
        .post(
            &format!("{}/{run}/cancel", runs_path(s.prompt, s.version)),
            json!({}),
        )
        .await
        .good();
    assert!(body.detail.contains("0 predictions kept"), "{body:?}");
    // The calls in flight answer after the cancel: their results are dropped.
    app.engine_idle().await;
    let state = run_state(&app, s.prompt, s.version, run).await;
    assert_eq!(state.status, RunStatus::Canceled);
    assert_eq!(state.total_predictions, 0, "{state:?}");
    assert!(results_per_task(&app, run).await.is_empty());
}
