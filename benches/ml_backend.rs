//! The ML backend's `/predict` latency, as Label Studio sees it:
//!
//! ```text
//! cargo bench --bench ml_backend -- [--db postgres] [--samples 20] [--latency-ms 100] [--concurrency 64]
//! ```
//!
//! Starts the real server in this process over a fresh database (a SQLite file in a temp dir,
//! or a new PostgreSQL database from `BENCH_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, dropped at the end) with no run workers, and
//! the project's fake OpenAI-compatible LLM answering after `--latency-ms`. Through the API it
//! makes a Custom connection to the fake, a prompt and a version, calls `/setup` as Label Studio
//! does (Basic auth, the token as the password), then sends `--samples` sequential `/predict`
//! requests of 1 task and of 100 tasks (Label Studio's batch shape) after one warm-up each, and
//! prints one table: median, p95, min and max against the ideal L·⌈N/C⌉ (C: LLM calls in flight
//! per connection and model). Nothing here is a test: no assertion on time.
// Tests and benchmarks are clients of Prompter itself, not requests made on a user's behalf.
#![allow(clippy::disallowed_methods)]
mod common;

use common::{drop_database, fresh_database};
use prompter::config::ServeConfig;
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use prompter::startup::Application;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-admin-token-0001";
const CLS: &str = r#"<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/><Choice value="Neutral"/></Choices></View>"#;
const PROMPT: &str =
    "Classify the sentiment of the text as Positive, Negative or Neutral.\nText: {text}";
const LS_PROJECT: &str = "1.1795325158";

struct Args {
    postgres: bool,
    samples: usize,
    latency_ms: u64,
    concurrency: usize,
}

fn args() -> Args {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        raw.iter()
            .position(|a| a == name)
            .and_then(|i| raw.get(i + 1))
            .cloned()
    };
    let num = |name: &str, default: u64| {
        value(name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    Args {
        postgres: value("--db").is_some_and(|d| d.starts_with("postgres")),
        samples: num("--samples", 20).max(1) as usize,
        latency_ms: num("--latency-ms", 100),
        concurrency: num("--concurrency", 64).max(1) as usize,
    }
}

/// Sends JSON with `Authorization: Token` (the API) or Basic auth (the ML backend).
async fn send(http: &reqwest::Client, url: &str, basic: bool, body: &Value) -> (u16, Value) {
    let req = http.post(url).json(body);
    let req = if basic {
        req.basic_auth("label-studio", Some(TOKEN))
    } else {
        req.header("Authorization", format!("Token {TOKEN}"))
    };
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn created(http: &reqwest::Client, url: &str, body: Value) -> i64 {
    let (status, value) = send(http, url, false, &body).await;
    assert_eq!(status, 201, "POST {url}: {value}");
    value["id"].as_i64().expect("id")
}

/// A `/predict` body of `n` tasks as Label Studio sends a batch retrieval.
fn predict_body(n: usize) -> Value {
    let words = ["great", "awful", "fine", "good", "terrible"];
    let tasks: Vec<Value> = (0..n)
        .map(|i| {
            json!({"id": i + 1, "data": {"text": format!("Review {i}: the product is {}.", words[i % words.len()])},
                   "meta": {}, "annotations": [], "predictions": [], "project": 1, "inner_id": i + 1,
                   "is_labeled": false, "overlap": 1, "total_annotations": 0, "total_predictions": 0})
        })
        .collect();
    json!({"tasks": tasks, "project": LS_PROJECT, "label_config": CLS,
           "params": {"login": null, "password": null, "context": null}})
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    prompter::util::install_tls();
    let args = args();
    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, pg) = fresh_database(args.postgres, dir.path()).await;
    let mut config = ServeConfig::new(database_url, 0);
    config.secret_key = Some("benchmark-secret-key-0123456789".into());
    config.admin_email = Some("bench@example.com".into());
    config.admin_token = Some(TOKEN.into());
    config.engine.workers = 0;
    config.engine.concurrency = args.concurrency;
    let app = Application::build(config).await.expect("start server");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let fake = FakeLlm::start(
        FakeLlmConfig {
            latency_ms: args.latency_ms,
            ..Default::default()
        },
        0,
    )
    .await
    .expect("start the fake LLM");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .build()
        .expect("HTTP client");

    let connection = created(
        &http,
        &format!("{base}/api/model-provider-connections/"),
        json!({"provider": "Custom", "endpoint": fake.base_url(), "api_key": "fake-key"}),
    )
    .await;
    let prompt = created(
        &http,
        &format!("{base}/api/prompts/"),
        json!({"title": "Bench"}),
    )
    .await;
    created(
        &http,
        &format!("{base}/api/prompts/{prompt}/versions"),
        json!({"title": "v1", "prompt": PROMPT, "provider_model_id": "gpt-4o-mini",
               "provider": "Custom", "model_provider_connection": connection}),
    )
    .await;
    let ml = format!("{base}/ml/prompts/{prompt}");
    let (status, setup) = send(
        &http,
        &format!("{ml}/setup"),
        true,
        &json!({"project": LS_PROJECT, "schema": CLS, "hostname": "http://localhost:8080",
                "access_token": "abcdef1234567890abcdef1234567890abcdef12", "extra_params": null}),
    )
    .await;
    assert_eq!(status, 200, "/setup: {setup}");

    println!(
        "ML backend /predict latency: {}, fake LLM at {} ms, C = {} calls in flight, {} sequential requests per row ({} cores, {})",
        if args.postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        args.latency_ms,
        args.concurrency,
        args.samples,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::env::consts::ARCH,
    );
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "tasks", "median ms", "p95 ms", "min ms", "max ms", "ideal ms", "failed"
    );
    let mut failures = 0;
    for n in [1usize, 100] {
        let body = predict_body(n);
        let url = format!("{ml}/predict");
        let (status, warm) = send(&http, &url, true, &body).await;
        assert_eq!(status, 200, "/predict: {warm}");
        let mut times = Vec::with_capacity(args.samples);
        let mut failed = 0usize;
        for _ in 0..args.samples {
            let started = Instant::now();
            let (status, answer) = send(&http, &url, true, &body).await;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            let items = answer["results"].as_array().cloned().unwrap_or_default();
            if status != 200 || items.len() != n {
                failed += n;
                continue;
            }
            failed += items.iter().filter(|i| i["score"] != 1.0).count();
        }
        failures += failed;
        times.sort_by(f64::total_cmp);
        let ideal = args.latency_ms as f64 * n.div_ceil(args.concurrency) as f64;
        println!(
            "{:<10} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.0} {:>8}",
            n,
            percentile(&times, 50.0),
            percentile(&times, 95.0),
            times[0],
            times[times.len() - 1],
            ideal,
            failed
        );
    }
    fake.stop().await;
    drop_database(pg).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    if failures > 0 {
        std::process::exit(1);
    }
}
