//! Prompter's run-engine benchmarks (B1, B2, B5 of shared/design/performance.md), one command
//! each:
//!
//! ```text
//! cargo bench --bench engine -- b1 [--db postgres] [--tasks 20000] [--latency-ms 100] [--concurrency 128]
//! cargo bench --bench engine -- b2 [--db postgres] [--tasks 5000] [--rpm 3000] [--tpm 450000] [--workers 3 [--unshared]]
//!                                  [--limits connection|headers] [--latency-ms 100] [--concurrency 128]
//! cargo bench --bench engine -- b5 [--db postgres] [--tasks 100000] [--latency-ms 100] [--concurrency 128]
//!                                  [--in-process] [--server-bin PATH]
//! cargo bench --bench engine -- batch [--db postgres] [--tasks 20000] [--batch-ms 2000] [--latency-ms 20]
//! cargo bench --bench engine -- smoke [--db postgres]
//! ```
//!
//! Which build is measured is cargo's `--profile`: `cargo bench --profile release ...` is the
//! binary the README's `cargo run --release` builds, `cargo bench --profile dist ...` the one
//! that ships (B5's child server is the `prompter` binary of the same profile).
//!
//! Each starts the real server over a fresh database (a SQLite file in a temp dir, or a new
//! PostgreSQL database from `BENCH_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`,
//! dropped at the end) and the project's fake OpenAI-compatible LLM in this process, seeds a
//! Choices project with set-based SQL, makes a Custom connection to the fake, a prompt and a
//! version over it through the API, creates an `All` run through the API, polls it until it
//! leaves Pending/InProgress, and prints one table.
//!
//! * B1 (throughput): wall time from run creation to Completed against the ideal N·L/C.
//! * B2 (rate limits): the fake answers 429 + Retry-After past its RPM/TPM; the connection
//!   carries `rpm_limit`/`tpm_limit` (or, with `--limits headers`, none: the engine learns them
//!   from the fake's `x-ratelimit-*` headers).
//! * B5 (memory, and B1c): the B1 workload with the server in a child process: its RSS, and
//!   its CPU per task (B1c: the server's user + system time over the run / N).
//!   Details: the server runs as a child process (the `prompter` binary of the same cargo
//!   profile, `CARGO_BIN_EXE_prompter`), whose `/proc/<pid>/status` is read: VmRSS when idle,
//!   VmRSS sampled every 100 ms during the run, and VmHWM. `--in-process` measures this process
//!   instead (server, fake LLM and load generator together).
//!
//! Where the time went, in the tables: "LLM calls in flight" (sampled at the fake every 5 ms;
//! a mean below C means call slots idled between calls), "call time seen by the engine" (the
//! predictions' `inference_time`; above L is per-call overhead on both sides of the HTTP call),
//! "create request s" and "first result after s" (start-up), and "machine cores busy" (every
//! process of the machine: on a shared machine, read the other figures against it). By Little's
//! law, steady tasks/s = calls in flight / call time.
//!
//! * `BENCH_TIMELINE=FILE` writes the run's samples of LLM calls in flight at the fake (every
//!   5 ms) and results stored (every poll) as CSV.
//! * `smoke`: B1, B2 and B5 with tiny sizes and L = 10 ms, in a few seconds; it exits non-zero
//!   only when a run does not complete or has failed tasks, never on a timing.
// Tests and benchmarks are clients of Prompter itself, not requests made on a user's behalf.
#![allow(clippy::disallowed_methods)]
mod batch;
mod common;

use prompter::config::{DatabaseConfig, ServeConfig};
use prompter::engine::Engine;
use prompter::fake_llm::{FakeLlm, FakeLlmConfig, FakeLlmStats};
use prompter::startup::Application;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-admin-token-0001";
const SECRET: &str = "benchmark-secret-key-0123456789";
const EMAIL: &str = "bench@example.com";
const CLS: &str = r#"<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>"#;
const PROMPT: &str = "Classify the sentiment of the text as Positive or Negative.\nText: {text}";

struct Args {
    bench: String,
    postgres: bool,
    tasks: Option<i64>,
    latency_ms: Option<u64>,
    concurrency: usize,
    rpm: u32,
    tpm: u64,
    limits_from_headers: bool,
    in_process: bool,
    /// B2: `prompter worker` processes that run the run (0: the server's own worker).
    workers: usize,
    /// B2 with workers: each paces to the connection's whole limits (the "before" of shared
    /// pacing).
    unshared: bool,
    /// Batch: how long the fake takes to finish a provider batch, in milliseconds.
    batch_ms: u64,
    /// B5: the `prompter` binary to run as the server (default: this profile's own), so the
    /// README's binary (`target/release/prompter`) and `dist`'s, or two builds, are measured
    /// by the same load generator.
    server_bin: Option<String>,
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
    let num = |name: &str| value(name).and_then(|v| v.parse::<u64>().ok());
    let bench = raw.iter().enumerate().find(|(i, a)| {
        !a.starts_with("--") && (*i == 0 || !raw[i - 1].starts_with("--") || is_switch(&raw[i - 1]))
    });
    Args {
        bench: bench.map(|(_, a)| a.clone()).unwrap_or_default(),
        postgres: value("--db").is_some_and(|d| d.starts_with("postgres")),
        tasks: num("--tasks").map(|n| n as i64),
        latency_ms: num("--latency-ms"),
        concurrency: num("--concurrency").unwrap_or(128).max(1) as usize,
        rpm: num("--rpm").unwrap_or(3000).max(1) as u32,
        tpm: num("--tpm").unwrap_or(450_000).max(1),
        limits_from_headers: value("--limits").is_some_and(|l| l == "headers"),
        in_process: raw.iter().any(|a| a == "--in-process"),
        workers: num("--workers").unwrap_or(0) as usize,
        unshared: raw.iter().any(|a| a == "--unshared"),
        batch_ms: num("--batch-ms").unwrap_or(2000),
        server_bin: value("--server-bin"),
    }
}

/// Flags that take no value.
fn is_switch(flag: &str) -> bool {
    flag == "--in-process" || flag == "--unshared"
}

fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} cores, {}", std::env::consts::ARCH)
}

fn db_name(postgres: bool) -> &'static str {
    if postgres { "PostgreSQL" } else { "SQLite" }
}

/// A fresh database: a SQLite file in a temp dir, or a new PostgreSQL database.
struct FreshDb {
    url: String,
    dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl FreshDb {
    async fn new(postgres: bool) -> FreshDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, pg) = common::fresh_database(postgres, dir.path()).await;
        FreshDb { url, dir, pg }
    }

    async fn remove(self) {
        common::drop_database(self.pg).await;
        drop(self.dir);
    }
}

/// Talks HTTP to a server as the bench admin.
#[derive(Clone)]
struct Client {
    url: String,
    http: reqwest::Client,
}

impl Client {
    fn new(port: u16) -> Client {
        Client {
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(16)
                .build()
                .expect("HTTP client"),
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
        match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                (status, resp.json().await.unwrap_or(Value::Null))
            }
            Err(e) => (0, json!({"error": e.to_string()})),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, value) = self.call(reqwest::Method::POST, path, Some(&body)).await;
        assert!(
            (200..300).contains(&status),
            "POST {path}: {status} {value}"
        );
        value
    }

    async fn get(&self, path: &str) -> Value {
        let (status, value) = self.call(reqwest::Method::GET, path, None).await;
        assert!((200..300).contains(&status), "GET {path}: {status} {value}");
        value
    }
}

/// Engine settings of the benchmarks: one in-process worker with `concurrency` calls in flight;
/// everything else at its default.
fn serve_config_with(url: &str, concurrency: usize, workers: usize) -> ServeConfig {
    let mut config = ServeConfig::new(url, 0);
    config.secret_key = Some(SECRET.into());
    config.admin_email = Some(EMAIL.into());
    config.admin_token = Some(TOKEN.into());
    config.engine.workers = workers;
    config.engine.concurrency = concurrency;
    config
}

/// The real server in this process.
struct InProcess {
    client: Client,
    db: DatabaseConnection,
    engine: Engine,
}

async fn start_in_process(db: &FreshDb, concurrency: usize) -> InProcess {
    start_in_process_with(db, concurrency, 1).await
}

async fn start_in_process_with(db: &FreshDb, concurrency: usize, workers: usize) -> InProcess {
    let app = Application::build(serve_config_with(&db.url, concurrency, workers))
        .await
        .expect("start server");
    let client = Client::new(app.port());
    let server = InProcess {
        client,
        db: app.db().clone(),
        engine: app.engine().clone(),
    };
    tokio::spawn(app.run_until_stopped());
    server
}

async fn start_fake(latency_ms: u64, rpm: Option<u32>, tpm: Option<u64>) -> Arc<FakeLlm> {
    let fake = FakeLlm::start(
        FakeLlmConfig {
            latency_ms,
            rpm,
            tpm,
            ..Default::default()
        },
        0,
    )
    .await
    .expect("start the fake LLM");
    Arc::new(fake)
}

/// Runs SQL with `$1`-style placeholders on either backend.
async fn sql(db: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) {
    let backend = db.get_database_backend();
    let sql = if backend == DbBackend::Sqlite {
        sql.replace("$1", "?1")
    } else {
        sql.to_string()
    };
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .expect("seed SQL");
}

/// Inserts `n` tasks (`{"text": "task X is great, truly"}`) into a project with set-based SQL;
/// every 10th gets a ground-truth annotation choosing Positive, so runs are scored as usual.
async fn seed_tasks(db: &DatabaseConnection, project: i64, n: i64) {
    let now = sea_orm::Value::from(prompter::util::now());
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    let (with, data, from) = if sqlite {
        (
            format!(
                "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {n}) "
            ),
            "json_object('text', 'task ' || x || ' is great, truly')",
            "s".to_string(),
        )
    } else {
        (
            String::new(),
            "jsonb_build_object('text', 'task ' || x || ' is great, truly')",
            format!("generate_series(1, {n}) AS x"),
        )
    };
    sql(
        db,
        &format!(
            "{with}INSERT INTO tasks (project_id, data, meta, is_labeled, overlap, inner_id, total_annotations, \
             cancelled_annotations, total_predictions, created_at, updated_at) \
             SELECT {project}, {data}, '{{}}', false, 1, x, 0, 0, 0, $1, $1 FROM {from}"
        ),
        vec![now.clone()],
    )
    .await;
    let gt = r#"[{"from_name":"sentiment","to_name":"text","type":"choices","value":{"choices":["Positive"]}}]"#;
    sql(
        db,
        &format!(
            "INSERT INTO annotations (task_id, project_id, result, was_cancelled, ground_truth, completed_by_id, last_action, created_at, updated_at) \
             SELECT id, project_id, '{gt}', false, true, 1, 'imported', $1, $1 FROM tasks WHERE project_id = {project} AND inner_id % 10 = 0"
        ),
        vec![now],
    )
    .await;
    sql(
        db,
        &format!("UPDATE tasks SET total_annotations = 1, is_labeled = true WHERE project_id = {project} AND inner_id % 10 = 0"),
        vec![],
    )
    .await;
    if !sqlite {
        sql(db, "ANALYZE", vec![]).await;
    }
}

/// A project of `tasks` tasks, a Custom connection to the fake (with `limits` as its
/// `rpm_limit`/`tpm_limit` when given), a prompt and a version.
struct Setup {
    prompt: i64,
    version: i64,
    project: i64,
}

async fn setup(
    client: &Client,
    db: &DatabaseConnection,
    fake: &FakeLlm,
    tasks: i64,
    limits: Option<(u32, u64)>,
) -> Setup {
    let project = client
        .post(
            "/api/projects/",
            json!({"title": "engine bench", "label_config": CLS}),
        )
        .await["id"]
        .as_i64()
        .expect("project");
    seed_tasks(db, project, tasks).await;
    let mut connection =
        json!({"provider": "Custom", "endpoint": fake.base_url(), "api_key": "sk-bench"});
    if let Some((rpm, tpm)) = limits {
        connection["rpm_limit"] = json!(rpm);
        connection["tpm_limit"] = json!(tpm);
    }
    let connection = client
        .post("/api/model-provider-connections/", connection)
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
    let version = client
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": "v1", "prompt": PROMPT, "provider_model_id": "gpt-4o-mini",
                   "provider": "Custom", "model_provider_connection": connection}),
        )
        .await["id"]
        .as_i64()
        .expect("version");
    Setup {
        prompt,
        version,
        project,
    }
}

/// How a run went, seen from the client.
struct RunOutcome {
    /// From just before the create request to the poll that saw it finished.
    wall: Duration,
    /// The run's `completed_at - created_at` (server clock).
    server_wall: Option<f64>,
    /// The run's final state.
    run: Value,
    /// Seconds from creation to the first stored result.
    first_result: Option<f64>,
    /// Results per second between 10% and 90% of the tasks.
    steady_rate: Option<f64>,
    /// Seconds the create request took.
    create: f64,
    /// LLM calls in flight at the fake (received, not yet answered), sampled every 5 ms:
    /// (mean over the run, mean / p10 / min between 10% and 90% of the results).
    in_flight: Option<(f64, f64, u64, u64)>,
    /// Cores the whole machine kept busy during the run (every process, other users too).
    machine_busy: f64,
}

impl RunOutcome {
    fn status(&self) -> &str {
        self.run["status"].as_str().unwrap_or("?")
    }

    fn count(&self, key: &str) -> i64 {
        self.run[key].as_i64().unwrap_or(0)
    }
}

/// Creates an `All` run and polls it every 50 ms until it leaves Pending/InProgress (or makes
/// no progress for 120 s).
async fn run_all(client: &Client, s: &Setup, fake: &Arc<FakeLlm>) -> RunOutcome {
    let path = format!(
        "/api/prompts/{}/versions/{}/inference-runs",
        s.prompt, s.version
    );
    let machine_before = machine_cpu();
    let started = Instant::now();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (fake, sampling) = (fake.clone(), sampling.clone());
        tokio::spawn(async move {
            let mut samples: Vec<(f64, u64)> = vec![];
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            while sampling.load(Ordering::Relaxed) {
                tick.tick().await;
                let st = fake.stats();
                let answered =
                    st.ok + st.rate_limited + st.server_errors + st.unauthorized + st.bad_requests;
                samples.push((
                    started.elapsed().as_secs_f64(),
                    st.requests.saturating_sub(answered),
                ));
            }
            samples
        })
    };
    let created = client
        .post(
            &path,
            json!({"project": s.project, "project_subset": "All"}),
        )
        .await;
    let create = started.elapsed().as_secs_f64();
    let id = created["id"].as_i64().expect("run id");
    let total = created["total_tasks"].as_i64().unwrap_or(0).max(1);
    let mut timeline: Vec<(f64, i64)> = vec![];
    let mut last_progress = (Instant::now(), -1);
    let run = loop {
        let (status, runs) = client.call(reqwest::Method::GET, &path, None).await;
        let run = runs
            .as_array()
            .and_then(|r| r.iter().find(|r| r["id"] == id))
            .cloned();
        if let Some(run) = run {
            let done = run["total_predictions"].as_i64().unwrap_or(0)
                + run["total_failed_predictions"].as_i64().unwrap_or(0);
            timeline.push((started.elapsed().as_secs_f64(), done));
            if !matches!(run["status"].as_str(), Some("Pending" | "InProgress")) {
                break run;
            }
            if done != last_progress.1 {
                last_progress = (Instant::now(), done);
            }
        } else if status != 200 {
            eprintln!("polling the run: {status} {runs}");
        }
        if last_progress.0.elapsed() > Duration::from_secs(120) {
            eprintln!("run {id}: no progress for 120 s; giving up");
            break run_state(client, &path, id).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let wall = started.elapsed();
    let machine_after = machine_cpu();
    let machine_busy = (machine_after.0 - machine_before.0)
        / (machine_after.1 - machine_before.1).max(0.01)
        * std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
    sampling.store(false, Ordering::Relaxed);
    let samples = sampler.await.unwrap_or_default();
    // BENCH_TIMELINE=FILE writes the samples (seconds, calls in flight, results stored) for
    // a closer look at where the engine idles.
    if let Ok(file) = std::env::var("BENCH_TIMELINE") {
        let mut text = String::from("seconds,in_flight,results\n");
        let mut results = timeline.iter().peekable();
        let mut stored = 0;
        for (t, n) in &samples {
            while let Some((_, r)) = results.next_if(|(rt, _)| rt <= t) {
                stored = *r;
            }
            text.push_str(&format!("{t:.4},{n},{stored}\n"));
        }
        if let Err(e) = std::fs::write(&file, text) {
            eprintln!("BENCH_TIMELINE {file}: {e}");
        }
    }
    let at = |share: f64| {
        timeline
            .iter()
            .find(|(_, n)| *n as f64 >= share * total as f64 && *n > 0)
            .map(|(t, _)| *t)
    };
    let first_result = timeline.iter().find(|(_, n)| *n > 0).map(|(t, _)| *t);
    let steady_rate = at(0.1)
        .zip(at(0.9))
        .filter(|(a, b)| b > a)
        .map(|(a, b)| 0.8 * total as f64 / (b - a));
    let in_flight = at(0.1).zip(at(0.9)).and_then(|(a, b)| {
        let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
        let all: Vec<u64> = samples.iter().map(|(_, n)| *n).collect();
        let mut steady: Vec<u64> = samples
            .iter()
            .filter(|(t, _)| (a..=b).contains(t))
            .map(|(_, n)| *n)
            .collect();
        steady.sort_unstable();
        let p10 = *steady.get(steady.len() / 10)?;
        Some((mean(&all), mean(&steady), p10, steady[0]))
    });
    let time = |k: &str| {
        run[k]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    let server_wall = time("created_at")
        .zip(time("completed_at"))
        .map(|(a, b)| (b - a).num_milliseconds() as f64 / 1000.0);
    RunOutcome {
        wall,
        server_wall,
        run,
        first_result,
        steady_rate,
        create,
        in_flight,
        machine_busy,
    }
}

async fn run_state(client: &Client, path: &str, id: i64) -> Value {
    client
        .get(path)
        .await
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == id))
        .cloned()
        .unwrap_or(Value::Null)
}

/// CPU seconds (user + system) of a process (`self` or a pid), from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    // After the command: state is field 3, utime 14 and stime 15 (in clock ticks, 100 Hz).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// The machine's (busy, total) CPU seconds so far, from `/proc/stat`.
fn machine_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    ((total - idle) / 100.0, total / 100.0)
}

/// A `kB` field (`VmRSS`, `VmHWM`) of `/proc/<pid>/status`, in kB.
fn status_kb(pid: &str, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

fn mb(kb: Option<u64>) -> String {
    kb.map_or("?".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0))
}

/// Samples VmRSS of a process every 100 ms on a thread until stopped: (peak kB, samples).
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, usize)>,
}

impl Sampler {
    fn start(pid: String) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut peak, mut samples) = (0, 0);
            while !flag.load(Ordering::Relaxed) {
                if let Some(kb) = status_kb(&pid, "VmRSS") {
                    peak = peak.max(kb);
                    samples += 1;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            (peak, samples)
        });
        Sampler { stop, thread }
    }

    fn finish(self) -> (u64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or((0, 0))
    }
}

/// One table: a title line, then `metric | value | target` rows.
struct Table {
    rows: Vec<(String, String, String)>,
}

impl Table {
    fn new() -> Table {
        Table { rows: vec![] }
    }

    fn row(&mut self, metric: &str, value: impl std::fmt::Display, target: &str) {
        self.rows
            .push((metric.to_string(), value.to_string(), target.to_string()));
    }

    fn print(&self, title: &str) {
        let w0 = self
            .rows
            .iter()
            .map(|r| r.0.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let w1 = self
            .rows
            .iter()
            .map(|r| r.1.len())
            .max()
            .unwrap_or(5)
            .max(5);
        println!("{title}");
        println!("{:<w0$}  {:>w1$}  target", "metric", "value");
        println!("{}", "-".repeat(w0 + w1 + 10));
        for (m, v, t) in &self.rows {
            println!("{m:<w0$}  {v:>w1$}  {t}");
        }
        println!();
    }
}

/// Whether the run completed with every task predicted (the smoke run's only check).
fn ok(run: &RunOutcome, tasks: i64) -> bool {
    run.status() == "Completed"
        && run.count("total_failed_predictions") == 0
        && run.count("total_predictions") == tasks
}

fn run_rows(t: &mut Table, run: &RunOutcome, tasks: i64) {
    t.row("run status", run.status(), "Completed");
    t.row(
        "predictions / failed tasks",
        format!(
            "{} / {}",
            run.count("total_predictions"),
            run.count("total_failed_predictions")
        ),
        &format!("{tasks} / 0"),
    );
    t.row(
        "wall s (create request -> seen Completed)",
        format!("{:.2}", run.wall.as_secs_f64()),
        "",
    );
    t.row(
        "server wall s (completed_at - created_at)",
        run.server_wall.map_or("?".into(), |s| format!("{s:.2}")),
        "",
    );
    t.row("create request s", format!("{:.3}", run.create), "");
    t.row(
        "machine cores busy during the run (all processes)",
        format!("{:.2} of {}", run.machine_busy, machine()),
        "",
    );
    t.row(
        "first result after s",
        run.first_result.map_or("?".into(), |s| format!("{s:.2}")),
        "",
    );
}

/// Where the time went, for a run of `concurrency` calls of `latency_ms`: calls in flight at
/// the fake, and the call time the engine measured (Little's law: tasks/s = in flight / call
/// time).
async fn flow_rows(t: &mut Table, db: &DatabaseConnection, run: &RunOutcome, concurrency: usize) {
    if let Some((all, steady, p10, min)) = run.in_flight {
        t.row(
            "LLM calls in flight, mean over the run",
            format!("{all:.1} ({:.1}% of C)", 100.0 * all / concurrency as f64),
            "",
        );
        t.row(
            "in flight 10%..90%: mean / p10 / min",
            format!("{steady:.1} / {p10} / {min}"),
            &format!("{concurrency}"),
        );
    }
    let id = run.run["id"].as_i64().unwrap_or(0);
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT CAST(AVG(inference_time) AS DOUBLE PRECISION), \
                 CAST(MAX(inference_time) AS DOUBLE PRECISION) FROM predictions WHERE model_run_id = {id}"
            ),
        ))
        .await
        .ok()
        .flatten();
    let get = |i: usize| {
        row.as_ref()
            .and_then(|r| r.try_get_by_index::<Option<f64>>(i).ok().flatten())
    };
    if let (Some(avg), Some(max)) = (get(0), get(1)) {
        t.row(
            "LLM call time seen by the engine: mean / max ms",
            format!("{:.1} / {:.1}", avg * 1000.0, max * 1000.0),
            "",
        );
    }
}

fn fake_rows(t: &mut Table, stats: &FakeLlmStats) {
    t.row("fake LLM requests", stats.requests, "");
    t.row("fake LLM answered 429", stats.rate_limited, "");
    t.row(
        "fake LLM 5xx / 400 / 401",
        format!(
            "{} / {} / {}",
            stats.server_errors, stats.bad_requests, stats.unauthorized
        ),
        "0 / 0 / 0",
    );
}

/// B1: run throughput against the ideal N·L/C.
async fn b1(postgres: bool, tasks: i64, latency_ms: u64, concurrency: usize) -> bool {
    let fresh = FreshDb::new(postgres).await;
    let server = start_in_process(&fresh, concurrency).await;
    let fake = start_fake(latency_ms, None, None).await;
    let seed_started = Instant::now();
    let s = setup(&server.client, &server.db, &fake, tasks, None).await;
    let seeded = seed_started.elapsed();
    let cpu_before = cpu_seconds("self");
    let run = run_all(&server.client, &s, &fake).await;
    let cpu = cpu_seconds("self") - cpu_before;
    let stats = fake.stats();
    let sched = server.engine.schedulers().stats();
    let ideal = tasks as f64 * latency_ms as f64 / 1000.0 / concurrency as f64;
    let wall = run.wall.as_secs_f64();
    let mut t = Table::new();
    t.row("tasks N", tasks, "");
    t.row("fake LLM latency L ms", latency_ms, "");
    t.row("concurrency C (1 worker)", concurrency, "");
    run_rows(&mut t, &run, tasks);
    t.row("ideal s (N*L/C)", format!("{ideal:.2}"), "");
    t.row(
        "efficiency (ideal / wall)",
        format!("{:.3}", ideal / wall),
        ">= 0.95",
    );
    t.row(
        "efficiency (ideal / server wall)",
        run.server_wall
            .map_or("?".into(), |w| format!("{:.3}", ideal / w)),
        "",
    );
    t.row("tasks/s", format!("{:.0}", tasks as f64 / wall), "");
    t.row(
        "steady tasks/s (10%..90%)",
        run.steady_rate.map_or("?".into(), |r| format!("{r:.0}")),
        &format!(
            "{:.0} (C/L)",
            concurrency as f64 * 1000.0 / latency_ms.max(1) as f64
        ),
    );
    fake_rows(&mut t, &stats);
    flow_rows(&mut t, &server.db, &run, concurrency).await;
    t.row(
        "scheduler attempts / retries",
        format!("{} / {}", sched.attempts, sched.retried),
        "",
    );
    t.row(
        "bench process CPU s during run (cores busy)",
        format!("{cpu:.1} ({:.2})", cpu / wall),
        "",
    );
    t.row("seed + setup s", format!("{:.1}", seeded.as_secs_f64()), "");
    t.print(&format!(
        "B1 run throughput: {} ({}); server, fake LLM and poller in this process",
        db_name(postgres),
        machine()
    ));
    let good = ok(&run, tasks);
    fresh.remove().await;
    good
}

/// B2: a rate-limited run.
async fn b2(a: &Args, tasks: i64, latency_ms: u64) -> bool {
    let fresh = FreshDb::new(a.postgres).await;
    // With `--workers N` the server runs no run worker: N `prompter worker` processes on the
    // same database do the work, sharing the connection's limits.
    let own_worker = usize::from(a.workers == 0);
    let server = start_in_process_with(&fresh, a.concurrency, own_worker).await;
    let fake = start_fake(latency_ms, Some(a.rpm), Some(a.tpm)).await;
    let limits = (!a.limits_from_headers).then_some((a.rpm, a.tpm));
    let s = setup(&server.client, &server.db, &fake, tasks, limits).await;
    let mut workers: Vec<std::process::Child> = (0..a.workers)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_prompter"))
                .arg("worker")
                .env("PROMPTER_DATABASE_URL", &fresh.url)
                .env("PROMPTER_SECRET_KEY", SECRET)
                .env("PROMPTER_WORKERS", "1")
                .env("PROMPTER_JOB_WORKERS", "0")
                .env("PROMPTER_CONCURRENCY", a.concurrency.to_string())
                .env("PROMPTER_OUTBOUND_ALLOW", "loopback")
                .env("PROMPTER_SHARED_PACING", (!a.unshared).to_string())
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start prompter worker")
        })
        .collect();
    let run = run_all(&server.client, &s, &fake).await;
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    let stats = fake.stats();
    let sched = server.engine.schedulers().stats();
    let minutes = run.wall.as_secs_f64() / 60.0;
    let calls_per_min = stats.ok as f64 / minutes;
    let tokens_per_min = (stats.prompt_tokens + stats.completion_tokens) as f64 / minutes;
    let tokens_per_call =
        (stats.prompt_tokens + stats.completion_tokens) as f64 / stats.ok.max(1) as f64;
    // The limit that binds: requests, or tokens at this run's tokens per call.
    let effective = (a.rpm as f64).min(a.tpm as f64 / tokens_per_call.max(1.0));
    let share_429 = stats.rate_limited as f64 / stats.requests.max(1) as f64;
    let mut t = Table::new();
    t.row("tasks N", tasks, "");
    t.row(
        "fake limits: RPM / TPM (sliding 60 s)",
        format!("{} / {}", a.rpm, a.tpm),
        "",
    );
    t.row(
        "limits known to the engine from",
        if a.limits_from_headers {
            "x-ratelimit-* headers"
        } else {
            "connection rpm_limit/tpm_limit"
        },
        "",
    );
    t.row(
        "fake LLM latency ms / concurrency",
        format!("{latency_ms} / {}", a.concurrency),
        "",
    );
    run_rows(&mut t, &run, tasks);
    t.row(
        "achieved calls/min (200s / wall)",
        format!("{calls_per_min:.0}"),
        "",
    );
    t.row(
        "ratio to the RPM limit",
        format!("{:.3}", calls_per_min / a.rpm as f64),
        ">= 0.9",
    );
    t.row(
        "tokens/call; tokens/min; ratio to TPM",
        format!(
            "{tokens_per_call:.0}; {tokens_per_min:.0}; {:.3}",
            tokens_per_min / a.tpm as f64
        ),
        "",
    );
    t.row(
        "ratio to the binding limit",
        format!("{:.3} (of {effective:.0}/min)", calls_per_min / effective),
        ">= 0.9",
    );
    t.row("failed tasks", run.count("total_failed_predictions"), "0");
    t.row(
        "share of calls answered 429",
        format!(
            "{:.2}% ({} of {})",
            share_429 * 100.0,
            stats.rate_limited,
            stats.requests
        ),
        "<= 2%",
    );
    fake_rows(&mut t, &stats);
    t.row(
        "scheduler attempts / retries / 429s",
        format!(
            "{} / {} / {}",
            sched.attempts, sched.retried, sched.rate_limited
        ),
        "",
    );
    t.print(&format!(
        "B2 rate-limited run: {} ({}); {}",
        db_name(a.postgres),
        machine(),
        if a.workers == 0 {
            "server, fake LLM and poller in this process".to_string()
        } else {
            format!(
                "{} `prompter worker` processes on one database, limits {}; server, fake LLM and poller in this process (scheduler counters are the server's: 0)",
                a.workers,
                if a.unshared { "NOT shared (each paces to all of them)" } else { "shared" }
            )
        }
    ));
    let good = ok(&run, tasks);
    fresh.remove().await;
    good
}

/// The `prompter` server as a child process, with its log in the temp dir.
struct Child {
    process: std::process::Child,
    client: Client,
    log: std::path::PathBuf,
}

impl Child {
    fn pid(&self) -> String {
        self.process.id().to_string()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// The child never outlives the benchmark, even when it panics.
impl Drop for Child {
    fn drop(&mut self) {
        self.process.kill().ok();
        self.process.wait().ok();
    }
}

async fn spawn_server(fresh: &FreshDb, concurrency: usize, exe: &str) -> Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let log = fresh.dir.path().join("server.log");
    let out = std::fs::File::create(&log).expect("log file");
    let err = out.try_clone().expect("log file");
    let process = std::process::Command::new(exe)
        .arg("serve")
        .env("PROMPTER_DATABASE_URL", &fresh.url)
        .env("PROMPTER_PORT", port.to_string())
        .env("PROMPTER_SECRET_KEY", SECRET)
        .env("PROMPTER_ADMIN_EMAIL", EMAIL)
        .env("PROMPTER_ADMIN_TOKEN", TOKEN)
        .env("PROMPTER_WORKERS", "1")
        .env("PROMPTER_CONCURRENCY", concurrency.to_string())
        .env("PROMPTER_LOG", "warn")
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("start {exe}: {e}"));
    let mut child = Child {
        process,
        client: Client::new(port),
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _) = child
            .client
            .call(reqwest::Method::GET, "/api/version/", None)
            .await;
        if status == 200 {
            return child;
        }
        if let Ok(Some(code)) = child.process.try_wait() {
            panic!("{exe} exited with {code}:\n{}", child.log_tail());
        }
        if Instant::now() > deadline {
            let tail = child.log_tail();
            drop(child);
            panic!("{exe} did not answer within 60 s:\n{tail}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// B5: RSS idle and during a B1-like run, of the server alone (a child process) or of this
/// process (`--in-process`).
async fn b5(
    postgres: bool,
    tasks: i64,
    latency_ms: u64,
    concurrency: usize,
    in_process: bool,
    server_bin: Option<&str>,
) -> bool {
    let fresh = FreshDb::new(postgres).await;
    let fake = start_fake(latency_ms, None, None).await;
    let (client, db, child, pid, what) = if in_process {
        let server = start_in_process(&fresh, concurrency).await;
        (
            server.client,
            server.db,
            None,
            "self".to_string(),
            "this process: server + fake LLM + poller".to_string(),
        )
    } else {
        let exe = server_bin.unwrap_or(env!("CARGO_BIN_EXE_prompter"));
        let child = spawn_server(&fresh, concurrency, exe).await;
        let db = prompter::db::connect(&DatabaseConfig::new(fresh.url.clone()))
            .await
            .expect("connect to the server's database");
        let exe = env!("CARGO_BIN_EXE_prompter");
        let cwd = std::env::current_dir().unwrap_or_default();
        let exe = std::path::Path::new(exe)
            .strip_prefix(&cwd)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| exe.to_string());
        let what = format!("server alone: child `{exe} serve`");
        let pid = child.pid();
        (child.client.clone(), db, Some(child), pid, what)
    };
    // Idle: started, migrated, nothing asked yet.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = status_kb(&pid, "VmRSS");
    let s = setup(&client, &db, &fake, tasks, None).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_run = status_kb(&pid, "VmRSS");
    let sampler = Sampler::start(pid.clone());
    let cpu_before = cpu_seconds(&pid);
    let run = run_all(&client, &s, &fake).await;
    let cpu = cpu_seconds(&pid) - cpu_before;
    let (peak, samples) = sampler.finish();
    let hwm = status_kb(&pid, "VmHWM");
    let after = status_kb(&pid, "VmRSS");
    let stats = fake.stats();
    let ideal = tasks as f64 * latency_ms as f64 / 1000.0 / concurrency as f64;
    let wall = run.wall.as_secs_f64();
    let mut t = Table::new();
    t.row(
        "tasks N / latency ms / concurrency",
        format!("{tasks} / {latency_ms} / {concurrency}"),
        "",
    );
    t.row(
        "RSS idle (started, before any request)",
        mb(idle),
        "<= 30 MB",
    );
    t.row(
        "RSS after setup + seed (before the run)",
        mb(before_run),
        "",
    );
    t.row(
        "peak RSS during the run (VmRSS every 100 ms)",
        format!("{} ({samples} samples)", mb(Some(peak))),
        "<= 150 MB",
    );
    t.row("VmHWM (lifetime peak)", mb(hwm), "<= 150 MB");
    t.row("RSS after the run", mb(after), "");
    run_rows(&mut t, &run, tasks);
    t.row(
        "efficiency (N*L/C / wall)",
        format!("{:.3}", ideal / wall),
        "",
    );
    t.row(
        "measured process CPU s during run (cores busy)",
        format!("{cpu:.1} ({:.2})", cpu / wall),
        "",
    );
    t.row(
        "B1c: measured process CPU per task (µs)",
        format!("{:.0}", cpu * 1e6 / tasks.max(1) as f64),
        "<= 60 (server alone)",
    );
    fake_rows(&mut t, &stats);
    flow_rows(&mut t, &db, &run, concurrency).await;
    t.print(&format!(
        "B5 memory: {} ({}); measured: {what}",
        db_name(postgres),
        machine()
    ));
    let good = ok(&run, tasks);
    db.close().await.ok();
    drop(child);
    fresh.remove().await;
    good
}

#[tokio::main]
async fn main() {
    // reqwest is built without a default TLS provider; the server installs it at start, but
    // B5's client is made before any server runs in this process.
    prompter::util::install_tls();
    let a = args();
    let good = match a.bench.as_str() {
        "b1" => {
            b1(
                a.postgres,
                a.tasks.unwrap_or(20_000),
                a.latency_ms.unwrap_or(100),
                a.concurrency,
            )
            .await
        }
        "b2" => b2(&a, a.tasks.unwrap_or(5_000), a.latency_ms.unwrap_or(100)).await,
        "b5" => {
            b5(
                a.postgres,
                a.tasks.unwrap_or(100_000),
                a.latency_ms.unwrap_or(100),
                a.concurrency,
                a.in_process,
                a.server_bin.as_deref(),
            )
            .await
        }
        "batch" => {
            batch::bench(
                a.postgres,
                a.tasks.unwrap_or(20_000),
                a.batch_ms,
                a.latency_ms.unwrap_or(20),
            )
            .await
        }
        "smoke" => {
            let tasks = a.tasks.unwrap_or(200);
            let one = b1(a.postgres, tasks, 10, 16).await;
            let smoke = Args {
                rpm: 6000,
                tpm: 2_000_000,
                concurrency: 16,
                ..a
            };
            let two = b2(&smoke, tasks, 10).await;
            let five = b5(smoke.postgres, tasks, 10, 16, false, None).await;
            let batch = batch::bench(smoke.postgres, tasks, 200, 10).await;
            one && two && five && batch
        }
        other => {
            eprintln!(
                "usage: cargo bench --bench engine -- b1|b2|b5|batch|smoke [--db postgres] [--tasks N] ... (got {other:?})"
            );
            std::process::exit(2);
        }
    };
    if !good {
        eprintln!("a run did not complete with every task predicted");
        std::process::exit(1);
    }
}
