//! Prompter's API and web app benchmarks (B3, B4, B6, B7 of shared/design/performance.md), one
//! command each:
//!
//! ```text
//! cargo bench --bench api -- b3 [--db postgres] [--seconds 30] [--connections 64]
//! cargo bench --bench api -- b4 [--db postgres] [--tasks 100000] [--batch 1000] [--senders 2]
//! cargo bench --bench api -- b6 [--db postgres] [--tasks 1000000] [--samples 20]
//! cargo bench --bench api -- b7 [--db postgres] [--tasks 100000] [--samples 20]
//! ```
//!
//! Which build is measured is cargo's `--profile`: `cargo bench --profile release ...` is the
//! code the README's `cargo run --release` builds, `cargo bench --profile dist ...` the one
//! that ships.
//!
//! Each starts the real server in-process on a loopback port over a fresh database (a SQLite
//! file in a temp dir, or a new PostgreSQL database from `BENCH_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, dropped at the end), seeds it with set-based
//! SQL, drives it over HTTP and prints one table. Nothing here is a test: no assertion on time.
// Tests and benchmarks are clients of Prompter itself, not requests made on a user's behalf.
#![allow(clippy::disallowed_methods)]
mod common;

use prompter::config::ServeConfig;
use prompter::startup::Application;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-admin-token-0001";

struct Args {
    bench: String,
    postgres: bool,
    seconds: u64,
    connections: usize,
    tasks: i64,
    batch: usize,
    senders: usize,
    samples: usize,
}

fn args() -> Args {
    let raw: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let value = |name: &str| {
        raw.iter()
            .position(|a| a == name)
            .and_then(|i| raw.get(i + 1))
            .cloned()
    };
    let num =
        |name: &str, default: i64| value(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let bench = raw
        .iter()
        .find(|a| {
            !a.starts_with("--")
                && raw
                    .iter()
                    .position(|b| b == *a)
                    .is_none_or(|i| i == 0 || !raw[i - 1].starts_with("--"))
        })
        .cloned();
    Args {
        bench: bench.unwrap_or_default(),
        postgres: value("--db").is_some_and(|d| d.starts_with("postgres")),
        seconds: num("--seconds", 30) as u64,
        connections: num("--connections", 64) as usize,
        tasks: num("--tasks", 0),
        batch: num("--batch", 1000) as usize,
        senders: num("--senders", 2) as usize,
        samples: num("--samples", 20) as usize,
    }
}

/// A server over a fresh database.
struct Bench {
    url: String,
    db: DatabaseConnection,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Bench {
    async fn start(postgres: bool) -> Bench {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg) = common::fresh_database(postgres, dir.path()).await;
        let mut config = ServeConfig::new(database_url, 0);
        config.secret_key = Some("benchmark-secret-key-0123456789".into());
        config.admin_email = Some("bench@example.com".into());
        config.admin_token = Some(TOKEN.into());
        config.database.max_connections = 32;
        // B3, B4 and B6 measure the API alone: results are pushed, not computed.
        config.engine.workers = 0;
        let app = Application::build(config).await.expect("start server");
        let url = format!("http://127.0.0.1:{}", app.port());
        let db = app.db().clone();
        tokio::spawn(app.run_until_stopped());
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .expect("client");
        Bench {
            url,
            db,
            http,
            _dir: dir,
            pg,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("Authorization", format!("Token {TOKEN}"));
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, value) = self.call(reqwest::Method::POST, path, Some(&body)).await;
        assert!(status < 300, "POST {path}: {status} {value}");
        value
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Runs SQL with `$1`-style placeholders on either backend.
    async fn sql(&self, sql: &str, values: Vec<sea_orm::Value>) {
        let sql = if self.backend() == DbBackend::Sqlite {
            sql.replace("$1", "?1").replace("$2", "?2")
        } else {
            sql.to_string()
        };
        self.db
            .execute_raw(Statement::from_sql_and_values(self.backend(), sql, values))
            .await
            .expect("seed SQL");
    }

    /// Inserts `n` tasks into a project with set-based SQL; every 10th gets a ground-truth
    /// annotation choosing Positive.
    async fn seed_tasks(&self, project: i64, n: i64) {
        let now = sea_orm::Value::from(prompter::util::now());
        let (series, data) = if self.backend() == DbBackend::Sqlite {
            (
                format!(
                    "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {n}) "
                ),
                "json_object('text', 'task ' || x || ' is great, truly')",
            )
        } else {
            (
                String::new(),
                "jsonb_build_object('text', 'task ' || x || ' is great, truly')",
            )
        };
        let from = if self.backend() == DbBackend::Sqlite {
            "s".to_string()
        } else {
            format!("generate_series(1, {n}) AS x")
        };
        self.sql(
            &format!(
                "{series}INSERT INTO tasks (project_id, data, meta, is_labeled, overlap, inner_id, total_annotations, \
                 cancelled_annotations, total_predictions, created_at, updated_at) \
                 SELECT {project}, {data}, '{{}}', false, 1, x, 0, 0, 0, $1, $1 FROM {from}"
            ),
            vec![now.clone()],
        )
        .await;
        let gt = r#"[{"from_name":"sentiment","to_name":"text","type":"choices","value":{"choices":["Positive"]}}]"#;
        self.sql(
            &format!(
                "INSERT INTO annotations (task_id, project_id, result, was_cancelled, ground_truth, completed_by_id, last_action, created_at, updated_at) \
                 SELECT id, project_id, '{gt}', false, true, 1, 'imported', $1, $1 FROM tasks WHERE project_id = {project} AND inner_id % 10 = 0"
            ),
            vec![now],
        )
        .await;
        self.sql(
            &format!("UPDATE tasks SET total_annotations = 1, is_labeled = true WHERE project_id = {project} AND inner_id % 10 = 0"),
            vec![],
        )
        .await;
    }

    /// A project, a connection, a prompt and a version over it: (project, prompt, version).
    async fn prompt_setup(&self) -> (i64, i64, i64) {
        let cls = r#"<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>"#;
        let project = self
            .post(
                "/api/projects/",
                json!({"title": "bench", "label_config": cls}),
            )
            .await["id"]
            .as_i64()
            .expect("project");
        let conn = self
            .post(
                "/api/model-provider-connections/",
                json!({"provider": "OpenAI", "api_key": "sk-bench"}),
            )
            .await["id"]
            .clone();
        let prompt = self
            .post("/api/prompts/", json!({"title": "Sentiment", "associated_projects": [project], "input_fields": ["text"], "output_classes": ["Positive", "Negative"]}))
            .await["id"]
            .as_i64()
            .expect("prompt");
        let version = self
            .post(&format!("/api/prompts/{prompt}/versions"), json!({"title": "v1", "prompt": "Classify: {text}", "provider_model_id": "gpt-4o-mini", "model_provider_connection": conn}))
            .await["id"]
            .as_i64()
            .expect("version");
        (project, prompt, version)
    }

    async fn stop(self) {
        self.db.close().await.ok();
        common::drop_database(self.pg).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} cores, {}", std::env::consts::ARCH)
}

/// B3: `connections` concurrent clients for `seconds` on each endpoint.
async fn b3(a: &Args) {
    let bench = Bench::start(a.postgres).await;
    let (project, prompt, _) = bench.prompt_setup().await;
    let now = sea_orm::Value::from(prompter::util::now());
    let series = |n: i64| {
        if bench.backend() == DbBackend::Sqlite {
            (
                format!(
                    "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {n}) "
                ),
                "s".to_string(),
            )
        } else {
            (String::new(), format!("generate_series(1, {n}) AS x"))
        }
    };
    let (with, from) = series(999);
    bench
        .sql(
            &format!(
                "{with}INSERT INTO model_interfaces (organization_id, title, description, skill_name, input_fields, output_classes, created_by_id, created_at, updated_at) \
                 SELECT 1, 'Prompt ' || x, 'bench', 'TextClassification', '[\"text\"]', '[\"Positive\",\"Negative\"]', 1, $1, $1 FROM {from}"
            ),
            vec![now.clone()],
        )
        .await;
    for i in 2..=5 {
        bench
            .post(&format!("/api/prompts/{prompt}/versions"), json!({"title": format!("v{i}"), "prompt": "Classify: {text}", "provider_model_id": "gpt-4o-mini"}))
            .await;
    }
    bench.seed_tasks(project, 100).await;
    let task: i64 = bench
        .call(
            reqwest::Method::GET,
            &format!("/api/tasks/?project={project}&page_size=1"),
            None,
        )
        .await
        .1["tasks"][0]["id"]
        .as_i64()
        .expect("task");
    for i in 0..5 {
        bench.post("/api/predictions/", json!({"task": task, "result": "Positive", "model_version": format!("m{i}"), "score": 0.5})).await;
    }
    println!(
        "B3 API under load: {} connections, {} s per endpoint, {} ({})",
        a.connections,
        a.seconds,
        if a.postgres { "PostgreSQL" } else { "SQLite" },
        machine()
    );
    println!(
        "{:<48} {:>10} {:>9} {:>9} {:>7}",
        "endpoint", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for path in [
        "/api/prompts/?page=1&page_size=20".to_string(),
        format!("/api/predictions/?task={task}"),
        format!("/api/prompts/{prompt}/versions"),
    ] {
        let deadline = Instant::now() + Duration::from_secs(a.seconds);
        let mut handles = vec![];
        for _ in 0..a.connections {
            let http = bench.http.clone();
            let url = format!("{}{path}", bench.url);
            handles.push(tokio::spawn(async move {
                let (mut lat, mut errors) = (vec![], 0u64);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match http
                        .get(&url)
                        .header("Authorization", format!("Token {TOKEN}"))
                        .send()
                        .await
                    {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            lat.push(t.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (lat, errors)
            }));
        }
        let (mut all, mut errors) = (vec![], 0);
        for h in handles {
            let (lat, e) = h.await.expect("client task");
            all.extend(lat);
            errors += e;
        }
        all.sort();
        let rps = all.len() as f64 / a.seconds as f64;
        println!(
            "{:<48} {:>10.0} {:>9.2} {:>9.2} {:>7}",
            path,
            rps,
            percentile(&all, 0.50),
            percentile(&all, 0.99),
            errors
        );
    }
    bench.stop().await;
}

/// B4: prediction ingest through `batch-predictions`, `batch` items per request.
async fn b4(a: &Args) {
    let tasks = if a.tasks > 0 { a.tasks } else { 100_000 };
    let bench = Bench::start(a.postgres).await;
    let (project, prompt, version) = bench.prompt_setup().await;
    bench.seed_tasks(project, tasks).await;
    let run = bench
        .post(
            &format!("/api/prompts/{prompt}/versions/{version}/inference-runs"),
            json!({"project": project, "project_subset": "All"}),
        )
        .await;
    let run_id = run["id"].as_i64().expect("run");
    let mut ids: Vec<i64> = vec![];
    let mut page = 1;
    loop {
        let (_, body) = bench
            .call(
                reqwest::Method::GET,
                &format!(
                    "/api/tasks/?project={project}&page={page}&page_size=10000&fields=task_only"
                ),
                None,
            )
            .await;
        let got: Vec<i64> = body["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["id"].as_i64())
            .collect();
        if got.is_empty() {
            break;
        }
        ids.extend(got);
        page += 1;
    }
    let batches: Vec<Value> = ids
        .chunks(a.batch)
        .map(|chunk| {
            let results: Vec<Value> = chunk
                .iter()
                .map(|id| json!({"task_id": id, "output": {"sentiment": if id % 3 == 0 { "Negative" } else { "Positive" }},
                    "prompt_tokens": 42, "completion_tokens": 5, "prompt_cost_usd": 0.0000063, "completion_cost_usd": 0.000003,
                    "total_cost_usd": 0.0000093, "inference_time": 0.1}))
                .collect();
            json!({"modelrun_id": run_id, "results": results})
        })
        .collect();
    let queue = std::sync::Arc::new(tokio::sync::Mutex::new(batches.into_iter()));
    let started = Instant::now();
    let mut handles = vec![];
    for _ in 0..a.senders.max(1) {
        let queue = queue.clone();
        let http = bench.http.clone();
        let url = format!(
            "{}/api/model-run/batch-predictions?num_predictions={}",
            bench.url, a.batch
        );
        handles.push(tokio::spawn(async move {
            let mut lat = vec![];
            loop {
                let Some(body) = queue.lock().await.next() else {
                    break;
                };
                let t = Instant::now();
                let resp = http
                    .post(&url)
                    .header("Authorization", format!("Token {TOKEN}"))
                    .json(&body)
                    .send()
                    .await
                    .expect("post");
                assert_eq!(resp.status().as_u16(), 201, "batch-predictions");
                let _ = resp.bytes().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = vec![];
    for h in handles {
        lat.extend(h.await.expect("sender"));
    }
    let wall = started.elapsed();
    lat.sort();
    let (_, runs) = bench
        .call(
            reqwest::Method::GET,
            &format!("/api/prompts/{prompt}/versions/{version}/inference-runs"),
            None,
        )
        .await;
    let stored = runs[0]["total_predictions"].as_i64().unwrap_or(0);
    println!(
        "B4 prediction ingest: {} tasks, {} items/request, {} senders, {} ({})",
        tasks,
        a.batch,
        a.senders,
        if a.postgres { "PostgreSQL" } else { "SQLite" },
        machine()
    );
    println!(
        "{:<14} {:>12} {:>14} {:>12} {:>12} {:>10}",
        "predictions", "wall s", "predictions/s", "p50 req ms", "p99 req ms", "status"
    );
    println!(
        "{:<14} {:>12.2} {:>14.0} {:>12.1} {:>12.1} {:>10}",
        stored,
        wall.as_secs_f64(),
        stored as f64 / wall.as_secs_f64(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        runs[0]["status"].as_str().unwrap_or("?")
    );
    bench.stop().await;
}

/// B6: a 1,000,000-task project: run creation (subset resolution) and subset-tasks pages.
async fn b6(a: &Args) {
    let tasks = if a.tasks > 0 { a.tasks } else { 1_000_000 };
    let bench = Bench::start(a.postgres).await;
    let (project, prompt, version) = bench.prompt_setup().await;
    let t = Instant::now();
    bench.seed_tasks(project, tasks).await;
    let seed = t.elapsed();
    if a.postgres {
        bench.sql("ANALYZE", vec![]).await;
    }
    println!(
        "B6 scale: {} tasks ({} with ground truth), seeded in {:.1} s, {} ({})",
        tasks,
        tasks / 10,
        seed.as_secs_f64(),
        if a.postgres { "PostgreSQL" } else { "SQLite" },
        machine()
    );
    println!(
        "{:<52} {:>8} {:>10} {:>10} {:>10}",
        "operation", "samples", "median ms", "p99 ms", "max ms"
    );
    let runs_path = format!("/api/prompts/{prompt}/versions/{version}/inference-runs");
    let mut run_id = 0;
    for subset in ["All", "HasGT"] {
        let mut times = vec![];
        for _ in 0..3 {
            let t = Instant::now();
            let run = bench
                .post(
                    &runs_path,
                    json!({"project": project, "project_subset": subset}),
                )
                .await;
            times.push(t.elapsed());
            run_id = run["id"].as_i64().expect("run");
        }
        times.sort();
        println!(
            "{:<52} {:>8} {:>10.0} {:>10.0} {:>10.0}",
            format!("create run ({subset}; replaces the previous)"),
            times.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            percentile(&times, 1.0)
        );
    }
    let n = a.samples.max(1);
    for (label, query) in [
        (
            "subset-tasks page 1, include_total=false",
            "page=1&include_total=false",
        ),
        (
            "subset-tasks page 500, include_total=false",
            "page=500&include_total=false",
        ),
        ("subset-tasks page 1, with total", "page=1"),
    ] {
        let mut times = vec![];
        for _ in 0..n {
            let t = Instant::now();
            let (status, body) = bench
                .call(reqwest::Method::GET, &format!("/api/projects/{project}/subset-tasks?parent_model={prompt}&model_run={run_id}&project_subset=HasGT&page_size=20&{query}"), None)
                .await;
            times.push(t.elapsed());
            assert_eq!(status, 200, "{body}");
        }
        times.sort();
        println!(
            "{:<52} {:>8} {:>10.1} {:>10.1} {:>10.1}",
            label,
            times.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            percentile(&times, 1.0)
        );
    }
    bench.stop().await;
}

/// B7: the web app's pages on a project of `tasks` tasks (one in ten with ground truth), 1,000
/// prompts and a HasGT run with every result in: the time of each page over loopback, signed
/// in with a browser session.
async fn b7(a: &Args) {
    let tasks = if a.tasks > 0 { a.tasks } else { 100_000 };
    let bench = Bench::start(a.postgres).await;
    let (project, prompt, version) = bench.prompt_setup().await;
    let t = Instant::now();
    bench.seed_tasks(project, tasks).await;
    for i in 1..1000 {
        bench
            .post("/api/prompts/", json!({"title": format!("Prompt {i}"), "associated_projects": [project], "input_fields": ["text"], "output_classes": ["Positive", "Negative"]}))
            .await;
    }
    if a.postgres {
        bench.sql("ANALYZE", vec![]).await;
    }
    let run = bench
        .post(
            &format!("/api/prompts/{prompt}/versions/{version}/inference-runs"),
            json!({"project": project, "project_subset": "HasGT"}),
        )
        .await;
    let run_id = run["id"].as_i64().expect("run");
    let ids: Vec<i64> = bench
        .db
        .query_all_raw(Statement::from_string(
            bench.backend(),
            format!(
                "SELECT task_id FROM annotations WHERE project_id = {project} ORDER BY task_id"
            ),
        ))
        .await
        .expect("ground-truth tasks")
        .iter()
        .filter_map(|r| r.try_get::<i64>("", "task_id").ok())
        .collect();
    for chunk in ids.chunks(1000) {
        let results: Vec<Value> = chunk
            .iter()
            .map(|id| json!({"task_id": id, "output": {"sentiment": if id % 3 == 0 { "Negative" } else { "Positive" }},
                "prompt_tokens": 42, "completion_tokens": 5, "total_cost_usd": 0.0000093}))
            .collect();
        bench
            .post(
                &format!(
                    "/api/model-run/batch-predictions?num_predictions={}",
                    chunk.len()
                ),
                json!({"modelrun_id": run_id, "results": results}),
            )
            .await;
    }
    let seeded = t.elapsed();
    prompter::services::web_accounts::set_password(
        &bench.db,
        "bench@example.com",
        "bench-password",
    )
    .await
    .expect("password");
    let web = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let login = web
        .get(format!("{}/login", bench.url))
        .send()
        .await
        .expect("login page");
    let login_cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_string();
    let token = login_cookie
        .split('=')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let signed = web
        .post(format!("{}/login", bench.url))
        .header("cookie", &login_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([
                ("csrf", token.as_str()),
                ("email", "bench@example.com"),
                ("password", "bench-password"),
            ])
            .expect("form"),
        )
        .send()
        .await
        .expect("sign in");
    let session = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("prompter_session="))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_string();
    println!(
        "B7 web app: {} tasks ({} with ground truth, all predicted by run {run_id}), 1000 prompts, seeded in {:.1} s, {} ({})",
        tasks,
        ids.len(),
        seeded.as_secs_f64(),
        if a.postgres { "PostgreSQL" } else { "SQLite" },
        machine()
    );
    println!(
        "{:<44} {:>8} {:>10} {:>10} {:>10} {:>9}",
        "page", "samples", "median ms", "p99 ms", "max ms", "KiB"
    );
    let task = ids.first().copied().unwrap_or(1);
    let pages = [
        "/prompts".to_string(),
        "/prompts?page=20".into(),
        "/projects".into(),
        format!("/projects/{project}"),
        format!("/projects/{project}?page=1000"),
        format!("/prompts/{prompt}"),
        format!("/prompts/{prompt}?version={version}&estimate=1"),
        format!("/runs/{run_id}"),
        format!("/runs/{run_id}?page=100"),
        format!("/runs/{run_id}?outcome=incorrect"),
        format!("/runs/{run_id}/tasks/{task}"),
        format!("/app/runs/{run_id}/progress"),
        format!("/prompts/{prompt}/evaluation"),
        format!("/prompts/{prompt}/refine?version={version}"),
        "/connections".into(),
        "/label-studio".into(),
        "/profile".into(),
    ];
    for path in pages {
        let mut times = vec![];
        let mut size = 0;
        for _ in 0..a.samples.max(1) {
            let t = Instant::now();
            let resp = web
                .get(format!("{}{path}", bench.url))
                .header("cookie", &session)
                .send()
                .await
                .expect("page");
            let status = resp.status().as_u16();
            let body = resp.bytes().await.expect("body");
            times.push(t.elapsed());
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
            size = body.len();
        }
        times.sort();
        println!(
            "{:<44} {:>8} {:>10.1} {:>10.1} {:>10.1} {:>9.1}",
            path,
            times.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            percentile(&times, 1.0),
            size as f64 / 1024.0
        );
    }
    bench.stop().await;
}

#[tokio::main]
async fn main() {
    let a = args();
    match a.bench.as_str() {
        "b3" => b3(&a).await,
        "b4" => b4(&a).await,
        "b6" => b6(&a).await,
        "b7" => b7(&a).await,
        other => {
            eprintln!(
                "usage: cargo bench --bench api -- b3|b4|b6|b7 [--db postgres] (got {other:?})"
            );
            std::process::exit(2);
        }
    }
}
