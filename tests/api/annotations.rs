//! Tests of the annotations endpoints: create on a task, list, get, patch, delete, the task
//! counters they keep, validation and organization scoping.
use crate::helpers::{CLS, Reply, TestApp, bad_field, choice, field_errors};
use prompter::error::ErrorCode;
use prompter::views::annotations::AnnotationView;
use prompter::views::predictions::PredictionView;
use prompter::views::projects::ProjectView;
use prompter::views::tasks::TaskView;
use prompter::views::users::WhoAmIView;
use reqwest::Method;
use serde_json::json;

/// The id of the user behind `token`.
async fn user_id(app: &TestApp, token: &str) -> i64 {
    app.send(Method::GET, "/api/current-user/whoami", Some(token), None)
        .await
        .good::<WhoAmIView>()
        .id
}

/// The annotations nested in a task's detail.
fn nested(task: &TaskView) -> &[AnnotationView] {
    task.annotations.as_deref().expect("the task's annotations")
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
async fn task(app: &TestApp, id: i64) -> TaskView {
    app.get(&format!("/api/tasks/{id}/")).await.good()
}

#[tokio::test]
async fn create_an_annotation_as_the_caller() {
    let app = TestApp::spawn().await;
    let admin = user_id(&app, &app.token).await;
    let (project, tasks) = two_tasks(&app).await;
    // Typed reading checks `id`, `created_ago` and `created_at` are there with their types.
    let body: AnnotationView = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            json!({"result": choice("Positive"), "lead_time": 4.5}),
        )
        .await
        .created();
    assert_eq!(body.result, choice("Positive"));
    assert_eq!(body.completed_by, Some(admin));
    assert_eq!(body.updated_by, Some(admin));
    assert_eq!(body.created_username, "admin@example.com");
    assert_eq!(body.task, tasks[0]);
    assert_eq!(body.project, project);
    assert!(!body.was_cancelled);
    assert!(!body.ground_truth);
    assert_eq!(body.lead_time, Some(4.5));
    assert_eq!(body.last_action.as_deref(), Some("submitted"));
    assert_eq!(body.parent_prediction, None);
    assert_eq!(body.parent_annotation, None);
    assert!(!body.bulk_created);

    let t = task(&app, tasks[0]).await;
    assert_eq!(t.total_annotations, 1);
    assert_eq!(t.cancelled_annotations, 0);
    assert!(t.is_labeled);
    assert_eq!(nested(&t)[0].id, body.id);
    let untouched = task(&app, tasks[1]).await;
    assert_eq!(untouched.total_annotations, 0);
    assert!(!untouched.is_labeled);

    // Read-only keys the SDK sends are ignored; the path decides the task.
    let body: AnnotationView = app
        .post(
            &format!("/api/tasks/{}/annotations", tasks[1]),
            json!({"result": choice("Negative"), "task": tasks[0], "completed_by": 12345, "project": 777,
                   "ground_truth": true, "last_action": "prediction"}),
        )
        .await
        .created();
    assert_eq!(body.task, tasks[1]);
    assert_eq!(body.project, project);
    assert_eq!(body.completed_by, Some(admin));
    assert!(body.ground_truth);
    assert_eq!(body.last_action.as_deref(), Some("prediction"));
    assert_eq!(task(&app, tasks[1]).await.total_annotations, 1);
    assert_eq!(task(&app, tasks[0]).await.total_annotations, 1);

    // An empty body is an empty annotation.
    let body: AnnotationView = app
        .post(&format!("/api/tasks/{}/annotations/", tasks[0]), json!({}))
        .await
        .created();
    assert_eq!(body.result, json!([]));
    assert_eq!(task(&app, tasks[0]).await.total_annotations, 2);
}

#[tokio::test]
async fn annotators_may_annotate() {
    let app = TestApp::spawn().await;
    let annotator = user_id(&app, &app.annotator_token).await;
    let (_, tasks) = two_tasks(&app).await;
    let body: AnnotationView = app
        .send(
            Method::POST,
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            Some(&app.annotator_token),
            Some(&json!({"result": choice("Negative")})),
        )
        .await
        .created();
    assert_eq!(body.completed_by, Some(annotator));
    assert_eq!(body.created_username, "annotator@example.com");
    let list: Vec<AnnotationView> = app
        .send(
            Method::GET,
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            Some(&app.annotator_token),
            None,
        )
        .await
        .good();
    assert_eq!(list.len(), 1);
    // The admin sees the annotator's name on the task.
    let t = task(&app, tasks[0]).await;
    assert_eq!(nested(&t)[0].created_username, "annotator@example.com");
    assert_eq!(nested(&t)[0].completed_by, Some(annotator));
}

#[tokio::test]
async fn list_is_a_bare_array_without_cancelled_annotations() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let path = format!("/api/tasks/{}/annotations/", tasks[0]);
    let (status, body) = app.get(&path).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([]));

    let first: AnnotationView = app
        .post(&path, json!({"result": choice("Positive")}))
        .await
        .created();
    let skipped: AnnotationView = app
        .post(&path, json!({"result": [], "was_cancelled": true}))
        .await
        .created();
    assert!(skipped.was_cancelled);
    let third: AnnotationView = app
        .post(&path, json!({"result": choice("Negative")}))
        .await
        .created();
    app.post(
        &format!("/api/tasks/{}/annotations/", tasks[1]),
        json!({"result": choice("Negative")}),
    )
    .await;

    let items: Vec<AnnotationView> = app.get(&path).await.good();
    let ids: Vec<i64> = items.iter().map(|a| a.id).collect();
    assert_eq!(ids, vec![first.id, third.id]);
    assert!(items.iter().all(|a| a.task == tasks[0]));
    // The skip still counts on the task.
    let t = task(&app, tasks[0]).await;
    assert_eq!(t.total_annotations, 2);
    assert_eq!(t.cancelled_annotations, 1);
    assert_eq!(nested(&t).len(), 3);
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
    assert!(!t.is_labeled);
    assert_eq!(t.total_annotations, 0);
    assert_eq!(t.cancelled_annotations, 1);
}

#[tokio::test]
async fn get_patch_and_delete_an_annotation() {
    let app = TestApp::spawn().await;
    let annotator = user_id(&app, &app.annotator_token).await;
    let admin = user_id(&app, &app.token).await;
    let (_, tasks) = two_tasks(&app).await;
    let created: AnnotationView = app
        .send(
            Method::POST,
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            Some(&app.annotator_token),
            Some(&json!({"result": choice("Positive")})),
        )
        .await
        .created();
    let id = created.id;
    let path = format!("/api/annotations/{id}/");

    let body: AnnotationView = app.get(&path).await.good();
    assert_eq!(body.id, id);
    assert_eq!(body.result, choice("Positive"));
    assert_eq!(body.created_username, "annotator@example.com");
    let (status, _) = app.get(&format!("/api/annotations/{id}")).await;
    assert_eq!(status, 200);

    let body: AnnotationView = app
        .patch(
            &path,
            json!({"result": choice("Negative"), "lead_time": 9.0}),
        )
        .await
        .good();
    assert_eq!(body.result, choice("Negative"));
    assert_eq!(body.lead_time, Some(9.0));
    assert_eq!(body.last_action.as_deref(), Some("updated"));
    assert_eq!(body.completed_by, Some(annotator));
    assert_eq!(body.updated_by, Some(admin));
    assert_eq!(body.created_username, "annotator@example.com");
    // Fields absent from a patch are kept.
    let body: AnnotationView = app
        .patch(
            &path,
            json!({"ground_truth": true, "last_action": "fixed_and_accepted"}),
        )
        .await
        .good();
    assert_eq!(body.result, choice("Negative"));
    assert!(body.ground_truth);
    assert_eq!(body.last_action.as_deref(), Some("fixed_and_accepted"));
    let got: AnnotationView = app.get(&path).await.good();
    assert_eq!(got.result, choice("Negative"));
    assert_eq!(got.lead_time, Some(9.0));

    // Cancelling it moves it between the task counters.
    let _: AnnotationView = app
        .patch(&path, json!({"was_cancelled": true}))
        .await
        .good();
    let t = task(&app, tasks[0]).await;
    assert_eq!(t.total_annotations, 0);
    assert_eq!(t.cancelled_annotations, 1);
    assert!(!t.is_labeled);
    let (status, _) = app.patch(&path, json!({"was_cancelled": false})).await;
    assert_eq!(status, 200);
    let t = task(&app, tasks[0]).await;
    assert_eq!(t.total_annotations, 1);
    assert!(t.is_labeled);

    let (status, _) = app.delete(&path).await;
    assert_eq!(status, 204);
    let error = app.get(&path).await.bad();
    assert_eq!(error.status_code, 404, "{error:?}");
    assert_eq!(error.code, ErrorCode::NotFound);
    let (status, _) = app.delete(&path).await;
    assert_eq!(status, 404);
    let (status, _) = app.patch(&path, json!({"result": []})).await;
    assert_eq!(status, 404);
    let t = task(&app, tasks[0]).await;
    assert_eq!(t.total_annotations, 0);
    assert_eq!(t.cancelled_annotations, 0);
    assert!(!t.is_labeled);
    assert!(nested(&t).is_empty());

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
        let error = app.post(&path, json!({"result": result})).await.bad();
        assert_eq!(error.status_code, 400, "{result}: {error:?}");
        assert_eq!(error.code, ErrorCode::ValidationError);
        assert!(
            !field_errors(&error, "result").is_empty(),
            "{result}: {error:?}"
        );
    }
    bad_field(
        app.post(&path, json!({"result": [], "lead_time": "slow"}))
            .await,
        "lead_time",
    );
    bad_field(
        app.post(&path, json!({"result": [], "was_cancelled": "no"}))
            .await,
        "was_cancelled",
    );
    let t = task(&app, tasks[0]).await;
    assert!(nested(&t).is_empty());
    assert_eq!(t.total_annotations, 0);

    // On patch too, leaving the annotation as it was.
    let created: AnnotationView = app
        .post(&path, json!({"result": choice("Positive")}))
        .await
        .created();
    bad_field(
        app.patch(
            &format!("/api/annotations/{}/", created.id),
            json!({"result": "Negative"}),
        )
        .await,
        "result",
    );
    let got: AnnotationView = app
        .get(&format!("/api/annotations/{}/", created.id))
        .await
        .good();
    assert_eq!(got.result, choice("Positive"));
}

#[tokio::test]
async fn a_null_result_is_rejected() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let path = format!("/api/tasks/{}/annotations/", tasks[0]);
    bad_field(app.post(&path, json!({"result": null})).await, "result");
    let created: AnnotationView = app
        .post(&path, json!({"result": choice("Positive")}))
        .await
        .created();
    bad_field(
        app.patch(
            &format!("/api/annotations/{}/", created.id),
            json!({"result": null}),
        )
        .await,
        "result",
    );
}

#[tokio::test]
async fn parents_must_belong_to_the_same_task() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let own: PredictionView = app
        .post(
            "/api/predictions/",
            json!({"task": tasks[0], "result": "Positive"}),
        )
        .await
        .created();
    let foreign: PredictionView = app
        .post(
            "/api/predictions/",
            json!({"task": tasks[1], "result": "Negative"}),
        )
        .await
        .created();
    let path = format!("/api/tasks/{}/annotations/", tasks[0]);

    let error = app
        .post(
            &path,
            json!({"result": [], "parent_prediction": foreign.id}),
        )
        .await
        .bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    let message = field_errors(&error, "parent_prediction")
        .first()
        .expect("message");
    assert!(message.contains(&foreign.id.to_string()), "{message}");
    bad_field(
        app.post(&path, json!({"result": [], "parent_prediction": 999999}))
            .await,
        "parent_prediction",
    );
    assert!(nested(&task(&app, tasks[0]).await).is_empty());

    let body: AnnotationView = app
        .post(
            &path,
            json!({"result": choice("Positive"), "parent_prediction": own.id}),
        )
        .await
        .created();
    assert_eq!(body.parent_prediction, Some(own.id));
    let first = body.id;

    // parent_annotation likewise.
    let other_task_annotation: AnnotationView = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[1]),
            json!({"result": []}),
        )
        .await
        .created();
    bad_field(
        app.post(
            &path,
            json!({"result": [], "parent_annotation": other_task_annotation.id}),
        )
        .await,
        "parent_annotation",
    );
    let body: AnnotationView = app
        .post(&path, json!({"result": [], "parent_annotation": first}))
        .await
        .created();
    assert_eq!(body.parent_annotation, Some(first));

    // And on patch.
    bad_field(
        app.patch(
            &format!("/api/annotations/{first}/"),
            json!({"parent_prediction": foreign.id}),
        )
        .await,
        "parent_prediction",
    );
    let got: AnnotationView = app.get(&format!("/api/annotations/{first}/")).await.good();
    assert_eq!(got.parent_prediction, Some(own.id));
}

#[tokio::test]
async fn another_organizations_tasks_and_annotations_are_404() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let mine: AnnotationView = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            json!({"result": choice("Positive")}),
        )
        .await
        .created();
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
        (Method::GET, format!("/api/annotations/{}/", mine.id), None),
        (
            Method::PATCH,
            format!("/api/annotations/{}/", mine.id),
            Some(&body),
        ),
        (
            Method::DELETE,
            format!("/api/annotations/{}/", mine.id),
            None,
        ),
    ] {
        let error = app.send(method.clone(), &path, other, payload).await.bad();
        assert_eq!(error.status_code, 404, "{method} {path}: {error:?}");
        assert_eq!(error.code, ErrorCode::NotFound);
    }
    let (status, body) = app
        .post("/api/tasks/999999/annotations/", json!({"result": []}))
        .await;
    assert_eq!(status, 404, "{body}");
    // Nothing changed.
    let t = task(&app, tasks[0]).await;
    assert_eq!(t.total_annotations, 1);
    assert_eq!(nested(&t)[0].result, choice("Positive"));
}

#[tokio::test]
async fn ground_truth_and_counters_reach_the_project() {
    let app = TestApp::spawn().await;
    let (project, tasks) = two_tasks(&app).await;
    let a: AnnotationView = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            json!({"result": choice("Positive"), "ground_truth": true}),
        )
        .await
        .created();
    app.post(
        &format!("/api/tasks/{}/annotations/", tasks[1]),
        json!({"result": [], "was_cancelled": true}),
    )
    .await;
    let p: ProjectView = app.get(&format!("/api/projects/{project}/")).await.good();
    assert_eq!(p.ground_truth_number, 1);
    assert_eq!(p.total_annotations_number, 1);
    assert_eq!(p.skipped_annotations_number, 1);
    assert_eq!(p.num_tasks_with_annotations, 1);
    assert_eq!(p.finished_task_number, 1);
    let (status, _) = app
        .patch(
            &format!("/api/annotations/{}/", a.id),
            json!({"ground_truth": false}),
        )
        .await;
    assert_eq!(status, 200);
    let p: ProjectView = app.get(&format!("/api/projects/{project}/")).await.good();
    assert_eq!(p.ground_truth_number, 0);
    assert_eq!(p.total_annotations_number, 1);
}

#[tokio::test]
async fn annotation_routes_answer_405_for_other_methods() {
    let app = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&app).await;
    let a: AnnotationView = app
        .post(
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            json!({"result": []}),
        )
        .await
        .created();
    for (method, path) in [
        (
            Method::DELETE,
            format!("/api/tasks/{}/annotations/", tasks[0]),
        ),
        (Method::POST, format!("/api/annotations/{}/", a.id)),
        (Method::PUT, format!("/api/annotations/{}/", a.id)),
    ] {
        let error = app
            .send(method.clone(), &path, Some(&app.token), Some(&json!({})))
            .await
            .bad();
        assert_eq!(error.status_code, 405, "{method} {path}: {error:?}");
        assert_eq!(error.code, ErrorCode::MethodNotAllowed);
    }
}

#[tokio::test]
async fn annotators_change_only_their_own_annotations() {
    let app = TestApp::spawn().await;
    let project = app.project(CLS).await;
    let task = app.import(project, json!([{"text": "fine"}])).await[0];
    let by_admin: AnnotationView = app
        .post(
            &format!("/api/tasks/{task}/annotations/"),
            json!({"result": choice("Positive")}),
        )
        .await
        .created();
    let token = Some(app.annotator_token.as_str());
    let path = format!("/api/annotations/{}/", by_admin.id);
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
    let own: AnnotationView = app
        .send(
            Method::POST,
            &format!("/api/tasks/{task}/annotations/"),
            token,
            Some(&json!({"result": choice("Negative")})),
        )
        .await
        .created();
    let own_path = format!("/api/annotations/{}/", own.id);
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
        app.get(&path).await.good::<AnnotationView>().result,
        choice("Positive"),
        "the admin's annotation is untouched"
    );
}
