//! Tests of the prompt version endpoints: create (fields, display name, parent), title
//! uniqueness, required fields, provider and connection checks (scoped to the organization),
//! default version names, cost estimates, delete (only its runs' predictions go), path
//! scoping, roles and organizations.
use crate::helpers::fixtures::{
    Fixture, batch, connection, fixture, hand_prediction, id_of, item, new_prompt, new_version,
    predictions_of, predictions_of_run, run_on, runs_path, total_predictions,
};
use crate::helpers::reply::read;
use crate::helpers::{CLS, Reply, TestApp, bad_field, choice, field_errors};
use entity::enums::Provider;
use prompter::error::ErrorBody;
use prompter::views::model_providers::ModelProviderConnectionView;
use prompter::views::predictions::PredictionView;
use prompter::views::prompts::PromptDetailView;
use prompter::views::users::WhoAmIView;
use prompter::views::versions::{CostEstimateView, DefaultVersionNameView, VersionView};
use reqwest::Method;
use serde_json::{Value, json};

fn versions_path(prompt: i64) -> String {
    format!("/api/prompts/{prompt}/versions")
}

fn version_path(prompt: i64, version: i64) -> String {
    format!("/api/prompts/{prompt}/versions/{version}")
}

/// A prompt titled "P" with no project; returns its id.
async fn bare_prompt(app: &TestApp) -> i64 {
    id_of(&new_prompt(app, json!({"title": "P"})).await)
}

/// A valid version body titled `title` through `connection`.
fn body(title: &str, connection: i64) -> Value {
    json!({"title": title, "prompt": "Classify: {text}", "provider_model_id": "gpt-4o-mini",
           "provider": "OpenAI", "model_provider_connection": connection})
}

/// The default version name of a prompt (asserts 200).
async fn default_name(app: &TestApp, prompt: i64) -> String {
    let name: DefaultVersionNameView = app
        .get(&format!("/api/prompts/{prompt}/get-default-version-name"))
        .await
        .good();
    name.default_model_version_name
}

/// The versions of a prompt (asserts 200).
async fn versions_of(app: &TestApp, prompt: i64) -> Vec<VersionView> {
    app.get(&versions_path(prompt)).await.good()
}

/// The version `id` of `prompt` (asserts 200).
async fn get_version(app: &TestApp, prompt: i64, id: i64) -> VersionView {
    app.get(&version_path(prompt, id)).await.good()
}

/// The cost estimate of a version (asserts 200).
async fn estimate(app: &TestApp, prompt: i64, version: i64) -> CostEstimateView {
    app.get(&format!("{}/cost-estimate", version_path(prompt, version)))
        .await
        .good()
}

/// Whether a message of the error on `field` contains `text`.
fn says(error: &ErrorBody, field: &str, text: &str) -> bool {
    field_errors(error, field).iter().any(|m| m.contains(text))
}

#[tokio::test]
async fn create_returns_the_version() {
    let app = TestApp::spawn().await;
    let me: WhoAmIView = app.get("/api/current-user/whoami").await.good();
    let prompt = bare_prompt(&app).await;
    let conn = connection(&app).await;
    let v: VersionView = app
        .post(
            &versions_path(prompt),
            json!({"title": "v1", "prompt": "Classify: {text}", "provider_model_id": "gpt-4o-mini",
                   "provider": "OpenAI", "model_provider_connection": conn,
                   "max_few_shot_examples": 3, "parent_model": prompt, "organization": 9999}),
        )
        .await
        .created();
    // The typed read also checks `created_at` and `updated_at` are timestamps.
    assert!(v.id > 0);
    assert_eq!(v.title, "v1");
    assert_eq!(v.prompt, "Classify: {text}");
    assert_eq!(v.provider, Provider::OpenAI);
    assert_eq!(v.provider_model_id, "gpt-4o-mini");
    assert_eq!(v.model_display_name, "gpt-4o-mini");
    assert_eq!(v.model_provider_connection, Some(conn));
    assert_eq!(v.max_few_shot_examples, Some(3));
    assert_eq!(v.parent_model, prompt);
    assert_eq!(v.score, None);
    assert_eq!(v.organization, me.active_organization);
    assert_eq!(
        v.created_by.as_ref().map(|u| u.email.as_str()),
        Some("admin@example.com")
    );

    // Defaults: provider OpenAI, no few-shot examples.
    let v2: VersionView = app
        .post(
            &versions_path(prompt),
            json!({"title": "v2", "prompt": "p {text}", "provider_model_id": "gpt-4o"}),
        )
        .await
        .created();
    assert_eq!(v2.provider, Provider::OpenAI);
    assert_eq!(v2.max_few_shot_examples, Some(0));

    let ids: Vec<i64> = versions_of(&app, prompt)
        .await
        .iter()
        .map(|v| v.id)
        .collect();
    assert_eq!(ids, vec![v.id, v2.id]);
    let got = get_version(&app, prompt, v.id).await;
    assert_eq!(got.title, "v1");
    assert_eq!(got.model_display_name, "gpt-4o-mini");
    let p: PromptDetailView = app.get(&format!("/api/prompts/{prompt}/")).await.good();
    assert_eq!(p.versions_count, 2);
}

#[tokio::test]
async fn duplicate_titles_are_400_within_a_prompt_only() {
    let app = TestApp::spawn().await;
    let prompt = bare_prompt(&app).await;
    let conn = connection(&app).await;
    new_version(&app, prompt, conn, "v1").await;
    let err = bad_field(
        app.post(&versions_path(prompt), body("v1", conn)).await,
        "title",
    );
    assert!(says(&err, "title", "already exists"), "{err:?}");
    // Another prompt may use the same title.
    let other = id_of(&new_prompt(&app, json!({"title": "Q"})).await);
    new_version(&app, other, conn, "v1").await;
    assert_eq!(versions_of(&app, prompt).await.len(), 1);
}

#[tokio::test]
async fn patch_keeps_titles_unique_excluding_itself() {
    let app = TestApp::spawn().await;
    let prompt = bare_prompt(&app).await;
    let conn = connection(&app).await;
    let v1 = id_of(&new_version(&app, prompt, conn, "v1").await);
    new_version(&app, prompt, conn, "v2").await;
    let body: VersionView = app
        .patch(
            &version_path(prompt, v1),
            json!({"title": "v1", "prompt": "Sentiment of {text}?"}),
        )
        .await
        .good();
    assert_eq!(body.title, "v1");
    assert_eq!(body.prompt, "Sentiment of {text}?");
    bad_field(
        app.patch(&version_path(prompt, v1), json!({"title": "v2"}))
            .await,
        "title",
    );
    let body: VersionView = app
        .patch(
            &version_path(prompt, v1),
            json!({"title": "v1b", "provider_model_id": "gpt-4o", "max_few_shot_examples": 2}),
        )
        .await
        .good();
    assert_eq!(body.title, "v1b");
    assert_eq!(body.provider_model_id, "gpt-4o");
    assert_eq!(body.model_display_name, "gpt-4o");
    assert_eq!(body.max_few_shot_examples, Some(2));
    // Field checks apply to PATCH too.
    for (bad, field) in [
        (json!({"title": ""}), "title"),
        (json!({"prompt": " "}), "prompt"),
        (json!({"provider": "Nope"}), "provider"),
        (json!({"provider_model_id": ""}), "provider_model_id"),
        (json!({"parent_model": prompt + 1000}), "parent_model"),
        (
            json!({"max_few_shot_examples": -1}),
            "max_few_shot_examples",
        ),
    ] {
        bad_field(app.patch(&version_path(prompt, v1), bad).await, field);
    }
    assert_eq!(get_version(&app, prompt, v1).await.title, "v1b");
}

#[tokio::test]
async fn required_fields_and_bad_values_are_400() {
    let app = TestApp::spawn().await;
    let prompt = bare_prompt(&app).await;
    let conn = connection(&app).await;
    let full = body("v1", conn);
    for field in ["title", "prompt", "provider_model_id"] {
        let mut partial = full.clone();
        partial.as_object_mut().expect("object").remove(field);
        bad_field(app.post(&versions_path(prompt), partial).await, field);
        let mut blank = full.clone();
        blank[field] = json!("  ");
        bad_field(app.post(&versions_path(prompt), blank).await, field);
    }
    // Request bodies stay JSON: each case changes one field of a valid body.
    let mut long = full.clone();
    long["title"] = json!("t".repeat(501));
    bad_field(app.post(&versions_path(prompt), long).await, "title");
    let mut bad = full.clone();
    bad["provider"] = json!("NotAProvider");
    bad_field(app.post(&versions_path(prompt), bad).await, "provider");
    let mut bad = full.clone();
    bad["max_few_shot_examples"] = json!(-1);
    bad_field(
        app.post(&versions_path(prompt), bad).await,
        "max_few_shot_examples",
    );
    let mut bad = full.clone();
    bad["parent_model"] = json!(prompt + 1000);
    bad_field(app.post(&versions_path(prompt), bad).await, "parent_model");
    let mut bad = full.clone();
    bad["model_provider_connection"] = json!(999_999);
    bad_field(
        app.post(&versions_path(prompt), bad).await,
        "model_provider_connection",
    );
    let list = versions_of(&app, prompt).await;
    assert!(list.is_empty(), "{list:?}");
    // Unknown prompt.
    let (status, _) = app.post(&versions_path(999_999), full).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn another_organizations_connection_is_400() {
    let app = TestApp::spawn().await;
    let prompt = bare_prompt(&app).await;
    let theirs: ModelProviderConnectionView = app
        .send(
            Method::POST,
            "/api/model-provider-connections/",
            Some(&app.other_token),
            Some(&json!({"provider": "OpenAI", "api_key": "sk-theirs"})),
        )
        .await
        .created();
    bad_field(
        app.post(&versions_path(prompt), body("v1", theirs.id))
            .await,
        "model_provider_connection",
    );
    // Their key does not count for ours either (scoped check).
    let err = bad_field(
        app.post(
            &versions_path(prompt),
            json!({"title": "v1", "prompt": "p {text}", "provider_model_id": "gpt-4o-mini"}),
        )
        .await,
        "model_provider_connection",
    );
    assert!(
        says(&err, "model_provider_connection", "has not been setup yet"),
        "{err:?}"
    );
    // Nor on PATCH.
    let conn = connection(&app).await;
    let v = id_of(&new_version(&app, prompt, conn, "v1").await);
    bad_field(
        app.patch(
            &version_path(prompt, v),
            json!({"model_provider_connection": theirs.id}),
        )
        .await,
        "model_provider_connection",
    );
}

#[tokio::test]
async fn without_a_connection_the_organizations_key_is_required_and_linked() {
    let app = TestApp::spawn().await;
    let prompt = bare_prompt(&app).await;
    let minimal = json!({"title": "v1", "prompt": "p {text}", "provider_model_id": "gpt-4o-mini"});
    let err = bad_field(
        app.post(&versions_path(prompt), minimal.clone()).await,
        "model_provider_connection",
    );
    assert!(
        says(
            &err,
            "model_provider_connection",
            "A valid API key for provider OpenAI has not been setup yet"
        ),
        "{err:?}"
    );
    // A connection without a key does not count; nor one for another provider.
    let keyless: ModelProviderConnectionView = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI"}),
        )
        .await
        .created();
    assert!(!keyless.has_api_key);
    let _: ModelProviderConnectionView = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "Anthropic", "api_key": "sk-ant"}),
        )
        .await
        .created();
    bad_field(
        app.post(&versions_path(prompt), minimal.clone()).await,
        "model_provider_connection",
    );
    // With a keyed OpenAI connection in the organization, it is linked.
    let conn = connection(&app).await;
    let v: VersionView = app.post(&versions_path(prompt), minimal).await.created();
    assert_eq!(v.model_provider_connection, Some(conn));
    // An explicit null is "omitted" too.
    let v: VersionView = app
        .post(
            &versions_path(prompt),
            json!({"title": "v2", "prompt": "p", "provider_model_id": "gpt-4o",
                   "model_provider_connection": null}),
        )
        .await
        .created();
    assert_eq!(v.model_provider_connection, Some(conn));
}

#[tokio::test]
async fn default_version_name_counts_and_bumps() {
    let app = TestApp::spawn().await;
    let prompt = bare_prompt(&app).await;
    let conn = connection(&app).await;
    assert_eq!(default_name(&app, prompt).await, "v1");
    new_version(&app, prompt, conn, "v1").await;
    assert_eq!(default_name(&app, prompt).await, "v2");

    // One version titled "v2": n+1 = 2 is taken, so v3.
    let other = id_of(&new_prompt(&app, json!({"title": "Q"})).await);
    new_version(&app, other, conn, "v2").await;
    assert_eq!(default_name(&app, other).await, "v3");
    new_version(&app, other, conn, "v3").await;
    assert_eq!(default_name(&app, other).await, "v4");
    let (status, _) = app
        .get("/api/prompts/999999/get-default-version-name")
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(
            Method::GET,
            &format!("/api/prompts/{prompt}/get-default-version-name"),
            Some(&app.other_token),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn cost_estimate_prices_the_first_project() {
    let app = TestApp::spawn().await;
    let f = fixture(
        &app,
        CLS,
        &[
            "I love this product, it works great",
            "Terrible, broke in a day",
            "ok",
        ],
    )
    .await;
    let e = estimate(&app, f.prompt, f.version).await;
    assert!(!e.is_error, "{e:?}");
    assert_eq!(e.error_type, None);
    let cost = |key: &str, value: &Option<String>| -> f64 {
        value
            .as_deref()
            .unwrap_or_else(|| panic!("{key} is a string: {e:?}"))
            .parse()
            .expect("decimal")
    };
    let (p, c, t) = (
        cost("prompt_cost_usd", &e.prompt_cost_usd),
        cost("completion_cost_usd", &e.completion_cost_usd),
        cost("total_cost_usd", &e.total_cost_usd),
    );
    assert!(p > 0.0 && c > 0.0, "{e:?}");
    assert!((p + c - t).abs() < 1e-7, "{e:?}");
    assert_eq!(e.tasks, 3);
    assert!(e.prompt_tokens > 0);
}

#[tokio::test]
async fn cost_estimate_errors_are_200_with_is_error() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["some text"]).await;
    // Unknown model.
    let v: VersionView = app
        .post(
            &versions_path(f.prompt),
            json!({"title": "custom", "prompt": "p {text}", "provider_model_id": "my-own-model",
                   "model_provider_connection": f.connection}),
        )
        .await
        .created();
    let e = estimate(&app, f.prompt, v.id).await;
    assert!(e.is_error);
    assert_eq!(e.error_type.as_deref(), Some("UnknownModel"));
    assert!(e.error_message.is_some());
    assert_eq!(e.total_cost_usd, None);
    // No associated project.
    let prompt = bare_prompt(&app).await;
    let v = id_of(&new_version(&app, prompt, f.connection, "v1").await);
    let e = estimate(&app, prompt, v).await;
    assert!(e.is_error);
    assert_eq!(e.error_type.as_deref(), Some("NoProject"));
    assert_eq!(e.prompt_cost_usd, None);
    // Unknown version, or a version of another prompt.
    let (status, _) = app
        .get(&format!(
            "{}/cost-estimate",
            version_path(prompt, f.version)
        ))
        .await;
    assert_eq!(status, 404);
}

/// Runs `version` over All and stores a prediction for the first task.
async fn run_with_prediction(app: &TestApp, f: &Fixture, version: i64, label: &str) -> i64 {
    let run = run_on(app, f, version, "All").await;
    batch(
        app,
        run,
        json!([item(f.tasks[0], json!({"sentiment": label}))]),
    )
    .await;
    run
}

#[tokio::test]
async fn delete_removes_only_its_runs_predictions() {
    let app = TestApp::spawn().await;
    let f = fixture(&app, CLS, &["one", "two"]).await;
    let v2 = id_of(&new_version(&app, f.prompt, f.connection, "v2").await);
    let run1 = run_with_prediction(&app, &f, f.version, "Positive").await;
    let run2 = run_with_prediction(&app, &f, v2, "Negative").await;
    let by_hand = hand_prediction(&app, f.tasks[0], choice("Positive")).await;
    assert_eq!(total_predictions(&app, f.tasks[0]).await, 3);

    let (status, body) = app.delete(&version_path(f.prompt, f.version)).await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = app.get(&version_path(f.prompt, f.version)).await;
    assert_eq!(status, 404);
    let (status, _) = app.get(&runs_path(f.prompt, f.version)).await;
    assert_eq!(status, 404);
    assert!(predictions_of_run(&app, f.project, run1).await.is_empty());
    assert_eq!(predictions_of_run(&app, f.project, run2).await.len(), 1);
    let left: Vec<i64> = predictions_of(&app, f.project)
        .await
        .into_iter()
        .map(|p| read::<PredictionView>(p).id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&by_hand));
    assert_eq!(total_predictions(&app, f.tasks[0]).await, 2);
    let p: PromptDetailView = app.get(&format!("/api/prompts/{}/", f.prompt)).await.good();
    assert_eq!(p.versions_count, 1);
    assert_eq!(p.runs_count, 1);
    let (status, _) = app.delete(&version_path(f.prompt, f.version)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_version_of_another_prompt_in_the_path_is_404() {
    let app = TestApp::spawn().await;
    let conn = connection(&app).await;
    let p1 = bare_prompt(&app).await;
    let p2 = id_of(&new_prompt(&app, json!({"title": "Q"})).await);
    let v1 = id_of(&new_version(&app, p1, conn, "v1").await);
    let path = version_path(p2, v1);
    let (status, _) = app.get(&path).await;
    assert_eq!(status, 404);
    let (status, _) = app.patch(&path, json!({"title": "x"})).await;
    assert_eq!(status, 404);
    let (status, _) = app.delete(&path).await;
    assert_eq!(status, 404);
    let (status, _) = app.get(&format!("{path}/cost-estimate")).await;
    assert_eq!(status, 404);
    let (status, _) = app.get(&version_path(p1, 999_999)).await;
    assert_eq!(status, 404);
    // Untouched.
    assert_eq!(get_version(&app, p1, v1).await.title, "v1");
}

#[tokio::test]
async fn annotators_may_read_but_not_write_versions() {
    let app = TestApp::spawn().await;
    let prompt = bare_prompt(&app).await;
    let conn = connection(&app).await;
    let v = id_of(&new_version(&app, prompt, conn, "v1").await);
    let token = Some(app.annotator_token.as_str());
    let (status, _) = app
        .send(
            Method::POST,
            &versions_path(prompt),
            token,
            Some(&body("v2", conn)),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(
            Method::PATCH,
            &version_path(prompt, v),
            token,
            Some(&json!({"title": "x"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(Method::DELETE, &version_path(prompt, v), token, None)
        .await;
    assert_eq!(status, 403);
    let list: Vec<VersionView> = app
        .send(Method::GET, &versions_path(prompt), token, None)
        .await
        .good();
    assert_eq!(list.len(), 1);
}

#[tokio::test]
async fn another_organizations_versions_are_404() {
    let app = TestApp::spawn().await;
    let prompt = bare_prompt(&app).await;
    let conn = connection(&app).await;
    let v = id_of(&new_version(&app, prompt, conn, "v1").await);
    let token = Some(app.other_token.as_str());
    for (method, path, body) in [
        (Method::GET, versions_path(prompt), None),
        (Method::POST, versions_path(prompt), Some(body("v2", conn))),
        (Method::GET, version_path(prompt, v), None),
        (
            Method::PATCH,
            version_path(prompt, v),
            Some(json!({"title": "x"})),
        ),
        (Method::DELETE, version_path(prompt, v), None),
        (
            Method::GET,
            format!("{}/cost-estimate", version_path(prompt, v)),
            None,
        ),
    ] {
        let (status, _) = app.send(method.clone(), &path, token, body.as_ref()).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    assert_eq!(get_version(&app, prompt, v).await.title, "v1");
}
