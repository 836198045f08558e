//! Tests of the tasks endpoints: the data-manager list, create, get, patch, delete and cascades.
use crate::helpers::{CLS, TestApp, choice};
use reqwest::Method;
use serde_json::{Value, json};

/// The ids of a task list's `tasks`.
fn task_ids(body: &Value) -> Vec<i64> {
    body["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["id"].as_i64().expect("id"))
        .collect()
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
    let (status, body) = app.get("/api/tasks/").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "missing_project");
    let (status, body) = app.get("/api/tasks/?view=3").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "unsupported");
    let (status, body) = app.get("/api/tasks/?project=abc").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_query");
    let (status, body) = app.get("/api/tasks/?project=999999").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn list_with_fields_all_nests_annotations_predictions_and_drafts() {
    let app = TestApp::spawn().await;
    let (project, tasks) = seeded(&app).await;
    let (status, body) = app
        .get(&format!("/api/tasks/?project={project}&fields=all"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(task_ids(&body), tasks);
    let first = &body["tasks"][0];
    assert_eq!(first["data"], json!({"text": "one"}));
    assert_eq!(first["project"], project);
    // Every annotation, cancelled ones included, by id.
    let annotations = first["annotations"].as_array().expect("annotations");
    assert_eq!(annotations.len(), 2);
    assert_eq!(annotations[0]["result"], choice("Positive"));
    assert_eq!(annotations[0]["was_cancelled"], false);
    assert_eq!(annotations[1]["was_cancelled"], true);
    assert_eq!(annotations[0]["created_username"], "admin@example.com");
    assert_eq!(annotations[0]["task"], tasks[0]);
    let predictions = first["predictions"].as_array().expect("predictions");
    assert_eq!(predictions.len(), 2);
    assert_eq!(predictions[0]["score"], 0.9);
    assert_eq!(
        predictions[1]["result"][0]["value"],
        json!({"choices": ["Negative"]})
    );
    assert_eq!(first["drafts"], json!([]));
    assert_eq!(body["tasks"][2]["annotations"], json!([]));
    assert_eq!(body["tasks"][2]["predictions"], json!([]));

    for query in ["", "&fields=task_only"] {
        let (status, body) = app
            .get(&format!("/api/tasks/?project={project}{query}"))
            .await;
        assert_eq!(status, 200);
        for task in body["tasks"].as_array().expect("tasks") {
            assert!(task.get("annotations").is_none(), "{query}: {task}");
            assert!(task.get("predictions").is_none(), "{query}: {task}");
            assert!(task.get("drafts").is_none(), "{query}: {task}");
        }
        let first = &body["tasks"][0];
        assert_eq!(first["total_annotations"], 1);
        assert_eq!(first["cancelled_annotations"], 1);
        assert_eq!(first["total_predictions"], 2);
        assert_eq!(first["is_labeled"], true);
        assert_eq!(first["overlap"], 1);
        assert_eq!(first["inner_id"], 1);
        assert_eq!(first["meta"], json!({}));
        assert!(first["created_at"].is_string() && first["updated_at"].is_string());
    }
}

#[tokio::test]
async fn list_totals_cover_the_whole_filtered_list() {
    let app = TestApp::spawn().await;
    let (project, tasks) = seeded(&app).await;
    let (status, body) = app
        .get(&format!("/api/tasks/?project={project}&page_size=1"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(task_ids(&body), vec![tasks[0]]);
    assert_eq!(body["total"], 3);
    assert_eq!(body["total_annotations"], 1);
    assert_eq!(body["total_predictions"], 3);

    for flag in ["true", "1", "True"] {
        let (status, body) = app
            .get(&format!(
                "/api/tasks/?project={project}&only_annotated={flag}&fields=all"
            ))
            .await;
        assert_eq!(status, 200);
        assert_eq!(task_ids(&body), vec![tasks[0]], "only_annotated={flag}");
        assert_eq!(body["total"], 1);
        assert_eq!(body["total_annotations"], 1);
        assert_eq!(body["total_predictions"], 2);
    }
    let (_, body) = app
        .get(&format!(
            "/api/tasks/?project={project}&only_annotated=false"
        ))
        .await;
    assert_eq!(body["total"], 3);

    // Annotating a task adds it to the annotated list.
    let (status, _) = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[2]),
            json!({"result": choice("Negative")}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, body) = app
        .get(&format!(
            "/api/tasks/?project={project}&only_annotated=true"
        ))
        .await;
    assert_eq!(task_ids(&body), vec![tasks[0], tasks[2]]);
    assert_eq!(body["total_annotations"], 2);
    assert_eq!(body["total_predictions"], 2);

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
        let (status, body) = app
            .get(&format!(
                "/api/tasks/?project={project}&page={page}&page_size=2"
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["total"], 5);
        seen.extend(task_ids(&body));
    }
    assert_eq!(seen, tasks);
    let (_, last) = app
        .get(&format!("/api/tasks/?project={project}&page=3&page_size=2"))
        .await;
    assert_eq!(task_ids(&last), vec![tasks[4]]);
    // Past the end: 200 with no tasks, totals intact.
    let (status, body) = app
        .get(&format!("/api/tasks/?project={project}&page=4&page_size=2"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tasks"], json!([]));
    assert_eq!(body["total"], 5);
    // Default page size holds them all.
    let (_, body) = app.get(&format!("/api/tasks/?project={project}")).await;
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
    let (status, body) = app
        .send(
            Method::GET,
            &format!("/api/tasks/?project={project}"),
            Some(&app.annotator_token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 3);
}

#[tokio::test]
async fn create_a_task() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let (status, body) = app
        .post(
            "/api/tasks/",
            json!({"data": {"text": "hello", "n": 1}, "project": project}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().expect("id");
    assert_eq!(body["data"], json!({"text": "hello", "n": 1}));
    assert_eq!(body["meta"], json!({}));
    assert_eq!(body["project"], project);
    assert_eq!(body["inner_id"], 1);
    assert_eq!(body["overlap"], 1);
    assert_eq!(body["is_labeled"], false);
    assert_eq!(body["total_annotations"], 0);
    assert_eq!(body["cancelled_annotations"], 0);
    assert_eq!(body["total_predictions"], 0);
    assert_eq!(body["annotations"], json!([]));
    assert_eq!(body["predictions"], json!([]));

    let (status, second) = app
        .post(
            "/api/tasks",
            json!({"data": {"text": "again"}, "project": project, "meta": {"m": true}}),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["inner_id"], 2);
    assert_eq!(second["meta"], json!({"m": true}));
    assert!(second["id"].as_i64().expect("id") > id);
    app.import(project, json!([{"text": "x"}, {"text": "y"}]))
        .await;
    let (_, third) = app
        .post(
            "/api/tasks/",
            json!({"data": {"text": "z"}, "project": project}),
        )
        .await;
    assert_eq!(third["inner_id"], 5);

    // Inner ids count per project.
    let other = app.project(CLS).await;
    let (_, first_of_other) = app
        .post(
            "/api/tasks/",
            json!({"data": {"text": "z"}, "project": other}),
        )
        .await;
    assert_eq!(first_of_other["inner_id"], 1);

    let (_, list) = app.get(&format!("/api/tasks/?project={project}")).await;
    assert_eq!(list["total"], 5);
}

#[tokio::test]
async fn create_rejects_bad_data_and_projects() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let (status, body) = app
        .post(
            "/api/tasks/",
            json!({"data": {"other": "x"}, "project": project}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["validation_errors"]["data"][0]
            .as_str()
            .expect("message")
            .contains("text"),
        "{body}"
    );
    let (status, body) = app
        .post("/api/tasks/", json!({"data": "text", "project": project}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["data"].is_array(), "{body}");
    let (status, body) = app.post("/api/tasks/", json!({"project": project})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["validation_errors"]["data"],
        json!(["This field is required."])
    );
    let (status, body) = app
        .post("/api/tasks/", json!({"data": {"text": "x"}}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["validation_errors"]["project"],
        json!(["This field is required."])
    );
    let (status, body) = app
        .post(
            "/api/tasks/",
            json!({"data": {"text": "x"}, "project": "one"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["project"].is_array(), "{body}");
    let (status, body) = app
        .post(
            "/api/tasks/",
            json!({"data": {"text": "x"}, "project": 999999}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["validation_errors"]["project"][0]
            .as_str()
            .expect("message")
            .contains("999999"),
        "{body}"
    );

    // Another organization's project is a 400 on `project`, not a leak.
    let (status, theirs) = app
        .send(
            Method::POST,
            "/api/projects/",
            Some(&app.other_token),
            Some(&json!({"label_config": CLS})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = app
        .post(
            "/api/tasks/",
            json!({"data": {"text": "x"}, "project": theirs["id"]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["project"].is_array(), "{body}");

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

    let (_, list) = app.get(&format!("/api/tasks/?project={project}")).await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn get_a_task_with_its_annotations_and_predictions() {
    let app = TestApp::spawn().await;
    let (project, tasks) = seeded(&app).await;
    let (status, body) = app.get(&format!("/api/tasks/{}/", tasks[0])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], tasks[0]);
    assert_eq!(body["project"], project);
    assert_eq!(body["data"], json!({"text": "one"}));
    assert_eq!(
        body["annotations"].as_array().expect("annotations").len(),
        2
    );
    assert_eq!(
        body["predictions"].as_array().expect("predictions").len(),
        2
    );
    assert_eq!(body["predictions"][0]["task"], tasks[0]);
    assert_eq!(body["predictions"][0]["project"], project);
    assert_eq!(body["drafts"], json!([]));
    assert_eq!(body["total_annotations"], 1);
    assert_eq!(body["cancelled_annotations"], 1);
    assert_eq!(body["total_predictions"], 2);
    // No slash too.
    let (status, body) = app.get(&format!("/api/tasks/{}", tasks[1])).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["text"], "two");
    assert_eq!(body["annotations"], json!([]));
    assert_eq!(
        body["predictions"].as_array().expect("predictions").len(),
        1
    );
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

    let (status, body) = app
        .send(
            Method::GET,
            &format!("/api/tasks/{}/", tasks[0]),
            Some(&app.other_token),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found");
    let (status, _) = app.get("/api/tasks/999999/").await;
    assert_eq!(status, 404);
    let (status, body) = app.get("/api/tasks/abc/").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn patch_a_tasks_data_and_meta() {
    let app = TestApp::spawn().await;
    let (_, tasks) = seeded(&app).await;
    let path = format!("/api/tasks/{}/", tasks[0]);
    let (status, body) = app
        .patch(&path, json!({"data": {"text": "edited", "extra": [1, 2]}}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"text": "edited", "extra": [1, 2]}));
    assert_eq!(body["meta"], json!({}));
    assert_eq!(
        body["annotations"].as_array().expect("annotations").len(),
        2
    );
    let (status, body) = app.patch(&path, json!({"meta": {"reviewed": true}})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"], json!({"reviewed": true}));
    assert_eq!(body["data"]["text"], "edited");
    // Read-only counters are ignored.
    let (status, body) = app
        .patch(
            &path,
            json!({"total_annotations": 99, "is_labeled": false, "inner_id": 42}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total_annotations"], 1);
    assert_eq!(body["is_labeled"], true);
    assert_eq!(body["inner_id"], 1);

    let (_, got) = app.get(&path).await;
    assert_eq!(got["data"], json!({"text": "edited", "extra": [1, 2]}));
    assert_eq!(got["meta"], json!({"reviewed": true}));

    // Data must still hold $text.
    let (status, body) = app.patch(&path, json!({"data": {"other": 1}})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["data"].is_array(), "{body}");
    let (status, body) = app.patch(&path, json!({"data": [1]})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["data"].is_array(), "{body}");
    let (_, got) = app.get(&path).await;
    assert_eq!(got["data"]["text"], "edited");

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
    let (_, got) = app.get(&path).await;
    assert_eq!(got["meta"], json!({"reviewed": true}));
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
    let (_, list) = app.get(&format!("/api/tasks/?project={project}")).await;
    assert_eq!(task_ids(&list), vec![tasks[0], tasks[1]]);
    let (_, p) = app.get(&format!("/api/projects/{project}/")).await;
    assert_eq!(p["task_number"], 2);
}

#[tokio::test]
async fn deleting_a_task_removes_its_annotations_and_predictions() {
    let app = TestApp::spawn().await;
    let (project, tasks) = seeded(&app).await;
    let (_, task) = app.get(&format!("/api/tasks/{}/", tasks[0])).await;
    let annotations: Vec<i64> = task["annotations"]
        .as_array()
        .expect("annotations")
        .iter()
        .filter_map(|a| a["id"].as_i64())
        .collect();
    let predictions: Vec<i64> = task["predictions"]
        .as_array()
        .expect("predictions")
        .iter()
        .filter_map(|p| p["id"].as_i64())
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
    let (_, remaining) = app
        .get(&format!("/api/predictions/?project={project}"))
        .await;
    assert_eq!(remaining.as_array().expect("predictions").len(), 1);
    assert_eq!(remaining[0]["task"], tasks[1]);
    let (status, _) = app
        .get(&format!("/api/tasks/{}/annotations/", tasks[0]))
        .await;
    assert_eq!(status, 404);
    let (_, p) = app.get(&format!("/api/projects/{project}/")).await;
    assert_eq!(p["task_number"], 2);
    assert_eq!(p["total_annotations_number"], 0);
    assert_eq!(p["skipped_annotations_number"], 0);
    assert_eq!(p["total_predictions_number"], 1);
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
        let (status, body) = app
            .send(method.clone(), &path, Some(&app.token), Some(&json!({})))
            .await;
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(body["code"], "method_not_allowed");
    }
}
