//! The job queue through its API (`GET /api/jobs/`, `GET /api/jobs/{id}/`,
//! `POST /api/jobs/{id}/cancel`): every piece of background work listed in one id space and
//! scoped to its organization, filters, roles, canceling a queued job, a running one (at its
//! next heartbeat) and a run's job, a lapsed lease taken over in-process, and a transient
//! failure retried with backoff. The crash tests with `prompter worker` processes are in
//! [`crate::job_crashes`].
use crate::helpers::engine::{Setup, fake, setup};
use crate::helpers::fixtures::{assert_field_error, ground_truth, new_run};
use crate::helpers::{CLS, Reply, TestApp, choice};
use entity::enums::{JobKind, JobStatus, LinkStatus, RefinementStatus};
use entity::{job, model_refinement};
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use prompter::services::accounts;
use prompter::views::Paginated;
use prompter::views::jobs::JobView;
use prompter::views::label_studio::LabelStudioLinkView;
use prompter::views::refine::RefinedPromptView;
use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use std::time::Duration;

/// A project of two reviews with ground truth, a prompt and a version through `llm`.
async fn refinable(app: &TestApp, llm: &FakeLlm) -> Setup {
    let s = setup(app, llm, CLS, &["I love it", "Awful"], "Review: {text}").await;
    ground_truth(app, s.tasks[0], choice("Positive")).await;
    ground_truth(app, s.tasks[1], choice("Negative")).await;
    s
}

/// Starts a refinement of `s`'s version (async); returns its row's job id.
async fn refine(app: &TestApp, s: &Setup) -> String {
    let r: RefinedPromptView = app
        .post(
            &format!("/api/prompts/{}/versions/{}/refine", s.prompt, s.version),
            json!({"project_id": s.project, "teacher_model_name": "gpt-4o",
                   "teacher_model_provider_connection_id": s.connection}),
        )
        .await
        .created();
    r.refinement_job_id
}

/// The row of refinement `job_id`.
async fn refinement(app: &TestApp, job_id: &str) -> model_refinement::Model {
    model_refinement::Entity::find()
        .filter(model_refinement::Column::JobId.eq(job_id))
        .one(&app.db)
        .await
        .expect("read")
        .expect("refinement")
}

/// The newest job of `kind`, read from the database.
pub async fn newest(app: &TestApp, kind: JobKind) -> job::Model {
    job::Entity::find()
        .filter(job::Column::Kind.eq(kind))
        .order_by_desc(job::Column::Id)
        .one(&app.db)
        .await
        .expect("read")
        .expect("a job")
}

/// Polls the job `id` until `done` holds (bounded: a job that never gets there fails).
pub async fn wait_job(app: &TestApp, id: i64, done: impl Fn(&job::Model) -> bool) -> job::Model {
    for _ in 0..1200 {
        let row = job::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .expect("read")
            .expect("job");
        if done(&row) {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} never reached the state waited for");
}

#[tokio::test]
async fn jobs_are_listed_read_and_scoped_to_their_organization() {
    let app = TestApp::spawn().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = refinable(&app, &llm).await;
    let run = new_run(
        &app,
        s.prompt,
        s.version,
        json!({"project": s.project, "project_subset": "All"}),
    )
    .await;
    let run_id = run["id"].as_i64().expect("run id");
    let job_id = refine(&app, &s).await;
    app.engine_idle().await;
    assert_eq!(
        refinement(&app, &job_id).await.status,
        RefinementStatus::Completed
    );

    // One id space: the run (no worker here: it waits) and the refinement.
    let all: Paginated<JobView> = app.get("/api/jobs/").await.good();
    assert_eq!(all.count, 2, "{all:?}");
    let refine_job = all
        .results
        .iter()
        .find(|j| j.kind == JobKind::Refine)
        .expect("refine job")
        .clone();
    assert_eq!(refine_job.status, JobStatus::Succeeded);
    assert_eq!(refine_job.attempts, 1);
    assert!(refine_job.started_at.is_some() && refine_job.finished_at.is_some());
    assert_eq!(refine_job.kind_label, "Prompt refinement");
    let subject = refine_job.subject.as_ref().expect("subject");
    assert_eq!(subject.kind, "refinement");
    let run_job = all
        .results
        .iter()
        .find(|j| j.kind == JobKind::InferenceRun)
        .expect("run job");
    assert_eq!(run_job.status, JobStatus::Queued);
    assert_eq!(run_job.subject.as_ref().map(|s| s.id), Some(run_id));
    assert_eq!(run_job.progress.total, 2, "{run_job:?}");

    // Filters, and their checks.
    let refines: Paginated<JobView> = app.get("/api/jobs/?kind=refine").await.good();
    assert_eq!(refines.count, 1);
    let queued: Paginated<JobView> = app.get("/api/jobs/?status=queued").await.good();
    assert_eq!(queued.count, 1);
    assert_eq!(queued.results[0].kind, JobKind::InferenceRun);
    let paged: Paginated<JobView> = app.get("/api/jobs/?page_size=1").await.good();
    assert_eq!((paged.count, paged.results.len()), (2, 1));
    assert!(paged.next.is_some());
    let (status, body) = app.get("/api/jobs/?kind=nope").await;
    assert_field_error(status, &body, "kind");
    let (status, body) = app.get("/api/jobs/?status=done").await;
    assert_field_error(status, &body, "status");

    // One job, with and without the trailing slash.
    let one: JobView = app
        .get(&format!("/api/jobs/{}/", refine_job.id))
        .await
        .good();
    assert_eq!(one.id, refine_job.id);
    let (status, _) = app.get(&format!("/api/jobs/{}", refine_job.id)).await;
    assert_eq!(status, 200);

    // Any member reads; only managers and above cancel.
    let path = format!("/api/jobs/{}/", refine_job.id);
    let (status, _) = app
        .send(Method::GET, &path, Some(&app.annotator_token), None)
        .await;
    assert_eq!(status, 200);
    let cancel = format!("/api/jobs/{}/cancel", run_job.id);
    let (status, body) = app
        .send(Method::POST, &cancel, Some(&app.annotator_token), None)
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = app.send(Method::GET, "/api/jobs/", None, None).await;
    assert_eq!(status, 401);

    // Another organization sees none of them.
    let (status, _) = app
        .send(Method::GET, &path, Some(&app.other_token), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(Method::POST, &cancel, Some(&app.other_token), None)
        .await;
    assert_eq!(status, 404);
    let (status, theirs) = app
        .send(Method::GET, "/api/jobs/", Some(&app.other_token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(theirs["count"], 0, "{theirs}");
    let (status, _) = app.get("/api/jobs/999999/").await;
    assert_eq!(status, 404);

    // Canceling the run's job cancels the run; the job follows it.
    let canceled: JobView = app.post(&cancel, json!({})).await.good();
    assert_eq!(canceled.status, JobStatus::Canceled, "{canceled:?}");
    let (_, runs) = app
        .get(&format!(
            "/api/prompts/{}/versions/{}/inference-runs",
            s.prompt, s.version
        ))
        .await;
    assert_eq!(runs[0]["status"], "Canceled", "{runs}");
    // An ended job is returned unchanged.
    let again: JobView = app
        .post(&format!("/api/jobs/{}/cancel", refine_job.id), json!({}))
        .await
        .good();
    assert_eq!(again.status, JobStatus::Succeeded);
}

#[tokio::test]
async fn a_running_job_stops_at_its_next_heartbeat_when_canceled() {
    // A lease of 3 s: the heartbeat comes every second. The teacher takes 5 s to answer.
    let app = TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.engine.lease_secs = 3;
        c.engine.poll_ms = 50;
    })
    .await;
    let llm = fake(FakeLlmConfig {
        latency_ms: 5000,
        ..FakeLlmConfig::default()
    })
    .await;
    let s = refinable(&app, &llm).await;
    let job_id = refine(&app, &s).await;
    let row = newest(&app, JobKind::Refine).await;
    wait_job(&app, row.id, |j| j.status == JobStatus::Running).await;
    let asked: JobView = app
        .post(&format!("/api/jobs/{}/cancel", row.id), json!({}))
        .await
        .good();
    assert!(asked.cancel_requested, "{asked:?}");
    app.engine_idle().await;
    let ended: JobView = app.get(&format!("/api/jobs/{}/", row.id)).await.good();
    assert_eq!(ended.status, JobStatus::Canceled, "{ended:?}");
    let r = refinement(&app, &job_id).await;
    assert_eq!(r.status, RefinementStatus::Failed, "{r:?}");
    assert_eq!(r.error_message.as_deref(), Some("Canceled by a user."));
    assert!(r.new_version_id.is_none());
}

#[tokio::test]
async fn a_lapsed_refinement_is_taken_over_and_reuses_the_kept_answer() {
    let app = TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.engine.job_workers = 0;
        c.engine.poll_ms = 50;
    })
    .await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = refinable(&app, &llm).await;
    let job_id = refine(&app, &s).await;
    let row = newest(&app, JobKind::Refine).await;
    assert_eq!(row.status, JobStatus::Queued);
    // As a worker that died after the teacher answered would leave it: the answer kept on the
    // row, the job running under a lease that has lapsed.
    model_refinement::Entity::update_many()
        .col_expr(model_refinement::Column::Status, Expr::value("InProgress"))
        .col_expr(
            model_refinement::Column::Prompt,
            Expr::value("Kept answer: {text}"),
        )
        .col_expr(model_refinement::Column::Title, Expr::value("kept"))
        .filter(model_refinement::Column::JobId.eq(job_id.as_str()))
        .exec(&app.db)
        .await
        .expect("update");
    job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(JobStatus::Running))
        .col_expr(job::Column::LeaseOwner, Expr::value("a-dead-worker"))
        .col_expr(job::Column::Attempts, Expr::value(1))
        .col_expr(
            job::Column::LeaseExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(job::Column::Id.eq(row.id))
        .exec(&app.db)
        .await
        .expect("update");
    // Another worker (this process's) takes it over.
    let engine = app.engine().clone();
    let worker = tokio::spawn(prompter::jobs::run(engine, "the-taker".into()));
    let done = wait_job(&app, row.id, |j| !j.status.is_open()).await;
    worker.abort();
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(done.attempts, 2);
    let r = refinement(&app, &job_id).await;
    assert_eq!(r.status, RefinementStatus::Completed, "{r:?}");
    assert_eq!(r.title.as_deref(), Some("kept"));
    // The teacher was paid once, by the worker that died: never again.
    assert_eq!(llm.stats().requests, 0);
    let (_, versions) = app
        .get(&format!("/api/prompts/{}/versions", s.prompt))
        .await;
    assert_eq!(versions.as_array().map(Vec::len), Some(2), "{versions}");
}

#[tokio::test]
async fn a_queued_job_is_canceled_at_once_and_a_failing_one_is_retried_with_backoff() {
    // The Label Studio stand-in.
    let ls = TestApp::spawn().await;
    let ls_token = accounts::create_token(&ls.db, "admin@example.com")
        .await
        .expect("token");
    let ls_project = ls.project(CLS).await;
    ls.import(ls_project, json!([{"text": "a"}, {"text": "b"}]))
        .await;
    let app = TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.engine.job_workers = 0;
        c.engine.poll_ms = 50;
        c.engine.job_backoff_ms = 1500;
    })
    .await;
    let project: Value = app
        .post("/api/projects/", json!({"title": "from LS"}))
        .await
        .created();
    let project = project["id"].as_i64().expect("id");
    let link = format!("/api/projects/{project}/label-studio");
    let (status, body) = app
        .post(
            &link,
            json!({"url": ls.address, "token": ls_token, "ls_project": ls_project}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // No job worker here: the sync waits in the queue, and is canceled at once.
    let started: LabelStudioLinkView = app
        .post(&format!("{link}/sync"), json!({}))
        .await
        .with_status(202);
    assert_eq!(started.status, LinkStatus::Running);
    let queued = newest(&app, JobKind::LsSync).await;
    let (status, body) = app.post(&format!("{link}/sync"), json!({})).await;
    assert_eq!(status, 400, "one job per link: {body}");
    let canceled: JobView = app
        .post(&format!("/api/jobs/{}/cancel", queued.id), json!({}))
        .await
        .good();
    assert_eq!(canceled.status, JobStatus::Canceled);
    let shown: LabelStudioLinkView = app.get(&link).await.good();
    assert_eq!(shown.status, LinkStatus::Failed, "{shown:?}");
    assert_eq!(shown.last_error.as_deref(), Some("Canceled by a user."));

    // Label Studio cannot be reached: the attempt fails, and the job waits for its next one.
    app.db
        .execute_unprepared(&format!(
            "UPDATE label_studio_links SET url = 'http://127.0.0.1:1' WHERE project_id = {project}"
        ))
        .await
        .expect("update");
    let _: LabelStudioLinkView = app
        .post(&format!("{link}/sync"), json!({}))
        .await
        .with_status(202);
    let row = newest(&app, JobKind::LsSync).await;
    let worker = tokio::spawn(prompter::jobs::run(app.engine().clone(), "retrier".into()));
    let waiting = wait_job(&app, row.id, |j| {
        j.status == JobStatus::Queued && j.attempts == 1
    })
    .await;
    // Label Studio is back before the next attempt (at least 750 ms away).
    app.db
        .execute_unprepared(&format!(
            "UPDATE label_studio_links SET url = '{}' WHERE project_id = {project}",
            ls.address
        ))
        .await
        .expect("update");
    let view: JobView = app.get(&format!("/api/jobs/{}/", row.id)).await.good();
    assert!(
        view.error
            .as_deref()
            .is_some_and(|e| e.contains("Could not reach Label Studio")),
        "{view:?}"
    );
    assert_eq!(view.next_attempt_at, Some(waiting.run_at));
    let backoff = (waiting.run_at - waiting.updated_at).num_milliseconds();
    eprintln!(
        "job {}: first retry after {backoff} ms (base 1500 ms, jitter 0.5-1)",
        row.id
    );
    assert!((700..=1600).contains(&backoff), "{backoff}");
    let done = wait_job(&app, row.id, |j| !j.status.is_open()).await;
    worker.abort();
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(done.attempts, 2);
    assert_eq!((done.progress_done, done.progress_total), (2, 2));
    let shown: LabelStudioLinkView = app.get(&link).await.good();
    assert_eq!(shown.status, LinkStatus::Idle, "{shown:?}");
}

#[tokio::test]
async fn the_jobs_page_lists_jobs_in_words_and_managers_cancel_them() {
    use crate::helpers::web::{WebClient, make_reviewer, set_password};
    let app = TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.engine.job_workers = 0;
    })
    .await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = refinable(&app, &llm).await;
    // No job worker: the refinement waits in the queue.
    refine(&app, &s).await;
    let row = newest(&app, JobKind::Refine).await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let page = web.get("/jobs").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for words in [
        "Jobs",
        "Prompt refinement",
        "Queued",
        "Refinement of prompt",
        "Cancel",
    ] {
        assert!(page.body.contains(words), "{words}: {}", page.body);
    }
    assert!(!page.body.contains("refinement_id"), "no JSON on the page");
    let filtered = web.get("/jobs?kind=ls_sync").await;
    assert!(filtered.body.contains("No job yet."), "{}", filtered.body);
    let canceled = web.post(&format!("/jobs/{}/cancel", row.id), &[]).await;
    assert_eq!(canceled.status, 303, "{}", canceled.body);
    let page = web.get("/jobs").await;
    assert!(page.body.contains("Canceled by a user."), "{}", page.body);

    // A reviewer reads the page, without a Cancel button, and cannot cancel.
    refine(&app, &s).await;
    let queued = newest(&app, JobKind::Refine).await;
    make_reviewer(&app).await;
    let mut reviewer = WebClient::new(&app);
    reviewer.sign_in("reviewer@example.com").await;
    let page = reviewer.get("/jobs").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(&format!("/jobs/{}/cancel", queued.id)));
    let refused = reviewer
        .post(&format!("/jobs/{}/cancel", queued.id), &[])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
}
