//! Tests of the inference-run endpoints: create for each subset (task counts, defaults,
//! Custom task ids), empty subsets, project checks, association, replacement of the previous
//! run, only_missing_predictions, list filters and order, cancel, the work slices, roles and
//! organizations.
use crate::helpers::fixtures::{
    assert_field_error, batch, fixture, ground_truth, id_of, item, new_prompt, new_run,
    new_version, predictions_of_run, run_on, run_state, runs_of, runs_path, total_predictions,
};
use crate::helpers::{CLS, TestApp, choice};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

/// The ids the run list answers with `query`.
async fn list_ids(app: &TestApp, prompt: i64, version: i64, query: &str) -> Vec<i64> {
    let (status, body) = app
        .get(&format!("{}?{query}", runs_path(prompt, version)))
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .expect("bare array")
        .iter()
        .map(id_of)
        .collect()
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
    let (status, _) = app
        .post(
            &format!("/api/tasks/{}/annotations/", f.tasks[4]),
            json!({"result": [], "ground_truth": true, "was_cancelled": true}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, me) = app.get("/api/current-user/whoami").await;

    let all = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "All"}),
    )
    .await;
    assert_eq!(all["total_tasks"], 5);
    assert_eq!(all["status"], "Pending");
    assert_eq!(all["project"], f.project);
    assert_eq!(all["project_subset"], "All");
    assert_eq!(all["model_version"], f.version);
    assert_eq!(all["parent_model"], f.prompt);
    assert_eq!(all["total_predictions"], 0);
    assert_eq!(all["total_correct_predictions"], 0);
    assert_eq!(all["only_missing_predictions"], false);
    assert_eq!(all["task_ids"], Value::Null);
    assert_eq!(all["sample_subset_size"], Value::Null);
    assert_eq!(all["organization"], me["active_organization"]);
    assert_eq!(all["created_by"]["email"], "admin@example.com");
    assert!(all["created_at"].is_string() && all["triggered_at"].is_string());
    assert_eq!(all["completed_at"], Value::Null);
    assert_eq!(all["predictions_updated_at"], Value::Null);

    let gt = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "HasGT"}),
    )
    .await;
    assert_eq!(gt["total_tasks"], 2);
    assert_eq!(gt["status"], "Pending");
    // HasGT is the default subset.
    let default = new_run(&app, f.prompt, f.version, json!({"project": f.project})).await;
    assert_eq!(default["project_subset"], "HasGT");
    assert_eq!(default["total_tasks"], 2);

    let sample = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "Sample", "sample_subset_size": 3}),
    )
    .await;
    assert_eq!(sample["total_tasks"], 3);
    assert_eq!(sample["sample_subset_size"], 3);
    assert_eq!(
        slice_task_ids(&app, id_of(&sample)).await,
        f.tasks[..3].to_vec()
    );
    // The default sample size (20) covers all five tasks here.
    let sample = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "Sample"}),
    )
    .await;
    assert_eq!(sample["total_tasks"], 5);
    assert_eq!(sample["sample_subset_size"], 20);
    assert_eq!(
        slice_task_ids(&app, id_of(&gt)).await,
        Vec::<i64>::new(),
        "replaced by the default HasGT run"
    );
    assert_eq!(
        slice_task_ids(&app, id_of(&default)).await,
        vec![f.tasks[0], f.tasks[3]]
    );
    assert_eq!(slice_task_ids(&app, id_of(&all)).await, f.tasks);
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
    assert_eq!(run["total_tasks"], 20);
    assert_eq!(run["sample_subset_size"], 20);
    assert_eq!(
        slice_task_ids(&app, id_of(&run)).await,
        f.tasks[..20].to_vec()
    );
    let run = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "Sample", "sample_subset_size": 30}),
    )
    .await;
    assert_eq!(run["total_tasks"], 25);
    let (status, body) = app
        .post(
            &runs_path(f.prompt, f.version),
            json!({"project": f.project, "project_subset": "Sample", "sample_subset_size": -1}),
        )
        .await;
    assert_field_error(status, &body, "sample_subset_size");
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
    assert_eq!(run["total_tasks"], 2);
    assert_eq!(run["project_subset"], "Custom");
    assert_eq!(run["status"], "Pending");
    assert!(run["task_ids"].is_array(), "{run}");
    assert_eq!(
        slice_task_ids(&app, id_of(&run)).await,
        vec![f.tasks[0], f.tasks[2]]
    );
    for body in [
        json!({"project": f.project, "project_subset": "Custom"}),
        json!({"project": f.project, "project_subset": "Custom", "task_ids": []}),
        json!({"project": f.project, "project_subset": "Custom", "task_ids": null}),
    ] {
        let (status, err) = app.post(&runs_path(f.prompt, f.version), body).await;
        assert_field_error(status, &err, "task_ids");
    }
    // Only ids of other projects: nothing to do, completed at once.
    let run = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "Custom", "task_ids": [foreign_task]}),
    )
    .await;
    assert_eq!(run["total_tasks"], 0);
    assert_eq!(run["status"], "Completed");
}

#[tokio::test]
async fn an_empty_subset_completes_at_once() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a", "b"]).await;
    // No ground truth: a HasGT run would be empty, so it is refused and says why.
    let (status, body) = app
        .post(
            &runs_path(f.prompt, f.version),
            json!({"project": f.project, "project_subset": "HasGT"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "no_ground_truth", "{body}");
    let run = new_run(
        &app,
        f.prompt,
        f.version,
        json!({"project": f.project, "project_subset": "Sample", "sample_subset_size": 0}),
    )
    .await;
    assert_eq!(run["total_tasks"], 0);
    assert_eq!(run["status"], "Completed");
}

#[tokio::test]
async fn project_must_be_the_callers() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["a"]).await;
    let (status, theirs) = app
        .send(
            Method::POST,
            "/api/projects/",
            Some(&app.other_token),
            Some(&json!({"title": "theirs", "label_config": CLS})),
        )
        .await;
    assert_eq!(status, 201);
    for body in [
        json!({"project": id_of(&theirs), "project_subset": "All"}),
        json!({"project": 999_999, "project_subset": "All"}),
        json!({"project_subset": "All"}),
    ] {
        let (status, err) = app.post(&runs_path(f.prompt, f.version), body).await;
        assert_field_error(status, &err, "project");
    }
    let (status, err) = app
        .post(
            &runs_path(f.prompt, f.version),
            json!({"project": f.project, "project_subset": "Everything"}),
        )
        .await;
    assert_field_error(status, &err, "project_subset");
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
    let (_, before) = app.get(&format!("/api/prompts/{prompt}/")).await;
    assert_eq!(before["associated_projects"], json!([]));
    new_run(
        &app,
        prompt,
        version,
        json!({"project": f.project, "project_subset": "All"}),
    )
    .await;
    let (_, after) = app.get(&format!("/api/prompts/{prompt}/")).await;
    assert_eq!(
        after["associated_projects"],
        json!([{"id": f.project, "title": "test"}])
    );
    // A second run does not link it twice.
    new_run(
        &app,
        prompt,
        version,
        json!({"project": f.project, "project_subset": "All"}),
    )
    .await;
    let (_, after) = app.get(&format!("/api/prompts/{prompt}/")).await;
    assert_eq!(
        after["associated_projects"].as_array().expect("list").len(),
        1
    );
    assert_eq!(after["runs_count"], 1, "the second run replaced the first");
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
    let ids: Vec<i64> = runs_of(&app, f.prompt, f.version)
        .await
        .iter()
        .map(id_of)
        .collect();
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
    assert_eq!(missing["total_tasks"], 1);
    assert_eq!(missing["only_missing_predictions"], true);
    assert_eq!(missing["status"], "Pending");
    assert_eq!(
        slice_task_ids(&app, id_of(&missing)).await,
        vec![f.tasks[1]]
    );
    let ids: Vec<i64> = runs_of(&app, f.prompt, f.version)
        .await
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, vec![id_of(&missing), first]);
    assert_eq!(predictions_of_run(&app, f.project, first).await.len(), 2);
    assert_eq!(total_predictions(&app, f.tasks[0]).await, 1);
    // Every task has a prediction of this version now: nothing left.
    batch(
        &app,
        id_of(&missing),
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
    assert_eq!(none["total_tasks"], 0);
    assert_eq!(none["status"], "Completed");
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
    let c = id_of(
        &new_run(
            &app,
            f.prompt,
            f.version,
            json!({"project": second_project, "project_subset": "All"}),
        )
        .await,
    );
    let all: Vec<i64> = runs_of(&app, f.prompt, f.version)
        .await
        .iter()
        .map(id_of)
        .collect();
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
    let (status, body) = app
        .send(
            Method::POST,
            &cancel_path(f.prompt, f.version, run),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["detail"].is_string());
    let state = run_state(&app, f.prompt, f.version, run).await;
    assert_eq!(state["status"], "Canceled");
    assert!(state["completed_at"].is_string(), "{state}");

    // An InProgress run with a prediction: canceled, the prediction stays.
    let run = run_on(&app, &f, f.version, "All").await;
    batch(
        &app,
        run,
        json!([item(f.tasks[0], json!({"sentiment": "Positive"}))]),
    )
    .await;
    assert_eq!(
        run_state(&app, f.prompt, f.version, run).await["status"],
        "InProgress"
    );
    let (status, body) = app
        .post(&cancel_path(f.prompt, f.version, run), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        run_state(&app, f.prompt, f.version, run).await["status"],
        "Canceled"
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
        run_state(&app, f.prompt, f.version, run).await["status"],
        "Canceled"
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
    assert_eq!(before["status"], "Completed");
    let (status, body) = app
        .send(
            Method::POST,
            &cancel_path(f.prompt, f.version, run),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    let after = run_state(&app, f.prompt, f.version, run).await;
    assert_eq!(after["status"], "Completed");
    assert_eq!(after["completed_at"], before["completed_at"]);
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
    assert_eq!(run["total_tasks"], 250);
    let slices = entity::model_run_slice::Entity::find()
        .filter(entity::model_run_slice::Column::ModelRunId.eq(id_of(&run)))
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
    let mut ids = slice_task_ids(&app, id_of(&run)).await;
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
    assert_eq!(gt["total_tasks"], expected.len());
    assert_eq!(slice_task_ids(&app, id_of(&gt)).await, expected);
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
    let (status, list) = app
        .send(Method::GET, &runs_path(f.prompt, f.version), token, None)
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().expect("bare array").len(), 1);
    assert_eq!(
        run_state(&app, f.prompt, f.version, run).await["status"],
        "Pending"
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
        run_state(&app, f.prompt, f.version, run).await["status"],
        "Pending"
    );
}
