//! Tests of the tasks endpoints: the data-manager list, create, get, patch, delete and cascades.
use crate::helpers::{CLS, Reply, TestApp, bad_field, choice, field_errors};
use prompter::error::ErrorCode;
use prompter::views::predictions::PredictionView;
use prompter::views::projects::ProjectView;
use prompter::views::tasks::{TaskListView, TaskView};
use reqwest::Method;
use serde_json::{Value, json};

/// The ids of a task list's `tasks`.
fn task_ids(list: &TaskListView) -> Vec<i64> {
    list.tasks.iter().map(|t| t.id).collect()
}

/// A project with three tasks: the first with two annotations (one cancelled) and two
/// predictions, the second with one prediction, the third bare. Returns the project and tasks.
async fn seeded(app: &TestApp) -> (i64, Vec<i64>) {
    let project = app.project(CLS).await;
    let tasks = app
        .import(
            project,
            json!([
                {"data": {"text": "one"},
                 "annotations": [{"result": choice("Positive")}, {"result": [], "was_cancelled": true}],
                 "predictions": [{"result": choice("Positive"), "score": 0.9}, {"result": "Negative"}]},
                {"data": {"text": "two"}, "predictions": [{"result": choice("Negative")}]},
                {"text": "three"}
            ]),
        )
        .await;
    (project, tasks)
}

#[tokio::test]
async fn list_requires_a_project() {
    let app = TestApp::spawn().await;
    for (path, status, code) in [
        ("/api/tasks/", 400, ErrorCode::MissingProject),
        ("/api/tasks/?view=3", 400, ErrorCode::Unsupported),
        ("/api/tasks/?project=abc", 400, ErrorCode::InvalidQuery),
        ("/api/tasks/?project=999999", 404, ErrorCode::NotFound),
    ] {
        let error = app.get(path).await.bad();
        assert_eq!(error.status_code, status, "{path}: {error:?}");
        assert_eq!(error.code, code, "{path}");
    }
}

#[tokio::test]
async fn list_with_fields_all_nests_annotations_predictions_and_drafts() {
    let app = TestApp::spawn().await;
    let (project, tasks) = seeded(&app).await;
    let body: TaskListView = app
        .get(&format!("/api/tasks/?project={project}&fields=all"))
        .await
        .good();
    assert_eq!(task_ids(&body), tasks);
    let first = &body.tasks[0];
    assert_eq!(first.data, json!({"text": "one"}));
    assert_eq!(first.project, project);
    // Every annotation, cancelled ones included, by id.
    let annotations = first.annotations.as_ref().expect("annotations");
    assert_eq!(annotations.len(), 2);
    assert_eq!(annotations[0].result, choice("Positive"));
    assert!(!annotations[0].was_cancelled);
    assert!(annotations[1].was_cancelled);
    assert_eq!(annotations[0].created_username, "admin@example.com");
    assert_eq!(annotations[0].task, tasks[0]);
    let predictions = first.predictions.as_ref().expect("predictions");
    assert_eq!(predictions.len(), 2);
    assert_eq!(predictions[0].score, Some(0.9));
    assert_eq!(
        predictions[1].result[0]["value"],
        json!({"choices": ["Negative"]})
    );
    assert_eq!(first.drafts, Some(vec![]));
    let third = &body.tasks[2];
    assert!(third.annotations.as_ref().is_some_and(Vec::is_empty));
    assert!(third.predictions.as_ref().is_some_and(Vec::is_empty));

    for query in ["", "&fields=task_only"] {
        let reply = app
            .get(&format!("/api/tasks/?project={project}{query}"))
            .await;
        // The key set is the wire contract here: the nested lists are absent, not null.
        for task in reply.1["tasks"].as_array().expect("tasks") {
            assert!(task.get("annotations").is_none(), "{query}: {task}");
            assert!(task.get("predictions").is_none(), "{query}: {task}");
            assert!(task.get("drafts").is_none(), "{query}: {task}");
        }
        // Typed reading checks `created_at` and `updated_at` are timestamps.
        let body: TaskListView = reply.good();
        let first = &body.tasks[0];
        assert_eq!(first.total_annotations, 1);
        assert_eq!(first.cancelled_annotations, 1);
        assert_eq!(first.total_predictions, 2);
        assert!(first.is_labeled);
        assert_eq!(first.overlap, 1);
        assert_eq!(first.inner_id, 1);
        assert_eq!(first.meta, json!({}));
    }
}

#[tokio::test]
async fn list_totals_cover_the_whole_filtered_list() {
    let app = TestApp::spawn().await;
    let (project, tasks) = seeded(&app).await;
    let body: TaskListView = app
        .get(&format!("/api/tasks/?project={project}&page_size=1"))
        .await
        .good();
    assert_eq!(task_ids(&body), vec![tasks[0]]);
    assert_eq!(body.total, 3);
    assert_eq!(body.total_annotations, 1);
    assert_eq!(body.total_predictions, 3);

    for flag in ["true", "1", "True"] {
        let body: TaskListView = app
            .get(&format!(
                "/api/tasks/?project={project}&only_annotated={flag}&fields=all"
            ))
            .await
            .good();
        assert_eq!(task_ids(&body), vec![tasks[0]], "only_annotated={flag}");
        assert_eq!(body.total, 1);
        assert_eq!(body.total_annotations, 1);
        assert_eq!(body.total_predictions, 2);
    }
    let body: TaskListView = app
        .get(&format!(
            "/api/tasks/?project={project}&only_annotated=false"
        ))
        .await
        .good();
    assert_eq!(body.total, 3);

    // Annotating a task adds it to the annotated list.
    let (status, _) = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[2]),
            json!({"result": choice("Negative")}),
        )
        .await;
    assert_eq!(status, 201);
    let body: TaskListView = app
        .get(&format!(
            "/api/tasks/?project={project}&only_annotated=true"
        ))
        .await
        .good();
    assert_eq!(task_ids(&body), vec![tasks[0], tasks[2]]);
    assert_eq!(body.total_annotations, 2);
    assert_eq!(body.total_predictions, 2);

    // An empty project has zero totals.
    let empty = app.project(CLS).await;
    let (status, body) = app.get(&format!("/api/tasks/?project={empty}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"tasks": [], "total": 0, "total_annotations": 0, "total_predictions": 0})
    );
}

#[tokio::test]
async fn list_pages_through_tasks_by_id() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let items: Vec<Value> = (0..5).map(|i| json!({"text": format!("t{i}")})).collect();
    let tasks = app.import(project, Value::Array(items)).await;
    let mut seen = vec![];
    for page in 1..=3 {
        let body: TaskListView = app
            .get(&format!(
                "/api/tasks/?project={project}&page={page}&page_size=2"
            ))
            .await
            .good();
        assert_eq!(body.total, 5);
        seen.extend(task_ids(&body));
    }
    assert_eq!(seen, tasks);
    let last: TaskListView = app
        .get(&format!("/api/tasks/?project={project}&page=3&page_size=2"))
        .await
        .good();
    assert_eq!(task_ids(&last), vec![tasks[4]]);
    // Past the end: 200 with no tasks, totals intact.
    let body: TaskListView = app
        .get(&format!("/api/tasks/?project={project}&page=4&page_size=2"))
        .await
        .good();
    assert!(body.tasks.is_empty());
    assert_eq!(body.total, 5);
    // Default page size holds them all.
    let body: TaskListView = app
        .get(&format!("/api/tasks/?project={project}"))
        .await
        .good();
    assert_eq!(task_ids(&body), tasks);
    // A bad page is 404, as DRF answers.
    for bad in ["0", "x"] {
        let (status, body) = app
            .get(&format!("/api/tasks/?project={project}&page={bad}"))
            .await;
        assert_eq!(status, 404, "page={bad}: {body}");
    }
}

#[tokio::test]
async fn list_is_scoped_to_the_callers_organization() {
    let app = TestApp::spawn().await;
    let (project, _) = seeded(&app).await;
    let (status, body) = app
        .send(
            Method::GET,
            &format!("/api/tasks/?project={project}"),
            Some(&app.other_token),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let body: TaskListView = app
        .send(
            Method::GET,
            &format!("/api/tasks/?project={project}"),
            Some(&app.annotator_token),
            None,
        )
        .await
        .good();
    assert_eq!(body.total, 3);
}

#[tokio::test]
async fn create_a_task() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let body: TaskView = app
        .post(
            "/api/tasks/",
            json!({"data": {"text": "hello", "n": 1}, "project": project}),
        )
        .await
        .created();
    let id = body.id;
    assert_eq!(body.data, json!({"text": "hello", "n": 1}));
    assert_eq!(body.meta, json!({}));
    assert_eq!(body.project, project);
    assert_eq!(body.inner_id, 1);
    assert_eq!(body.overlap, 1);
    assert!(!body.is_labeled);
    assert_eq!(body.total_annotations, 0);
    assert_eq!(body.cancelled_annotations, 0);
    assert_eq!(body.total_predictions, 0);
    assert!(body.annotations.is_some_and(|a| a.is_empty()));
    assert!(body.predictions.is_some_and(|p| p.is_empty()));

    let second: TaskView = app
        .post(
            "/api/tasks",
            json!({"data": {"text": "again"}, "project": project, "meta": {"m": true}}),
        )
        .await
        .created();
    assert_eq!(second.inner_id, 2);
    assert_eq!(second.meta, json!({"m": true}));
    assert!(second.id > id);
    app.import(project, json!([{"text": "x"}, {"text": "y"}]))
        .await;
    let third: TaskView = app
        .post(
            "/api/tasks/",
            json!({"data": {"text": "z"}, "project": project}),
        )
        .await
        .created();
    assert_eq!(third.inner_id, 5);

    // Inner ids count per project.
    let other = app.project(CLS).await;
    let first_of_other: TaskView = app
        .post(
            "/api/tasks/",
            json!({"data": {"text": "z"}, "project": other}),
        )
        .await
        .created();
    assert_eq!(first_of_other.inner_id, 1);

    let list: TaskListView = app
        .get(&format!("/api/tasks/?project={project}"))
        .await
        .good();
    assert_eq!(list.total, 5);
}

#[tokio::test]
async fn create_rejects_bad_data_and_projects() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let error = bad_field(
        app.post(
            "/api/tasks/",
            json!({"data": {"other": "x"}, "project": project}),
        )
        .await,
        "data",
    );
    assert!(
        field_errors(&error, "data")[0].contains("text"),
        "{error:?}"
    );
    bad_field(
        app.post("/api/tasks/", json!({"data": "text", "project": project}))
            .await,
        "data",
    );
    let error = bad_field(
        app.post("/api/tasks/", json!({"project": project})).await,
        "data",
    );
    assert_eq!(field_errors(&error, "data"), ["This field is required."]);
    let error = bad_field(
        app.post("/api/tasks/", json!({"data": {"text": "x"}}))
            .await,
        "project",
    );
    assert_eq!(field_errors(&error, "project"), ["This field is required."]);
    bad_field(
        app.post(
            "/api/tasks/",
            json!({"data": {"text": "x"}, "project": "one"}),
        )
        .await,
        "project",
    );
    let error = bad_field(
        app.post(
            "/api/tasks/",
            json!({"data": {"text": "x"}, "project": 999999}),
        )
        .await,
        "project",
    );
    assert!(
        field_errors(&error, "project")[0].contains("999999"),
        "{error:?}"
    );

    // Another organization's project is a 400 on `project`, not a leak.
    let theirs: ProjectView = app
        .send(
            Method::POST,
            "/api/projects/",
            Some(&app.other_token),
            Some(&json!({"label_config": CLS})),
        )
        .await
        .created();
    bad_field(
        app.post(
            "/api/tasks/",
            json!({"data": {"text": "x"}, "project": theirs.id}),
        )
        .await,
        "project",
    );

    // Annotators may not create tasks.
    let (status, body) = app
        .send(
            Method::POST,
            "/api/tasks/",
            Some(&app.annotator_token),
            Some(&json!({"data": {"text": "x"}, "project": project})),
        )
        .await;
    assert_eq!(status, 403, "{body}");

    let list: TaskListView = app
        .get(&format!("/api/tasks/?project={project}"))
        .await
        .good();
    assert_eq!(list.total, 0);
}

#[tokio::test]
async fn get_a_task_with_its_annotations_and_predictions() {
    let app = TestApp::spawn().await;
    let (project, tasks) = seeded(&app).await;
    let body: TaskView = app.get(&format!("/api/tasks/{}/", tasks[0])).await.good();
    assert_eq!(body.id, tasks[0]);
    assert_eq!(body.project, project);
    assert_eq!(body.data, json!({"text": "one"}));
    assert_eq!(body.annotations.as_ref().expect("annotations").len(), 2);
    let predictions = body.predictions.as_ref().expect("predictions");
    assert_eq!(predictions.len(), 2);
    assert_eq!(predictions[0].task, tasks[0]);
    assert_eq!(predictions[0].project, project);
    assert_eq!(body.drafts, Some(vec![]));
    assert_eq!(body.total_annotations, 1);
    assert_eq!(body.cancelled_annotations, 1);
    assert_eq!(body.total_predictions, 2);
    // No slash too.
    let body: TaskView = app.get(&format!("/api/tasks/{}", tasks[1])).await.good();
    assert_eq!(body.data["text"], "two");
    assert!(body.annotations.is_some_and(|a| a.is_empty()));
    assert_eq!(body.predictions.expect("predictions").len(), 1);
    // Annotators may read.
    let (status, _) = app
        .send(
            Method::GET,
            &format!("/api/tasks/{}/", tasks[0]),
            Some(&app.annotator_token),
            None,
        )
        .await;
    assert_eq!(status, 200);

    let error = app
        .send(
            Method::GET,
            &format!("/api/tasks/{}/", tasks[0]),
            Some(&app.other_token),
            None,
        )
        .await
        .bad();
    assert_eq!(error.status_code, 404, "{error:?}");
    assert_eq!(error.code, ErrorCode::NotFound);
    let (status, _) = app.get("/api/tasks/999999/").await;
    assert_eq!(status, 404);
    let error = app.get("/api/tasks/abc/").await.bad();
    assert_eq!(error.status_code, 404, "{error:?}");
    assert_eq!(error.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn patch_a_tasks_data_and_meta() {
    let app = TestApp::spawn().await;
    let (_, tasks) = seeded(&app).await;
    let path = format!("/api/tasks/{}/", tasks[0]);
    let body: TaskView = app
        .patch(&path, json!({"data": {"text": "edited", "extra": [1, 2]}}))
        .await
        .good();
    assert_eq!(body.data, json!({"text": "edited", "extra": [1, 2]}));
    assert_eq!(body.meta, json!({}));
    assert_eq!(body.annotations.expect("annotations").len(), 2);
    let body: TaskView = app
        .patch(&path, json!({"meta": {"reviewed": true}}))
        .await
        .good();
    assert_eq!(body.meta, json!({"reviewed": true}));
    assert_eq!(body.data["text"], "edited");
    // Read-only counters are ignored.
    let body: TaskView = app
        .patch(
            &path,
            json!({"total_annotations": 99, "is_labeled": false, "inner_id": 42}),
        )
        .await
        .good();
    assert_eq!(body.total_annotations, 1);
    assert!(body.is_labeled);
    assert_eq!(body.inner_id, 1);

    let got: TaskView = app.get(&path).await.good();
    assert_eq!(got.data, json!({"text": "edited", "extra": [1, 2]}));
    assert_eq!(got.meta, json!({"reviewed": true}));

    // Data must still hold $text.
    bad_field(
        app.patch(&path, json!({"data": {"other": 1}})).await,
        "data",
    );
    bad_field(app.patch(&path, json!({"data": [1]})).await, "data");
    let got: TaskView = app.get(&path).await.good();
    assert_eq!(got.data["text"], "edited");

    let (status, _) = app
        .send(
            Method::PATCH,
            &path,
            Some(&app.annotator_token),
            Some(&json!({"meta": {}})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(
            Method::PATCH,
            &path,
            Some(&app.other_token),
            Some(&json!({"meta": {}})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.patch("/api/tasks/999999/", json!({"meta": {}})).await;
    assert_eq!(status, 404);
    let got: TaskView = app.get(&path).await.good();
    assert_eq!(got.meta, json!({"reviewed": true}));
}

#[tokio::test]
async fn delete_a_task() {
    let app = TestApp::spawn().await;
    let (project, tasks) = seeded(&app).await;
    let path = format!("/api/tasks/{}/", tasks[2]);
    let (status, _) = app
        .send(Method::DELETE, &path, Some(&app.annotator_token), None)
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(Method::DELETE, &path, Some(&app.other_token), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.get(&path).await.0, 200);

    let (status, body) = app.delete(&path).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = app.get(&path).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app.delete(&path).await;
    assert_eq!(status, 404);
    let list: TaskListView = app
        .get(&format!("/api/tasks/?project={project}"))
        .await
        .good();
    assert_eq!(task_ids(&list), vec![tasks[0], tasks[1]]);
    let p: ProjectView = app.get(&format!("/api/projects/{project}/")).await.good();
    assert_eq!(p.task_number, 2);
}

#[tokio::test]
async fn deleting_a_task_removes_its_annotations_and_predictions() {
    let app = TestApp::spawn().await;
    let (project, tasks) = seeded(&app).await;
    let task: TaskView = app.get(&format!("/api/tasks/{}/", tasks[0])).await.good();
    let annotations: Vec<i64> = task
        .annotations
        .expect("annotations")
        .iter()
        .map(|a| a.id)
        .collect();
    let predictions: Vec<i64> = task
        .predictions
        .expect("predictions")
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!((annotations.len(), predictions.len()), (2, 2));

    let (status, _) = app.delete(&format!("/api/tasks/{}/", tasks[0])).await;
    assert_eq!(status, 204);
    for id in annotations {
        assert_eq!(app.get(&format!("/api/annotations/{id}/")).await.0, 404);
    }
    for id in predictions {
        assert_eq!(app.get(&format!("/api/predictions/{id}/")).await.0, 404);
    }
    let remaining: Vec<PredictionView> = app
        .get(&format!("/api/predictions/?project={project}"))
        .await
        .good();
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0].task, tasks[1]);
    let (status, _) = app
        .get(&format!("/api/tasks/{}/annotations/", tasks[0]))
        .await;
    assert_eq!(status, 404);
    let p: ProjectView = app.get(&format!("/api/projects/{project}/")).await.good();
    assert_eq!(p.task_number, 2);
    assert_eq!(p.total_annotations_number, 0);
    assert_eq!(p.skipped_annotations_number, 0);
    assert_eq!(p.total_predictions_number, 1);
    // Deleting the project removes everything else.
    let (status, _) = app.delete(&format!("/api/projects/{project}/")).await;
    assert_eq!(status, 204);
    assert_eq!(app.get(&format!("/api/tasks/{}/", tasks[1])).await.0, 404);
    let (_, all) = app.get("/api/predictions/").await;
    assert_eq!(all, json!([]));
}

#[tokio::test]
async fn task_routes_answer_405_for_other_methods() {
    let app = TestApp::spawn().await;
    let (_, tasks) = seeded(&app).await;
    for (method, path) in [
        (Method::PUT, format!("/api/tasks/{}/", tasks[0])),
        (Method::POST, format!("/api/tasks/{}/", tasks[0])),
        (Method::DELETE, "/api/tasks/".to_string()),
    ] {
        let error = app
            .send(method.clone(), &path, Some(&app.token), Some(&json!({})))
            .await
            .bad();
        assert_eq!(error.status_code, 405, "{method} {path}: {error:?}");
        assert_eq!(error.code, ErrorCode::MethodNotAllowed);
    }
}
