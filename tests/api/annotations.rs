//! Tests of the annotations endpoints: create on a task, list, get, patch, delete, the task
//! counters they keep, validation and organization scoping.
use crate::helpers::{CLS, TestApp, choice};
use reqwest::Method;
use serde_json::{Value, json};

/// The id of the user behind `token`.
async fn user_id(app: &TestApp, token: &str) -> i64 {
    let (status, me) = app
        .send(Method::GET, "/api/current-user/whoami", Some(token), None)
        .await;
    assert_eq!(status, 200, "{me}");
    me["id"].as_i64().expect("user id")
}

/// A project with two tasks; returns the project and the task ids.
async fn two_tasks(app: &TestApp) -> (i64, Vec<i64>) {
    let project = app.project(CLS).await;
    let tasks = app
        .import(project, json!([{"text": "first"}, {"text": "second"}]))
        .await;
    (project, tasks)
}

/// The task `id` (asserts 200).
async fn task(app: &TestApp, id: i64) -> Value {
    let (status, body) = app.get(&format!("/api/tasks/{id}/")).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn create_an_annotation_as_the_caller() {
    let app = TestApp::spawn().await;
    let admin = user_id(&app, &app.token).await;
    let (project, tasks) = two_tasks(&app).await;
    let (status, body) = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            json!({"result": choice("Positive"), "lead_time": 4.5}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["id"].as_i64().is_some());
    assert_eq!(body["result"], choice("Positive"));
    assert_eq!(body["completed_by"], admin);
    assert_eq!(body["updated_by"], admin);
    assert_eq!(body["created_username"], "admin@example.com");
    assert_eq!(body["task"], tasks[0]);
    assert_eq!(body["project"], project);
    assert_eq!(body["was_cancelled"], false);
    assert_eq!(body["ground_truth"], false);
    assert_eq!(body["lead_time"], 4.5);
    assert_eq!(body["last_action"], "submitted");
    assert_eq!(body["parent_prediction"], Value::Null);
    assert_eq!(body["parent_annotation"], Value::Null);
    assert_eq!(body["bulk_created"], false);
    assert!(body["created_ago"].is_string());
    assert!(body["created_at"].is_string());

    let t = task(&app, tasks[0]).await;
    assert_eq!(t["total_annotations"], 1);
    assert_eq!(t["cancelled_annotations"], 0);
    assert_eq!(t["is_labeled"], true);
    assert_eq!(t["annotations"][0]["id"], body["id"]);
    let untouched = task(&app, tasks[1]).await;
    assert_eq!(untouched["total_annotations"], 0);
    assert_eq!(untouched["is_labeled"], false);

    // Read-only keys the SDK sends are ignored; the path decides the task.
    let (status, body) = app
        .post(
            &format!("/api/tasks/{}/annotations", tasks[1]),
            json!({"result": choice("Negative"), "task": tasks[0], "completed_by": 12345, "project": 777,
                   "ground_truth": true, "last_action": "prediction"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["task"], tasks[1]);
    assert_eq!(body["project"], project);
    assert_eq!(body["completed_by"], admin);
    assert_eq!(body["ground_truth"], true);
    assert_eq!(body["last_action"], "prediction");
    assert_eq!(task(&app, tasks[1]).await["total_annotations"], 1);
    assert_eq!(task(&app, tasks[0]).await["total_annotations"], 1);

    // An empty body is an empty annotation.
    let (status, body) = app
        .post(&format!("/api/tasks/{}/annotations/", tasks[0]), json!({}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["result"], json!([]));
    assert_eq!(task(&app, tasks[0]).await["total_annotations"], 2);
}

#[tokio::test]
async fn annotators_may_annotate() {
    let app = TestApp::spawn().await;
    let annotator = user_id(&app, &app.annotator_token).await;
    let (_, tasks) = two_tasks(&app).await;
    let (status, body) = app
        .send(
            Method::POST,
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            Some(&app.annotator_token),
            Some(&json!({"result": choice("Negative")})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["completed_by"], annotator);
    assert_eq!(body["created_username"], "annotator@example.com");
    let (status, list) = app
        .send(
            Method::GET,
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            Some(&app.annotator_token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().expect("list").len(), 1);
    // The admin sees the annotator's name on the task.
    let t = task(&app, tasks[0]).await;
    assert_eq!(
        t["annotations"][0]["created_username"],
        "annotator@example.com"
    );
    assert_eq!(t["annotations"][0]["completed_by"], annotator);
}

#[tokio::test]
async fn list_is_a_bare_array_without_cancelled_annotations() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let path = format!("/api/tasks/{}/annotations/", tasks[0]);
    let (status, body) = app.get(&path).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([]));

    let (_, first) = app.post(&path, json!({"result": choice("Positive")})).await;
    let (status, skipped) = app
        .post(&path, json!({"result": [], "was_cancelled": true}))
        .await;
    assert_eq!(status, 201, "{skipped}");
    assert_eq!(skipped["was_cancelled"], true);
    let (_, third) = app.post(&path, json!({"result": choice("Negative")})).await;
    app.post(
        &format!("/api/tasks/{}/annotations/", tasks[1]),
        json!({"result": choice("Negative")}),
    )
    .await;

    let (status, body) = app.get(&path).await;
    assert_eq!(status, 200);
    let items = body.as_array().expect("a bare array");
    let ids: Vec<&Value> = items.iter().map(|a| &a["id"]).collect();
    assert_eq!(ids, vec![&first["id"], &third["id"]]);
    assert!(items.iter().all(|a| a["task"] == tasks[0]));
    // The skip still counts on the task.
    let t = task(&app, tasks[0]).await;
    assert_eq!(t["total_annotations"], 2);
    assert_eq!(t["cancelled_annotations"], 1);
    assert_eq!(t["annotations"].as_array().expect("annotations").len(), 3);
    // Without the slash too.
    let (status, body) = app
        .get(&format!("/api/tasks/{}/annotations", tasks[0]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(2));

    let (status, _) = app.get("/api/tasks/999999/annotations/").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_skipped_annotation_does_not_label_the_task() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let (status, _) = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            json!({"result": [], "was_cancelled": true}),
        )
        .await;
    assert_eq!(status, 201);
    let t = task(&app, tasks[0]).await;
    assert_eq!(t["is_labeled"], false);
    assert_eq!(t["total_annotations"], 0);
    assert_eq!(t["cancelled_annotations"], 1);
}

#[tokio::test]
async fn get_patch_and_delete_an_annotation() {
    let app = TestApp::spawn().await;
    let annotator = user_id(&app, &app.annotator_token).await;
    let admin = user_id(&app, &app.token).await;
    let (_, tasks) = two_tasks(&app).await;
    let (_, created) = app
        .send(
            Method::POST,
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            Some(&app.annotator_token),
            Some(&json!({"result": choice("Positive")})),
        )
        .await;
    let id = created["id"].as_i64().expect("id");
    let path = format!("/api/annotations/{id}/");

    let (status, body) = app.get(&path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], id);
    assert_eq!(body["result"], choice("Positive"));
    assert_eq!(body["created_username"], "annotator@example.com");
    let (status, _) = app.get(&format!("/api/annotations/{id}")).await;
    assert_eq!(status, 200);

    let (status, body) = app
        .patch(
            &path,
            json!({"result": choice("Negative"), "lead_time": 9.0}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], choice("Negative"));
    assert_eq!(body["lead_time"], 9.0);
    assert_eq!(body["last_action"], "updated");
    assert_eq!(body["completed_by"], annotator);
    assert_eq!(body["updated_by"], admin);
    assert_eq!(body["created_username"], "annotator@example.com");
    // Fields absent from a patch are kept.
    let (status, body) = app
        .patch(
            &path,
            json!({"ground_truth": true, "last_action": "fixed_and_accepted"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], choice("Negative"));
    assert_eq!(body["ground_truth"], true);
    assert_eq!(body["last_action"], "fixed_and_accepted");
    let (_, got) = app.get(&path).await;
    assert_eq!(got["result"], choice("Negative"));
    assert_eq!(got["lead_time"], 9.0);

    // Cancelling it moves it between the task counters.
    let (status, body) = app.patch(&path, json!({"was_cancelled": true})).await;
    assert_eq!(status, 200, "{body}");
    let t = task(&app, tasks[0]).await;
    assert_eq!(t["total_annotations"], 0);
    assert_eq!(t["cancelled_annotations"], 1);
    assert_eq!(t["is_labeled"], false);
    let (status, _) = app.patch(&path, json!({"was_cancelled": false})).await;
    assert_eq!(status, 200);
    let t = task(&app, tasks[0]).await;
    assert_eq!(t["total_annotations"], 1);
    assert_eq!(t["is_labeled"], true);

    let (status, _) = app.delete(&path).await;
    assert_eq!(status, 204);
    let (status, body) = app.get(&path).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found");
    let (status, _) = app.delete(&path).await;
    assert_eq!(status, 404);
    let (status, _) = app.patch(&path, json!({"result": []})).await;
    assert_eq!(status, 404);
    let t = task(&app, tasks[0]).await;
    assert_eq!(t["total_annotations"], 0);
    assert_eq!(t["cancelled_annotations"], 0);
    assert_eq!(t["is_labeled"], false);
    assert_eq!(t["annotations"], json!([]));

    let (status, _) = app.get("/api/annotations/abc/").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn result_must_be_a_list_of_regions() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let path = format!("/api/tasks/{}/annotations/", tasks[0]);
    for result in [
        json!({"choices": ["Positive"]}),
        json!("Positive"),
        json!(5),
        json!([1, 2]),
        json!(["a"]),
    ] {
        let (status, body) = app.post(&path, json!({"result": result})).await;
        assert_eq!(status, 400, "{result}: {body}");
        assert_eq!(body["code"], "validation_error");
        assert!(
            body["validation_errors"]["result"].is_array(),
            "{result}: {body}"
        );
    }
    let (status, body) = app
        .post(&path, json!({"result": [], "lead_time": "slow"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["lead_time"].is_array(), "{body}");
    let (status, body) = app
        .post(&path, json!({"result": [], "was_cancelled": "no"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["validation_errors"]["was_cancelled"].is_array(),
        "{body}"
    );
    let t = task(&app, tasks[0]).await;
    assert_eq!(t["annotations"], json!([]));
    assert_eq!(t["total_annotations"], 0);

    // On patch too, leaving the annotation as it was.
    let (_, created) = app.post(&path, json!({"result": choice("Positive")})).await;
    let (status, body) = app
        .patch(
            &format!("/api/annotations/{}/", created["id"]),
            json!({"result": "Negative"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["result"].is_array(), "{body}");
    let (_, got) = app
        .get(&format!("/api/annotations/{}/", created["id"]))
        .await;
    assert_eq!(got["result"], choice("Positive"));
}

#[tokio::test]
async fn a_null_result_is_rejected() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let path = format!("/api/tasks/{}/annotations/", tasks[0]);
    let (status, body) = app.post(&path, json!({"result": null})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["result"].is_array(), "{body}");
    let (_, created) = app.post(&path, json!({"result": choice("Positive")})).await;
    let (status, body) = app
        .patch(
            &format!("/api/annotations/{}/", created["id"]),
            json!({"result": null}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["result"].is_array(), "{body}");
}

#[tokio::test]
async fn parents_must_belong_to_the_same_task() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let (status, own) = app
        .post(
            "/api/predictions/",
            json!({"task": tasks[0], "result": "Positive"}),
        )
        .await;
    assert_eq!(status, 201, "{own}");
    let (status, foreign) = app
        .post(
            "/api/predictions/",
            json!({"task": tasks[1], "result": "Negative"}),
        )
        .await;
    assert_eq!(status, 201, "{foreign}");
    let path = format!("/api/tasks/{}/annotations/", tasks[0]);

    let (status, body) = app
        .post(
            &path,
            json!({"result": [], "parent_prediction": foreign["id"]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let message = body["validation_errors"]["parent_prediction"][0]
        .as_str()
        .expect("message");
    assert!(message.contains(&foreign["id"].to_string()), "{message}");
    let (status, body) = app
        .post(&path, json!({"result": [], "parent_prediction": 999999}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["parent_prediction"].is_array());
    assert_eq!(task(&app, tasks[0]).await["annotations"], json!([]));

    let (status, body) = app
        .post(
            &path,
            json!({"result": choice("Positive"), "parent_prediction": own["id"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["parent_prediction"], own["id"]);
    let first = body["id"].clone();

    // parent_annotation likewise.
    let (_, other_task_annotation) = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[1]),
            json!({"result": []}),
        )
        .await;
    let (status, body) = app
        .post(
            &path,
            json!({"result": [], "parent_annotation": other_task_annotation["id"]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["validation_errors"]["parent_annotation"].is_array(),
        "{body}"
    );
    let (status, body) = app
        .post(&path, json!({"result": [], "parent_annotation": first}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["parent_annotation"], first);

    // And on patch.
    let (status, body) = app
        .patch(
            &format!("/api/annotations/{first}/"),
            json!({"parent_prediction": foreign["id"]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["validation_errors"]["parent_prediction"].is_array(),
        "{body}"
    );
    let (_, got) = app.get(&format!("/api/annotations/{first}/")).await;
    assert_eq!(got["parent_prediction"], own["id"]);
}

#[tokio::test]
async fn another_organizations_tasks_and_annotations_are_404() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let (_, mine) = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            json!({"result": choice("Positive")}),
        )
        .await;
    let other = Some(app.other_token.as_str());
    let body = json!({"result": choice("Negative")});
    for (method, path, payload) in [
        (
            Method::POST,
            format!("/api/tasks/{}/annotations/", tasks[0]),
            Some(&body),
        ),
        (
            Method::GET,
            format!("/api/tasks/{}/annotations/", tasks[0]),
            None,
        ),
        (
            Method::GET,
            format!("/api/annotations/{}/", mine["id"]),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/annotations/{}/", mine["id"]),
            Some(&body),
        ),
        (
            Method::DELETE,
            format!("/api/annotations/{}/", mine["id"]),
            None,
        ),
    ] {
        let (status, resp) = app.send(method.clone(), &path, other, payload).await;
        assert_eq!(status, 404, "{method} {path}: {resp}");
        assert_eq!(resp["code"], "not_found");
    }
    let (status, body) = app
        .post("/api/tasks/999999/annotations/", json!({"result": []}))
        .await;
    assert_eq!(status, 404, "{body}");
    // Nothing changed.
    let t = task(&app, tasks[0]).await;
    assert_eq!(t["total_annotations"], 1);
    assert_eq!(t["annotations"][0]["result"], choice("Positive"));
}

#[tokio::test]
async fn ground_truth_and_counters_reach_the_project() {
    let app = TestApp::spawn().await;
    let (project, tasks) = two_tasks(&app).await;
    let (_, a) = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            json!({"result": choice("Positive"), "ground_truth": true}),
        )
        .await;
    app.post(
        &format!("/api/tasks/{}/annotations/", tasks[1]),
        json!({"result": [], "was_cancelled": true}),
    )
    .await;
    let (_, p) = app.get(&format!("/api/projects/{project}/")).await;
    assert_eq!(p["ground_truth_number"], 1);
    assert_eq!(p["total_annotations_number"], 1);
    assert_eq!(p["skipped_annotations_number"], 1);
    assert_eq!(p["num_tasks_with_annotations"], 1);
    assert_eq!(p["finished_task_number"], 1);
    let (status, _) = app
        .patch(
            &format!("/api/annotations/{}/", a["id"]),
            json!({"ground_truth": false}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, p) = app.get(&format!("/api/projects/{project}/")).await;
    assert_eq!(p["ground_truth_number"], 0);
    assert_eq!(p["total_annotations_number"], 1);
}

#[tokio::test]
async fn annotation_routes_answer_405_for_other_methods() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let (_, a) = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            json!({"result": []}),
        )
        .await;
    for (method, path) in [
        (
            Method::DELETE,
            format!("/api/tasks/{}/annotations/", tasks[0]),
        ),
        (Method::POST, format!("/api/annotations/{}/", a["id"])),
        (Method::PUT, format!("/api/annotations/{}/", a["id"])),
    ] {
        let (status, body) = app
            .send(method.clone(), &path, Some(&app.token), Some(&json!({})))
            .await;
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(body["code"], "method_not_allowed");
    }
}

#[tokio::test]
async fn annotators_change_only_their_own_annotations() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let task = app.import(project, json!([{"text": "fine"}])).await[0];
    let (status, by_admin) = app
        .post(
            &format!("/api/tasks/{task}/annotations/"),
            json!({"result": choice("Positive")}),
        )
        .await;
    assert_eq!(status, 201);
    let token = Some(app.annotator_token.as_str());
    let path = format!("/api/annotations/{}/", by_admin["id"]);
    let (status, _) = app
        .send(
            Method::PATCH,
            &path,
            token,
            Some(&json!({"result": choice("Negative")})),
        )
        .await;
    assert_eq!(
        status, 403,
        "an annotator cannot edit another user's annotation"
    );
    let (status, _) = app.send(Method::DELETE, &path, token, None).await;
    assert_eq!(status, 403, "nor delete it");
    let (status, own) = app
        .send(
            Method::POST,
            &format!("/api/tasks/{task}/annotations/"),
            token,
            Some(&json!({"result": choice("Negative")})),
        )
        .await;
    assert_eq!(status, 201);
    let own_path = format!("/api/annotations/{}/", own["id"]);
    let (status, _) = app
        .send(
            Method::PATCH,
            &own_path,
            token,
            Some(&json!({"ground_truth": true})),
        )
        .await;
    assert_eq!(status, 200, "an annotator edits their own");
    let (status, _) = app.send(Method::DELETE, &own_path, token, None).await;
    assert_eq!(status, 204);
    assert_eq!(
        app.get(&path).await.1["result"],
        choice("Positive"),
        "the admin's annotation is untouched"
    );
}
