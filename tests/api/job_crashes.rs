//! Crash tests of the job queue: a `prompter worker` process is killed (SIGKILL) in the middle
//! of a refinement and of a Label Studio sync; another worker takes the job over once its lease
//! lapses (2 s here) and finishes it exactly once: one new version, no task or annotation
//! imported twice. Each test prints the time from the kill to the takeover and the duplicates
//! it found.
use crate::helpers::engine::{custom_connection, fake, worker_command};
use crate::helpers::fixtures::{ground_truth, id_of, new_prompt};
use crate::helpers::{CLS, Reply, TestApp, choice};
use crate::jobs::{newest, wait_job};
use entity::enums::{JobKind, JobStatus, LinkStatus, RefinementStatus};
use entity::job;
use prompter::fake_llm::FakeLlmConfig;
use prompter::services::accounts;
use prompter::views::label_studio::LabelStudioLinkView;
use prompter::views::refine::RefinedPromptView;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The server runs no worker of either kind: `prompter worker` processes do the work.
async fn bare_app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.engine.job_workers = 0;
    })
    .await
}

fn worker(app: &TestApp) -> std::process::Child {
    worker_command(app, 4)
        .spawn()
        .expect("start prompter worker")
}

/// Waits until job `id` is running under some worker's lease; returns that worker.
async fn claimed_by(app: &TestApp, id: i64, not: Option<&str>) -> (job::Model, String) {
    let row = wait_job(app, id, |j| {
        j.lease_owner.is_some() && j.lease_owner.as_deref() != not && j.status == JobStatus::Running
            || (not.is_some() && !j.status.is_open())
    })
    .await;
    let owner = row.lease_owner.clone().unwrap_or_default();
    (row, owner)
}

/// Starts a second worker, SIGKILLs `first` (which holds job `id` as `dead`), and waits until
/// the second takes the job over and ends it: the time from the kill to the takeover, and the
/// job as it ended.
async fn kill_and_take_over(
    app: &TestApp,
    id: i64,
    mut first: std::process::Child,
    dead: &str,
) -> (Duration, job::Model) {
    let mut second = worker(app);
    first.kill().expect("SIGKILL the first worker");
    let _ = first.wait();
    let killed = Instant::now();
    let (_, taker) = claimed_by(app, id, Some(dead)).await;
    let takeover = killed.elapsed();
    let done = wait_job(app, id, |j| !j.status.is_open()).await;
    let _ = second.kill();
    let _ = second.wait();
    assert_ne!(taker, dead, "another worker took the job over");
    (takeover, done)
}

/// One number read with `sql`.
async fn count(app: &TestApp, sql: &str) -> i64 {
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_string(backend, sql.to_string()))
        .await
        .expect("query")
        .expect("row");
    row.try_get_by_index::<i64>(0).expect("number")
}

#[tokio::test]
async fn a_worker_killed_mid_refinement_is_taken_over_and_makes_one_version() {
    // The teacher takes 3 s: the first worker dies while it waits for the answer.
    let llm = fake(FakeLlmConfig {
        latency_ms: 3000,
        ..Default::default()
    })
    .await;
    let app = bare_app().await;
    let project = app.project(CLS).await;
    let tasks = app
        .import(project, json!([{"text": "I love it"}, {"text": "Awful"}]))
        .await;
    ground_truth(&app, tasks[0], choice("Positive")).await;
    ground_truth(&app, tasks[1], choice("Negative")).await;
    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "Crash", "associated_projects": [project]}),
        )
        .await,
    );
    let connection = custom_connection(&app, &llm, "fake-key").await;
    let version =
        crate::helpers::engine::version(&app, prompt, connection, "v1", "R: {text}").await;
    let r: RefinedPromptView = app
        .post(
            &format!("/api/prompts/{prompt}/versions/{version}/refine"),
            json!({"project_id": project, "teacher_model_name": "gpt-4o",
                   "teacher_model_provider_connection_id": connection}),
        )
        .await
        .created();
    let row = newest(&app, JobKind::Refine).await;
    let first = worker(&app);
    let (_, dead) = claimed_by(&app, row.id, None).await;
    let (takeover, done) = kill_and_take_over(&app, row.id, first, &dead).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(done.attempts, 2, "one takeover: {done:?}");
    let refined: RefinedPromptView = app
        .get(&format!(
            "/api/prompts/{prompt}/versions/{version}/refine?refinement_job_id={}",
            r.refinement_job_id
        ))
        .await
        .good();
    assert_eq!(refined.refinement_status, RefinementStatus::Completed);
    let versions = count(
        &app,
        &format!("SELECT COUNT(*) FROM model_versions WHERE parent_model_id = {prompt}"),
    )
    .await;
    let duplicates = versions - 2;
    eprintln!(
        "refinement crash test: takeover {:.2} s after the kill (lease 2 s), teacher calls {}, \
         new versions {}, duplicates {duplicates}",
        takeover.as_secs_f64(),
        llm.stats().requests,
        versions - 1
    );
    assert_eq!(duplicates, 0);
}

/// A TCP proxy to `upstream` that holds each chunk a client sends for `delay`: every request
/// to the Label Studio stand-in takes at least that long, so a sync of a few pages lasts long
/// enough to be killed in its middle.
async fn slow_proxy(upstream: String, delay: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let n = match client_read.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    tokio::time::sleep(delay).await;
                    if server_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn a_worker_killed_mid_sync_is_taken_over_and_duplicates_nothing() {
    // The Label Studio stand-in: 800 tasks (8 pages), 10 of them annotated.
    let ls = TestApp::spawn().await;
    let ls_token = accounts::create_token(&ls.db, "admin@example.com")
        .await
        .expect("token");
    let ls_project = ls.project(CLS).await;
    let data: Vec<Value> = (0..800)
        .map(|i| json!({"text": format!("item {i}")}))
        .collect();
    let ls_tasks = ls.import(ls_project, Value::Array(data)).await;
    for task in &ls_tasks[..10] {
        ground_truth(&ls, *task, choice("Positive")).await;
    }
    let upstream = ls.address.trim_start_matches("http://").to_string();
    let url = slow_proxy(upstream, Duration::from_millis(300)).await;

    let app = bare_app().await;
    let created: Value = app
        .post("/api/projects/", json!({"title": "from LS"}))
        .await
        .created();
    let project = id_of(&created);
    let link = format!("/api/projects/{project}/label-studio");
    let (status, body) = app
        .post(
            &link,
            json!({"url": url, "token": ls_token, "ls_project": ls_project}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let _: LabelStudioLinkView = app
        .post(&format!("{link}/sync"), json!({}))
        .await
        .with_status(202);
    let row = newest(&app, JobKind::LsSync).await;
    let first = worker(&app);
    // Killed once it has written its first page.
    let (_, dead) = claimed_by(&app, row.id, None).await;
    let mid = wait_job(&app, row.id, |j| {
        j.progress_done >= 100 || !j.status.is_open()
    })
    .await;
    assert!(
        mid.status == JobStatus::Running && mid.progress_done < 800,
        "killed mid-sync: {mid:?}"
    );
    let (takeover, done) = kill_and_take_over(&app, row.id, first, &dead).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(done.attempts, 2, "one takeover: {done:?}");
    let shown: LabelStudioLinkView = app.get(&link).await.good();
    assert_eq!(shown.status, LinkStatus::Idle, "{shown:?}");
    let tasks = count(
        &app,
        &format!("SELECT COUNT(*) FROM tasks WHERE project_id = {project}"),
    )
    .await;
    let distinct = count(
        &app,
        &format!("SELECT COUNT(DISTINCT ls_task_id) FROM tasks WHERE project_id = {project}"),
    )
    .await;
    let annotations = count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM annotations a JOIN tasks t ON t.id = a.task_id \
             WHERE t.project_id = {project}"
        ),
    )
    .await;
    let duplicates = (tasks - distinct) + (annotations - 10);
    eprintln!(
        "sync crash test: killed at {} of 800 tasks; takeover {:.2} s after the kill (lease \
         2 s); tasks {tasks}, annotations {annotations}, duplicates {duplicates}",
        mid.progress_done,
        takeover.as_secs_f64()
    );
    assert_eq!((tasks, distinct, annotations), (800, 800, 10));
    assert_eq!(duplicates, 0);
}

#[tokio::test]
async fn a_worker_killed_mid_delivery_is_taken_over_and_delivered_once() {
    use crate::helpers::receiver::{Answer, Receiver, signed_with};
    // The receiver never answers the first attempt (the worker dies waiting), then accepts.
    let receiver = Receiver::start(|before, _| {
        if before == 0 {
            Answer::Hang
        } else {
            Answer::Status(200)
        }
    })
    .await;
    let app = bare_app().await;
    let secret = "crash-test-secret-0123456789";
    let (status, created) = app
        .post(
            "/api/webhooks/",
            json!({"url": receiver.url, "secret": secret, "events": ["webhook.test"]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let hook = id_of(&created);
    let (status, queued) = app
        .send(
            reqwest::Method::POST,
            &format!("/api/webhooks/{hook}/test"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    let row = newest(&app, JobKind::WebhookDelivery).await;
    let first = worker(&app);
    let (_, dead) = claimed_by(&app, row.id, None).await;
    for _ in 0..400 {
        if !receiver.seen().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        receiver.seen().len(),
        1,
        "the first attempt reached the receiver"
    );
    let (takeover, done) = kill_and_take_over(&app, row.id, first, &dead).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    let seen = receiver.seen();
    let accepted = seen.iter().filter(|s| s.answered == Some(200)).count();
    assert!(seen.iter().all(|s| signed_with(s, secret)), "{seen:?}");
    assert!(
        seen.windows(2)
            .all(|w| w[0].header("prompter-delivery") == w[1].header("prompter-delivery")),
        "one delivery id for every attempt"
    );
    let delivered = count(
        &app,
        "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'",
    )
    .await;
    eprintln!(
        "webhook crash test: takeover {:.2} s after the kill (lease 2 s), requests {}, \
         accepted {accepted}, duplicates {}",
        takeover.as_secs_f64(),
        seen.len(),
        accepted.saturating_sub(1)
    );
    assert_eq!(accepted, 1);
    assert_eq!(delivered, 1);
}
