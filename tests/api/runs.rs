//! Tests of the inference-run endpoints: create for each subset (task counts, defaults,
//! Custom task ids), empty subsets, project checks, association, replacement of the previous
//! run, only_missing_predictions, list filters and order, cancel, the work slices, roles and
//! organizations.
use crate::helpers::fixtures::{
    batch, fixture, ground_truth, id_of, item, new_prompt, new_version, predictions_of_run, run_on,
    runs_path, total_predictions,
};
use crate::helpers::{CLS, Reply, TestApp, bad_field, choice};
use entity::enums::{RunStatus, Subset};
use prompter::error::ErrorCode;
use prompter::views::annotations::AnnotationView;
use prompter::views::projects::ProjectView;
use prompter::views::prompts::PromptDetailView;
use prompter::views::runs::{CancelView, RunView};
use prompter::views::users::WhoAmIView;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

/// Creates a run and returns it (asserts 201).
async fn new_run(app: &TestApp, prompt: i64, version: i64, body: Value) -> RunView {
    app.post(&runs_path(prompt, version), body).await.created()
}

/// The runs of a version, as the list returns them (asserts 200).
async fn runs_of(app: &TestApp, prompt: i64, version: i64) -> Vec<RunView> {
    app.get(&runs_path(prompt, version)).await.good()
}

/// The run `id` as the run list shows it.
async fn run_state(app: &TestApp, prompt: i64, version: i64, id: i64) -> RunView {
    runs_of(app, prompt, version)
        .await
        .into_iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("run {id} is listed"))
}

/// The ids of runs.
fn ids_of(runs: &[RunView]) -> Vec<i64> {
    runs.iter().map(|r| r.id).collect()
}

/// The ids the run list answers with `query`.
async fn list_ids(app: &TestApp, prompt: i64, version: i64, query: &str) -> Vec<i64> {
    let runs: Vec<RunView> = app
        .get(&format!("{}?{query}", runs_path(prompt, version)))
        .await
        .good();
    ids_of(&runs)
}

fn cancel_path(prompt: i64, version: i64, run: i64) -> String {
    format!("{}/{run}/cancel", runs_path(prompt, version))
}

/// Task ids of a run's slices, in slice order.
async fn slice_task_ids(app: &TestApp, run: i64) -> Vec<i64> {
    entity::model_run_slice::Entity::find()
        .filter(entity::model_run_slice::Column::ModelRunId.eq(run))
        .order_by_asc(entity::model_run_slice::Column::Seq)
        .all(&app.db)
        .await
        .expect("query")
        .into_iter()
        .flat_map(|s| {
            let ids: Vec<i64> = s
                .task_ids
                .as_array()
                .expect("task id list")
                .iter()
                .map(|v| v.as_i64().expect("task id"))
                .collect();
            assert_eq!(ids.len(), s.task_count as usize, "task_count matches");
            ids
        })
        .collect()
}

#[tokio::test]
async fn create_for_each_subset_counts_its_tasks() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b", "c", "d", "e"]).await;
    ground_truth(&app, f.tasks[0], choice("Positive")).await;
    ground_truth(&app, f.tasks[3], choice("Negative")).await;
    // A cancelled ground-truth annotation does not count.
    let _: AnnotationView = app
        .post(
            &format!("/api/tasks/{}/annotations/", f.tasks[4]),
            json!({"result": [], "ground_truth": true, "was_cancelled": true}),
        )
        .await
        .created();
    let me: WhoAmIView = app.get("/api/current-user/whoami").await.good();

    let all = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "All"}),
    )
    .await;
    assert_eq!(all.total_tasks, 5);
    assert_eq!(all.status, RunStatus::Pending);
    assert_eq!(all.project, f.project);
    assert_eq!(all.project_subset, Subset::All);
    assert_eq!(all.model_version, f.version);
    assert_eq!(all.parent_model, f.prompt);
    assert_eq!(all.total_predictions, 0);
    assert_eq!(all.total_correct_predictions, 0);
    assert!(!all.only_missing_predictions);
    assert_eq!(all.task_ids, None);
    assert_eq!(all.sample_subset_size, None);
    assert_eq!(all.organization, me.active_organization);
    assert_eq!(
        all.created_by.as_ref().map(|u| u.email.as_str()),
        Some("admin@example.com")
    );
    // The typed read checks `created_at` is a timestamp.
    assert!(all.triggered_at.is_some(), "{all:?}");
    assert_eq!(all.completed_at, None);
    assert_eq!(all.predictions_updated_at, None);

    let gt = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "HasGT"}),
    )
    .await;
    assert_eq!(gt.total_tasks, 2);
    assert_eq!(gt.status, RunStatus::Pending);
    // HasGT is the default subset.
    let default = new_run(&app, f.prompt, f.version, json!({"project": f.project})).await;
    assert_eq!(default.project_subset, Subset::HasGT);
    assert_eq!(default.total_tasks, 2);

    let sample = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "Sample", "sample_subset_size": 3}),
    )
    .await;
    assert_eq!(sample.total_tasks, 3);
    assert_eq!(sample.sample_subset_size, Some(3));
    assert_eq!(slice_task_ids(&app, sample.id).await, f.tasks[..3].to_vec());
    // The default sample size (20) covers all five tasks here.
    let sample = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "Sample"}),
    )
    .await;
    assert_eq!(sample.total_tasks, 5);
    assert_eq!(sample.sample_subset_size, Some(20));
    assert_eq!(
        slice_task_ids(&app, gt.id).await,
        Vec::<i64>::new(),
        "replaced by the default HasGT run"
    );
    assert_eq!(
        slice_task_ids(&app, default.id).await,
        vec![f.tasks[0], f.tasks[3]]
    );
    assert_eq!(slice_task_ids(&app, all.id).await, f.tasks);
}

#[tokio::test]
async fn sample_defaults_to_twenty_tasks() {
    let app = TestApp::spawn().await;
    let texts: Vec<String> = (0..25).map(|i| format!("text {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let f = fixture(&app, CLS, &refs).await;
    let run = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "Sample"}),
    )
    .await;
    assert_eq!(run.total_tasks, 20);
    assert_eq!(run.sample_subset_size, Some(20));
    assert_eq!(slice_task_ids(&app, run.id).await, f.tasks[..20].to_vec());
    let run = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "Sample", "sample_subset_size": 30}),
    )
    .await;
    assert_eq!(run.total_tasks, 25);
    bad_field(
        app.post(
            &runs_path(f.prompt, f.version),
            json!({"project": f.project, "project_subset": "Sample", "sample_subset_size": -1}),
        )
        .await,
        "sample_subset_size",
    );
}

#[tokio::test]
async fn custom_runs_need_task_ids_of_the_project() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b", "c"]).await;
    let elsewhere = app.project(CLS).await;
    let foreign_task = app.import(elsewhere, json!([{"text": "x"}])).await[0];
    let run = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "Custom",
               "task_ids": [f.tasks[2], f.tasks[0], foreign_task, 999_999, f.tasks[0]]}),
    )
    .await;
    assert_eq!(run.total_tasks, 2);
    assert_eq!(run.project_subset, Subset::Custom);
    assert_eq!(run.status, RunStatus::Pending);
    assert!(
        run.task_ids.as_ref().is_some_and(Value::is_array),
        "{run:?}"
    );
    assert_eq!(
        slice_task_ids(&app, run.id).await,
        vec![f.tasks[0], f.tasks[2]]
    );
    for body in [
        json!({"project": f.project, "project_subset": "Custom"}),
        json!({"project": f.project, "project_subset": "Custom", "task_ids": []}),
        json!({"project": f.project, "project_subset": "Custom", "task_ids": null}),
    ] {
        bad_field(
            app.post(&runs_path(f.prompt, f.version), body).await,
            "task_ids",
        );
    }
    // Only ids of other projects: nothing to do, completed at once.
    let run = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "Custom", "task_ids": [foreign_task]}),
    )
    .await;
    assert_eq!(run.total_tasks, 0);
    assert_eq!(run.status, RunStatus::Completed);
}

#[tokio::test]
async fn an_empty_subset_completes_at_once() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b"]).await;
    // No ground truth: a HasGT run would be empty, so it is refused and says why.
    let error = app
        .post(
            &runs_path(f.prompt, f.version),
            json!({"project": f.project, "project_subset": "HasGT"}),
        )
        .await
        .bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert_eq!(error.code, ErrorCode::NoGroundTruth, "{error:?}");
    let run = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "Sample", "sample_subset_size": 0}),
    )
    .await;
    assert_eq!(run.total_tasks, 0);
    assert_eq!(run.status, RunStatus::Completed);
}

#[tokio::test]
async fn project_must_be_the_callers() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a"]).await;
    let theirs: ProjectView = app
        .send(
            Method::POST,
            "/api/projects/",
            Some(&app.other_token),
            Some(&json!({"title": "theirs", "label_config": CLS})),
        )
        .await
        .created();
    for body in [
        json!({"project": theirs.id, "project_subset": "All"}),
        json!({"project": 999_999, "project_subset": "All"}),
        json!({"project_subset": "All"}),
    ] {
        bad_field(
            app.post(&runs_path(f.prompt, f.version), body).await,
            "project",
        );
    }
    bad_field(
        app.post(
            &runs_path(f.prompt, f.version),
            json!({"project": f.project, "project_subset": "Everything"}),
        )
        .await,
        "project_subset",
    );
    assert!(runs_of(&app, f.prompt, f.version).await.is_empty());
    // Unknown prompt or version, or a version of another prompt.
    let other = id_of(&new_prompt(&app, json!({"title": "Other"})).await);
    for path in [
        runs_path(999_999, f.version),
        runs_path(f.prompt, 999_999),
        runs_path(other, f.version),
    ] {
        let (status, _) = app
            .post(
                &path,
                json!({"project": f.project, "project_subset": "All"}),
            )
            .await;
        assert_eq!(status, 404, "{path}");
        let (status, _) = app.get(&path).await;
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn a_run_associates_its_project_with_the_prompt() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a"]).await;
    let prompt = id_of(&new_prompt(&app, json!({"title": "Loose"})).await);
    let version = id_of(&new_version(&app, prompt, f.connection, "v1").await);
    let before: PromptDetailView = app.get(&format!("/api/prompts/{prompt}/")).await.good();
    assert!(before.associated_projects.is_empty());
    new_run(
        &app,
        prompt,
        version,
        json!({"project": f.project, "project_subset": "All"}),
    )
    .await;
    let after: PromptDetailView = app.get(&format!("/api/prompts/{prompt}/")).await.good();
    let projects: Vec<(i64, Option<&str>)> = after
        .associated_projects
        .iter()
        .map(|p| (p.id, p.title.as_deref()))
        .collect();
    assert_eq!(projects, [(f.project, Some("test"))]);
    // A second run does not link it twice.
    new_run(
        &app,
        prompt,
        version,
        json!({"project": f.project, "project_subset": "All"}),
    )
    .await;
    let after: PromptDetailView = app.get(&format!("/api/prompts/{prompt}/")).await.good();
    assert_eq!(after.associated_projects.len(), 1);
    assert_eq!(after.runs_count, 1, "the second run replaced the first");
}

#[tokio::test]
async fn a_new_run_replaces_the_previous_one_of_the_same_subset() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b"]).await;
    ground_truth(&app, f.tasks[0], choice("Positive")).await;
    let first = run_on(&app, &f, f.version, "All").await;
    batch(
        &app,
        first,
        json!([
            item(f.tasks[0], json!({"sentiment": "Positive"})),
            item(f.tasks[1], json!({"sentiment": "Negative"}))
        ]),
    )
    .await;
    let gt = run_on(&app, &f, f.version, "HasGT").await;
    batch(
        &app,
        gt,
        json!([item(f.tasks[0], json!({"sentiment": "Positive"}))]),
    )
    .await;
    // Another version's All run is untouched as well.
    let v2 = id_of(&new_version(&app, f.prompt, f.connection, "v2").await);
    let other = run_on(&app, &f, v2, "All").await;
    batch(
        &app,
        other,
        json!([item(f.tasks[1], json!({"sentiment": "Positive"}))]),
    )
    .await;
    assert_eq!(total_predictions(&app, f.tasks[0]).await, 2);
    assert_eq!(total_predictions(&app, f.tasks[1]).await, 2);

    let second = run_on(&app, &f, f.version, "All").await;
    let ids = ids_of(&runs_of(&app, f.prompt, f.version).await);
    assert!(!ids.contains(&first), "{ids:?}");
    assert!(ids.contains(&second) && ids.contains(&gt));
    assert!(predictions_of_run(&app, f.project, first).await.is_empty());
    assert_eq!(predictions_of_run(&app, f.project, gt).await.len(), 1);
    assert_eq!(predictions_of_run(&app, f.project, other).await.len(), 1);
    assert!(
        entity::model_run::Entity::find_by_id(first)
            .one(&app.db)
            .await
            .expect("query")
            .is_none()
    );
    assert!(slice_task_ids(&app, first).await.is_empty());
    assert_eq!(total_predictions(&app, f.tasks[0]).await, 1);
    assert_eq!(total_predictions(&app, f.tasks[1]).await, 1);
    assert_eq!(runs_of(&app, f.prompt, v2).await.len(), 1);
}

#[tokio::test]
async fn only_missing_predictions_keeps_the_old_run() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b", "c"]).await;
    let first = run_on(&app, &f, f.version, "All").await;
    batch(
        &app,
        first,
        json!([
            item(f.tasks[0], json!({"sentiment": "Positive"})),
            item(f.tasks[2], json!({"sentiment": "Negative"}))
        ]),
    )
    .await;
    // A prediction of another version does not count as present.
    let v2 = id_of(&new_version(&app, f.prompt, f.connection, "v2").await);
    let other = run_on(&app, &f, v2, "All").await;
    batch(
        &app,
        other,
        json!([item(f.tasks[1], json!({"sentiment": "Negative"}))]),
    )
    .await;

    let missing = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "All", "only_missing_predictions": true}),
    )
    .await;
    assert_eq!(missing.total_tasks, 1);
    assert!(missing.only_missing_predictions);
    assert_eq!(missing.status, RunStatus::Pending);
    assert_eq!(slice_task_ids(&app, missing.id).await, vec![f.tasks[1]]);
    let ids = ids_of(&runs_of(&app, f.prompt, f.version).await);
    assert_eq!(ids, vec![missing.id, first]);
    assert_eq!(predictions_of_run(&app, f.project, first).await.len(), 2);
    assert_eq!(total_predictions(&app, f.tasks[0]).await, 1);
    // Every task has a prediction of this version now: nothing left.
    batch(
        &app,
        missing.id,
        json!([item(f.tasks[1], json!({"sentiment": "Positive"}))]),
    )
    .await;
    let none = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "All", "only_missing_predictions": true}),
    )
    .await;
    assert_eq!(none.total_tasks, 0);
    assert_eq!(none.status, RunStatus::Completed);
}

#[tokio::test]
async fn list_filters_and_orders_newest_first() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b"]).await;
    ground_truth(&app, f.tasks[0], choice("Positive")).await;
    let second_project = app.project(CLS).await;
    app.import(second_project, json!([{"text": "z"}])).await;
    let a = run_on(&app, &f, f.version, "All").await;
    let b = run_on(&app, &f, f.version, "HasGT").await;
    let c = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": second_project, "project_subset": "All"}),
    )
    .await
    .id;
    let all = ids_of(&runs_of(&app, f.prompt, f.version).await);
    assert_eq!(all, vec![c, b, a]);
    assert_eq!(
        list_ids(&app, f.prompt, f.version, &format!("project={}", f.project)).await,
        vec![b, a]
    );
    assert_eq!(
        list_ids(
            &app,
            f.prompt,
            f.version,
            &format!("project={second_project}")
        )
        .await,
        vec![c]
    );
    assert_eq!(
        list_ids(&app, f.prompt, f.version, "project_subset=All").await,
        vec![c, a]
    );
    assert_eq!(
        list_ids(&app, f.prompt, f.version, "project_subset=HasGT").await,
        vec![b]
    );
    assert_eq!(
        list_ids(&app, f.prompt, f.version, "project_subset=Sample").await,
        Vec::<i64>::new()
    );
    assert_eq!(
        list_ids(
            &app,
            f.prompt,
            f.version,
            &format!("project={}&project_subset=All", f.project)
        )
        .await,
        vec![a]
    );
    assert_eq!(
        list_ids(
            &app,
            f.prompt,
            f.version,
            &format!("parent_model={}", f.prompt)
        )
        .await,
        vec![c, b, a]
    );
    assert!(
        list_ids(
            &app,
            f.prompt,
            f.version,
            &format!("parent_model={}", f.prompt + 1000)
        )
        .await
        .is_empty()
    );
    assert_eq!(
        list_ids(&app, f.prompt, f.version, "ordering=id").await,
        vec![a, b, c]
    );
    assert_eq!(
        list_ids(&app, f.prompt, f.version, "ordering=-id").await,
        vec![c, b, a]
    );
    // Another version lists none of them.
    let v2 = id_of(&new_version(&app, f.prompt, f.connection, "v2").await);
    assert!(runs_of(&app, f.prompt, v2).await.is_empty());
}

#[tokio::test]
async fn cancel_stops_a_pending_run_and_keeps_its_predictions() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    // Cancel is a POST without a body.
    // The typed read checks `detail` is a string.
    let _: CancelView = app
        .send(
            Method::POST,
            &cancel_path(f.prompt, f.version, run),
            Some(&app.token),
            None,
        )
        .await
        .good();
    let state = run_state(&app, f.prompt, f.version, run).await;
    assert_eq!(state.status, RunStatus::Canceled);
    assert!(state.completed_at.is_some(), "{state:?}");

    // An InProgress run with a prediction: canceled, the prediction stays.
    let run = run_on(&app, &f, f.version, "All").await;
    batch(
        &app,
        run,
        json!([item(f.tasks[0], json!({"sentiment": "Positive"}))]),
    )
    .await;
    assert_eq!(
        run_state(&app, f.prompt, f.version, run).await.status,
        RunStatus::InProgress
    );
    let _: CancelView = app
        .post(&cancel_path(f.prompt, f.version, run), json!({}))
        .await
        .good();
    assert_eq!(
        run_state(&app, f.prompt, f.version, run).await.status,
        RunStatus::Canceled
    );
    assert_eq!(predictions_of_run(&app, f.project, run).await.len(), 1);
    // A later result does not revive it.
    batch(
        &app,
        run,
        json!([item(f.tasks[1], json!({"sentiment": "Negative"}))]),
    )
    .await;
    assert_eq!(
        run_state(&app, f.prompt, f.version, run).await.status,
        RunStatus::Canceled
    );
}

#[tokio::test]
async fn cancel_of_a_finished_run_explains_and_keeps_its_status() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    batch(
        &app,
        run,
        json!([item(f.tasks[0], json!({"sentiment": "Positive"}))]),
    )
    .await;
    let before = run_state(&app, f.prompt, f.version, run).await;
    assert_eq!(before.status, RunStatus::Completed);
    let body: CancelView = app
        .send(
            Method::POST,
            &cancel_path(f.prompt, f.version, run),
            Some(&app.token),
            None,
        )
        .await
        .good();
    assert!(!body.detail.is_empty());
    let after = run_state(&app, f.prompt, f.version, run).await;
    assert_eq!(after.status, RunStatus::Completed);
    assert_eq!(after.completed_at, before.completed_at);
    // A run of another version, or an unknown run: 404.
    let v2 = id_of(&new_version(&app, f.prompt, f.connection, "v2").await);
    let (status, _) = app.post(&cancel_path(f.prompt, v2, run), json!({})).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post(&cancel_path(f.prompt, f.version, 999_999), json!({}))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn slices_hold_every_task_exactly_once() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &[]).await;
    let data: Vec<Value> = (0..250).map(|i| json!({"text": format!("t{i}")})).collect();
    let tasks = app.import(f.project, Value::Array(data)).await;
    for t in tasks.iter().step_by(3) {
        ground_truth(&app, *t, choice("Positive")).await;
    }
    let run = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "All"}),
    )
    .await;
    assert_eq!(run.total_tasks, 250);
    let slices = entity::model_run_slice::Entity::find()
        .filter(entity::model_run_slice::Column::ModelRunId.eq(run.id))
        .order_by_asc(entity::model_run_slice::Column::Seq)
        .all(&app.db)
        .await
        .expect("query");
    assert_eq!(slices.len(), 3);
    let seqs: Vec<i32> = slices.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, vec![0, 1, 2]);
    assert!(
        slices
            .iter()
            .all(|s| s.status == entity::enums::SliceStatus::Pending)
    );
    let counts: Vec<i32> = slices.iter().map(|s| s.task_count).collect();
    assert_eq!(counts, vec![100, 100, 50]);
    let mut ids = slice_task_ids(&app, run.id).await;
    ids.sort_unstable();
    let mut expected = tasks.clone();
    expected.sort_unstable();
    assert_eq!(ids, expected);

    let gt = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "HasGT"}),
    )
    .await;
    let expected: Vec<i64> = tasks.iter().step_by(3).copied().collect();
    assert_eq!(gt.total_tasks as usize, expected.len());
    assert_eq!(slice_task_ids(&app, gt.id).await, expected);
}

#[tokio::test]
async fn annotators_may_list_but_not_create_or_cancel() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    let token = Some(app.annotator_token.as_str());
    let (status, _) = app
        .send(
            Method::POST,
            &runs_path(f.prompt, f.version),
            token,
            Some(&json!({"project": f.project, "project_subset": "All"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(
            Method::POST,
            &cancel_path(f.prompt, f.version, run),
            token,
            None,
        )
        .await;
    assert_eq!(status, 403);
    let list: Vec<RunView> = app
        .send(Method::GET, &runs_path(f.prompt, f.version), token, None)
        .await
        .good();
    assert_eq!(list.len(), 1);
    assert_eq!(
        run_state(&app, f.prompt, f.version, run).await.status,
        RunStatus::Pending
    );
}

#[tokio::test]
async fn another_organizations_runs_are_404() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a"]).await;
    let run = run_on(&app, &f, f.version, "All").await;
    let token = Some(app.other_token.as_str());
    let (status, _) = app
        .send(Method::GET, &runs_path(f.prompt, f.version), token, None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(
            Method::POST,
            &runs_path(f.prompt, f.version),
            token,
            Some(&json!({"project": f.project, "project_subset": "All"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(
            Method::POST,
            &cancel_path(f.prompt, f.version, run),
            token,
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        run_state(&app, f.prompt, f.version, run).await.status,
        RunStatus::Pending
    );
}

/// A version with no model provider connection cannot start a run: 400 with a stable code and
/// the way out, and no run row is written.
#[tokio::test]
async fn a_version_without_a_connection_is_refused_a_run() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a"]).await;
    // Versions are made with a connection; one loses it when it is unset (or deleted).
    let bare = id_of(&new_version(&app, f.prompt, f.connection, "bare").await);
    let (status, body) = app
        .patch(
            &format!("/api/prompts/{}/versions/{bare}", f.prompt),
            json!({"model_provider_connection": null}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["model_provider_connection"].is_null(), "{body}");
    let (status, body) = app
        .post(
            &runs_path(f.prompt, bare),
            json!({"project": f.project, "project_subset": "All"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "version_cannot_run", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("model_provider_connection")),
        "{body}"
    );
    let runs = entity::model_run::Entity::find()
        .filter(entity::model_run::Column::ModelVersionId.eq(bare))
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(runs, 0);
}
