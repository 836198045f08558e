//! The model registry (issue 14) over HTTP: a prompt's tags, domain, status and parameters
//! with list filters; comments, and the reasons of deployment and status changes; export and
//! import round trip into another organization; a two-step pipeline run against the fake LLM
//! (per-step tokens, a failure in step 1); schedules, firing once per slot with three worker
//! processes on one database, never for paused or archived prompts.
use crate::helpers::engine::{Setup, engine_app, fake, finished, setup, start};
use crate::helpers::fixtures::{connection, id_of, new_prompt, new_version};
use crate::helpers::reply::read;
use crate::helpers::{CLS, Reply, TestApp, field_errors};
use entity::enums::{CommentKind, PromptStatus, Subset};
use prompter::error::ErrorBody;
use prompter::fake_llm::FakeLlmConfig;
use prompter::views::Paginated;
use prompter::views::evaluation::SubsetView;
use prompter::views::model_providers::ModelProviderConnectionView;
use prompter::views::predictions::PredictionView;
use prompter::views::projects::ProjectView;
use prompter::views::prompts::{PromptDetailView, PromptView};
use prompter::views::registry::{CommentView, ImportedView, PromptDocument, ScheduleView};
use prompter::views::runs::RunView;
use prompter::views::versions::{CostEstimateView, VersionView};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// Whether an error body says `text`, in its detail or in a field's message.
fn says(error: &ErrorBody, text: &str) -> bool {
    error.detail.contains(text)
        || error
            .validation_errors
            .iter()
            .flat_map(|fields| fields.values().flatten())
            .any(|m| m.contains(text))
}

/// The run `run` once the engine is idle, as the run list shows it.
async fn finished_run(app: &TestApp, s: &Setup, run: i64) -> RunView {
    read(finished(app, s, run).await)
}

/// The ids of a page of the prompt list (asserts 200).
fn ids(reply: (u16, Value)) -> Vec<i64> {
    reply
        .good::<Paginated<PromptDetailView>>()
        .results
        .iter()
        .map(|p| p.prompt.id)
        .collect()
}

async fn prompt_with(app: &TestApp, body: Value) -> i64 {
    let project = app.project(CLS).await;
    let mut body = body;
    body["associated_projects"] = json!([project]);
    body["input_fields"] = json!(["text"]);
    body["output_classes"] = json!(["Positive", "Negative"]);
    id_of(&new_prompt(app, body).await)
}

#[tokio::test]
async fn prompts_carry_tags_domain_status_and_parameters() {
    let app = TestApp::spawn().await;
    let a = prompt_with(
        &app,
        json!({"title": "Support triage", "tags": ["support", "email", "support"], "domain": "Customer care",
            "status": "deployed", "parameters": {"few_shot": 3, "model_params": {"temperature": 0}}}),
    )
    .await;
    let b = prompt_with(
        &app,
        json!({"title": "Invoice fields", "tags": ["finance"], "domain": "Finance"}),
    )
    .await;
    let c = prompt_with(
        &app,
        json!({"title": "Old one", "tags": ["support"], "status": "archived"}),
    )
    .await;
    let one: PromptDetailView = app.get(&format!("/api/prompts/{a}/")).await.good();
    assert_eq!(one.prompt.tags, ["support", "email"]);
    assert_eq!(
        (one.prompt.domain.as_deref(), one.prompt.status),
        (Some("Customer care"), PromptStatus::Deployed)
    );
    // The parameters are a free JSON object.
    let parameters = one.prompt.parameters.expect("parameters");
    assert_eq!(parameters["few_shot"], 3);
    let fresh: PromptDetailView = app.get(&format!("/api/prompts/{b}/")).await.good();
    assert_eq!(fresh.prompt.status, PromptStatus::Draft);
    // Archived prompts are left out unless asked for.
    let all = ids(app.get("/api/prompts/").await);
    assert_eq!(all.len(), 2);
    assert!(!all.contains(&c));
    let archived = ids(app.get("/api/prompts/?status=archived").await);
    assert_eq!(archived, vec![c]);
    let tagged = ids(app.get("/api/prompts/?tags=support").await);
    assert_eq!(tagged, vec![a]);
    let both = ids(app
        .get("/api/prompts/?tags=support,email&domain=Customer%20care&status=deployed")
        .await);
    assert_eq!(both, vec![a]);
    let none = ids(app.get("/api/prompts/?tags=support,finance").await);
    assert!(none.is_empty());
    let search = ids(app.get("/api/prompts/?search=invoice&domain=Finance").await);
    assert_eq!(search, vec![b]);
    // Bad values are 400s naming the field.
    let error = app.get("/api/prompts/?status=shipped").await.bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    for (patch, field) in [
        (json!({"status": "shipped"}), "status"),
        (json!({"tags": ["a,b"]}), "tags"),
        (json!({"parameters": [1]}), "parameters"),
        (
            json!({"parameters": {"model_params": {"temperature": "hot"}}}),
            "parameters",
        ),
    ] {
        let error = app.patch(&format!("/api/prompts/{a}/"), patch).await.bad();
        assert_eq!(error.status_code, 400, "{error:?}");
        assert!(
            !field_errors(&error, field).is_empty() || !error.detail.is_empty(),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn comments_and_the_reasons_of_changes() {
    let app = TestApp::spawn().await;
    let prompt = prompt_with(&app, json!({"title": "Deploy me"})).await;
    let c = connection(&app).await;
    let v1 = id_of(&new_version(&app, prompt, c, "v1").await);
    let v2 = id_of(&new_version(&app, prompt, c, "v2").await);
    let path = format!("/api/prompts/{prompt}/comments");
    let first: CommentView = app
        .post(&path, json!({"text": "v2 reads better", "version": v2}))
        .await
        .created();
    assert_eq!(
        (first.kind, first.version),
        (CommentKind::Comment, Some(v2))
    );
    assert_eq!(
        first.author.as_ref().map(|a| a.email.as_str()),
        Some("admin@example.com")
    );
    // Deploying and changing the status ask for a reason, kept as comments.
    let _: PromptView = app
        .patch(
            &format!("/api/prompts/{prompt}/"),
            json!({"deployed_version": v1, "reason": "v1 wins on the March sample"}),
        )
        .await
        .good();
    let (status, _) = app
        .patch(
            &format!("/api/prompts/{prompt}/"),
            json!({"status": "deployed", "reason": "live from Monday"}),
        )
        .await;
    assert_eq!(status, 200);
    // The same values again record nothing.
    app.patch(
        &format!("/api/prompts/{prompt}/"),
        json!({"status": "deployed", "deployed_version": v1}),
    )
    .await;
    let list: Vec<CommentView> = app.get(&path).await.good();
    assert_eq!(list.len(), 3, "{list:?}");
    assert_eq!(list[0].kind, CommentKind::Status);
    assert_eq!(
        list[0].text,
        "Status deployed (was draft). Reason: live from Monday"
    );
    assert_eq!(list[1].kind, CommentKind::Deployment);
    assert_eq!(list[1].version, Some(v1));
    assert_eq!(
        list[1].text,
        "Deployed v1 (was the newest version). Reason: v1 wins on the March sample"
    );
    assert_eq!(list[2].id, first.id);
    // Append-only, checked, scoped.
    let (status, _) = app.post(&path, json!({"text": "  "})).await;
    assert_eq!(status, 400);
    let other = prompt_with(&app, json!({"title": "Other"})).await;
    let other_version = id_of(&new_version(&app, other, c, "v1").await);
    let (status, body) = app
        .post(&path, json!({"text": "x", "version": other_version}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app
        .send(Method::DELETE, &path, Some(&app.token), None)
        .await;
    assert_eq!(status, 405);
    let (status, _) = app
        .send(Method::GET, &path, Some(&app.other_token), None)
        .await;
    assert_eq!(status, 404);
    // Any member may comment.
    let (status, _) = app
        .send(
            Method::POST,
            &path,
            Some(&app.annotator_token),
            Some(&json!({"text": "looks right to me"})),
        )
        .await;
    assert_eq!(status, 201);
}

/// A prompt with a plain version, a two-step pipeline version, a deployed version and a
/// nightly schedule; returns (prompt, project).
async fn registry_prompt(app: &TestApp, connection: i64) -> (i64, i64) {
    let project = app.project(CLS).await;
    app.import(project, json!([{"text": "I love it"}, {"text": "awful"}]))
        .await;
    let prompt = id_of(
        &new_prompt(
            app,
            json!({"title": "Portable", "associated_projects": [project], "input_fields": ["text"],
                "output_classes": ["Positive", "Negative"], "tags": ["exported"], "domain": "Reviews",
                "parameters": {"note": "kept"}}),
        )
        .await,
    );
    let plain =
        crate::helpers::engine::version(app, prompt, connection, "plain", "Classify: {text}").await;
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": "pipeline", "provider": "Custom", "provider_model_id": "gpt-4o-mini",
            "model_provider_connection": connection, "model_params": {"temperature": 0},
            "jury": [{"provider_model_id": "juror-a"},
                     {"provider_model_id": "juror-b", "model_provider_connection": connection}],
            "steps": [
                {"name": "summarize", "prompt": "Summarize: {text}", "output_fields": ["summary"]},
                {"name": "classify", "prompt": "Classify this summary: {summarize.summary}"}
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .patch(
            &format!("/api/prompts/{prompt}/"),
            json!({"deployed_version": plain, "status": "deployed", "reason": "first"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/schedules"),
            json!({"cron": "0 2 * * *", "timezone": "Europe/Paris", "project": project}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (prompt, project)
}

#[tokio::test]
async fn export_and_import_round_trip_into_another_organization() {
    let app = TestApp::spawn().await;
    let c = connection(&app).await;
    let (prompt, _) = registry_prompt(&app, c).await;
    // A protected label on the version that is not deployed travels too (production is the
    // deployed version).
    let versions: Vec<VersionView> = app
        .get(&format!("/api/prompts/{prompt}/versions"))
        .await
        .good();
    let other = versions
        .iter()
        .find(|v| v.title != "plain")
        .expect("a second version");
    let (status, body) = app
        .send(
            Method::PUT,
            &format!("/api/prompts/{prompt}/labels/staging"),
            Some(&app.token),
            Some(&json!({"version": other.id, "protected": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The document stays raw too: it is sent back as it is, scanned as text for ids and keys,
    // and compared whole with the round trip's export.
    let (status, first) = app.get(&format!("/api/prompts/{prompt}/export")).await;
    assert_eq!(status, 200, "{first}");
    let document: PromptDocument = read(first.clone());
    assert_eq!(
        (document.format.as_str(), document.format_version),
        ("prompter.prompt", 1)
    );
    assert_eq!(document.versions.len(), 2);
    assert_eq!(document.prompt.deployed_version.as_deref(), Some("plain"));
    assert_eq!(document.schedules[0].timezone, "Europe/Paris");
    assert_eq!(document.labels.len(), 1, "{:?}", document.labels);
    assert_eq!(
        (
            document.labels[0].name.as_str(),
            document.labels[0].protected
        ),
        ("staging", true)
    );
    assert_eq!(document.labels[0].version, other.title);
    let text = first.to_string();
    assert!(!text.contains("\"id\""), "the document carries ids: {text}");
    assert!(!text.contains("sk-"), "the document carries a key");
    // Into the other organization, which has a connection of the same provider.
    let (status, theirs) = app
        .send(
            Method::POST,
            "/api/model-provider-connections/",
            Some(&app.other_token),
            Some(&json!({"provider": "OpenAI", "api_key": "sk-theirs"})),
        )
        .await;
    assert_eq!(status, 201, "{theirs}");
    let project: ProjectView = app
        .send(
            Method::POST,
            "/api/projects/",
            Some(&app.other_token),
            Some(&json!({"title": "theirs", "label_config": CLS})),
        )
        .await
        .created();
    // Custom versions need a Custom connection there: without one the import says so.
    let refused = app
        .send(
            Method::POST,
            "/api/prompts/import",
            Some(&app.other_token),
            Some(&json!({"document": first, "project": project.id})),
        )
        .await
        .bad();
    assert_eq!(refused.status_code, 400, "{refused:?}");
    assert!(says(&refused, "no Custom connection"), "{refused:?}");
    let custom: ModelProviderConnectionView = app
        .send(
            Method::POST,
            "/api/model-provider-connections/",
            Some(&app.other_token),
            Some(
                &json!({"provider": "Custom", "endpoint": "http://127.0.0.1:9/v1", "api_key": "k"}),
            ),
        )
        .await
        .created();
    let imported: ImportedView = app
        .send(Method::POST, "/api/prompts/import", Some(&app.other_token),
            Some(&json!({"document": first, "project": project.id, "connections": {"Custom": custom.id}})))
        .await
        .created();
    assert_eq!(imported.versions.len(), 2);
    assert_eq!(imported.schedules.len(), 1);
    let new_prompt_id = imported.prompt;
    // Raw: the whole document is compared.
    let (status, second) = app
        .send(
            Method::GET,
            &format!("/api/prompts/{new_prompt_id}/export"),
            Some(&app.other_token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(first, second, "the round trip changed the document");
    // The imported pipeline's steps use the chosen connection.
    let versions: Vec<VersionView> = app
        .send(
            Method::GET,
            &format!("/api/prompts/{new_prompt_id}/versions"),
            Some(&app.other_token),
            None,
        )
        .await
        .good();
    let pipeline = versions
        .iter()
        .find(|v| v.title == "pipeline")
        .expect("the pipeline version");
    assert_eq!(pipeline.model_provider_connection, Some(custom.id));
    let steps = pipeline.steps.as_ref().expect("steps");
    assert_eq!(steps[1].name, "classify");
    // Its jury too: a juror's connection travels as its provider (the source's connection is
    // an OpenAI one: the other organization's OpenAI connection takes its place).
    assert_eq!(pipeline.jury[0].model_provider_connection, None);
    assert_eq!(pipeline.jury[1].provider_model_id, "juror-b");
    assert_eq!(
        pipeline.jury[1].model_provider_connection,
        theirs["id"].as_i64()
    );
    // Not the same organization's objects: the source is untouched and unseen.
    let (status, _) = app
        .send(
            Method::GET,
            &format!("/api/prompts/{prompt}/export"),
            Some(&app.other_token),
            None,
        )
        .await;
    assert_eq!(status, 404);
    // A document of another format is refused.
    let (status, body) = app
        .post(
            "/api/prompts/import",
            json!({"document": {"format": "other", "format_version": 1}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    // Examples travel on request.
    let with: PromptDocument = app
        .get(&format!(
            "/api/prompts/{prompt}/export?include_examples=true"
        ))
        .await
        .good();
    assert!(with.examples.is_some(), "{with:?}");
}

#[tokio::test]
async fn a_two_step_pipeline_runs_each_step_and_names_the_one_that_failed() {
    let llm = fake(FakeLlmConfig {
        content_filter: vec!["forbidden".into()],
        ..Default::default()
    })
    .await;
    let app = engine_app().await;
    let s = setup(
        &app,
        &llm,
        CLS,
        &["I love this", "a forbidden word", "terrible"],
        "Classify: {text}",
    )
    .await;
    let body: VersionView = app
        .post(
            &format!("/api/prompts/{}/versions", s.prompt),
            json!({"title": "two steps", "provider": "Custom", "provider_model_id": "gpt-4o-mini",
                "model_provider_connection": s.connection,
                "steps": [
                    {"name": "summarize", "prompt": "Summarize the review: {text}", "output_fields": ["summary", "tone"]},
                    {"name": "classify", "prompt": "Tone {summarize.tone}. Classify: {summarize.summary}"}
                ]}),
        )
        .await
        .created();
    let pipeline = body.id;
    assert_eq!(
        body.prompt,
        "Tone {summarize.tone}. Classify: {summarize.summary}"
    );
    // The estimate covers both steps: more than the last step alone.
    let both: CostEstimateView = app
        .get(&format!(
            "/api/prompts/{}/versions/{pipeline}/cost-estimate",
            s.prompt
        ))
        .await
        .good();
    let one: CostEstimateView = app
        .get(&format!(
            "/api/prompts/{}/versions/{}/cost-estimate",
            s.prompt, s.version
        ))
        .await
        .good();
    assert!(
        both.prompt_tokens > one.prompt_tokens,
        "{both:?} vs {one:?}"
    );
    let run_setup = crate::helpers::engine::Setup {
        version: pipeline,
        ..s
    };
    let run = start(&app, &run_setup, json!({"project_subset": "All"})).await;
    let state = finished_run(&app, &run_setup, run).await;
    assert_eq!(
        (state.total_predictions, state.total_failed_predictions),
        (2, 1),
        "{state:?}"
    );
    let preds: Vec<PredictionView> = app
        .get(&format!("/api/predictions/?project={}", run_setup.project))
        .await
        .good();
    let preds: Vec<&PredictionView> = preds.iter().filter(|p| p.model_run == Some(run)).collect();
    assert_eq!(preds.len(), 2);
    // The per-step record is the stored prediction's `extra` JSON (not in the API).
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let stored = entity::prediction::Entity::find()
        .filter(entity::prediction::Column::ModelRunId.eq(run))
        .all(&app.db)
        .await
        .unwrap();
    for p in &stored {
        let steps = &p.extra.as_ref().unwrap()["steps"];
        assert_eq!(steps[0]["step"], "summarize", "{steps}");
        let step_tokens = steps[0]["prompt_tokens"].as_i64().unwrap();
        assert!(step_tokens > 0);
        assert!(
            p.prompt_tokens.unwrap() > step_tokens,
            "the totals leave out the last step"
        );
        assert!(p.total_cost.unwrap() > steps[0]["cost_usd"].as_f64().unwrap());
    }
    let failed = entity::failed_prediction::Entity::find()
        .filter(entity::failed_prediction::Column::ModelRunId.eq(run))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let message = failed.message.unwrap_or_default();
    assert!(
        message.starts_with("Step \"summarize\" failed:"),
        "{message}"
    );
    // A step that reads what no earlier step answers is refused.
    let error = app
        .post(
            &format!("/api/prompts/{}/versions", run_setup.prompt),
            json!({"title": "broken", "provider": "Custom", "provider_model_id": "gpt-4o-mini",
            "model_provider_connection": run_setup.connection,
            "steps": [
                {"name": "a", "prompt": "Read {text}"},
                {"name": "b", "prompt": "Use {a.summary}"}
            ]}),
        )
        .await
        .bad();
    assert_eq!(error.status_code, 400, "{error:?}");
    assert!(says(&error, "which answers output"), "{error:?}");
}

/// Starts `prompter worker` on the app's database, firing schedules every 50 ms.
fn scheduler_process(app: &TestApp) -> std::process::Child {
    crate::helpers::engine::worker_command(app, 64)
        .env("PROMPTER_SCHEDULE_POLL_MS", "50")
        .spawn()
        .expect("start prompter worker")
}

#[tokio::test]
async fn a_schedule_fires_once_per_slot_across_three_workers() {
    let llm = fake(FakeLlmConfig::default()).await;
    // The server fires nothing itself; three worker processes share the database.
    let app = TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.engine.schedule_poll_ms = 0;
        // Slots every second or two: the instance allows them.
        c.schedule_min_interval = 0;
    })
    .await;
    let s = setup(&app, &llm, CLS, &["I love it", "awful"], "Classify: {text}").await;
    let path = format!("/api/prompts/{}/schedules", s.prompt);
    // Bad expressions and zones are 400s.
    for (body, field) in [
        (json!({"cron": "0 2 * *", "project": s.project}), "cron"),
        (
            json!({"cron": "0 2 * * *", "timezone": "Mars/Olympus", "project": s.project}),
            "timezone",
        ),
        (json!({"cron": "0 2 * * *"}), "project"),
    ] {
        let error = app.post(&path, body).await.bad();
        assert_eq!(error.status_code, 400, "{error:?}");
        assert!(!field_errors(&error, field).is_empty(), "{error:?}");
    }
    let schedule: ScheduleView = app
        .post(&path, json!({"cron": "*/2 * * * * *", "timezone": "UTC", "project": s.project, "version": s.version}))
        .await
        .created();
    assert!(schedule.next_run_at.is_some());
    let sid = schedule.id;
    let mut workers: Vec<_> = (0..3).map(|_| scheduler_process(&app)).collect();
    // Wait for at least three slots to fire.
    let mut fired = vec![];
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let one: ScheduleView = app.get(&format!("{path}/{sid}")).await.good();
        fired = one.runs;
        if fired.len() >= 3 {
            break;
        }
    }
    // Pause it, then stop the workers.
    let paused: ScheduleView = app
        .patch(&format!("{path}/{sid}"), json!({"status": "paused"}))
        .await
        .good();
    assert!(paused.next_run_at.is_none());
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    assert!(fired.len() >= 3, "fired {fired:?}");
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let runs = entity::model_run::Entity::find()
        .filter(entity::model_run::Column::ScheduleId.eq(sid))
        .all(&app.db)
        .await
        .unwrap();
    let mut slots: Vec<_> = runs
        .iter()
        .map(|r| r.scheduled_for.expect("slot"))
        .collect();
    let n = slots.len();
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), n, "a slot fired twice: {runs:?}");
    // The first firing ran every task; the next ones only tasks without a prediction yet.
    let first = runs.iter().min_by_key(|r| r.id).unwrap();
    assert_eq!(first.total_tasks, 2);
    assert!(
        runs.iter()
            .filter(|r| r.id != first.id)
            .all(|r| r.total_tasks == 0),
        "{runs:?}"
    );
}

#[tokio::test]
async fn paused_and_archived_prompts_do_not_fire() {
    use prompter::services::schedules::{Fired, fire_due};
    let llm = fake(FakeLlmConfig::default()).await;
    // No ticker: the test fires the slots itself at the instants they are due, so no wall
    // time has to pass.
    let app = TestApp::spawn_with(|c| {
        crate::helpers::engine::quick_engine(c);
        c.engine.schedule_poll_ms = 0;
        c.schedule_min_interval = 0;
    })
    .await;
    let s = setup(&app, &llm, CLS, &["I love it"], "Classify: {text}").await;
    let path = format!("/api/prompts/{}/schedules", s.prompt);
    let schedule: ScheduleView = app
        .post(&path, json!({"cron": "* * * * *", "project": s.project}))
        .await
        .created();
    let sid = schedule.id;
    let due = |v: &ScheduleView| -> chrono::DateTime<chrono::Utc> {
        v.next_run_at
            .unwrap_or_else(|| panic!("a next firing: {v:?}"))
    };
    // Deployed-by-default: the newest version answers; it fires.
    let fired = fire_due(&app.db, due(&schedule), crate::helpers::sample_size())
        .await
        .unwrap();
    assert!(
        matches!(fired[..], [Fired::Run { schedule, .. }] if schedule == sid),
        "{fired:?}"
    );
    app.engine_idle().await;
    for status in ["paused", "archived"] {
        let _: PromptView = app
            .patch(
                &format!("/api/prompts/{}/", s.prompt),
                json!({"status": status, "reason": "test"}),
            )
            .await
            .good();
        let before: ScheduleView = app.get(&format!("{path}/{sid}")).await.good();
        let slot = due(&before);
        let fired = fire_due(&app.db, slot, crate::helpers::sample_size())
            .await
            .unwrap();
        assert!(
            matches!(&fired[..], [Fired::Skipped { schedule, slot: at, reason }]
                if *schedule == sid && *at == slot && reason.contains(status)),
            "{fired:?}"
        );
        let after: ScheduleView = app.get(&format!("{path}/{sid}")).await.good();
        assert_eq!(
            before.runs, after.runs,
            "a {status} prompt's schedule fired"
        );
        assert_ne!(
            before.last_run_at, after.last_run_at,
            "the slots still pass"
        );
        assert!(due(&after) > slot, "{after:?}");
    }
}

#[tokio::test]
async fn versions_inherit_the_prompts_model_parameters() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let s = setup(&app, &llm, CLS, &["I love it", "awful"], "Classify: {text}").await;
    // One output token cannot hold an answer: every task is cut at the limit.
    let _: PromptView = app
        .patch(
            &format!("/api/prompts/{}/", s.prompt),
            json!({"parameters": {"model_params": {"max_tokens": 1}}}),
        )
        .await
        .good();
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished_run(&app, &s, run).await;
    assert_eq!(state.total_failed_predictions, 2, "{state:?}");
    assert!(
        state
            .last_error
            .as_ref()
            .and_then(|e| e.message.as_deref())
            .is_some_and(|m| m.contains("output token limit")),
        "{state:?}"
    );
    // The version's own parameters win over the prompt's.
    let (status, _) = app
        .patch(
            &format!("/api/prompts/{}/versions/{}", s.prompt, s.version),
            json!({"model_params": {"max_tokens": 256}}),
        )
        .await;
    assert_eq!(status, 200);
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished_run(&app, &s, run).await;
    assert_eq!(state.total_predictions, 2, "{state:?}");
}

#[tokio::test]
async fn scheduled_api_and_counted_sample_subsets_take_the_configured_size() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = TestApp::spawn_with(|c| {
        crate::helpers::engine::quick_engine(c);
        c.engine.schedule_poll_ms = 50;
        c.engine.sample_subset_size = 2;
        c.schedule_min_interval = 0;
    })
    .await;
    let s = setup(&app, &llm, CLS, &["a", "b", "c", "d"], "Classify: {text}").await;
    // The subsets' count and an API run without a size: the first 2 of the 4 tasks.
    let subsets: Vec<SubsetView> = app
        .get(&format!("/api/projects/{}/subsets", s.project))
        .await
        .good();
    let sample = subsets
        .iter()
        .find(|v| v.subset == Subset::Sample)
        .expect("Sample");
    assert_eq!(sample.count, 2, "{subsets:?}");
    let run = start(&app, &s, json!({"project_subset": "Sample"})).await;
    let state = finished_run(&app, &s, run).await;
    assert_eq!(state.total_tasks, 2, "{state:?}");
    // A schedule's Sample run takes the same size (it took a fixed 20 before).
    let path = format!("/api/prompts/{}/schedules", s.prompt);
    let schedule: ScheduleView = app
        .post(
            &path,
            json!({"cron": "* * * * * *", "project": s.project, "project_subset": "Sample",
                "only_missing_predictions": false}),
        )
        .await
        .created();
    let sid = schedule.id;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let one: ScheduleView = app.get(&format!("{path}/{sid}")).await.good();
        if one.last_run.is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the schedule never fired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Paused, it stops replacing its own run every second; its last run stays.
    let paused: ScheduleView = app
        .patch(&format!("{path}/{sid}"), json!({"status": "paused"}))
        .await
        .good();
    let fired = paused.last_run.expect("last run");
    let state = finished_run(&app, &s, fired).await;
    assert_eq!(state.total_tasks, 2, "{state:?}");
    assert_eq!(state.project_subset, Subset::Sample, "{state:?}");
    assert_eq!(state.sample_subset_size, Some(2), "{state:?}");
}
