//! Batch execution (issue 24, item 1) end to end against the fake LLM's batch endpoints: a run
//! created with `execution: "batch"` is submitted in batches (OpenAI and Azure OpenAI files and
//! batches, Anthropic Message Batches, Gemini `batchGenerateContent`), polled by its job and
//! written exactly once at the batch price; items that fail inside a batch are asked online,
//! once; a canceled run cancels its batches at the provider; a worker killed while its batch
//! is in flight is taken over and the batch is polled, not sent again; versions that cannot
//! run in a batch are refused with a stable code.
use crate::helpers::engine::{
    assert_exactly_once, fake, finished, quick_engine, results_per_task, worker_command,
};
use crate::helpers::fixtures::{ground_truth, id_of, new_prompt, new_run, run_state};
use crate::helpers::{CLS, TestApp, choice};
use entity::provider_batch;
use prompter::fake_llm::{BATCH_FAIL, FakeLlm, FakeLlmConfig};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::time::Duration;

/// Five texts the fake answers by its keyword rule, and one whose item fails inside a batch
/// (answered normally online).
fn texts() -> Vec<String> {
    vec![
        "I love it".into(),
        "awful service".into(),
        "great stuff".into(),
        format!("bad and poor {BATCH_FAIL}"),
        "excellent work".into(),
        "terrible idea".into(),
    ]
}

const LABELS: [&str; 6] = [
    "Positive", "Negative", "Positive", "Negative", "Positive", "Negative",
];

/// A server whose batch runs look at their batches every 100 ms and send at most 4 requests a
/// batch (6 tasks: two batches).
async fn batch_app() -> TestApp {
    TestApp::spawn_with(|c| {
        quick_engine(c);
        c.engine.batch_poll_ms = 100;
        c.engine.batch_max_requests = 4;
        c.engine.job_backoff_ms = 50;
    })
    .await
}

/// The fake with batches that take `ms` to finish.
async fn batch_fake(ms: u64) -> FakeLlm {
    fake(FakeLlmConfig {
        batch_completion_ms: ms,
        require_key: Some("fake-key".into()),
        ..Default::default()
    })
    .await
}

/// A project with [`texts`] (all with ground truth), a prompt over it, a connection of
/// `provider` to `llm` and a version of `model` through it.
struct Dialect {
    project: i64,
    tasks: Vec<i64>,
    prompt: i64,
    version: i64,
}

async fn dialect(app: &TestApp, llm: &FakeLlm, provider: &str, model: &str) -> Dialect {
    let project = app.project(CLS).await;
    let data: Vec<Value> = texts().iter().map(|t| json!({"text": t})).collect();
    let tasks = app.import(project, Value::Array(data)).await;
    for (task, label) in tasks.iter().zip(LABELS) {
        ground_truth(app, *task, choice(label)).await;
    }
    let prompt = id_of(
        &new_prompt(
            app,
            json!({"title": format!("Batch {provider}"), "associated_projects": [project]}),
        )
        .await,
    );
    let mut connection = json!({"provider": provider, "api_key": "fake-key"});
    match provider {
        "OpenAI" => connection["endpoint"] = json!(llm.base_url()),
        "AzureOpenAI" => {
            connection["endpoint"] = json!(format!("{}?api-version=2024-10-21", llm.root_url()));
            connection["deployment_name"] = json!("fake-deployment");
        }
        _ => connection["endpoint"] = json!(llm.root_url()),
    }
    let (status, body) = app
        .post("/api/model-provider-connections/", connection)
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": "v1", "prompt": "Classify the sentiment. Text: {text}",
                   "provider_model_id": model, "provider": provider,
                   "model_provider_connection": id_of(&body)}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    Dialect {
        project,
        tasks,
        prompt,
        version: id_of(&body),
    }
}

/// Starts a run of `d` with `body` (the project added); its id.
async fn start(app: &TestApp, d: &Dialect, mut body: Value) -> i64 {
    body["project"] = json!(d.project);
    id_of(&new_run(app, d.prompt, d.version, body).await)
}

/// The run once the engine is idle (its batch job waits in between looks: busy until done).
async fn ended(app: &TestApp, d: &Dialect, run: i64) -> Value {
    let s = crate::helpers::engine::Setup {
        project: d.project,
        tasks: d.tasks.clone(),
        prompt: d.prompt,
        version: d.version,
        connection: 0,
    };
    finished(app, &s, run).await
}

/// The cost of each task's prediction in run `run`.
async fn costs(app: &TestApp, run: i64) -> std::collections::HashMap<i64, f64> {
    use entity::prediction;
    prediction::Entity::find()
        .filter(prediction::Column::ModelRunId.eq(run))
        .all(&app.db)
        .await
        .expect("predictions")
        .into_iter()
        .map(|p| (p.task_id, p.total_cost.unwrap_or(0.0)))
        .collect()
}

#[tokio::test]
async fn each_dialect_runs_a_batch_at_half_price_and_asks_failed_items_online_once() {
    for (provider, model, prefix) in [
        ("OpenAI", "gpt-4o-mini", "batch_"),
        ("AzureOpenAI", "gpt-4o-mini", "batch_"),
        ("Anthropic", "claude-haiku-4-5", "msgbatch_"),
        ("Gemini", "gemini-2.5-flash", "batches/"),
    ] {
        let app = batch_app().await;
        let llm = batch_fake(300).await;
        let d = dialect(&app, &llm, provider, model).await;
        let run = start(
            &app,
            &d,
            json!({"project_subset": "All", "execution": "batch", "cache": false}),
        )
        .await;
        let state = ended(&app, &d, run).await;
        assert_eq!(state["status"], "Completed", "{provider}: {state}");
        assert_eq!(state["execution"], "batch");
        assert_eq!(state["total_predictions"], 6, "{provider}: {state}");
        assert_eq!(state["total_failed_predictions"], 0, "{provider}: {state}");
        assert_eq!(state["total_correct_predictions"], 6, "{provider}: {state}");
        let b = &state["batches"];
        assert_eq!(b["submitted"], 6, "{provider}: {b}");
        assert_eq!(b["completed"], 5, "{provider}: {b}");
        assert_eq!(b["failed"], 1, "{provider}: {b}");
        assert_eq!(b["retried_online"], 1, "{provider}: {b}");
        let batches = b["batches"].as_array().cloned().unwrap_or_default();
        assert_eq!(batches.len(), 2, "4 requests a batch: {b}");
        for x in &batches {
            assert_eq!(x["status"], "collected", "{provider}: {x}");
            let id = x["provider_batch_id"].as_str().unwrap_or_default();
            assert!(id.starts_with(prefix), "{provider}: {id}");
        }
        let stats = llm.stats();
        assert_eq!(stats.batches, 2, "{provider}: {stats:?}");
        assert_eq!(stats.batch_items, 6, "{provider}: {stats:?}");
        assert_exactly_once(&results_per_task(&app, run).await, &d.tasks);

        // The same version online over the same tasks (another subset: the batch run stays).
        let online = start(&app, &d, json!({"project_subset": "HasGT", "cache": false})).await;
        let online_state = ended(&app, &d, online).await;
        assert_eq!(online_state["status"], "Completed", "{online_state}");
        assert_eq!(online_state["execution"], "online");
        assert!(online_state["batches"].is_null());
        let (batch_costs, online_costs) = (costs(&app, run).await, costs(&app, online).await);
        for (i, task) in d.tasks.iter().enumerate() {
            let (b, o) = (batch_costs[task], online_costs[task]);
            assert!(o > 0.0, "{provider}: task {task} costs {o} online");
            // The item that failed inside its batch was asked online, at the online price.
            let expected = if i == 3 { o } else { o / 2.0 };
            assert!(
                (b - expected).abs() < 1e-12,
                "{provider}: task {task} cost {b} in the batch run, {o} online"
            );
        }
        let total = |s: &Value| s["total_cost_usd"].as_f64().unwrap_or(0.0);
        eprintln!(
            "{provider}: batch run ${:.8} (2 batches, 1 item asked online), online ${:.8}",
            total(&state),
            total(&online_state)
        );
    }
}

#[tokio::test]
async fn a_canceled_batch_run_cancels_its_batches_at_the_provider() {
    let app = batch_app().await;
    // Batches that would take a minute: the run is canceled while they run.
    let llm = batch_fake(60_000).await;
    let d = dialect(&app, &llm, "OpenAI", "gpt-4o-mini").await;
    let run = start(
        &app,
        &d,
        json!({"project_subset": "All", "execution": "batch"}),
    )
    .await;
    let rows = running_batches(&app, run, 2).await;
    assert_eq!(rows.len(), 2);
    let (status, body) = app
        .post(
            &format!(
                "/api/prompts/{}/versions/{}/inference-runs/{run}/cancel",
                d.prompt, d.version
            ),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.engine_idle().await;
    let state = run_state(&app, d.prompt, d.version, run).await;
    assert_eq!(state["status"], "Canceled", "{state}");
    let batches = state["batches"]["batches"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        batches.iter().all(|b| b["status"] == "canceled"),
        "{batches:?}"
    );
    assert_eq!(llm.stats().batches_canceled, 2, "{:?}", llm.stats());
    assert_eq!(state["total_predictions"], 0);
}

/// Waits until run `run` has `n` batches running at the provider; returns them.
async fn running_batches(app: &TestApp, run: i64, n: usize) -> Vec<provider_batch::Model> {
    for _ in 0..600 {
        let rows = provider_batch::Entity::find()
            .filter(provider_batch::Column::ModelRunId.eq(run))
            .filter(provider_batch::Column::ProviderBatchId.is_not_null())
            .all(&app.db)
            .await
            .expect("batches");
        if rows.len() >= n {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {run} never had {n} batches at the provider");
}

#[tokio::test]
async fn a_worker_killed_while_its_batches_run_is_taken_over_and_sends_nothing_twice() {
    // The server runs no worker: `prompter worker` processes do.
    let app = TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.engine.job_workers = 0;
    })
    .await;
    let llm = batch_fake(3_000).await;
    let d = dialect(&app, &llm, "Anthropic", "claude-haiku-4-5").await;
    let run = start(
        &app,
        &d,
        json!({"project_subset": "All", "execution": "batch"}),
    )
    .await;
    let spawn = || {
        worker_command(&app, 4)
            .env("PROMPTER_BATCH_POLL_MS", "100")
            .env("PROMPTER_BATCH_MAX_REQUESTS", "4")
            .spawn()
            .expect("start prompter worker")
    };
    let mut first = spawn();
    running_batches(&app, run, 2).await;
    first.kill().expect("SIGKILL the worker");
    let _ = first.wait();
    let mut second = spawn();
    let mut state = Value::Null;
    for _ in 0..600 {
        state = run_state(&app, d.prompt, d.version, run).await;
        if !matches!(state["status"].as_str(), Some("Pending" | "InProgress")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(state["status"], "Completed", "{state}");
    assert_exactly_once(&results_per_task(&app, run).await, &d.tasks);
    let stats = llm.stats();
    assert_eq!(stats.batches, 2, "no batch sent twice: {stats:?}");
    assert_eq!(state["batches"]["retried_online"], 1, "{state}");
}

#[tokio::test]
async fn versions_that_cannot_run_in_a_batch_are_refused_with_a_stable_code() {
    let app = batch_app().await;
    let llm = batch_fake(0).await;
    // A Custom connection (an OpenAI-compatible server): no batch API Prompter can rely on.
    let s = crate::helpers::engine::setup(&app, &llm, CLS, &["I love it"], "T: {text}").await;
    let (status, body) = app
        .post(
            &format!(
                "/api/prompts/{}/versions/{}/inference-runs",
                s.prompt, s.version
            ),
            json!({"project": s.project, "project_subset": "All", "execution": "batch"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "batch_not_supported", "{body}");
    // Samples ask several answers per task.
    let d = dialect(&app, &llm, "OpenAI", "gpt-4o-mini").await;
    let (status, body) = app
        .patch(
            &format!("/api/prompts/{}/versions/{}", d.prompt, d.version),
            json!({"samples": 3}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post(
            &format!(
                "/api/prompts/{}/versions/{}/inference-runs",
                d.prompt, d.version
            ),
            json!({"project": d.project, "project_subset": "All", "execution": "batch"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "batch_not_supported", "{body}");
    let (status, body) = app
        .post(
            &format!(
                "/api/prompts/{}/versions/{}/inference-runs",
                d.prompt, d.version
            ),
            json!({"project": d.project, "execution": "later"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("execution"), "{body}");
}

#[tokio::test]
async fn people_start_a_batch_run_from_the_form_and_follow_it_at_the_provider() {
    use crate::helpers::web::{WebClient, set_password};
    let app = batch_app().await;
    let llm = batch_fake(200).await;
    let d = dialect(&app, &llm, "Gemini", "gemini-2.5-flash").await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let page = web
        .get(&format!("/prompts/{}?version={}", d.prompt, d.version))
        .await;
    assert!(
        page.body
            .contains("As a provider batch: half price, within a day"),
        "{}",
        page.body
    );
    let form = web
        .post(
            &format!("/prompts/{}/versions/{}/runs", d.prompt, d.version),
            &[
                ("project", &d.project.to_string()),
                ("subset", "All"),
                ("execution", "batch"),
            ],
        )
        .await;
    let run_page = form.location.expect("the run's page");
    app.engine_idle().await;
    let page = web.get(&run_page).await;
    assert_eq!(page.status, 200);
    for expected in [
        "At the provider",
        "6 requests submitted in 2 batches: 5 answered, 1 failed or not executed, 1 of those asked again online.",
        "<code>batches&#x2f;",
        "collected",
    ] {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    // A version that cannot run in a batch says why beside the choice.
    let s = crate::helpers::engine::setup(&app, &llm, CLS, &["I love it"], "T: {text}").await;
    let refused = web
        .post(
            &format!("/prompts/{}/versions/{}/runs", s.prompt, s.version),
            &[
                ("project", &s.project.to_string()),
                ("subset", "All"),
                ("execution", "batch"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("has no batch API Prompter can use"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("run-execution"), "{}", refused.body);
}
