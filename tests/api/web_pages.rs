//! Every page of the web app renders, and every branch of its template: with nothing in the
//! organization and with a project, a prompt of two versions, scored runs with failures, a
//! schedule and comments; the sign-in and first-account pages with their errors; every form
//! sent back with errors; a reviewer's pages (no edit controls); a pipeline version; runs the
//! engine finished with raw answers and failures; refinements that failed and succeeded; a
//! connection tested; a project linked to Label Studio. Templates run with strict undefined
//! values, and in debug builds each page must give exactly the names its template reads on any
//! branch, so a field a template names and its page does not pass fails here (a 500) instead
//! of rendering blank.
use crate::helpers::engine::{custom_connection, engine_app, fake, setup};
use crate::helpers::fixtures::{
    batch, batch_failed, fixture, ground_truth, id_of, item, new_version, run_on,
};
use crate::helpers::web::{Answer, PASSWORD, WebClient, make_reviewer, set_password};
use crate::helpers::{CLS, TestApp, choice};
use prompter::fake_llm::FakeLlmConfig;
use prompter::services::accounts;
use serde_json::{Value, json};

/// Gets each of `paths` and asserts a 200 page of the app (not the error page).
async fn all_render(web: &mut WebClient, paths: &[String]) {
    for path in paths {
        let page = web.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(page.body.contains("</html>"), "{path}: {}", page.body);
    }
}

#[tokio::test]
async fn every_page_renders_empty_and_populated() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    let login = web.get("/login").await;
    assert_eq!(login.status, 200, "{}", login.body);
    web.sign_in("admin@example.com").await;
    // Nothing yet.
    // (`/` leads to `/prompts`.)
    let home = web.get("/").await;
    assert_eq!(home.location.as_deref(), Some("/prompts"));
    let empty: Vec<String> = [
        "/projects",
        "/prompts",
        "/connections",
        "/label-studio",
        "/profile",
        "/prompts?page=2",
    ]
    .map(String::from)
    .to_vec();
    all_render(&mut web, &empty).await;
    // A project without tasks and a prompt without runs.
    let bare = fixture(&app, CLS, &[]).await;
    let (p, v) = (bare.prompt, bare.version);
    let bare_v2 = id_of(&new_version(&app, p, bare.connection, "v2").await);
    all_render(
        &mut web,
        &[
            format!("/projects/{}", bare.project),
            format!("/prompts/{p}"),
            format!("/prompts/{p}?version={v}"),
            format!("/prompts/{p}?new=1"),
            format!("/prompts/{p}?version={v}&estimate=1"),
            format!("/prompts/{p}/evaluation"),
            format!("/prompts/{p}/compare?a={v}&b={bare_v2}"),
            format!("/prompts/{p}/refine?version={v}"),
        ],
    )
    .await;
    // Populated: ground truth, two versions, runs with right, wrong and failed tasks, a
    // schedule, a comment and registry changes.
    let texts: Vec<String> = (0..6).map(|i| format!("review {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let f = fixture(&app, CLS, &refs).await;
    for task in &f.tasks {
        ground_truth(&app, *task, choice("Positive")).await;
    }
    let run1 = run_on(&app, &f, f.version, "HasGT").await;
    let items: Vec<Value> = f.tasks[..4]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            item(
                *t,
                json!({"sentiment": if i < 3 { "Positive" } else { "Negative" }}),
            )
        })
        .collect();
    batch(&app, run1, Value::Array(items)).await;
    batch_failed(
        &app,
        run1,
        json!([
            {"task_id": f.tasks[4], "message": "boom", "error_type": "Timeout"},
            {"task_id": f.tasks[5], "message": "boom", "error_type": "Timeout"}
        ]),
    )
    .await;
    let v2 = id_of(&new_version(&app, f.prompt, f.connection, "v2").await);
    let run2 = run_on(&app, &f, v2, "HasGT").await;
    // v2's answers cost a cent each: $0.06 for six right answers.
    let items: Vec<Value> = f
        .tasks
        .iter()
        .map(|t| {
            let mut answer = item(*t, json!({"sentiment": "Positive"}));
            answer["total_cost_usd"] = json!(0.01);
            answer
        })
        .collect();
    batch(&app, run2, Value::Array(items)).await;
    // One run still pending.
    let pending = run_on(&app, &f, v2, "All").await;
    let (status, body) = app
        .post(
            &format!("/api/prompts/{}/schedules", f.prompt),
            json!({"cron": "0 3 * * mon", "timezone": "Europe/Berlin", "project": f.project}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/prompts/{}/comments", f.prompt),
            json!({"text": "looks right"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .patch(
            &format!("/api/prompts/{}/", f.prompt),
            json!({"status": "deployed", "deployed_version": v2, "reason": "better",
                "tags": ["support"], "domain": "Care"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let p = f.prompt;
    all_render(
        &mut web,
        &[
            "/projects".into(),
            "/prompts".into(),
            format!("/projects/{}", f.project),
            format!("/prompts/{p}"),
            format!("/prompts/{p}?version={}", f.version),
            format!("/prompts/{p}?version={v2}&estimate=1"),
            format!("/prompts/{p}?new=1"),
            format!("/prompts/{p}/evaluation"),
            format!("/prompts/{p}/evaluation?run={run1}"),
            format!("/prompts/{p}/compare?a={}&b={v2}", f.version),
            format!("/prompts/{p}/refine?version={}", f.version),
            format!("/runs/{run1}"),
            format!("/runs/{run1}?outcome=failed"),
            format!("/runs/{run1}?outcome=incorrect&class=Negative"),
            format!("/runs/{run2}"),
            format!("/runs/{pending}"),
            format!("/runs/{run1}/tasks/{}", f.tasks[0]),
            format!("/runs/{run1}/tasks/{}", f.tasks[5]),
            format!("/runs/{pending}/tasks/{}", f.tasks[0]),
        ],
    )
    .await;
    // What a right answer costs, as a headline beside accuracy and cost, by the one
    // definition: v1's answers cost nothing; v2's six right answers cost $0.06, a cent each,
    // and Wilson(6, 6) ≈ [0.6097, 1] puts it between $0.0100 and $0.0164.
    let cents = "$0.0100 per correct label (95%: $0.0100–$0.0164)";
    let run_page = web.get(&format!("/runs/{run1}")).await;
    assert!(
        run_page
            .body
            .contains("id=\"run-cost-per-correct\">$0 per correct label (the run cost nothing)<"),
        "{}",
        run_page.body
    );
    let run_page = web.get(&format!("/runs/{run2}")).await;
    assert!(run_page.body.contains(cents), "{}", run_page.body);
    let compare = web
        .get(&format!("/prompts/{p}/compare?a={}&b={v2}", f.version))
        .await;
    for text in ["$0 per correct label", cents] {
        assert!(compare.body.contains(text), "{text}: {}", compare.body);
    }
    let evaluation = web
        .get(&format!("/prompts/{p}/evaluation?run={run2}"))
        .await;
    assert!(
        evaluation.body.contains("Cost per correct label"),
        "{}",
        evaluation.body
    );
    assert!(evaluation.body.contains(cents), "{}", evaluation.body);
    // The pending run has no result to price yet.
    let pending_page = web.get(&format!("/runs/{pending}")).await;
    assert!(
        pending_page
            .body
            .contains("id=\"run-cost-per-correct\">— (no result yet)<"),
        "{}",
        pending_page.body
    );
    // The error page itself.
    let missing = web.get("/prompts/999999").await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert!(missing.body.contains("</html>"));
}

/// Asserts `answer` is a page of the app showing its form's errors (422: the form was not
/// taken, and may be corrected and sent again).
pub(crate) fn shows_errors(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 422, "{what}: {}", answer.body);
    assert!(answer.body.contains("</html>"), "{what}: {}", answer.body);
    assert!(
        answer.body.contains("class=\"error\" role=\"alert\""),
        "{what} shows no error: {}",
        answer.body
    );
}

#[tokio::test]
async fn sign_in_and_first_account_pages_render_with_their_errors() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.get("/login?next=/projects").await;
    let wrong = web
        .post(
            "/login",
            &[
                ("email", "admin@example.com"),
                ("password", "not the password"),
                ("next", "/projects"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(wrong.body.contains("The email or the password is wrong."));
    assert!(wrong.body.contains("value=\"admin@example.com\""));
    assert!(wrong.body.contains("</html>"));
    // An installation without accounts: the first account's page, then its error.
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("DELETE FROM users")
        .await
        .expect("empty the users");
    let page = web.get("/setup").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("My organization"), "{}", page.body);
    let unnamed = web
        .post(
            "/setup",
            &[
                ("email", "first@example.com"),
                ("organization", " "),
                ("password", PASSWORD),
            ],
        )
        .await;
    shows_errors(&unnamed, "setup without an organization");
    assert!(unnamed.body.contains("Name the organization."));
    assert!(unnamed.body.contains("value=\"first@example.com\""));
}

#[tokio::test]
async fn forms_sent_with_errors_and_a_reviewers_pages_render() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    make_reviewer(&app).await;
    // More tasks than a page holds: the project's and the run's pagers.
    let texts: Vec<String> = (0..51).map(|i| format!("task {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let f = fixture(&app, CLS, &refs).await;
    let (p, v) = (f.prompt, f.version);
    let run = run_on(&app, &f, v, "All").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;

    web.get("/projects").await;
    let bad = web
        .post(
            "/projects",
            &[("title", "Broken"), ("label_config", "<View>")],
        )
        .await;
    shows_errors(&bad, "a project with a broken config");
    assert!(bad.body.contains("value=\"Broken\""));

    web.get("/prompts").await;
    let bad = web.post("/prompts", &[("title", "Nowhere")]).await;
    shows_errors(&bad, "a prompt without a project");
    assert!(bad.body.contains("Choose a project."));

    web.get("/connections").await;
    let bad = web
        .post(
            "/connections",
            &[("provider", "OpenAI"), ("tpm_limit", "lots")],
        )
        .await;
    shows_errors(&bad, "a connection with a bad limit");
    assert!(
        bad.body
            .contains("Tokens per minute: Enter a number, or leave it empty."),
        "{}",
        bad.body
    );

    // The editor sent back as typed: from a version, and as a prompt's new one.
    web.get(&format!("/prompts/{p}?version={v}")).await;
    let (c, vs) = (f.connection.to_string(), v.to_string());
    let editor = |source: &'static str| {
        let mut fields = vec![
            ("prompt", "Classify: {text}"),
            ("connection", c.as_str()),
            ("model", "gpt-4o-mini"),
            ("few_shot", "0"),
            ("temperature", "hot"),
            ("extra_name", "presence_penalty"),
            ("extra_value", "0.5"),
        ];
        if source == "source" {
            fields.push(("source", vs.as_str()));
        }
        fields
    };
    let bad = web
        .post(&format!("/prompts/{p}/versions"), &editor("source"))
        .await;
    shows_errors(&bad, "a derived version with a bad temperature");
    assert!(bad.body.contains("Temperature") && bad.body.contains("value=\"hot\""));
    assert!(bad.body.contains("presence_penalty"));
    let bad = web
        .post(&format!("/prompts/{p}/versions"), &editor("none"))
        .await;
    shows_errors(&bad, "a new version with a bad temperature");

    let bad = web
        .post(
            &format!("/prompts/{p}/versions/{v}/runs"),
            &[("project", &f.project.to_string()), ("subset", "")],
        )
        .await;
    shows_errors(&bad, "a run without its tasks");
    assert!(bad.body.contains("Choose which tasks to run on."));

    // A reviewer sees every page without the edit controls.
    let mut reviewer = WebClient::new(&app);
    reviewer.sign_in("reviewer@example.com").await;
    let paths = [
        "/prompts".to_string(),
        "/projects".into(),
        "/label-studio".into(),
        "/profile".into(),
        format!("/projects/{}", f.project),
        format!("/prompts/{p}"),
        format!("/prompts/{p}/evaluation"),
        format!("/prompts/{p}/refine?version={v}"),
        format!("/runs/{run}"),
        format!("/runs/{run}?page=2"),
        format!("/projects/{}?page=2", f.project),
    ];
    all_render(&mut reviewer, &paths).await;
    for path in [
        format!("/runs/{run}"),
        format!("/projects/{}?page=2", f.project),
    ] {
        let page = reviewer.get(&path).await;
        assert!(
            page.body.contains("class=\"pager\""),
            "{path}: {}",
            page.body
        );
    }
    let page = reviewer.get(&format!("/prompts/{p}")).await;
    assert!(!page.body.contains("id=\"save-version\""), "{}", page.body);
    // The version reads as text: no field to type in.
    assert!(page.body.contains("id=\"version-view\""), "{}", page.body);
    assert!(!page.body.contains("readonly"), "{}", page.body);
    assert!(!page.body.contains("<textarea id=\"version-prompt\""));
}

/// A two-step pipeline version of `prompt` with every parameter, through `connection`.
async fn pipeline(app: &TestApp, prompt: i64, connection: i64) -> i64 {
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": "pipeline", "provider": "Custom", "provider_model_id": "gpt-4o-mini",
            "model_provider_connection": connection, "max_few_shot_examples": 1,
            "model_params": {"temperature": 0.2, "seed": 7, "reasoning_effort": "low",
                "extra": {"presence_penalty": 0.5}},
            "steps": [
                {"name": "summarize", "prompt": "Summarize: {text}", "output_fields": ["summary"],
                 "model_provider_connection": connection, "provider_model_id": "gpt-4o",
                 "model_params": {"temperature": 0.5, "extra": {"stop": ["END"]}}},
                {"name": "classify", "prompt": "Classify: {summarize.summary}"}
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    id_of(&body)
}

#[tokio::test]
async fn pages_of_engine_runs_refinements_connections_and_links_render() {
    let app = engine_app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    // A provider whose content filter refuses one review: that task fails, and a refinement
    // through it fails (the teacher reads the review).
    let filtered = fake(FakeLlmConfig {
        content_filter: vec!["forbidden".into()],
        ..Default::default()
    })
    .await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let s = setup(
        &app,
        &filtered,
        CLS,
        &["I love it", "awful", "forbidden words"],
        "Classify: {text}",
    )
    .await;
    for task in &s.tasks {
        ground_truth(&app, *task, choice("Positive")).await;
    }
    // A task without ground truth, with a field the others lack.
    let noted = app
        .import(s.project, json!([{"text": "no truth here", "note": "n"}]))
        .await[0];
    let (p, v) = (s.prompt, s.version);
    let teacher = custom_connection(&app, &llm, "teacher-key").await;

    // A run started from the page and finished by the engine, with raw answers and a failure.
    web.get(&format!("/prompts/{p}?version={v}")).await;
    let started = web
        .post(
            &format!("/prompts/{p}/versions/{v}/runs"),
            &[("project", &s.project.to_string()), ("subset", "All")],
        )
        .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let run_path = started.location.clone().unwrap_or_default();
    app.engine_idle().await;
    let run = web.get(&run_path).await;
    assert_eq!(run.status, 200, "{}", run.body);
    assert!(run.body.contains("is-failed"), "{}", run.body);
    let run_id: i64 = run_path.trim_start_matches("/runs/").parse().unwrap();
    // A run without ground truth: an evaluation without a confusion matrix.
    let (status, body) = app
        .post(
            &format!("/api/prompts/{p}/versions/{v}/inference-runs"),
            json!({"project": s.project, "project_subset": "Custom", "task_ids": [noted]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let no_truth = id_of(&body);
    // A version reading that field, run on a task without it: its full prompt is an error.
    let reads_note = crate::helpers::engine::version(
        &app,
        p,
        s.connection,
        "reads a note",
        "Classify: {text} ({note})",
    )
    .await;
    let (status, body) = app
        .post(
            &format!("/api/prompts/{p}/versions/{reads_note}/inference-runs"),
            json!({"project": s.project, "project_subset": "Custom", "task_ids": [s.tasks[0]]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let unreadable_run = id_of(&body);
    // A model without a price: no estimate, and a note on its run's answers.
    let (status, body) = app
        .post(
            &format!("/api/prompts/{p}/versions"),
            json!({"title": "unpriced", "prompt": "Classify: {text}",
                "provider_model_id": "house-model", "provider": "Custom",
                "model_provider_connection": s.connection}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let unpriced = id_of(&body);
    let (status, body) = app
        .post(
            &format!("/api/prompts/{p}/versions/{unpriced}/inference-runs"),
            json!({"project": s.project, "project_subset": "Custom", "task_ids": [noted]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let unpriced_run = id_of(&body);
    app.engine_idle().await;
    // A pipeline version, and its editor sent back with an error in a step.
    let pipe = pipeline(&app, p, s.connection).await;
    let page = web.get(&format!("/prompts/{p}?version={pipe}")).await;
    assert!(page.body.contains("id=\"step-0\""), "{}", page.body);
    // A Reviewer reads the same pipeline as text: its steps, parameters and prompts.
    make_reviewer(&app).await;
    let mut reviewer = WebClient::new(&app);
    reviewer.sign_in("reviewer@example.com").await;
    let read = reviewer.get(&format!("/prompts/{p}?version={pipe}")).await;
    assert_eq!(read.status, 200, "{}", read.body);
    for text in [
        "Step 1: summarize",
        "Summarize: {text}",
        "Prompt of the last step (classify)",
        "presence_penalty",
    ] {
        assert!(read.body.contains(text), "{text}: {}", read.body);
    }
    assert!(!read.body.contains("id=\"step-0\""), "{}", read.body);
    let (c, ps) = (s.connection.to_string(), pipe.to_string());
    let bad = web
        .post(
            &format!("/prompts/{p}/versions"),
            &[
                ("source", ps.as_str()),
                ("step_count", "1"),
                ("step0_name", "summarize"),
                ("step0_prompt", "Summarize: {text}"),
                ("step0_seed", "seven"),
                ("last_step", "classify"),
                ("prompt", "Classify: {summarize.summary}"),
                ("connection", c.as_str()),
                ("model", "gpt-4o-mini"),
                ("few_shot", "1"),
            ],
        )
        .await;
    shows_errors(&bad, "a pipeline version with a bad step seed");
    assert!(bad.body.contains("value=\"seven\""), "{}", bad.body);

    // Refinements from the page: through the filtered connection the job fails; through the
    // other it proposes a prompt, saved as a version.
    let refine = format!("/prompts/{p}/refine?version={v}");
    web.get(&refine).await;
    let mut jobs = vec![];
    for connection in [s.connection, teacher] {
        let sent = web
            .post(
                &format!("/prompts/{p}/versions/{v}/refine"),
                &[
                    ("project", &s.project.to_string()),
                    ("connection", &connection.to_string()),
                    ("model", "gpt-4o"),
                ],
            )
            .await;
        assert_eq!(sent.status, 303, "{}", sent.body);
        jobs.push(sent.location.clone().unwrap_or_default());
        app.engine_idle().await;
    }
    let failed = web.get(&jobs[0]).await;
    assert_eq!(failed.status, 200, "{}", failed.body);
    assert!(failed.body.contains("class=\"bad\""), "{}", failed.body);
    let proposed = web.get(&jobs[1]).await;
    assert_eq!(proposed.status, 200, "{}", proposed.body);
    assert!(
        proposed.body.contains("id=\"prompt-diff\""),
        "{}",
        proposed.body
    );
    assert!(
        proposed.body.contains("id=\"accept-refined\""),
        "{}",
        proposed.body
    );

    // A connection tested: one that answers, and one without a key that cannot be reached,
    // with every limit set.
    web.get("/connections").await;
    let added = web
        .post(
            "/connections",
            &[
                ("provider", "Custom"),
                ("endpoint", "http://127.0.0.1:9"),
                ("rpm_limit", "60"),
                ("tpm_limit", "100000"),
                ("budget_limit", "5"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let (_, listed) = app.get("/api/model-provider-connections/").await;
    let nowhere = listed
        .as_array()
        .and_then(|all| all.iter().map(id_of).max())
        .expect("connections");
    let ok = web
        .post(
            &format!("/connections/{teacher}/test"),
            &[("model", "gpt-4o-mini")],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("Connected"), "{}", ok.body);
    let down = web.post(&format!("/connections/{nowhere}/test"), &[]).await;
    assert_eq!(down.status, 200, "{}", down.body);
    assert!(down.body.contains("Failed"), "{}", down.body);

    // A project linked to Label Studio (a second server, which speaks its API), synced.
    let ls = TestApp::spawn().await;
    let ls_token = accounts::create_token(&ls.db, "admin@example.com")
        .await
        .expect("token");
    let ls_project = ls.project(CLS).await;
    ls.import(ls_project, json!([{"text": "from Label Studio"}]))
        .await;
    web.get("/label-studio").await;
    let linked = web
        .post(
            &format!("/projects/{}/label-studio", s.project),
            &[
                ("url", &ls.address),
                ("token", &ls_token),
                ("ls_project", &ls_project.to_string()),
            ],
        )
        .await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    let synced = web
        .post(&format!("/projects/{}/label-studio/sync", s.project), &[])
        .await;
    assert_eq!(synced.status, 303, "{}", synced.body);
    app.engine_idle().await;
    let page = web.get("/label-studio").await;
    assert!(page.body.contains("Push predictions"), "{}", page.body);

    // A token made on the profile, shown once.
    web.get("/profile").await;
    let rotated = web.post("/profile/token", &[]).await;
    assert_eq!(rotated.status, 303, "{}", rotated.body);
    let shown = web.get("/profile").await;
    assert!(shown.body.contains("id=\"new-token\""));

    let v2 = pipe;
    all_render(
        &mut web,
        &[
            "/connections".into(),
            "/label-studio".into(),
            format!("/projects/{}", s.project),
            format!("/prompts/{p}"),
            format!("/prompts/{p}?version={pipe}&estimate=1"),
            format!("/prompts/{p}?version={unpriced}&estimate=1"),
            format!("/runs/{run_id}?outcome=correct"),
            format!("/runs/{no_truth}"),
            format!("/runs/{no_truth}?outcome=incorrect"),
            format!("/runs/{unreadable_run}"),
            format!("/runs/{unpriced_run}"),
            format!("/runs/{run_id}/tasks/{}", s.tasks[0]),
            format!("/runs/{run_id}/tasks/{}", s.tasks[2]),
            format!("/runs/{unreadable_run}/tasks/{}", s.tasks[0]),
            format!("/prompts/{p}/evaluation?run={run_id}"),
            format!("/prompts/{p}/evaluation?run={no_truth}"),
            format!("/prompts/{p}/compare?a={v}&b={reads_note}"),
            format!("/prompts/{p}/compare?a={v}&b={v2}"),
        ],
    )
    .await;
    let connections = web.get("/connections").await;
    assert!(
        connections
            .body
            .contains("<span class=\"warn\">none</span>"),
        "{}",
        connections.body
    );
    let no_estimate = web
        .get(&format!("/prompts/{p}?version={unpriced}&estimate=1"))
        .await;
    // No price: the tokens all the same, and how to give a price.
    assert!(
        no_estimate.body.contains("completion tokens for")
            && no_estimate.body.contains("id=\"price-hint\""),
        "{}",
        no_estimate.body
    );
    let noted_run = web.get(&format!("/runs/{unpriced_run}")).await;
    assert!(
        noted_run.body.contains("class=\"note\""),
        "{}",
        noted_run.body
    );
    let none_match = web
        .get(&format!("/runs/{no_truth}?outcome=incorrect"))
        .await;
    assert!(
        none_match.body.contains("No task matches."),
        "{}",
        none_match.body
    );
    let agree = web
        .get(&format!("/prompts/{p}/compare?a={v}&b={reads_note}"))
        .await;
    assert!(
        agree.body.contains("They agree on every task"),
        "{}",
        agree.body
    );
    let answered = web
        .get(&format!("/runs/{run_id}/tasks/{}", s.tasks[0]))
        .await;
    assert!(
        answered.body.contains("id=\"raw-answer\""),
        "{}",
        answered.body
    );
    let unreadable = web
        .get(&format!("/runs/{unreadable_run}/tasks/{}", s.tasks[0]))
        .await;
    assert!(
        unreadable.body.contains("has no &quot;note&quot; field"),
        "{}",
        unreadable.body
    );
}
