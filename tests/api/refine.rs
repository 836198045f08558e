//! Prompt refinement (`POST/GET .../versions/{id}/refine`) over real HTTP and the project's
//! fake LLM as the teacher: synchronous and asynchronous jobs, polling (202 then 200), the new
//! version, refused credentials, request validation, roles and organization scoping.
use crate::helpers::engine::{custom_connection, fake};
use crate::helpers::fixtures::{
    assert_field_error, batch, ground_truth, id_of, item, new_prompt, new_run,
};
use crate::helpers::{CLS, Reply, TestApp, choice};
use entity::enums::RefinementStatus;
use entity::model_refinement;
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use prompter::views::refine::RefinedPromptView;
use prompter::views::versions::VersionView;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

/// The fake teacher's fixed reasoning and the line it puts before the current prompt.
const REASONING: &str = "The fake teacher kept the placeholders and added an instruction.";
const INSTRUCTION: &str = "Read the text carefully and answer precisely.";
const PROMPT: &str = "Classify the sentiment of this review: {text}";

/// A server without workers (refinement does not need them).
async fn app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.engine.llm_timeout_secs = 5.0;
        c.engine.llm_backoff_ms = 20;
        c.engine.llm_max_attempts = 2;
    })
    .await
}

/// A project with three reviews (two with ground truth, one predicted by a run of the
/// version), a prompt over it, and version `v1` through a connection to `llm`.
struct Setup {
    project: i64,
    prompt: i64,
    version: i64,
    connection: i64,
}

async fn setup(app: &TestApp, llm: &FakeLlm) -> Setup {
    let project = app.project(CLS).await;
    let tasks = app
        .import(
            project,
            json!([{"text": "I love it"}, {"text": "Awful"}, {"text": "Fine I guess"}]),
        )
        .await;
    ground_truth(app, tasks[0], choice("Positive")).await;
    ground_truth(app, tasks[1], choice("Negative")).await;
    let prompt = id_of(
        &new_prompt(
            app,
            json!({"title": "Reviews", "associated_projects": [project]}),
        )
        .await,
    );
    let connection = custom_connection(app, llm, "fake-key").await;
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": "v1", "prompt": PROMPT, "provider_model_id": "gpt-4o-mini",
                   "provider": "Custom", "model_provider_connection": connection,
                   "max_few_shot_examples": 2}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let version = id_of(&body);
    let run = id_of(
        &new_run(
            app,
            prompt,
            version,
            json!({"project": project, "project_subset": "HasGT"}),
        )
        .await,
    );
    batch(
        app,
        run,
        json!([item(tasks[0], json!({"sentiment": "Negative"}))]),
    )
    .await;
    Setup {
        project,
        prompt,
        version,
        connection,
    }
}

fn refine_path(s: &Setup, query: &str) -> String {
    format!(
        "/api/prompts/{}/versions/{}/refine{query}",
        s.prompt, s.version
    )
}

fn body(s: &Setup, connection: i64) -> Value {
    json!({"project_id": s.project, "teacher_model_name": "gpt-4o",
           "teacher_model_provider_connection_id": connection})
}

async fn versions_of(app: &TestApp, prompt: i64) -> Vec<VersionView> {
    app.get(&format!("/api/prompts/{prompt}/versions"))
        .await
        .good()
}

/// GET of a job: (status, body).
async fn poll(app: &TestApp, s: &Setup, job: &str) -> (u16, Value) {
    app.get(&refine_path(s, &format!("?refinement_job_id={job}")))
        .await
}

/// Waits until the engine is idle (a refinement is a job of the engine), then reads the job:
/// it answers 200 (a 202 would be a job that did not finish).
async fn finished(app: &TestApp, s: &Setup, job: &str) -> RefinedPromptView {
    app.engine_idle().await;
    poll(app, s, job).await.good()
}

/// The job id of a refine answer.
fn job_of(body: &RefinedPromptView) -> String {
    body.refinement_job_id.clone()
}

#[tokio::test]
async fn sync_refine_saves_a_new_version_that_keeps_the_placeholders() {
    let app = app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = setup(&app, &llm).await;
    let r: RefinedPromptView = app
        .post(&refine_path(&s, "?async=false"), body(&s, s.connection))
        .await
        .created();
    assert_eq!(r.refinement_status, RefinementStatus::Completed, "{r:?}");
    let expected = format!("{INSTRUCTION}\n{PROMPT}");
    assert_eq!(r.prompt, expected);
    assert!(r.prompt.contains("{text}"));
    assert_eq!(r.title.as_deref(), Some("refined"));
    assert_eq!(r.reasoning.as_deref(), Some(REASONING));
    assert!(r.error_message.is_none(), "{r:?}");
    // `total_cost` is a decimal string.
    let cost: f64 = r.total_cost.parse().expect("decimal");
    assert!(cost > 0.0, "gpt-4o has a price: {r:?}");
    let previous = r.previous_version.as_ref().expect("previous_version");
    assert_eq!(previous.id, s.version);
    assert_eq!(previous.prompt, PROMPT);
    assert_eq!(previous.title, "v1");
    assert_eq!(r.project_id, s.project);

    let versions = versions_of(&app, s.prompt).await;
    assert_eq!(versions.len(), 2);
    let new = &versions[1];
    assert_eq!(Some(new.id), r.new_version);
    assert_eq!(new.title, "refined");
    assert_eq!(new.prompt, expected);
    assert_eq!(json!(new.provider), "Custom");
    assert_eq!(new.provider_model_id, "gpt-4o-mini");
    assert_eq!(new.model_provider_connection, Some(s.connection));
    assert_eq!(new.max_few_shot_examples, Some(2));
    assert_eq!(new.parent_model, s.prompt);

    // The job reads back as it ended.
    let again: RefinedPromptView = poll(&app, &s, &job_of(&r)).await.good();
    assert_eq!(again.refinement_status, RefinementStatus::Completed);
    assert_eq!(again.prompt, r.prompt);
    assert_eq!(again.new_version, r.new_version);

    // A second refinement cannot reuse the title: it gets the default name.
    let second: RefinedPromptView = app
        .post(&refine_path(&s, "?async=0"), body(&s, s.connection))
        .await
        .created();
    assert_eq!(second.refinement_status, RefinementStatus::Completed);
    assert_eq!(second.title.as_deref(), Some("v3"));
    assert_ne!(job_of(&second), job_of(&r));
    assert_eq!(versions_of(&app, s.prompt).await.len(), 3);

    // The new version runs like any other: it is a regular version of the prompt.
    let got: VersionView = app
        .get(&format!(
            "/api/prompts/{}/versions/{}",
            s.prompt,
            r.new_version.expect("new_version")
        ))
        .await
        .good();
    assert_eq!(Some(got.id), r.new_version);
}

#[tokio::test]
async fn async_refine_answers_pending_then_completes() {
    let app = app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = setup(&app, &llm).await;
    let receiver = crate::helpers::receiver::Receiver::start(|_, _| {
        crate::helpers::receiver::Answer::Status(200)
    })
    .await;
    let hook =
        crate::webhooks::endpoint(&app, &receiver.url, serde_json::json!(["refine.completed"]))
            .await;
    // No `async` parameter: asynchronous by default.
    let r: RefinedPromptView = app
        .post(&refine_path(&s, ""), body(&s, s.connection))
        .await
        .created();
    assert_eq!(r.refinement_status, RefinementStatus::Pending, "{r:?}");
    assert_eq!(r.prompt, "");
    assert!(r.title.is_none());
    assert_eq!(r.total_cost, "0");
    assert_eq!(r.previous_version.as_ref().map(|v| v.id), Some(s.version));
    let done = finished(&app, &s, &job_of(&r)).await;
    assert_eq!(
        done.refinement_status,
        RefinementStatus::Completed,
        "{done:?}"
    );
    assert_eq!(done.prompt, format!("{INSTRUCTION}\n{PROMPT}"));
    assert_eq!(done.title.as_deref(), Some("refined"));
    assert_eq!(versions_of(&app, s.prompt).await.len(), 2);

    // `async=true` spelled out works the same.
    let r: RefinedPromptView = app
        .post(&refine_path(&s, "?async=true"), body(&s, s.connection))
        .await
        .created();
    assert_eq!(r.refinement_status, RefinementStatus::Pending);
    let done = finished(&app, &s, &job_of(&r)).await;
    assert_eq!(
        done.refinement_status,
        RefinementStatus::Completed,
        "{done:?}"
    );
    assert_eq!(versions_of(&app, s.prompt).await.len(), 3);
    // Each refinement's end is told once, with the version it made.
    let told = crate::webhooks::settled_deliveries(&app, hook, 2).await;
    assert_eq!(told.len(), 2, "{told:?}");
    for d in &told {
        assert_eq!(d["event"], "refine.completed");
        assert_eq!(
            d["payload"]["data"]["refinement"]["status"], "Completed",
            "{d}"
        );
        assert!(
            d["payload"]["data"]["refinement"]["new_version"].is_i64(),
            "{d}"
        );
    }
}

#[tokio::test]
async fn an_unfinished_job_answers_202() {
    let app = app().await;
    let llm = fake(FakeLlmConfig {
        latency_ms: 1500,
        ..FakeLlmConfig::default()
    })
    .await;
    let s = setup(&app, &llm).await;
    let r: RefinedPromptView = app
        .post(&refine_path(&s, "?async=true"), body(&s, s.connection))
        .await
        .created();
    let job = job_of(&r);
    let pending: RefinedPromptView = poll(&app, &s, &job).await.with_status(202);
    assert!(
        matches!(
            pending.refinement_status,
            RefinementStatus::Pending | RefinementStatus::InProgress
        ),
        "{pending:?}"
    );
    assert_eq!(pending.prompt, "");
    assert_eq!(versions_of(&app, s.prompt).await.len(), 1);
    let done = finished(&app, &s, &job).await;
    assert_eq!(
        done.refinement_status,
        RefinementStatus::Completed,
        "{done:?}"
    );
}

#[tokio::test]
async fn unknown_jobs_and_other_versions_jobs_answer_404() {
    let app = app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = setup(&app, &llm).await;
    let (status, body404) = poll(&app, &s, "nope").await;
    assert_eq!(status, 404, "{body404}");
    let (status, missing) = app.get(&refine_path(&s, "")).await;
    assert_field_error(status, &missing, "refinement_job_id");

    let r: RefinedPromptView = app
        .post(&refine_path(&s, "?async=false"), body(&s, s.connection))
        .await
        .created();
    let job = job_of(&r);
    // The job belongs to v1: through the new version's path it is unknown.
    let other = Setup {
        version: r.new_version.expect("new version"),
        ..s
    };
    let (status, _) = poll(&app, &other, &job).await;
    assert_eq!(status, 404);
    // Another organization sees neither the version nor the job.
    let (status, _) = app
        .send(
            Method::GET,
            &refine_path(&other, &format!("?refinement_job_id={job}")),
            Some(&app.other_token),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn refused_teacher_credentials_fail_the_job() {
    let app = app().await;
    let llm = fake(FakeLlmConfig {
        require_key: Some("the-right-key".into()),
        ..FakeLlmConfig::default()
    })
    .await;
    let s = setup(&app, &llm).await;
    let wrong = custom_connection(&app, &llm, "a-wrong-key").await;
    let r: RefinedPromptView = app
        .post(&refine_path(&s, "?async=false"), body(&s, wrong))
        .await
        .created();
    assert_eq!(r.refinement_status, RefinementStatus::Failed, "{r:?}");
    let message = r.error_message.as_deref().expect("error_message");
    assert!(message.contains("refused the credentials"), "{message}");
    assert_eq!(r.prompt, "");
    assert!(r.title.is_none());
    assert!(r.new_version.is_none());
    assert_eq!(versions_of(&app, s.prompt).await.len(), 1);
    // A failed job is finished: 200.
    let again: RefinedPromptView = poll(&app, &s, &job_of(&r)).await.good();
    assert_eq!(again.refinement_status, RefinementStatus::Failed);

    // Asynchronously, the same failure is found by polling.
    let r: RefinedPromptView = app
        .post(&refine_path(&s, ""), body(&s, wrong))
        .await
        .created();
    let done = finished(&app, &s, &job_of(&r)).await;
    assert_eq!(done.refinement_status, RefinementStatus::Failed, "{done:?}");
    assert!(
        done.error_message
            .as_deref()
            .is_some_and(|m| m.contains("refused"))
    );
}

#[tokio::test]
async fn refine_requests_are_validated() {
    let app = app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = setup(&app, &llm).await;
    let full = body(&s, s.connection);
    for field in [
        "project_id",
        "teacher_model_name",
        "teacher_model_provider_connection_id",
    ] {
        let mut b = full.clone();
        b.as_object_mut().unwrap().remove(field);
        let (status, err) = app.post(&refine_path(&s, "?async=false"), b).await;
        assert_field_error(status, &err, field);
        let mut b = full.clone();
        b[field] = Value::Null;
        let (status, err) = app.post(&refine_path(&s, "?async=false"), b).await;
        assert_field_error(status, &err, field);
    }
    let mut b = full.clone();
    b["teacher_model_name"] = json!("  ");
    let (status, err) = app.post(&refine_path(&s, ""), b).await;
    assert_field_error(status, &err, "teacher_model_name");

    // Unknown or foreign project and connection: 400 on the field.
    let foreign_project = {
        let (status, p) = app
            .send(
                Method::POST,
                "/api/projects/",
                Some(&app.other_token),
                Some(&json!({"title": "theirs", "label_config": CLS})),
            )
            .await;
        assert_eq!(status, 201, "{p}");
        id_of(&p)
    };
    let foreign_connection = {
        let (status, c) = app
            .send(
                Method::POST,
                "/api/model-provider-connections/",
                Some(&app.other_token),
                Some(&json!({"provider": "Custom", "endpoint": llm.base_url(), "api_key": "k"})),
            )
            .await;
        assert_eq!(status, 201, "{c}");
        id_of(&c)
    };
    for project in [foreign_project, 999_999] {
        let mut b = full.clone();
        b["project_id"] = json!(project);
        let (status, err) = app.post(&refine_path(&s, ""), b).await;
        assert_field_error(status, &err, "project_id");
    }
    for connection in [foreign_connection, 999_999] {
        let (status, err) = app.post(&refine_path(&s, ""), body(&s, connection)).await;
        assert_field_error(status, &err, "teacher_model_provider_connection_id");
    }
    let (status, err) = app
        .post(&refine_path(&s, "?async=maybe"), full.clone())
        .await;
    assert_field_error(status, &err, "async");

    // Unknown prompt or version: 404.
    let (status, _) = app
        .post(
            &format!("/api/prompts/{}/versions/999999/refine", s.prompt),
            full.clone(),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post(
            &format!("/api/prompts/999999/versions/{}/refine", s.version),
            full.clone(),
        )
        .await;
    assert_eq!(status, 404);

    // Annotators may not refine.
    let (status, _) = app
        .send(
            Method::POST,
            &refine_path(&s, ""),
            Some(&app.annotator_token),
            Some(&full),
        )
        .await;
    assert_eq!(status, 403);

    // Nothing was started.
    assert_eq!(llm.stats().requests, 0);
    assert_eq!(versions_of(&app, s.prompt).await.len(), 1);
}

#[tokio::test]
async fn another_organizations_version_answers_404() {
    let app = app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = setup(&app, &llm).await;
    let (status, body) = app
        .send(
            Method::POST,
            &refine_path(&s, "?async=false"),
            Some(&app.other_token),
            Some(&body(&s, s.connection)),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(llm.stats().requests, 0);
    assert_eq!(versions_of(&app, s.prompt).await.len(), 1);
}

#[tokio::test]
async fn deleting_versions_keeps_or_drops_their_jobs() {
    let app = app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = setup(&app, &llm).await;
    let r: RefinedPromptView = app
        .post(&refine_path(&s, "?async=false"), body(&s, s.connection))
        .await
        .created();
    let job = job_of(&r);
    let new = r.new_version.expect("new version");
    // Deleting the refined version keeps the job, without its version.
    let (status, _) = app
        .delete(&format!("/api/prompts/{}/versions/{new}", s.prompt))
        .await;
    assert_eq!(status, 204);
    let after: RefinedPromptView = poll(&app, &s, &job).await.good();
    assert!(after.new_version.is_none(), "{after:?}");
    assert_eq!(after.refinement_status, RefinementStatus::Completed);
    // Deleting the version it refined deletes the job with it.
    let (status, _) = app
        .delete(&format!("/api/prompts/{}/versions/{}", s.prompt, s.version))
        .await;
    assert_eq!(status, 204);
    let n = model_refinement::Entity::find()
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(n, 0);
}

#[tokio::test]
async fn concurrent_refinements_of_one_version_all_complete_with_distinct_versions() {
    let app = app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = setup(&app, &llm).await;
    let path = refine_path(&s, "?async=false");
    let jobs = (0..4).map(|_| {
        let (app, path, body) = (&app, &path, body(&s, s.connection));
        async move { app.post(path, body).await }
    });
    let answers = futures_util::future::join_all(jobs).await;
    let mut versions = std::collections::BTreeSet::new();
    let mut titles = std::collections::BTreeSet::new();
    for answer in answers.iter().cloned() {
        let r: RefinedPromptView = answer.created();
        assert_eq!(r.refinement_status, RefinementStatus::Completed, "{r:?}");
        versions.insert(r.new_version.expect("new_version"));
        titles.insert(r.title.expect("title"));
    }
    assert_eq!(versions.len(), 4, "{answers:?}");
    assert_eq!(titles.len(), 4, "{answers:?}");
    assert!(titles.contains("refined"), "{titles:?}");
    assert_eq!(versions_of(&app, s.prompt).await.len(), 5);
}

#[tokio::test]
async fn a_refinement_is_a_job_that_holds_a_lease_until_it_ends() {
    let app = app().await;
    // The teacher answers after 2 s, so the job is still running when its row is first read.
    let llm = fake(FakeLlmConfig {
        latency_ms: 2000,
        ..FakeLlmConfig::default()
    })
    .await;
    let s = setup(&app, &llm).await;
    let r: RefinedPromptView = app
        .post(&refine_path(&s, ""), body(&s, s.connection))
        .await
        .created();
    let row = model_refinement::Entity::find()
        .filter(model_refinement::Column::JobId.eq(job_of(&r).as_str()))
        .one(&app.db)
        .await
        .expect("read")
        .expect("row");
    // Its job: queued with the refinement, then running under a worker's lease.
    let job_row = crate::jobs::newest(&app, entity::enums::JobKind::Refine).await;
    assert_eq!(job_row.subject_id, Some(row.id));
    let running = crate::jobs::wait_job(&app, job_row.id, |j| {
        j.status != entity::enums::JobStatus::Queued
    })
    .await;
    assert!(
        running.status != entity::enums::JobStatus::Running || running.lease_expires_at.is_some(),
        "{running:?}"
    );
    let done = finished(&app, &s, &job_of(&r)).await;
    assert_eq!(
        done.refinement_status,
        RefinementStatus::Completed,
        "{done:?}"
    );
    let ended = crate::jobs::wait_job(&app, job_row.id, |j| !j.status.is_open()).await;
    assert_eq!(ended.status, entity::enums::JobStatus::Succeeded);
    assert!(ended.lease_expires_at.is_none() && ended.lease_owner.is_none());
}
