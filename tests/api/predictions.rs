//! Tests of the predictions endpoints: result normalisation, validation of task and project,
//! list filters, get/patch/delete, task counters and organization scoping.
use crate::helpers::{CLS, NER, Reply, TestApp, choice, field_errors};
use prompter::error::ErrorCode;
use prompter::views::predictions::PredictionView;
use prompter::views::projects::ProjectView;
use prompter::views::tasks::{TaskListView, TaskView};
use reqwest::Method;
use serde_json::{Value, json};

/// A CLS project with two tasks; returns the project and the task ids.
async fn two_tasks(app: &TestApp) -> (i64, Vec<i64>) {
    let project = app.project(CLS).await;
    let tasks = app
        .import(project, json!([{"text": "first"}, {"text": "second"}]))
        .await;
    (project, tasks)
}

/// Creates a prediction of `task` with `result` and returns it (asserts 201).
async fn predict(app: &TestApp, task: i64, result: Value) -> PredictionView {
    app.post("/api/predictions/", json!({"task": task, "result": result}))
        .await
        .created()
}

/// The ids of a bare prediction list (asserts 200 and a bare array).
fn ids(reply: (u16, Value)) -> Vec<i64> {
    reply
        .good::<Vec<PredictionView>>()
        .iter()
        .map(|p| p.id)
        .collect()
}

/// The `total_predictions` of a task.
async fn total_predictions(app: &TestApp, task: i64) -> i32 {
    app.get(&format!("/api/tasks/{task}/"))
        .await
        .good::<TaskView>()
        .total_predictions
}

#[tokio::test]
async fn create_with_a_region_list() {
    let app = TestApp::spawn().await;
    let (project, tasks) = two_tasks(&app).await;
    // Typed reading checks `id`, `created_ago` and `created_at` are there with their types.
    let body: PredictionView = app
        .post(
            "/api/predictions/",
            json!({"task": tasks[0], "result": choice("Positive"), "score": 0.75, "model_version": "gpt-x",
                   "cluster": 3, "neighbors": {"near": [1, 2]}, "mislabeling": 0.5, "model": 12}),
        )
        .await
        .created();
    assert_eq!(body.result, choice("Positive"));
    assert_eq!(body.score, Some(0.75));
    assert_eq!(body.model_version, "gpt-x");
    assert_eq!(body.cluster, Some(3));
    assert_eq!(body.neighbors, Some(json!({"near": [1, 2]})));
    assert_eq!(body.mislabeling, 0.5);
    assert_eq!(body.model, None);
    assert_eq!(body.model_run, None);
    assert_eq!(body.task, tasks[0]);
    assert_eq!(body.project, project);

    // Defaults.
    let body = predict(&app, tasks[0], json!([])).await;
    assert_eq!(body.result, json!([]));
    assert_eq!(body.score, None);
    assert_eq!(body.model_version, "");
    assert_eq!(body.mislabeling, 0.0);
    assert_eq!(body.cluster, None);

    let task: TaskView = app.get(&format!("/api/tasks/{}/", tasks[0])).await.good();
    assert_eq!(task.total_predictions, 2);
    let predictions = task.predictions.expect("the task's predictions");
    assert_eq!(predictions[0].result, choice("Positive"));
    // The no-slash path works too.
    let (status, body) = app
        .post("/api/predictions", json!({"task": tasks[1], "result": []}))
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_dict_result_becomes_one_region_of_the_matching_control() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let body = predict(&app, tasks[0], json!({"choices": ["Positive"]})).await;
    let result = body.result.as_array().expect("a region list");
    assert_eq!(result.len(), 1);
    assert_eq!(result[0]["from_name"], "sentiment");
    assert_eq!(result[0]["to_name"], "text");
    assert_eq!(result[0]["type"], "choices");
    assert_eq!(result[0]["value"], json!({"choices": ["Positive"]}));
    assert!(result[0]["id"].as_str().is_some_and(|id| !id.is_empty()));

    // With an NER config, a `labels` object goes to the Labels control.
    let ner = app.project(NER).await;
    let task = app.import(ner, json!([{"text": "Ada Lovelace"}])).await[0];
    let body = predict(
        &app,
        task,
        json!({"start": 0, "end": 3, "text": "Ada", "labels": ["PER"]}),
    )
    .await;
    let region = &body.result[0];
    assert_eq!(region["from_name"], "label");
    assert_eq!(region["to_name"], "text");
    assert_eq!(region["type"], "labels");
    assert_eq!(region["value"]["labels"], json!(["PER"]));
    assert_eq!(region["value"]["start"], 0);
}

#[tokio::test]
async fn a_bare_value_becomes_a_choices_region() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let body = predict(&app, tasks[0], json!("Positive")).await;
    let result = body.result.as_array().expect("a region list");
    assert_eq!(result.len(), 1);
    assert_eq!(result[0]["from_name"], "sentiment");
    assert_eq!(result[0]["to_name"], "text");
    assert_eq!(result[0]["type"], "choices");
    assert_eq!(result[0]["value"], json!({"choices": ["Positive"]}));
    let got: PredictionView = app
        .get(&format!("/api/predictions/{}/", body.id))
        .await
        .good();
    assert_eq!(got.result, body.result);
}

#[tokio::test]
async fn a_result_matching_no_control_is_400() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    for result in [json!({"rating": 4}), json!(true), json!([1, "a"])] {
        let error = app
            .post(
                "/api/predictions/",
                json!({"task": tasks[0], "result": result}),
            )
            .await
            .bad();
        assert_eq!(error.status_code, 400, "{result}: {error:?}");
        assert_eq!(error.code, ErrorCode::ValidationError);
        assert!(
            !field_errors(&error, "result").is_empty(),
            "{result}: {error:?}"
        );
    }
    // A bare value needs a single-valued control: NER has none.
    let ner = app.project(NER).await;
    let task = app.import(ner, json!([{"text": "x"}])).await[0];
    let error = app
        .post("/api/predictions/", json!({"task": task, "result": "PER"}))
        .await
        .bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert!(!field_errors(&error, "result").is_empty(), "{error:?}");
    // A missing or null result is required.
    for payload in [
        json!({"task": tasks[0]}),
        json!({"task": tasks[0], "result": null}),
    ] {
        let error = app.post("/api/predictions/", payload.clone()).await.bad();
        assert_eq!(error.status_code, 400, "{payload}: {error:?}");
        assert_eq!(
            field_errors(&error, "result"),
            ["This field is required."],
            "{error:?}"
        );
    }
    assert_eq!(total_predictions(&app, tasks[0]).await, 0);
    assert_eq!(total_predictions(&app, task).await, 0);
}

#[tokio::test]
async fn the_task_must_exist_and_be_the_callers() {
    let app = TestApp::spawn().await;
    let (project, tasks) = two_tasks(&app).await;
    let error = app
        .post("/api/predictions/", json!({"result": "Positive"}))
        .await
        .bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert_eq!(field_errors(&error, "task"), ["This field is required."]);
    let error = app
        .post(
            "/api/predictions/",
            json!({"task": 999999, "result": "Positive"}),
        )
        .await
        .bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert!(
        field_errors(&error, "task")
            .first()
            .expect("message")
            .contains("999999"),
        "{error:?}"
    );
    let error = app
        .post(
            "/api/predictions/",
            json!({"task": "one", "result": "Positive"}),
        )
        .await
        .bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert!(!field_errors(&error, "task").is_empty(), "{error:?}");

    // Another organization's task is a 400 on `task`.
    let error = app
        .send(
            Method::POST,
            "/api/predictions/",
            Some(&app.other_token),
            Some(&json!({"task": tasks[0], "result": "Positive"})),
        )
        .await
        .bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert!(!field_errors(&error, "task").is_empty(), "{error:?}");

    // `project` must be the task's.
    let other_project = app.project(CLS).await;
    let error = app
        .post(
            "/api/predictions/",
            json!({"task": tasks[0], "project": other_project, "result": "Positive"}),
        )
        .await
        .bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert!(!field_errors(&error, "project").is_empty(), "{error:?}");
    let body: PredictionView = app
        .post(
            "/api/predictions/",
            json!({"task": tasks[0], "project": project, "result": "Positive"}),
        )
        .await
        .created();
    assert_eq!(body.project, project);

    // An unknown inference run is a 400 on `model_run`.
    let error = app
        .post(
            "/api/predictions/",
            json!({"task": tasks[0], "result": [], "model_run": 999999}),
        )
        .await
        .bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert!(!field_errors(&error, "model_run").is_empty(), "{error:?}");

    // Annotators may not create predictions.
    let (status, body) = app
        .send(
            Method::POST,
            "/api/predictions/",
            Some(&app.annotator_token),
            Some(&json!({"task": tasks[0], "result": []})),
        )
        .await;
    assert_eq!(status, 403, "{body}");

    assert_eq!(total_predictions(&app, tasks[0]).await, 1);
}

#[tokio::test]
async fn list_filters_by_project_task_and_task_project() {
    let app = TestApp::spawn().await;
    let (p1, t1) = two_tasks(&app).await;
    let (p2, t2) = two_tasks(&app).await;
    let a = predict(&app, t1[0], json!("Positive")).await.id;
    let b = predict(&app, t1[0], json!("Negative")).await.id;
    let c = predict(&app, t1[1], json!("Positive")).await.id;
    let d = predict(&app, t2[0], json!("Negative")).await.id;
    // The other organization's predictions never show.
    let theirs: ProjectView = app
        .send(
            Method::POST,
            "/api/projects/",
            Some(&app.other_token),
            Some(&json!({"label_config": CLS})),
        )
        .await
        .created();
    let (status, imported) = app
        .send(
            Method::POST,
            &format!("/api/projects/{}/import", theirs.id),
            Some(&app.other_token),
            Some(&json!([{"data": {"text": "x"}, "predictions": [{"result": "Positive"}]}])),
        )
        .await;
    assert_eq!(status, 201, "{imported}");

    assert_eq!(ids(app.get("/api/predictions/").await), vec![a, b, c, d]);
    let body = app.get(&format!("/api/predictions/?project={p1}")).await;
    assert_eq!(ids(body), vec![a, b, c]);
    let body = app
        .get(&format!("/api/predictions/?task__project={p2}"))
        .await;
    assert_eq!(ids(body), vec![d]);
    let listed: Vec<PredictionView> = app
        .get(&format!("/api/predictions/?task={}", t1[0]))
        .await
        .good();
    assert_eq!(listed.iter().map(|p| p.id).collect::<Vec<_>>(), vec![a, b]);
    assert!(listed.iter().all(|p| p.task == t1[0] && p.project == p1));
    let body = app
        .get(&format!("/api/predictions/?task={}&project={p1}", t1[1]))
        .await;
    assert_eq!(ids(body), vec![c]);
    let (_, body) = app
        .get(&format!("/api/predictions/?task={}&project={p2}", t1[1]))
        .await;
    assert_eq!(body, json!([]));
    let (_, body) = app
        .get(&format!(
            "/api/predictions/?project={p1}&task__project={p2}"
        ))
        .await;
    assert_eq!(body, json!([]));
    let body = app
        .get(&format!(
            "/api/predictions/?project={p1}&task__project={p1}"
        ))
        .await;
    assert_eq!(ids(body), vec![a, b, c]);
    let (_, body) = app.get(&format!("/api/predictions/?task={}", t2[1])).await;
    assert_eq!(body, json!([]));
    // Filtering by the other organization's project shows nothing.
    let (status, body) = app
        .get(&format!("/api/predictions/?project={}", theirs.id))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([]));
    let (status, body) = app.get("/api/predictions/?project=abc").await;
    assert_eq!(status, 400, "{body}");

    let body: Vec<PredictionView> = app
        .send(
            Method::GET,
            "/api/predictions/",
            Some(&app.other_token),
            None,
        )
        .await
        .good();
    assert_eq!(body.len(), 1);
    assert_eq!(body[0].project, theirs.id);
    // Annotators of the organization may list.
    let body = app
        .send(
            Method::GET,
            "/api/predictions/",
            Some(&app.annotator_token),
            None,
        )
        .await;
    assert_eq!(ids(body), vec![a, b, c, d]);
}

#[tokio::test]
async fn get_patch_and_delete_a_prediction() {
    let app = TestApp::spawn().await;
    let (project, tasks) = two_tasks(&app).await;
    let id = predict(&app, tasks[0], choice("Positive")).await.id;
    let path = format!("/api/predictions/{id}/");

    let body: PredictionView = app.get(&path).await.good();
    assert_eq!(body.id, id);
    assert_eq!(body.result, choice("Positive"));
    assert_eq!(body.task, tasks[0]);
    assert_eq!(body.project, project);
    let (status, _) = app.get(&format!("/api/predictions/{id}")).await;
    assert_eq!(status, 200);

    let body: PredictionView = app
        .patch(
            &path,
            json!({"score": 0.1, "model_version": "v9", "cluster": 2, "mislabeling": 0.3}),
        )
        .await
        .good();
    assert_eq!(body.score, Some(0.1));
    assert_eq!(body.model_version, "v9");
    assert_eq!(body.cluster, Some(2));
    assert_eq!(body.mislabeling, 0.3);
    assert_eq!(body.result, choice("Positive"));
    // A new result is normalised as on create.
    let body: PredictionView = app
        .patch(&path, json!({"result": {"choices": ["Negative"]}}))
        .await
        .good();
    assert_eq!(body.result[0]["from_name"], "sentiment");
    assert_eq!(body.result[0]["value"], json!({"choices": ["Negative"]}));
    assert_eq!(body.score, Some(0.1));
    // The same task and project may be repeated.
    let (status, _) = app
        .patch(&path, json!({"task": tasks[0], "project": project}))
        .await;
    assert_eq!(status, 200);

    // Invalid patches change nothing.
    for (patch, field) in [
        (json!({"task": tasks[1]}), "task"),
        (json!({"project": project + 1000}), "project"),
        (json!({"result": {"rating": 1}}), "result"),
        (json!({"result": false}), "result"),
        (json!({"score": "high"}), "score"),
        (json!({"model_run": 999999}), "model_run"),
    ] {
        let error = app.patch(&path, patch.clone()).await.bad();
        assert_eq!(error.status_code, 400, "{patch}: {error:?}");
        assert!(
            !field_errors(&error, field).is_empty(),
            "{patch}: {error:?}"
        );
    }
    let got: PredictionView = app.get(&path).await.good();
    assert_eq!(got.task, tasks[0]);
    assert_eq!(got.score, Some(0.1));
    assert_eq!(got.result[0]["value"], json!({"choices": ["Negative"]}));

    let (status, _) = app
        .send(
            Method::PATCH,
            &path,
            Some(&app.annotator_token),
            Some(&json!({"score": 1.0})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(Method::DELETE, &path, Some(&app.annotator_token), None)
        .await;
    assert_eq!(status, 403);

    let (status, _) = app.delete(&path).await;
    assert_eq!(status, 204);
    let error = app.get(&path).await.bad();
    assert_eq!(error.status_code, 404, "{error:?}");
    assert_eq!(error.code, ErrorCode::NotFound);
    assert_eq!(app.delete(&path).await.0, 404);
    assert_eq!(app.patch(&path, json!({"score": 1.0})).await.0, 404);
    assert_eq!(app.get("/api/predictions/abc/").await.0, 404);
}

#[tokio::test]
async fn total_predictions_of_the_task_is_recounted() {
    let app = TestApp::spawn().await;
    let (project, tasks) = two_tasks(&app).await;
    let first = predict(&app, tasks[0], json!("Positive")).await;
    assert_eq!(total_predictions(&app, tasks[0]).await, 1);
    let second = predict(&app, tasks[0], json!("Negative")).await;
    predict(&app, tasks[1], json!("Negative")).await;
    assert_eq!(total_predictions(&app, tasks[0]).await, 2);
    assert_eq!(total_predictions(&app, tasks[1]).await, 1);
    let list: TaskListView = app
        .get(&format!("/api/tasks/?project={project}"))
        .await
        .good();
    assert_eq!(list.total_predictions, 3);

    // A patch does not change the count.
    let (status, _) = app
        .patch(
            &format!("/api/predictions/{}/", first.id),
            json!({"score": 0.2}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(total_predictions(&app, tasks[0]).await, 2);

    let (status, _) = app
        .delete(&format!("/api/predictions/{}/", second.id))
        .await;
    assert_eq!(status, 204);
    assert_eq!(total_predictions(&app, tasks[0]).await, 1);
    let (status, _) = app.delete(&format!("/api/predictions/{}/", first.id)).await;
    assert_eq!(status, 204);
    assert_eq!(total_predictions(&app, tasks[0]).await, 0);
    assert_eq!(total_predictions(&app, tasks[1]).await, 1);
    let p: ProjectView = app.get(&format!("/api/projects/{project}/")).await.good();
    assert_eq!(p.total_predictions_number, 1);
    // Predictions do not label a task.
    let task: TaskView = app.get(&format!("/api/tasks/{}/", tasks[1])).await.good();
    assert!(!task.is_labeled);
    assert_eq!(task.total_annotations, 0);
}

#[tokio::test]
async fn another_organizations_predictions_are_404_everywhere() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let mine = predict(&app, tasks[0], json!("Positive")).await;
    let path = format!("/api/predictions/{}/", mine.id);
    let other = Some(app.other_token.as_str());
    let patch = json!({"score": 0.9});
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(&patch)),
        (Method::DELETE, None),
    ] {
        let error = app.send(method.clone(), &path, other, body).await.bad();
        assert_eq!(error.status_code, 404, "{method}: {error:?}");
        assert_eq!(error.code, ErrorCode::NotFound);
    }
    let (_, list) = app
        .send(Method::GET, "/api/predictions/", other, None)
        .await;
    assert_eq!(list, json!([]));
    let (_, list) = app
        .send(
            Method::GET,
            &format!("/api/predictions/?task={}", tasks[0]),
            other,
            None,
        )
        .await;
    assert_eq!(list, json!([]));
    // Still there, unchanged.
    let got: PredictionView = app.get(&path).await.good();
    assert_eq!(got.score, None);
    assert_eq!(total_predictions(&app, tasks[0]).await, 1);
}

#[tokio::test]
async fn prediction_routes_answer_405_for_other_methods() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let p = predict(&app, tasks[0], json!([])).await;
    for (method, path) in [
        (Method::DELETE, "/api/predictions/".to_string()),
        (Method::PUT, format!("/api/predictions/{}/", p.id)),
        (Method::POST, format!("/api/predictions/{}/", p.id)),
    ] {
        let error = app
            .send(method.clone(), &path, Some(&app.token), Some(&json!({})))
            .await
            .bad();
        assert_eq!(error.status_code, 405, "{method} {path}: {error:?}");
        assert_eq!(error.code, ErrorCode::MethodNotAllowed);
    }
}
