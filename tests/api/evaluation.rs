//! Tests of run results and evaluation: batch-predictions and batch-failed-predictions
//! (regions, idempotency, invalid outputs, retries, status, counters, tokens, cost, budget),
//! accuracy on small hand-checked datasets (Choices and NER), project subsets, the
//! subset-tasks drill-down and its filters, and the indicators.
use crate::helpers::fixtures::{
    Fixture, assert_field_error, batch, batch_failed, fixture, ground_truth, id_of, item, new_run,
    new_version, predictions_of_run, run_on, run_state, total_predictions,
};
use crate::helpers::reply::read;
use crate::helpers::subsets::{
    SubsetError, indicator_values, subset_tasks, task_ids, task_list, task_page,
};
use crate::helpers::{CLS, NER, Reply, TestApp, choice};
use entity::enums::{FailureKind, RunStatus, Subset};
use prompter::views::Paginated;
use prompter::views::evaluation::{IndicatorView, SubsetView};
use prompter::views::model_providers::ModelProviderConnectionView;
use prompter::views::predictions::PredictionView;
use prompter::views::prompts::PromptDetailView;
use prompter::views::runs::{BatchFailedView, BatchPredictionsView, RunView};
use prompter::views::versions::VersionView;
use reqwest::Method;
use serde_json::{Value, json};

const BATCH: &str = "/api/model-run/batch-predictions";
const BATCH_FAILED: &str = "/api/model-run/batch-failed-predictions";

/// Whether a raw number (of an indicator's values) is `b`.
fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

/// Whether a typed figure is `b`.
fn near(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

/// The values of an indicator of a run (asserts 200, its key and a title). The values are
/// Label Studio's and Prompter's indicator shapes, which have no view type: they stay raw.
async fn indicator(app: &TestApp, run: i64, key: &str) -> Value {
    indicator_values(app, run, key, "").await
}

/// Run `run` of the fixture's version as the run list shows it.
async fn run_view(app: &TestApp, f: &Fixture, run: i64) -> RunView {
    read(run_state(app, f.prompt, f.version, run).await)
}

/// The predictions of `project` written by run `run`. Their `result` is Label Studio's region
/// list (a `Value` in the view), read raw.
async fn run_predictions(app: &TestApp, project: i64, run: i64) -> Vec<PredictionView> {
    predictions_of_run(app, project, run)
        .await
        .into_iter()
        .map(read)
        .collect()
}

/// Version `version` of `prompt` (asserts 200).
async fn version_view(app: &TestApp, prompt: i64, version: i64) -> VersionView {
    app.get(&format!("/api/prompts/{prompt}/versions/{version}"))
        .await
        .good()
}

/// Prompt `prompt` as its detail shows it (asserts 200).
async fn prompt_view(app: &TestApp, prompt: i64) -> PromptDetailView {
    app.get(&format!("/api/prompts/{prompt}/")).await.good()
}

/// Connection `id` (asserts 200).
async fn connection_view(app: &TestApp, id: i64) -> ModelProviderConnectionView {
    app.get(&format!("/api/model-provider-connections/{id}/"))
        .await
        .good()
}

// ---------------------------------------------------------------------------------------------
// batch-predictions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn batch_predictions_store_choices_regions() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["I love it", "awful"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    let results = json!([{"task_id": f.tasks[0], "output": {"sentiment": "Positive"},
                          "error": false, "message": null, "details": null,
                          "prompt_tokens": 10, "completion_tokens": 2, "prompt_cost_usd": 0.0,
                          "completion_cost_usd": 0.0, "total_cost_usd": 0.0,
                          "message_counts": {}, "inference_time": 0.1}]);
    let body: BatchPredictionsView = app
        .post(
            &format!("{BATCH}?num_predictions=1"),
            json!({"modelrun_id": run, "results": results, "job_id": "ignored"}),
        )
        .await
        .created();
    assert_eq!(json!(body.results), results);
    assert_eq!(body.job_id, format!("prompter-run-{run}"));

    let preds = run_predictions(&app, f.project, run).await;
    assert_eq!(preds.len(), 1);
    let p = &preds[0];
    assert_eq!(p.task, f.tasks[0]);
    assert_eq!(p.project, f.project);
    assert_eq!(p.model_version, "Sentiment__v1");
    assert_eq!(p.score, Some(1.0));
    assert_eq!(p.model_run, Some(run));
    // The region is Label Studio's result JSON, checked as such (exact keys).
    let regions = p.result.as_array().expect("regions");
    assert_eq!(regions.len(), 1);
    let region = regions[0].as_object().expect("region");
    assert!(
        region["id"].as_str().is_some_and(|id| id.len() == 36),
        "a uuid4: {p:?}"
    );
    let mut without_id = region.clone();
    without_id.remove("id");
    assert_eq!(
        Value::Object(without_id),
        json!({"from_name": "sentiment", "to_name": "text", "type": "choices",
               "value": {"choices": ["Positive"]}})
    );
    assert_eq!(total_predictions(&app, f.tasks[0]).await, 1);

    // The older flat form (no `output`) is read too.
    batch(
        &app,
        run,
        json!([{"task_id": f.tasks[1], "sentiment": "Negative", "prompt_tokens": 3}]),
    )
    .await;
    let preds = run_predictions(&app, f.project, run).await;
    let second = preds.iter().find(|p| p.task == f.tasks[1]).expect("stored");
    assert_eq!(second.result[0]["value"], json!({"choices": ["Negative"]}));
}

#[tokio::test]
async fn batch_predictions_store_ner_spans_with_offsets_from_text() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, NER, &["John met Mary"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    batch(
        &app,
        run,
        json!([item(
            f.tasks[0],
            json!({"label": [
                {"start": 0, "end": 4, "labels": ["PER"], "text": "John"},
                {"labels": ["PER"], "text": "Mary"}
            ]})
        )]),
    )
    .await;
    let preds = run_predictions(&app, f.project, run).await;
    assert_eq!(preds.len(), 1);
    // Label Studio regions: raw JSON.
    let regions = preds[0].result.as_array().expect("regions");
    assert_eq!(regions.len(), 2);
    for r in regions {
        assert_eq!(r["from_name"], "label");
        assert_eq!(r["to_name"], "text");
        assert_eq!(r["type"], "labels");
        assert!(r["id"].is_string());
    }
    assert_eq!(
        regions[0]["value"],
        json!({"start": 0, "end": 4, "labels": ["PER"]})
    );
    assert_eq!(
        regions[1]["value"],
        json!({"start": 9, "end": 13, "labels": ["PER"]})
    );
}

#[tokio::test]
async fn the_same_batch_twice_creates_no_duplicates() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    let results = json!([
        {"task_id": f.tasks[0], "output": {"sentiment": "Positive"}, "prompt_tokens": 10,
         "completion_tokens": 2, "total_cost_usd": 0.25}
    ]);
    batch(&app, run, results.clone()).await;
    batch(&app, run, results).await;
    assert_eq!(run_predictions(&app, f.project, run).await.len(), 1);
    assert_eq!(total_predictions(&app, f.tasks[0]).await, 1);
    let state = run_view(&app, &f, run).await;
    assert_eq!(state.total_predictions, 1);
    assert_eq!(state.prompt_tokens, 10);
    assert_eq!(state.completion_tokens, 2);
    assert_eq!(state.total_cost_usd, Some(0.25));
    assert_eq!(state.status, RunStatus::InProgress);
    // Two items for one task in one batch: one prediction.
    batch(
        &app,
        run,
        json!([
            item(f.tasks[1], json!({"sentiment": "Negative"})),
            item(f.tasks[1], json!({"sentiment": "Positive"}))
        ]),
    )
    .await;
    assert_eq!(run_predictions(&app, f.project, run).await.len(), 2);
    assert_eq!(total_predictions(&app, f.tasks[1]).await, 1);
    assert_eq!(run_view(&app, &f, run).await.total_predictions, 2);
}

#[tokio::test]
async fn the_same_failed_batch_twice_is_counted_once() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    let failures = json!([{"task_id": f.tasks[0], "message": "boom", "error_type": "Timeout",
                           "prompt_tokens": 7, "completion_tokens": 1, "total_cost_usd": 0.5}]);
    batch_failed(&app, run, failures.clone()).await;
    batch_failed(&app, run, failures).await;
    let failed = entity_failures(&app, run).await;
    assert_eq!(failed, 1);
    let state = run_view(&app, &f, run).await;
    assert_eq!(state.total_failed_predictions, 1);
    let conn = connection_view(&app, f.connection).await;
    assert_eq!(
        (
            state.prompt_tokens,
            state.total_cost_usd,
            conn.budget_total_spent
        ),
        (7, Some(0.5), 0.5),
        "run tokens, run cost, connection spend"
    );
    let conn = connection_view(&app, f.connection).await;
    assert_eq!(conn.budget_total_spent, 0.5);
}

#[tokio::test]
async fn results_for_tasks_outside_the_runs_subset_are_skipped() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["labeled", "unlabeled"]).await;
    ground_truth(&app, f.tasks[0], choice("Positive")).await;
    let run = run_on(&app, &f, f.version, "HasGT").await;
    assert_eq!(run_view(&app, &f, run).await.total_tasks, 1);
    // The unlabeled task is not part of this run.
    batch(
        &app,
        run,
        json!([item(f.tasks[1], json!({"sentiment": "Negative"}))]),
    )
    .await;
    let state = run_view(&app, &f, run).await;
    assert!(
        run_predictions(&app, f.project, run).await.is_empty(),
        "no prediction for a task outside the subset: {state:?}"
    );
    assert_eq!(state.total_predictions, 0, "{state:?}");
    assert_ne!(
        state.status,
        RunStatus::Completed,
        "the run's own task has no result: {state:?}"
    );
}

/// Failed-prediction rows of a run.
async fn entity_failures(app: &TestApp, run: i64) -> usize {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::failed_prediction::Entity::find()
        .filter(entity::failed_prediction::Column::ModelRunId.eq(run))
        .all(&app.db)
        .await
        .expect("query")
        .len()
}

#[tokio::test]
async fn an_output_that_does_not_fit_becomes_an_invalid_output_failure() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    batch(
        &app,
        run,
        json!([
            item(f.tasks[0], json!({"sentiment": "Neutral"})),
            item(f.tasks[1], json!({"sentiment": ["Positive", "Negative"]}))
        ]),
    )
    .await;
    assert!(run_predictions(&app, f.project, run).await.is_empty());
    assert_eq!(total_predictions(&app, f.tasks[0]).await, 0);
    let state = run_view(&app, &f, run).await;
    assert_eq!(state.total_predictions, 0);
    assert_eq!(state.total_failed_predictions, 2);
    assert_eq!(
        state.status,
        RunStatus::Completed,
        "every task has a result"
    );
    let page = subset_tasks(
        &app,
        f.project,
        &format!("parent_model={}&model_run={run}", f.prompt),
    )
    .await;
    for t in task_list(&page) {
        assert!(t.prediction.is_none(), "{t:?}");
        let error = t.error.as_ref().expect("an error");
        assert_eq!(error.error_type, Some(FailureKind::InvalidOutput), "{t:?}");
        assert!(error.message.is_some(), "{t:?}");
    }
    let values = indicator(&app, run, "failed_predictions").await;
    assert_eq!(values["total_failed_predictions"], 2);
    assert_eq!(values["by_error_type"], json!({"InvalidOutput": 2}));

    // NER: a label outside the config fails the output; a quoted text that is not in the
    // task is only dropped (the prediction stands, without that span).
    let ner = fixture(&app, NER, &["John met Mary", "Ann left"]).await;
    let run = run_on(&app, &ner, ner.version, "All").await;
    batch(
        &app,
        run,
        json!([
            item(
                ner.tasks[0],
                json!({"label": [{"text": "John", "labels": ["CAT"]}]})
            ),
            item(
                ner.tasks[1],
                json!({"label": [{"text": "Bob", "labels": ["PER"]}]})
            )
        ]),
    )
    .await;
    let preds = run_predictions(&app, ner.project, run).await;
    assert_eq!(preds.len(), 1);
    assert_eq!(preds[0].task, ner.tasks[1]);
    assert_eq!(preds[0].result, json!([]));
    assert_eq!(entity_failures(&app, run).await, 1);
}

#[tokio::test]
async fn a_success_after_a_failure_replaces_it() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    let body: BatchFailedView = app
        .post(
            &format!("{BATCH_FAILED}?num_failed_predictions=1"),
            json!({"modelrun_id": run, "failed_predictions": [
                {"task_id": f.tasks[0], "message": "boom", "error_type": "Timeout"}]}),
        )
        .await
        .created();
    assert_eq!(body.job_id, format!("prompter-run-{run}"));
    // The items are echoed as sent: raw JSON.
    assert_eq!(body.failed_predictions[0]["message"], "boom");
    let page = subset_tasks(
        &app,
        f.project,
        &format!("parent_model={}&model_run={run}", f.prompt),
    )
    .await;
    let first = &task_list(&page)[0];
    assert_eq!(
        first.error,
        Some(SubsetError::new("boom", FailureKind::Timeout))
    );
    assert_eq!(run_view(&app, &f, run).await.total_failed_predictions, 1);

    batch(
        &app,
        run,
        json!([item(f.tasks[0], json!({"sentiment": "Positive"}))]),
    )
    .await;
    assert_eq!(run_predictions(&app, f.project, run).await.len(), 1);
    assert_eq!(entity_failures(&app, run).await, 0);
    let state = run_view(&app, &f, run).await;
    assert_eq!(state.total_predictions, 1);
    assert_eq!(state.total_failed_predictions, 0);
    let page = subset_tasks(
        &app,
        f.project,
        &format!("parent_model={}&model_run={run}", f.prompt),
    )
    .await;
    let first = &task_list(&page)[0];
    assert_eq!(first.error, None);
    assert!(first.prediction.is_some());
    // A later failure for the same task is ignored: the prediction stays.
    batch_failed(
        &app,
        run,
        json!([{"task_id": f.tasks[0], "message": "late", "error_type": "Timeout"}]),
    )
    .await;
    assert_eq!(entity_failures(&app, run).await, 0);
    assert_eq!(run_predictions(&app, f.project, run).await.len(), 1);
}

#[tokio::test]
async fn status_counters_tokens_cost_and_budget_follow_the_results() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b", "c"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    assert_eq!(run_view(&app, &f, run).await.status, RunStatus::Pending);
    batch(
        &app,
        run,
        json!([{"task_id": f.tasks[0], "output": {"sentiment": "Positive"}, "prompt_tokens": 100,
                "completion_tokens": 5, "prompt_cost_usd": 0.125, "completion_cost_usd": 0.125,
                "total_cost_usd": 0.25}]),
    )
    .await;
    let state = run_view(&app, &f, run).await;
    assert_eq!(state.status, RunStatus::InProgress);
    assert_eq!(state.total_predictions, 1);
    assert!(state.predictions_updated_at.is_some(), "{state:?}");
    assert_eq!(state.completed_at, None);
    batch_failed(
        &app,
        run,
        json!([{"task_id": f.tasks[1], "message": "rate limited", "error_type": "RateLimit",
                "prompt_tokens": 50, "total_cost_usd": 0.125}]),
    )
    .await;
    let state = run_view(&app, &f, run).await;
    assert_eq!(state.status, RunStatus::InProgress);
    assert_eq!(state.total_failed_predictions, 1);
    batch(
        &app,
        run,
        json!([{"task_id": f.tasks[2], "output": {"sentiment": "Negative"}, "prompt_tokens": 200,
                "completion_tokens": 7, "total_cost_usd": 0.5}]),
    )
    .await;
    let state = run_view(&app, &f, run).await;
    assert_eq!(state.status, RunStatus::Completed);
    assert!(state.completed_at.is_some(), "{state:?}");
    assert_eq!(state.total_tasks, 3);
    assert_eq!(state.total_predictions, 2);
    assert_eq!(state.total_failed_predictions, 1);
    assert_eq!(state.total_correct_predictions, 0, "no ground truth");
    assert_eq!(state.prompt_tokens, 350);
    assert_eq!(state.completion_tokens, 12);
    assert_eq!(state.total_cost_usd, Some(0.875));
    let conn = connection_view(&app, f.connection).await;
    assert_eq!(conn.budget_total_spent, 0.875);
    let cost = indicator(&app, run, "cost").await;
    assert_eq!(cost["total_cost_usd"], 0.875);
    assert_eq!(cost["prompt_tokens"], 350);
    assert_eq!(cost["completion_tokens"], 12);
    assert_eq!(cost["total_tokens"], 362);
    let predictions = indicator(&app, run, "predictions").await;
    assert_eq!(predictions["total_predictions"], 2);
    assert_eq!(predictions["total_tasks"], 3);
    assert_eq!(predictions["progress"], 1.0);
    assert_eq!(predictions["status"], "Completed");
    // Not an HasGT run: no version score.
    let v = version_view(&app, f.prompt, f.version).await;
    assert_eq!(v.score, None);
}

#[tokio::test]
async fn batch_validation_roles_and_organizations() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    let results = json!([item(f.tasks[0], json!({"sentiment": "Positive"}))]);
    let failures = json!([{"task_id": f.tasks[0], "message": "m", "error_type": "Timeout"}]);
    let (status, body) = app.post(BATCH, json!({"results": results})).await;
    assert_field_error(status, &body, "modelrun_id");
    let (status, body) = app
        .post(BATCH_FAILED, json!({"failed_predictions": failures}))
        .await;
    assert_field_error(status, &body, "modelrun_id");
    let (status, _) = app
        .post(BATCH, json!({"modelrun_id": 999_999, "results": results}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post(
            BATCH_FAILED,
            json!({"modelrun_id": 999_999, "failed_predictions": failures}),
        )
        .await;
    assert_eq!(status, 404);
    for (path, body) in [
        (BATCH, json!({"modelrun_id": run, "results": results})),
        (
            BATCH_FAILED,
            json!({"modelrun_id": run, "failed_predictions": failures}),
        ),
    ] {
        let (status, _) = app
            .send(Method::POST, path, Some(&app.other_token), Some(&body))
            .await;
        assert_eq!(status, 404, "{path}");
        let (status, _) = app
            .send(Method::POST, path, Some(&app.annotator_token), Some(&body))
            .await;
        assert_eq!(status, 403, "{path}");
    }
    // Nothing was stored.
    assert!(run_predictions(&app, f.project, run).await.is_empty());
    assert_eq!(entity_failures(&app, run).await, 0);
    assert_eq!(run_view(&app, &f, run).await.status, RunStatus::Pending);
    // A task of another project is skipped.
    let elsewhere = app.project(CLS).await;
    let foreign_task = app.import(elsewhere, json!([{"text": "x"}])).await[0];
    batch(
        &app,
        run,
        json!([item(foreign_task, json!({"sentiment": "Positive"}))]),
    )
    .await;
    assert!(run_predictions(&app, elsewhere, run).await.is_empty());
    assert_eq!(run_view(&app, &f, run).await.status, RunStatus::Pending);
}

// ---------------------------------------------------------------------------------------------
// Accuracy: Choices
// ---------------------------------------------------------------------------------------------

/// Five tasks; ground truth P, P, N, N on the first four; a HasGT run of v1 predicting
/// P, P, N, P (3 of 4 right), each costing 0.25 with 10 + 2 tokens. Returns the fixture and
/// the run.
async fn choices_dataset(app: &TestApp) -> (Fixture, i64) {
    let f = fixture(app, CLS, &["great", "lovely", "awful", "meh", "unlabeled"]).await;
    for (task, label) in f
        .tasks
        .iter()
        .zip(["Positive", "Positive", "Negative", "Negative"])
    {
        ground_truth(app, *task, choice(label)).await;
    }
    let run = run_on(app, &f, f.version, "HasGT").await;
    let items: Vec<Value> = f
        .tasks
        .iter()
        .zip(["Positive", "Positive", "Negative", "Positive"])
        .map(|(task, label)| {
            json!({"task_id": task, "output": {"sentiment": label}, "prompt_tokens": 10,
                   "completion_tokens": 2, "total_cost_usd": 0.25})
        })
        .collect();
    batch(app, run, Value::Array(items)).await;
    (f, run)
}

#[tokio::test]
async fn choices_accuracy_on_a_hand_checked_dataset() {
    let app = TestApp::spawn().await;
    let (f, run) = choices_dataset(&app).await;
    let state = run_view(&app, &f, run).await;
    assert_eq!(state.total_tasks, 4);
    assert_eq!(state.status, RunStatus::Completed);
    assert_eq!(state.total_predictions, 4);
    assert_eq!(state.total_correct_predictions, 3);
    let v = version_view(&app, f.prompt, f.version).await;
    assert_eq!(v.score, Some(0.75));
    let p = prompt_view(&app, f.prompt).await;
    assert_eq!(p.best_score, Some(0.75));
    let list: Paginated<PromptDetailView> = app.get("/api/prompts/").await.good();
    assert_eq!(list.results[0].best_score, Some(0.75));
    assert_eq!(list.results[0].runs_count, 1);

    // Subsets of the project (a bare array).
    let subsets: Vec<SubsetView> = app
        .get(&format!("/api/projects/{}/subsets", f.project))
        .await
        .good();
    let counts: Vec<(Subset, u64)> = subsets.iter().map(|s| (s.subset, s.count)).collect();
    assert_eq!(
        counts,
        vec![(Subset::All, 5), (Subset::HasGT, 4), (Subset::Sample, 5)]
    );
    assert_eq!(
        subsets[0].columns_schema,
        vec![json!({"name": "text", "type": "String"})]
    );
    let (status, _) = app.get("/api/projects/999999/subsets").await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(
            Method::GET,
            &format!("/api/projects/{}/subsets", f.project),
            Some(&app.other_token),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

/// A failure kind an outside worker reports (Label Studio's `error_type` is free text) is
/// stored and shown as sent, beside Prompter's own kinds; an item without one is a
/// `ProviderError`.
#[tokio::test]
async fn failure_kinds_of_outside_workers_are_kept_as_sent() {
    use entity::enums::FailureKind;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let app = TestApp::spawn().await;
    let (f, _) = choices_dataset(&app).await;
    let run = run_on(&app, &f, f.version, "All").await;
    batch_failed(
        &app,
        run,
        json!([
            {"task_id": f.tasks[0], "message": "slow down", "error_type": "Rate Limit"},
            {"task_id": f.tasks[1], "message": "late", "error_type": "Timeout"},
            {"task_id": f.tasks[2], "message": "?"},
        ]),
    )
    .await;
    assert_eq!(
        indicator(&app, run, "failed_predictions").await,
        json!({"total_failed_predictions": 3,
               "by_error_type": {"Rate Limit": 1, "Timeout": 1, "ProviderError": 1}})
    );
    let kinds: Vec<Option<FailureKind>> = entity::failed_prediction::Entity::find()
        .filter(entity::failed_prediction::Column::ModelRunId.eq(run))
        .order_by_asc(entity::failed_prediction::Column::TaskId)
        .all(&app.db)
        .await
        .expect("failures")
        .into_iter()
        .map(|f| f.error_type)
        .collect();
    assert_eq!(
        kinds,
        [
            Some(FailureKind::Other("Rate Limit".into())),
            Some(FailureKind::Timeout),
            Some(FailureKind::ProviderError),
        ]
    );
}

#[tokio::test]
async fn indicators_of_the_choices_dataset() {
    let app = TestApp::spawn().await;
    let (f, run) = choices_dataset(&app).await;
    // The unlabeled task is not in the HasGT run: a failure for it is skipped there, and
    // recorded by an All run of the same version.
    let failure = json!([{"task_id": f.tasks[4], "message": "m", "error_type": "Timeout"}]);
    batch_failed(&app, run, failure.clone()).await;
    let all_run = run_on(&app, &f, f.version, "All").await;
    batch_failed(&app, all_run, failure).await;
    assert_eq!(
        indicator(&app, all_run, "failed_predictions").await,
        json!({"total_failed_predictions": 1, "by_error_type": {"Timeout": 1}})
    );
    let list: Vec<IndicatorView> = app
        .get(&format!("/api/inference-runs/{run}/indicators/"))
        .await
        .good();
    let keys: Vec<&str> = list.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys[..6],
        [
            "accuracy",
            "f1",
            "predictions",
            "failed_predictions",
            "cost",
            "classification_report"
        ]
    );
    for i in &list {
        assert!(i.values.is_object(), "{i:?}");
        // Each one answers on its own with the same values.
        assert_eq!(indicator(&app, run, &i.key).await, i.values, "{}", i.key);
    }
    let accuracy = indicator(&app, run, "accuracy").await;
    assert_eq!(
        accuracy,
        json!({"accuracy": 0.75, "total_correct_predictions": 3, "total_predictions": 4,
            "total_failed_predictions": 0, "scored_predictions": 4,
            "scored_failed_predictions": 0})
    );
    // Positive: tp 2, fp 1 → p 2/3, r 1, f1 0.8. Negative: tp 1, fn 1 → p 1, r 0.5, f1 2/3.
    // Micro: tp 3, fp 1, fn 1 → 0.75. Macro: (0.8 + 2/3) / 2.
    let f1 = indicator(&app, run, "f1").await;
    assert!(close(&f1["micro_f1"], 0.75), "{f1}");
    assert!(close(&f1["macro_f1"], (0.8 + 2.0 / 3.0) / 2.0), "{f1}");
    assert_eq!(f1["scored_tasks"], 4);
    assert_eq!(f1["correct_tasks"], 3);
    let report = indicator(&app, run, "classification_report").await;
    let positive = &report["Positive"];
    assert!(close(&positive["precision"], 2.0 / 3.0), "{report}");
    assert!(close(&positive["recall"], 1.0));
    assert!(close(&positive["f1-score"], 0.8));
    assert_eq!(positive["support"], 2);
    let negative = &report["Negative"];
    assert!(close(&negative["precision"], 1.0));
    assert!(close(&negative["recall"], 0.5));
    assert!(close(&negative["f1-score"], 2.0 / 3.0));
    assert_eq!(negative["support"], 2);
    assert!(close(&report["micro avg"]["f1-score"], 0.75));
    assert_eq!(report["micro avg"]["support"], 4);
    let failed = indicator(&app, run, "failed_predictions").await;
    assert_eq!(
        failed,
        json!({"total_failed_predictions": 0, "by_error_type": {}})
    );
    let cost = indicator(&app, run, "cost").await;
    assert_eq!(cost["total_cost_usd"], 1.0);
    assert_eq!(cost["prompt_tokens"], 40);
    assert_eq!(cost["completion_tokens"], 8);
    let predictions = indicator(&app, run, "predictions").await;
    assert_eq!(predictions["total_predictions"], 4);
    assert_eq!(predictions["total_tasks"], 4);

    // Unknown key, unknown run, other organization.
    let (status, _) = app
        .get(&format!("/api/inference-runs/{run}/indicators/precision"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/api/inference-runs/999999/indicators/").await;
    assert_eq!(status, 404);
    for path in [
        format!("/api/inference-runs/{run}/indicators/"),
        format!("/api/inference-runs/{run}/indicators/accuracy"),
    ] {
        let (status, _) = app
            .send(Method::GET, &path, Some(&app.other_token), None)
            .await;
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn best_score_is_the_best_version() {
    let app = TestApp::spawn().await;
    let (f, _) = choices_dataset(&app).await;
    let v2 = id_of(&new_version(&app, f.prompt, f.connection, "v2").await);
    let run = run_on(&app, &f, v2, "HasGT").await;
    let items: Vec<Value> = f.tasks[..4]
        .iter()
        .zip(["Positive", "Positive", "Negative", "Negative"])
        .map(|(t, l)| item(*t, json!({"sentiment": l})))
        .collect();
    batch(&app, run, Value::Array(items)).await;
    let v = version_view(&app, f.prompt, v2).await;
    assert_eq!(v.score, Some(1.0));
    let p = prompt_view(&app, f.prompt).await;
    assert_eq!(p.best_score, Some(1.0));
    assert_eq!(p.versions_count, 2);
    assert_eq!(p.runs_count, 2);
}

// ---------------------------------------------------------------------------------------------
// Accuracy: NER
// ---------------------------------------------------------------------------------------------

fn span(start: u64, end: u64, label: &str, text: &str) -> Value {
    json!({"from_name": "label", "to_name": "text", "type": "labels",
           "value": {"start": start, "end": end, "labels": [label], "text": text}})
}

#[tokio::test]
async fn ner_accuracy_uses_span_f1() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, NER, &["John met Mary", "Acme hired Bob"]).await;
    ground_truth(
        &app,
        f.tasks[0],
        json!([span(0, 4, "PER", "John"), span(9, 13, "PER", "Mary")]),
    )
    .await;
    ground_truth(
        &app,
        f.tasks[1],
        json!([span(0, 4, "ORG", "Acme"), span(11, 14, "PER", "Bob")]),
    )
    .await;
    let run = run_on(&app, &f, f.version, "HasGT").await;
    batch(
        &app,
        run,
        json!([
            // 1 TP (John PER), 1 FP (Mary ORG), 1 FN (Mary PER): 2/(2+1+1) = 0.5.
            item(
                f.tasks[0],
                json!({"label": [{"start": 0, "end": 4, "labels": ["PER"]},
                                              {"text": "Mary", "labels": ["ORG"]}]})
            ),
            item(
                f.tasks[1],
                json!({"label": [{"text": "Acme", "labels": ["ORG"]},
                                              {"text": "Bob", "labels": ["PER"]}]})
            ),
        ]),
    )
    .await;
    let state = run_view(&app, &f, run).await;
    assert_eq!(state.status, RunStatus::Completed);
    assert_eq!(state.total_predictions, 2);
    assert_eq!(state.total_correct_predictions, 1, "0.5 is not correct");
    let v = version_view(&app, f.prompt, f.version).await;
    assert_eq!(v.score, Some(0.5));

    let page = subset_tasks(
        &app,
        f.project,
        &format!("parent_model={}&model_run={run}", f.prompt),
    )
    .await;
    let items = task_list(&page);
    assert_eq!(items.len(), 2);
    assert!(near(items[0].score, 0.5), "{page:?}");
    assert!(near(items[1].score, 1.0), "{page:?}");

    // PER: tp 2, fn 1 → p 1, r 2/3, f1 0.8. ORG: tp 1, fp 1 → p 0.5, r 1, f1 2/3.
    let report = indicator(&app, run, "classification_report").await;
    assert!(close(&report["PER"]["precision"], 1.0), "{report}");
    assert!(close(&report["PER"]["recall"], 2.0 / 3.0));
    assert!(close(&report["PER"]["f1-score"], 0.8));
    assert_eq!(report["PER"]["support"], 3);
    assert!(close(&report["ORG"]["precision"], 0.5));
    assert!(close(&report["ORG"]["recall"], 1.0));
    assert_eq!(report["ORG"]["support"], 1);
    let f1 = indicator(&app, run, "f1").await;
    assert!(close(&f1["micro_f1"], 0.75), "{f1}");
    assert_eq!(f1["correct_tasks"], 1);
    let accuracy = indicator(&app, run, "accuracy").await;
    assert_eq!(accuracy["accuracy"], 0.5);
}

// ---------------------------------------------------------------------------------------------
// subset-tasks
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn subset_tasks_shows_predictions_ground_truth_scores_and_errors() {
    let app = TestApp::spawn().await;
    let (f, run) = choices_dataset(&app).await;
    let base = format!("parent_model={}&model_run={run}", f.prompt);
    let page = subset_tasks(&app, f.project, &base).await;
    assert_eq!(page.count, 4, "the run's subset (HasGT)");
    assert_eq!(page.next, None);
    assert_eq!(page.results.len(), 1);
    let object = task_page(&page);
    assert_eq!(object.task_count, Some(4));
    assert_eq!((object.next_cursor, object.previous_cursor), (None, None));
    let items = object.task_result_list;
    assert_eq!(task_ids(&page), f.tasks[..4].to_vec());
    let scores: Vec<f64> = items.iter().map(|t| t.score.expect("score")).collect();
    assert_eq!(scores, vec![1.0, 1.0, 1.0, 0.0]);
    let first = &items[0];
    assert_eq!(first.data, json!({"text": "great"}));
    let prediction = first.prediction.as_ref().expect("a prediction");
    assert!(prediction.id > 0);
    assert_eq!(prediction.model_run, Some(run));
    assert_eq!(prediction.score, Some(1.0));
    assert_eq!(prediction.model_version, "Sentiment__v1");
    // Regions are Label Studio's result JSON: raw.
    assert_eq!(
        prediction.result[0]["value"],
        json!({"choices": ["Positive"]})
    );
    // The ground truth reads with an integer `id`.
    let truth = first.ground_truth.as_ref().expect("ground truth");
    assert_eq!(truth.result, choice("Positive"));
    assert!(truth.id > 0);
    assert_eq!(first.error, None);
    let prediction = items[3].prediction.as_ref().expect("a prediction");
    assert_eq!(
        prediction.result[0]["value"],
        json!({"choices": ["Positive"]})
    );
    let truth = items[3].ground_truth.as_ref().expect("ground truth");
    assert_eq!(truth.result, choice("Negative"));

    // All tasks: the unlabeled one has nothing.
    let page = subset_tasks(&app, f.project, &format!("{base}&project_subset=All")).await;
    assert_eq!(page.count, 5);
    let last = &task_list(&page)[4];
    assert_eq!(last.id, f.tasks[4]);
    assert!(last.prediction.is_none(), "{last:?}");
    assert!(last.ground_truth.is_none(), "{last:?}");
    assert_eq!(last.score, None);
    assert_eq!(last.error, None);
    // A failure shows as the error (of an All run: the unlabeled task is not in the HasGT run).
    let all_run = run_on(&app, &f, f.version, "All").await;
    batch_failed(
        &app,
        all_run,
        json!([{"task_id": f.tasks[4], "message": "boom", "error_type": "Timeout"}]),
    )
    .await;
    let page = subset_tasks(
        &app,
        f.project,
        &format!(
            "parent_model={}&model_run={all_run}&project_subset=All",
            f.prompt
        ),
    )
    .await;
    assert_eq!(
        task_list(&page)[4].error,
        Some(SubsetError::new("boom", FailureKind::Timeout))
    );

    // With the version instead of the run: its latest run on the project.
    let page = subset_tasks(
        &app,
        f.project,
        &format!(
            "parent_model={}&model_version={}&project_subset=HasGT",
            f.prompt, f.version
        ),
    )
    .await;
    let prediction = task_list(&page)[0].prediction.as_ref().map(|p| p.model_run);
    assert_eq!(prediction, Some(Some(run)));
}

#[tokio::test]
async fn subset_tasks_paginates_orders_and_may_omit_the_total() {
    let app = TestApp::spawn().await;
    let (f, run) = choices_dataset(&app).await;
    let base = format!("parent_model={}&model_run={run}", f.prompt);
    let page = subset_tasks(&app, f.project, &format!("{base}&page_size=3")).await;
    assert_eq!(page.count, 4);
    assert_eq!(task_ids(&page), f.tasks[..3].to_vec());
    assert!(
        page.next.as_deref().is_some_and(|n| n.contains("page=2")),
        "{page:?}"
    );
    assert_eq!(page.previous, None);
    let page = subset_tasks(&app, f.project, &format!("{base}&page_size=3&page=2")).await;
    assert_eq!(task_ids(&page), vec![f.tasks[3]]);
    assert_eq!(page.next, None);
    assert!(page.previous.is_some());

    let page = subset_tasks(&app, f.project, &format!("{base}&ordering=-id")).await;
    let mut reversed = f.tasks[..4].to_vec();
    reversed.reverse();
    assert_eq!(task_ids(&page), reversed);

    let page = subset_tasks(&app, f.project, &format!("{base}&include_total=false")).await;
    // The key is absent, not null: checked on the raw page object.
    let object = page.results[0].as_object().expect("page object");
    assert!(!object.contains_key("task_count"), "{page:?}");
    assert_eq!(task_ids(&page).len(), 4);
    let page = subset_tasks(&app, f.project, &format!("{base}&include_total=true")).await;
    assert_eq!(task_page(&page).task_count, Some(4));
    let (status, body) = app
        .get(&format!(
            "/api/projects/{}/subset-tasks?{base}&include_total=maybe",
            f.project
        ))
        .await;
    assert_field_error(status, &body, "include_total");
}

#[tokio::test]
async fn subset_tasks_filters_by_class_alignment_and_versions() {
    let app = TestApp::spawn().await;
    let (f, run) = choices_dataset(&app).await;
    let t = &f.tasks;
    let base = format!("parent_model={}&model_run={run}", f.prompt);
    let ids = |query: String| {
        let app = &app;
        let project = f.project;
        async move { task_ids(&subset_tasks(app, project, &query).await) }
    };
    // Predicted class: P, P, N, P.
    assert_eq!(
        ids(format!(
            "{base}&output_class=Positive&output_from_name=sentiment"
        ))
        .await,
        vec![t[0], t[1], t[3]]
    );
    assert_eq!(
        ids(format!(
            "{base}&output_class=Negative&output_from_name=sentiment"
        ))
        .await,
        vec![t[2]]
    );
    // A control the project does not have is a 400 naming the field (issue 12), not an
    // empty or unfiltered page.
    let (status, body) = app
        .get(&format!(
            "/api/projects/{}/subset-tasks?{base}&output_class=Positive&output_from_name=other",
            f.project
        ))
        .await;
    assert_field_error(status, &body, "output_from_name");
    let page = subset_tasks(
        &app,
        f.project,
        &format!("{base}&output_class=Positive&output_from_name=sentiment"),
    )
    .await;
    assert_eq!(page.count, 3);

    // Alignment against ground truth P, P, N, N.
    let alignment = |class: &str, outcome: &str| {
        format!(
            "{base}&alignment_class={class}&alignment_from_name=sentiment&alignment_outcome={outcome}"
        )
    };
    assert_eq!(
        ids(alignment("Positive", "true_positive")).await,
        vec![t[0], t[1]]
    );
    assert_eq!(
        ids(alignment("Positive", "false_positive")).await,
        vec![t[3]]
    );
    assert!(
        ids(alignment("Positive", "false_negative"))
            .await
            .is_empty()
    );
    assert_eq!(
        ids(alignment("Positive", "all")).await,
        vec![t[0], t[1], t[3]]
    );
    assert_eq!(
        ids(alignment("Negative", "true_positive")).await,
        vec![t[2]]
    );
    assert_eq!(
        ids(alignment("Negative", "false_negative")).await,
        vec![t[3]]
    );
    assert!(
        ids(alignment("Negative", "false_positive"))
            .await
            .is_empty()
    );

    // Tasks with predictions of every listed version.
    let v2 = id_of(&new_version(&app, f.prompt, f.connection, "v2").await);
    let custom = id_of(
        &new_run(
            &app,
            f.prompt,
            v2,
            json!({"project": f.project, "project_subset": "Custom", "task_ids": [t[1]]}),
        )
        .await,
    );
    batch(
        &app,
        custom,
        json!([item(t[1], json!({"sentiment": "Negative"}))]),
    )
    .await;
    assert_eq!(
        ids(format!("{base}&prediction_version_ids={}", f.version)).await,
        t[..4].to_vec()
    );
    assert_eq!(
        ids(format!("{base}&prediction_version_ids={},{v2}", f.version)).await,
        vec![t[1]]
    );
    // v2's Custom run shows only its tasks.
    let page = subset_tasks(
        &app,
        f.project,
        &format!("parent_model={}&model_run={custom}", f.prompt),
    )
    .await;
    assert_eq!(task_ids(&page), vec![t[1]]);
    assert_eq!(task_list(&page)[0].score, Some(0.0));
}

#[tokio::test]
async fn subset_tasks_validation_and_scoping() {
    let app = TestApp::spawn().await;
    let (f, run) = choices_dataset(&app).await;
    let path = format!("/api/projects/{}/subset-tasks", f.project);
    let (status, body) = app.get(&path).await;
    assert_eq!(status, 400, "missing parent_model: {body}");
    let (status, body) = app.get(&format!("{path}?model_run={run}")).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app.get(&format!("{path}?parent_model=999999")).await;
    assert_field_error(status, &body, "parent_model");
    let (status, body) = app
        .get(&format!(
            "{path}?parent_model={}&model_run=999999",
            f.prompt
        ))
        .await;
    assert_field_error(status, &body, "model_run");
    let (status, body) = app
        .get(&format!(
            "{path}?parent_model={}&project_subset=Everything",
            f.prompt
        ))
        .await;
    assert_field_error(status, &body, "project_subset");
    // A run of another project.
    let other = app.project(CLS).await;
    let (status, body) = app
        .get(&format!(
            "/api/projects/{other}/subset-tasks?parent_model={}&model_run={run}",
            f.prompt
        ))
        .await;
    assert_field_error(status, &body, "model_run");
    let (status, _) = app
        .get(&format!(
            "/api/projects/999999/subset-tasks?parent_model={}",
            f.prompt
        ))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(
            Method::GET,
            &format!("{path}?parent_model={}&model_run={run}", f.prompt),
            Some(&app.other_token),
            None,
        )
        .await;
    assert_eq!(status, 404);
    // Without a run or version: the subset's tasks, no predictions.
    let page = subset_tasks(&app, f.project, &format!("parent_model={}", f.prompt)).await;
    assert_eq!(page.count, 5);
    assert!(task_list(&page).iter().all(|t| t.prediction.is_none()));
}

#[tokio::test]
async fn subset_tasks_pages_across_the_runs_slices_in_both_orders() {
    let app = TestApp::spawn().await;
    let texts: Vec<String> = (0..250).map(|i| format!("task {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let f = fixture(&app, CLS, &refs).await;
    let run = run_on(&app, &f, f.version, "All").await;
    // The last task goes away after the run resolved its tasks.
    let gone = *f.tasks.last().expect("tasks");
    assert_eq!(app.delete(&format!("/api/tasks/{gone}/")).await.0, 204);
    let mut expected: Vec<i64> = f.tasks.iter().copied().filter(|id| *id != gone).collect();
    expected.sort();
    for (ordering, want) in [
        ("id", expected.clone()),
        ("-id", expected.iter().rev().copied().collect::<Vec<_>>()),
    ] {
        let mut seen = vec![];
        for page in 1..=9 {
            let query = format!(
                "parent_model={}&model_run={run}&page={page}&page_size=30&ordering={ordering}",
                f.prompt
            );
            let body = task_page(&subset_tasks(&app, f.project, &query).await);
            assert_eq!(body.task_count, Some(250), "the run's task count");
            seen.extend(body.task_result_list.iter().map(|t| t.id));
        }
        assert_eq!(
            seen, want,
            "ordering={ordering}: every task once, in order, across slices"
        );
    }
}

#[tokio::test]
async fn results_for_a_task_deleted_after_the_run_are_skipped_not_fatal() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["kept", "deleted"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    assert_eq!(
        app.delete(&format!("/api/tasks/{}/", f.tasks[1])).await.0,
        204
    );
    let items: Vec<Value> = f
        .tasks
        .iter()
        .map(|t| json!({"task_id": t, "output": {"sentiment": "Positive"}}))
        .collect();
    batch(&app, run, Value::Array(items)).await;
    let state = run_view(&app, &f, run).await;
    assert_eq!(
        state.total_predictions, 1,
        "the kept task's prediction is stored: {state:?}"
    );
}
