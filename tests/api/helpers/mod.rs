//! The test harness: a real server on a loopback port over a fresh database per test, and a
//! small typed client. `TEST_DATABASE_URL=postgres://...` runs on a fresh PostgreSQL database
//! (created here, dropped when the test ends); otherwise a SQLite file in a temp dir. Either is
//! a copy of one migrated template ([`database`]), not migrated test by test.
//!
//! [`fixtures`] makes prompts, versions and runs through the API; [`engine`] sets up runs of
//! the engine against the fake LLM and waits for them with [`TestApp::engine_idle`].
pub mod browser;
pub mod database;
pub mod engine;
pub mod fixtures;
pub mod receiver;
pub mod reply;
pub mod subsets;
pub mod web;

pub use reply::{Reply, bad_field, field_errors};

use prompter::auth::Role;
use prompter::config::ServeConfig;
use prompter::services::accounts;
use prompter::startup::Application;
use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::Value;

/// The first admin's token in every test app.
pub const ADMIN_TOKEN: &str = "test-admin-token-0001";

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The database URL the server uses (for child worker processes).
    pub database_url: String,
    /// The database the server uses.
    pub db: DatabaseConnection,
    /// Token of an Owner of the main organization.
    pub token: String,
    /// Token of an Annotator of the main organization.
    pub annotator_token: String,
    /// Token of an Owner of another organization.
    pub other_token: String,
    /// The server's run engine (its idle hook).
    engine: prompter::engine::Engine,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

/// A fresh, empty database URL: a new PostgreSQL database, or a SQLite file in `dir` (the
/// migrations' own tests; a server's tests start from [`database::migrated_database`]).
pub async fn fresh_database(dir: &std::path::Path) -> (String, Option<(String, String)>) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            let name = format!("prompter_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&base)
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let (head, _) = base
                .rsplit_once('/')
                .expect("TEST_DATABASE_URL has a database name");
            (format!("{head}/{name}"), Some((base.clone(), name)))
        }
        _ => (format!("sqlite://{}", dir.join("test.db").display()), None),
    }
}

impl TestApp {
    /// Starts a server on a fresh database with three users in two organizations.
    pub async fn spawn() -> TestApp {
        // No in-process workers: these tests push results through the API themselves, and
        // their connections point at real providers that tests never call.
        Self::spawn_with(|c| c.engine.workers = 0).await
    }

    /// A server whose configuration `configure` adjusts first (engine tests turn workers on).
    pub async fn spawn_with(configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
        prompter::telemetry::init_for_tests();
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg) = database::migrated_database(dir.path()).await;
        let mut config = ServeConfig::new(database_url.clone(), 0);
        config.secret_key = Some("integration-test-secret-key".into());
        config.admin_email = Some("admin@example.com".into());
        config.admin_token = Some(ADMIN_TOKEN.into());
        config.admin_org = "Main".into();
        config.http_workers = Some(1);
        config.max_body_bytes = 4 * 1024 * 1024;
        // A job that failed for a passing reason is tried again within a few tens of ms.
        config.engine.job_backoff_ms = 20;
        config.engine.webhook_backoff_ms = 20;
        configure(&mut config);
        let app = Application::build(config).await.expect("build app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let db = app.db().clone();
        let engine = app.engine().clone();
        tokio::spawn(app.run_until_stopped());
        let (_, annotator_token) =
            accounts::create_user(&db, "annotator@example.com", "Main", Role::Annotator, None)
                .await
                .expect("annotator");
        let (_, other_token) =
            accounts::create_user(&db, "other@example.com", "Other", Role::Owner, None)
                .await
                .expect("other org");
        TestApp {
            address,
            database_url,
            db,
            token: ADMIN_TOKEN.into(),
            annotator_token,
            other_token,
            engine,
            client: reqwest::Client::new(),
            _dir: dir,
            pg,
        }
    }

    /// The number of rows of `table`, read straight from the database.
    pub async fn rows(&self, table: &str) -> i64 {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("n")
    }

    /// Waits until the server's engine has nothing left to do: no slice claimable or in work
    /// by its workers, no job (refinement, Label Studio sync or push, ML backend event)
    /// claimable or running in its job workers. Bounded: work still going after two minutes fails the test.
    pub async fn engine_idle(&self) {
        let idle = self.engine.wait_idle(std::time::Duration::from_millis(20));
        match tokio::time::timeout(std::time::Duration::from_secs(120), idle).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the idle hook could not read the queue: {e}"),
            Err(_) => panic!("the engine was still busy after 120 s (a run or job is stuck)"),
        }
    }

    /// The server's engine (tests start job workers of their own on it).
    pub fn engine(&self) -> &prompter::engine::Engine {
        &self.engine
    }

    /// Makes the server's budget gates read the database at their next call, as they do
    /// every `engine::budget::REFRESH` on their own (a limit changed through the API).
    pub fn expire_budget_reads(&self) {
        self.engine.budgets().expire_reads();
    }

    /// Sends a request with `Authorization: Token <token>` (none when `token` is `None`) and
    /// returns the status and the JSON body (`Null` when empty or not JSON).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            req = req.header("Authorization", format!("Token {token}"));
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// GET as the admin.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Method::GET, path, Some(&self.token), None).await
    }

    /// POST JSON as the admin.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(Method::POST, path, Some(&self.token), Some(&body))
            .await
    }

    /// PATCH JSON as the admin.
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(Method::PATCH, path, Some(&self.token), Some(&body))
            .await
    }

    /// DELETE as the admin.
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(Method::DELETE, path, Some(&self.token), None)
            .await
    }

    /// Sends a raw body with a content type, as the admin.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let resp = self
            .client
            .request(method, format!("{}{path}", self.address))
            .header("Authorization", format!("Token {}", self.token))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Creates a project with `label_config` and returns its id.
    pub async fn project(&self, label_config: &str) -> i64 {
        let (status, body) = self
            .post(
                "/api/projects/",
                serde_json::json!({"title": "test", "label_config": label_config}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_i64().expect("project id")
    }

    /// Imports `tasks` into a project and returns the new task ids.
    pub async fn import(&self, project: i64, tasks: Value) -> Vec<i64> {
        let (status, body) = self
            .post(
                &format!("/api/projects/{project}/import?return_task_ids=true"),
                tasks,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["task_ids"]
            .as_array()
            .expect("task_ids")
            .iter()
            .filter_map(Value::as_i64)
            .collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((base, name)) = self.pg.take() {
            // The server's pool still holds connections: drop the database with FORCE from a
            // thread of its own (Drop cannot await).
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let admin = Database::connect(&base).await.ok()?;
                    admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await
                        .ok()?;
                    admin.close().await.ok()
                })
            })
            .join();
        }
    }
}

/// A text-classification config: `$text` and a `sentiment` Choices of Positive/Negative.
pub const CLS: &str = r#"<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>"#;

/// An NER config: `label` Labels PER/ORG over `$text`.
pub const NER: &str = r#"<View><Labels name="label" toName="text"><Label value="PER"/><Label value="ORG"/></Labels><Text name="text" value="$text"/></View>"#;

/// A Choices region for `value`.
pub fn choice(value: &str) -> Value {
    serde_json::json!([{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [value]}}])
}

/// The Sample size the test servers run with (the engine's default configuration), for tests
/// that fire schedules themselves.
pub fn sample_size() -> u64 {
    prompter::config::EngineConfig::default().sample_subset_size
}
