//! Failing early and saying why (issue 12, item 4), and ground truth where users meet it.
use crate::helpers::{CLS, Reply, TestApp, choice, field_errors};
use entity::enums::Subset;
use prompter::error::ErrorCode;
use prompter::views::evaluation::SubsetView;
use prompter::views::model_providers::ModelProviderConnectionView;
use prompter::views::prompts::PromptView;
use prompter::views::runs::RunView;
use prompter::views::versions::VersionView;
use serde_json::json;

/// A prompt over a new project of `CLS` with `tasks`; returns (project, prompt).
async fn prompt_over(app: &TestApp, tasks: serde_json::Value) -> (i64, i64) {
    let project = app.project(CLS).await;
    app.import(project, tasks).await;
    let prompt: PromptView = app
        .post(
            "/api/prompts/",
            json!({"title": "P", "associated_projects": [project]}),
        )
        .await
        .created();
    (project, prompt.prompt.id)
}

#[tokio::test]
async fn a_prompt_reading_a_field_no_project_has_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let (_, prompt) = prompt_over(&app, json!([{"text": "a", "lang": "en"}])).await;
    let connection: ModelProviderConnectionView = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "api_key": "sk-x"}),
        )
        .await
        .created();
    let version = |text: &str| {
        json!({"title": text, "prompt": text, "provider_model_id": "gpt-4o-mini",
               "model_provider_connection": connection.id})
    };
    let path = format!("/api/prompts/{prompt}/versions");
    let err = app.post(&path, version("Classify: {review}")).await.bad();
    assert_eq!(err.status_code, 400, "{err:?}");
    let message = field_errors(&err, "prompt")
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    assert!(
        message.contains("{review}") && message.contains("text"),
        "{message}"
    );
    // Fields the label config reads, and other keys of the tasks' data, are fine.
    let created: VersionView = app
        .post(&path, version("Classify: {text} ({lang})"))
        .await
        .created();
    let err = app
        .patch(
            &format!("{path}/{}", created.id),
            json!({"prompt": "Now {missing}"}),
        )
        .await
        .bad();
    assert_eq!(err.status_code, 400, "{err:?}");
}

#[tokio::test]
async fn a_has_gt_run_without_ground_truth_says_how_to_mark_it() {
    let app = TestApp::spawn().await;
    // Annotations imported without the flag are not ground truth...
    let tasks =
        json!([{"data": {"text": "I love it"}, "annotations": [{"result": choice("Positive")}]}]);
    let (project, prompt) = prompt_over(&app, tasks.clone()).await;
    let connection: ModelProviderConnectionView = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "api_key": "sk-x"}),
        )
        .await
        .created();
    let v: VersionView = app
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": "v1", "prompt": "Classify: {text}", "provider_model_id": "gpt-4o-mini",
                   "model_provider_connection": connection.id}),
        )
        .await
        .created();
    let runs = format!("/api/prompts/{prompt}/versions/{}/inference-runs", v.id);
    let err = app
        .post(
            &runs,
            json!({"project": project, "project_subset": "HasGT"}),
        )
        .await
        .bad();
    assert_eq!(err.status_code, 400, "{err:?}");
    assert_eq!(err.code, ErrorCode::NoGroundTruth);
    assert!(err.detail.contains("\"ground_truth\": true"), "{err:?}");
    let listed: Vec<RunView> = app.get(&runs).await.good();
    assert!(listed.is_empty(), "no run was created: {listed:?}");
    // ...unless the import says so.
    let (status, _) = app
        .post(
            &format!("/api/projects/{project}/import?ground_truth=true"),
            tasks,
        )
        .await;
    assert_eq!(status, 201);
    let subsets: Vec<SubsetView> = app
        .get(&format!("/api/projects/{project}/subsets"))
        .await
        .good();
    let has_gt = subsets
        .iter()
        .find(|s| s.subset == Subset::HasGT)
        .map(|s| s.count);
    assert_eq!(has_gt, Some(1), "{subsets:?}");
    let _run: RunView = app
        .post(
            &runs,
            json!({"project": project, "project_subset": "HasGT"}),
        )
        .await
        .created();
}
