//! Fixtures of the API tests: prompts, versions, runs, results and ground truth made through
//! the API, and the assertions many tests share.
use super::TestApp;
use serde_json::{Value, json};

/// The prompt list and create path.
pub const PROMPTS: &str = "/api/prompts/";

/// Creates an OpenAI connection with a key in the admin's organization and returns its id.
pub async fn connection(app: &TestApp) -> i64 {
    let (status, body) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "api_key": "sk-test"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().expect("connection id")
}

/// Creates a prompt as the admin and returns it (asserts 201).
pub async fn new_prompt(app: &TestApp, body: Value) -> Value {
    let (status, created) = app.post(PROMPTS, body).await;
    assert_eq!(status, 201, "{created}");
    created
}

/// Creates a version `title` of `prompt` on `gpt-4o-mini` through `connection` and returns it.
pub async fn new_version(app: &TestApp, prompt: i64, connection: i64, title: &str) -> Value {
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": title, "prompt": "Classify: {text}", "provider_model_id": "gpt-4o-mini",
                   "provider": "OpenAI", "model_provider_connection": connection}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

/// Adds a ground-truth annotation with `result` to `task`.
pub async fn ground_truth(app: &TestApp, task: i64, result: Value) {
    let (status, body) = app
        .post(
            &format!("/api/tasks/{task}/annotations/"),
            json!({"result": result, "ground_truth": true}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// The runs path of a version.
pub fn runs_path(prompt: i64, version: i64) -> String {
    format!("/api/prompts/{prompt}/versions/{version}/inference-runs")
}

/// Creates a run and returns it (asserts 201).
pub async fn new_run(app: &TestApp, prompt: i64, version: i64, body: Value) -> Value {
    let (status, run) = app.post(&runs_path(prompt, version), body).await;
    assert_eq!(status, 201, "{run}");
    run
}

/// Creates a run of `version` over `subset` of the fixture's project and returns its id.
pub async fn run_on(app: &TestApp, f: &Fixture, version: i64, subset: &str) -> i64 {
    id_of(
        &new_run(
            app,
            f.prompt,
            version,
            json!({"project": f.project, "project_subset": subset}),
        )
        .await,
    )
}

/// Posts a batch of results to a run (asserts 201).
pub async fn batch(app: &TestApp, run: i64, results: Value) {
    let (status, body) = app
        .post(
            "/api/model-run/batch-predictions",
            json!({"modelrun_id": run, "results": results}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// Posts a batch of failures to a run (asserts 201).
pub async fn batch_failed(app: &TestApp, run: i64, failures: Value) {
    let (status, body) = app
        .post(
            "/api/model-run/batch-failed-predictions",
            json!({"modelrun_id": run, "failed_predictions": failures}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// One result item for `task` with `output` and no cost.
pub fn item(task: i64, output: Value) -> Value {
    json!({"task_id": task, "output": output, "prompt_tokens": 10, "completion_tokens": 2,
           "total_cost_usd": 0.0})
}

/// The runs of a version, as the list returns them (asserts 200).
pub async fn runs_of(app: &TestApp, prompt: i64, version: i64) -> Vec<Value> {
    let (status, body) = app.get(&runs_path(prompt, version)).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().expect("a bare array").clone()
}

/// The run `id` as the run list shows it.
pub async fn run_state(app: &TestApp, prompt: i64, version: i64, id: i64) -> Value {
    runs_of(app, prompt, version)
        .await
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("run {id} is listed"))
}

/// The predictions of a project (asserts 200).
pub async fn predictions_of(app: &TestApp, project: i64) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/predictions/?project={project}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().expect("a bare array").clone()
}

/// The predictions of a project written by run `run`.
pub async fn predictions_of_run(app: &TestApp, project: i64, run: i64) -> Vec<Value> {
    predictions_of(app, project)
        .await
        .into_iter()
        .filter(|p| p["model_run"] == run)
        .collect()
}

/// A task's `total_predictions`.
pub async fn total_predictions(app: &TestApp, task: i64) -> i64 {
    let (status, body) = app.get(&format!("/api/tasks/{task}/")).await;
    assert_eq!(status, 200, "{body}");
    body["total_predictions"]
        .as_i64()
        .expect("total_predictions")
}

/// Creates a hand-made prediction of `task` and returns its id.
pub async fn hand_prediction(app: &TestApp, task: i64, result: Value) -> i64 {
    let (status, body) = app
        .post(
            "/api/predictions/",
            json!({"task": task, "result": result, "model_version": "by-hand"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().expect("prediction id")
}

/// A project, its tasks, a prompt on it, a connection and a version `v1`.
pub struct Fixture {
    /// The project.
    pub project: i64,
    /// Its tasks, in import order.
    pub tasks: Vec<i64>,
    /// The prompt (titled "Sentiment").
    pub prompt: i64,
    /// The connection.
    pub connection: i64,
    /// The version `v1`.
    pub version: i64,
}

/// Sets up a project with `config` and one task per text, a prompt titled "Sentiment"
/// associated with it, a connection and a version `v1`.
pub async fn fixture(app: &TestApp, config: &str, texts: &[&str]) -> Fixture {
    let project = app.project(config).await;
    let data: Vec<Value> = texts.iter().map(|t| json!({"text": t})).collect();
    let tasks = if data.is_empty() {
        vec![]
    } else {
        app.import(project, Value::Array(data)).await
    };
    let prompt = new_prompt(
        app,
        json!({"title": "Sentiment", "associated_projects": [project]}),
    )
    .await["id"]
        .as_i64()
        .expect("prompt id");
    let connection = connection(app).await;
    let version = new_version(app, prompt, connection, "v1").await["id"]
        .as_i64()
        .expect("version id");
    Fixture {
        project,
        tasks,
        prompt,
        connection,
        version,
    }
}

/// Asserts a 400 whose validation errors name `field`.
#[track_caller]
pub fn assert_field_error(status: u16, body: &Value, field: &str) {
    super::bad_field((status, body.clone()), field);
}

/// The `id` of a created object.
pub fn id_of(body: &Value) -> i64 {
    body["id"].as_i64().expect("id")
}
