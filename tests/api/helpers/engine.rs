//! Fixtures of the engine tests: a server with quick in-process workers, the fake LLM and a
//! Custom connection to it, a project with a prompt and a version over it, runs started and
//! waited for, and the per-task results of a run.
use super::TestApp;
use super::fixtures::{id_of, new_prompt, new_run, run_state};
use entity::{failed_prediction, prediction};
use prompter::config::ServeConfig;
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// Engine settings for tests: quick polls, short leases, short timeouts and backoffs.
pub fn quick_engine(c: &mut ServeConfig) {
    c.engine.workers = 1;
    c.engine.concurrency = 16;
    c.engine.poll_ms = 50;
    c.engine.lease_secs = 5;
    c.engine.llm_timeout_secs = 1.0;
    c.engine.llm_backoff_ms = 20;
    c.engine.llm_max_attempts = 3;
    c.engine.batch_poll_ms = 100;
}

/// A server with one in-process worker.
pub async fn engine_app() -> TestApp {
    TestApp::spawn_with(quick_engine).await
}

/// Starts the fake LLM server on a free loopback port (also used by the refine tests).
pub async fn fake(config: FakeLlmConfig) -> FakeLlm {
    FakeLlm::start(config, 0).await.expect("fake LLM")
}

/// A Custom connection to `llm` with `key`.
pub async fn custom_connection(app: &TestApp, llm: &FakeLlm, key: &str) -> i64 {
    let (status, body) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "Custom", "endpoint": llm.base_url(), "api_key": key}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    id_of(&body)
}

/// A project of `config` with `texts`, a prompt over it and a version through a Custom
/// connection to `llm`, priced as gpt-4o-mini.
pub struct Setup {
    pub project: i64,
    pub tasks: Vec<i64>,
    pub prompt: i64,
    pub version: i64,
    pub connection: i64,
}

/// Sets up a [`Setup`]: the project, one task per text, a prompt "Engine" over the project, a
/// Custom connection to `llm` and a version `v1` with `prompt`.
pub async fn setup(
    app: &TestApp,
    llm: &FakeLlm,
    config: &str,
    texts: &[&str],
    prompt: &str,
) -> Setup {
    let project = app.project(config).await;
    let data: Vec<Value> = texts.iter().map(|t| json!({"text": t})).collect();
    let tasks = app.import(project, Value::Array(data)).await;
    let prompt_id = id_of(
        &new_prompt(
            app,
            json!({"title": "Engine", "associated_projects": [project]}),
        )
        .await,
    );
    let connection = custom_connection(app, llm, "fake-key").await;
    let version = version(app, prompt_id, connection, "v1", prompt).await;
    Setup {
        project,
        tasks,
        prompt: prompt_id,
        version,
        connection,
    }
}

/// Creates a version `title` of `prompt` with `text` through `connection` (gpt-4o-mini) and
/// returns its id.
pub async fn version(app: &TestApp, prompt: i64, connection: i64, title: &str, text: &str) -> i64 {
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": title, "prompt": text, "provider_model_id": "gpt-4o-mini",
                   "provider": "Custom", "model_provider_connection": connection}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    id_of(&body)
}

/// Starts a run; returns its id.
pub async fn start(app: &TestApp, s: &Setup, body: Value) -> i64 {
    let mut body = body;
    body["project"] = json!(s.project);
    id_of(&new_run(app, s.prompt, s.version, body).await)
}

/// Waits until the engine is idle, then reads the run: it has left Pending/InProgress (a run
/// still active when there is nothing left to do fails the test).
pub async fn finished(app: &TestApp, s: &Setup, run: i64) -> Value {
    app.engine_idle().await;
    let state = run_state(app, s.prompt, s.version, run).await;
    assert!(
        !matches!(state["status"].as_str(), Some("Pending" | "InProgress")),
        "run {run} is still active with the engine idle: {state}"
    );
    state
}

/// Polls until the run leaves Pending/InProgress (bounded: a stuck run fails the test), for
/// runs done by `prompter worker` processes: the idle hook sees only this process's engine,
/// and the other processes' leases are no work of its own.
pub async fn finished_by_other_processes(app: &TestApp, s: &Setup, run: i64) -> Value {
    for _ in 0..1200 {
        let state = run_state(app, s.prompt, s.version, run).await;
        if !matches!(state["status"].as_str(), Some("Pending" | "InProgress")) {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {run} did not finish");
}

/// Per task of the run: how many predictions and failures it has.
pub async fn results_per_task(app: &TestApp, run: i64) -> HashMap<i64, (usize, Vec<String>)> {
    let predicted: Vec<i64> = prediction::Entity::find()
        .select_only()
        .column(prediction::Column::TaskId)
        .filter(prediction::Column::ModelRunId.eq(run))
        .into_tuple()
        .all(&app.db)
        .await
        .expect("predictions");
    let failed: Vec<(i64, Option<String>)> = failed_prediction::Entity::find()
        .select_only()
        .columns([
            failed_prediction::Column::TaskId,
            failed_prediction::Column::ErrorType,
        ])
        .filter(failed_prediction::Column::ModelRunId.eq(run))
        .into_tuple()
        .all(&app.db)
        .await
        .expect("failures");
    let mut out: HashMap<i64, (usize, Vec<String>)> = HashMap::new();
    for t in predicted {
        out.entry(t).or_default().0 += 1;
    }
    for (t, kind) in failed {
        out.entry(t).or_default().1.push(kind.unwrap_or_default());
    }
    out
}

/// Asserts every task of `tasks` has exactly one prediction or one failure in the run.
pub fn assert_exactly_once(results: &HashMap<i64, (usize, Vec<String>)>, tasks: &[i64]) {
    for t in tasks {
        let (p, f) = results.get(t).cloned().unwrap_or_default();
        assert_eq!(p + f.len(), 1, "task {t}: {p} predictions, failures {f:?}");
    }
    assert_eq!(
        results.len(),
        tasks.len(),
        "results only for the run's tasks"
    );
}

/// Six short texts, Positive and Negative by turns under the fake LLM's keyword rule.
pub const TEXTS: [&str; 6] = [
    "I love it",
    "awful service",
    "great stuff",
    "bad and poor",
    "excellent work",
    "terrible idea",
];

/// `prompter worker` on the app's database with quick polls and short leases, to be spawned
/// (tests add what they need, e.g. the schedule poll).
pub fn worker_command(app: &TestApp, concurrency: usize) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_prompter"));
    command
        .arg("worker")
        .env("PROMPTER_DATABASE_URL", &app.database_url)
        .env("PROMPTER_SECRET_KEY", "integration-test-secret-key")
        .env("PROMPTER_WORKERS", "1")
        .env("PROMPTER_CONCURRENCY", concurrency.to_string())
        .env("PROMPTER_LEASE_SECS", "2")
        .env("PROMPTER_POLL_MS", "50")
        .env("PROMPTER_JOB_WORKERS", "1")
        .env("PROMPTER_JOB_BACKOFF_MS", "20")
        .env("PROMPTER_WEBHOOK_BACKOFF_MS", "20")
        // A worker is bound to no address: loopback (the fake LLM) is allowed by the list.
        .env("PROMPTER_OUTBOUND_ALLOW", "loopback")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command
}
