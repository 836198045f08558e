//! Failing early and saying why (issue 12, item 4), and ground truth where users meet it.
use crate::helpers::{CLS, TestApp, choice};
use serde_json::json;

/// A prompt over a new project of `CLS` with `tasks`; returns (project, prompt).
async fn prompt_over(app: &TestApp, tasks: serde_json::Value) -> (i64, i64) {
    let project = app.project(CLS).await;
    app.import(project, tasks).await;
    let (status, prompt) = app
        .post(
            "/api/prompts/",
            json!({"title": "P", "associated_projects": [project]}),
        )
        .await;
    assert_eq!(status, 201, "{prompt}");
    (project, prompt["id"].as_i64().expect("id"))
}

#[tokio::test]
async fn a_prompt_reading_a_field_no_project_has_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let (_, prompt) = prompt_over(&app, json!([{"text": "a", "lang": "en"}])).await;
    let (status, connection) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "api_key": "sk-x"}),
        )
        .await;
    assert_eq!(status, 201, "{connection}");
    let version = |text: &str| {
        json!({"title": text, "prompt": text, "provider_model_id": "gpt-4o-mini",
               "model_provider_connection": connection["id"]})
    };
    let path = format!("/api/prompts/{prompt}/versions");
    let (status, err) = app.post(&path, version("Classify: {review}")).await;
    assert_eq!(status, 400, "{err}");
    let message = err["validation_errors"]["prompt"][0]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("{review}") && message.contains("text"),
        "{message}"
    );
    // Fields the label config reads, and other keys of the tasks' data, are fine.
    let (status, created) = app.post(&path, version("Classify: {text} ({lang})")).await;
    assert_eq!(status, 201, "{created}");
    let (status, err) = app
        .patch(
            &format!("{path}/{}", created["id"]),
            json!({"prompt": "Now {missing}"}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
}

#[tokio::test]
async fn a_has_gt_run_without_ground_truth_says_how_to_mark_it() {
    let app = TestApp::spawn().await;
    // Annotations imported without the flag are not ground truth...
    let tasks =
        json!([{"data": {"text": "I love it"}, "annotations": [{"result": choice("Positive")}]}]);
    let (project, prompt) = prompt_over(&app, tasks.clone()).await;
    let (_, connection) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "api_key": "sk-x"}),
        )
        .await;
    let (_, v) = app
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": "v1", "prompt": "Classify: {text}", "provider_model_id": "gpt-4o-mini",
                   "model_provider_connection": connection["id"]}),
        )
        .await;
    let runs = format!("/api/prompts/{prompt}/versions/{}/inference-runs", v["id"]);
    let (status, err) = app
        .post(
            &runs,
            json!({"project": project, "project_subset": "HasGT"}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["code"], "no_ground_truth");
    assert!(
        err["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("\"ground_truth\": true"),
        "{err}"
    );
    let (_, listed) = app.get(&runs).await;
    assert_eq!(listed, json!([]), "no run was created");
    // ...unless the import says so.
    let (status, _) = app
        .post(
            &format!("/api/projects/{project}/import?ground_truth=true"),
            tasks,
        )
        .await;
    assert_eq!(status, 201);
    let (_, subsets) = app.get(&format!("/api/projects/{project}/subsets")).await;
    let has_gt = subsets
        .as_array()
        .and_then(|s| s.iter().find(|s| s["subset"] == "HasGT"))
        .map(|s| s["count"].clone());
    assert_eq!(has_gt, Some(json!(1)), "{subsets}");
    let (status, run) = app
        .post(
            &runs,
            json!({"project": project, "project_subset": "HasGT"}),
        )
        .await;
    assert_eq!(status, 201, "{run}");
}
