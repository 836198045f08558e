//! The batch cost benchmark: the same version over the same N tasks run through the provider's
//! batch API and online, side by side on one OpenAI connection to the fake (both with
//! `cache: false`, so neither answers from the other's calls): cost, tokens, calls, batches,
//! wall time.
//!
//! ```text
//! cargo bench --bench engine -- batch [--db postgres] [--tasks 20000] [--batch-ms 2000] [--latency-ms 20]
//! ```
use super::{
    Client, FreshDb, PROMPT, Table, db_name, machine, run_state, seed_tasks, serve_config_with,
};
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use prompter::startup::Application;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A run's end as the bench reports it.
struct Ended {
    run: Value,
    wall: Duration,
}

impl Ended {
    fn cost(&self) -> f64 {
        self.run["total_cost_usd"].as_f64().unwrap_or(0.0)
    }

    fn count(&self, key: &str) -> i64 {
        self.run[key].as_i64().unwrap_or(0)
    }
}

/// Creates a run of `version` with `body` and polls it every 100 ms until it ends.
async fn run(client: &Client, prompt: i64, version: i64, body: Value) -> Ended {
    let path = format!("/api/prompts/{prompt}/versions/{version}/inference-runs");
    let started = Instant::now();
    let id = client.post(&path, body).await["id"]
        .as_i64()
        .expect("run id");
    loop {
        let state = run_state(client, &path, id).await;
        if !matches!(state["status"].as_str(), Some("Pending" | "InProgress")) {
            return Ended {
                run: state,
                wall: started.elapsed(),
            };
        }
        if started.elapsed() > Duration::from_secs(3600) {
            return Ended {
                run: state,
                wall: started.elapsed(),
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The batch benchmark; whether both runs completed with every task predicted.
pub(super) async fn bench(postgres: bool, tasks: i64, batch_ms: u64, latency_ms: u64) -> bool {
    let fresh = FreshDb::new(postgres).await;
    let mut config = serve_config_with(&fresh.url, 128, 1);
    config.engine.batch_poll_ms = 200;
    let app = Application::build(config).await.expect("start server");
    let client = Client::new(app.port());
    let db = app.db().clone();
    tokio::spawn(app.run_until_stopped());
    let fake = FakeLlm::start(
        FakeLlmConfig {
            latency_ms,
            batch_completion_ms: batch_ms,
            ..Default::default()
        },
        0,
    )
    .await
    .expect("start the fake LLM");
    let project = client
        .post(
            "/api/projects/",
            json!({"title": "batch bench", "label_config": super::CLS}),
        )
        .await["id"]
        .as_i64()
        .expect("project");
    seed_tasks(&db, project, tasks).await;
    let connection = client
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "endpoint": fake.base_url(), "api_key": "sk-bench"}),
        )
        .await["id"]
        .as_i64()
        .expect("connection");
    let prompt = client
        .post(
            "/api/prompts/",
            json!({"title": "Sentiment", "associated_projects": [project]}),
        )
        .await["id"]
        .as_i64()
        .expect("prompt");
    let mut versions = vec![];
    for title in ["batch", "online"] {
        let v = client
            .post(
                &format!("/api/prompts/{prompt}/versions"),
                json!({"title": title, "prompt": PROMPT, "provider_model_id": "gpt-4o-mini",
                       "provider": "OpenAI", "model_provider_connection": connection}),
            )
            .await["id"]
            .as_i64()
            .expect("version");
        versions.push(v);
    }
    let body = |execution: &str| {
        json!({"project": project, "project_subset": "All", "cache": false,
               "execution": execution})
    };
    let batch = run(&client, prompt, versions[0], body("batch")).await;
    let after_batch = fake.stats();
    let online = run(&client, prompt, versions[1], body("online")).await;
    let stats = fake.stats();
    let usd = |v: f64| format!("${v:.4}");
    let mut t = Table::new();
    t.row("tasks N", tasks, "");
    t.row(
        "fake batch completion ms / online latency ms",
        format!("{batch_ms} / {latency_ms}"),
        "",
    );
    t.row(
        "batch run status",
        batch.run["status"].as_str().unwrap_or("?"),
        "Completed",
    );
    t.row(
        "online run status",
        online.run["status"].as_str().unwrap_or("?"),
        "Completed",
    );
    t.row("batch run cost", usd(batch.cost()), "");
    t.row("online run cost", usd(online.cost()), "");
    t.row(
        "batch / online cost",
        format!("{:.3}", batch.cost() / online.cost().max(f64::MIN_POSITIVE)),
        "0.5",
    );
    t.row(
        "batch run tokens (prompt / completion)",
        format!(
            "{} / {}",
            batch.count("prompt_tokens"),
            batch.count("completion_tokens")
        ),
        "",
    );
    t.row(
        "online run tokens (prompt / completion)",
        format!(
            "{} / {}",
            online.count("prompt_tokens"),
            online.count("completion_tokens")
        ),
        "",
    );
    let batches = &batch.run["batches"];
    t.row(
        "provider batches (requests each at most 5,000)",
        batches["batches"].as_array().map_or(0, Vec::len),
        "",
    );
    t.row(
        "batch items / HTTP requests of the batch run",
        format!("{} / {}", after_batch.batch_items, after_batch.requests),
        "",
    );
    t.row(
        "HTTP calls of the online run",
        stats.requests - after_batch.requests,
        "",
    );
    t.row(
        "batch run wall s",
        format!("{:.1}", batch.wall.as_secs_f64()),
        "",
    );
    t.row(
        "online run wall s",
        format!("{:.1}", online.wall.as_secs_f64()),
        "",
    );
    t.print(&format!(
        "Batch vs online cost: {} ({}); OpenAI dialect, gpt-4o-mini prices",
        db_name(postgres),
        machine()
    ));
    let complete = |e: &Ended| {
        e.run["status"] == "Completed"
            && e.count("total_predictions") == tasks
            && e.count("total_failed_predictions") == 0
    };
    let good = complete(&batch) && complete(&online);
    db.close().await.ok();
    drop(fake);
    fresh.remove().await;
    good
}
