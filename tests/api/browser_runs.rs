//! A newcomer's path through connections, models, the estimate, a run and a rerun, in a real
//! headless Chromium (issue 20, items 2, 3, 4, 5 and 8): a new organization's editor leads to
//! Connections; the connection form starts blank, so an OpenAI connection saves without an
//! endpoint and a Custom one stores no deployment; the Custom connection's test finds
//! `fake-model`, which the version editor then starts with and suggests (the OpenAI one's
//! models follow its choice); the estimate of a model with no price counts the tokens and says
//! how to give a price; every counter of the live run page agrees with every other while the
//! run goes and after; the run form says what a rerun replaces, and the old run's page leads to
//! the new one; a version whose connection was deleted offers no Run and says why.
//! `PROMPTER_SCREENSHOTS=<dir>` keeps a screenshot of each step.
use crate::helpers::browser::Browser;
use crate::helpers::engine::{fake, quick_engine};
use crate::helpers::web::{PASSWORD, set_password};
use crate::helpers::{CLS, TestApp, choice};
use prompter::fake_llm::FakeLlmConfig;
use reqwest::Method;
use serde_json::{Value, json};

/// Saves a screenshot as `<dir>/runs-<name>.png` when `PROMPTER_SCREENSHOTS` names a folder.
async fn snap(browser: &Browser, name: &str) {
    if let Ok(dir) = std::env::var("PROMPTER_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        std::fs::write(format!("{dir}/runs-{name}.png"), browser.screenshot().await)
            .expect("write");
    }
}

/// A request of the other organization's Owner (`other@example.com`), asserting `status`.
async fn as_other(app: &TestApp, method: Method, path: &str, body: Value, status: u16) -> Value {
    let (got, answer) = app
        .send(method, path, Some(&app.other_token), Some(&body))
        .await;
    assert_eq!(got, status, "{path}: {answer}");
    answer
}

/// The counters of the run page as one snapshot, read in one script call (the page script
/// writes them all in one go): progress, the failed count, accuracy, cost, tokens.
async fn counters(b: &Browser) -> Option<Vec<String>> {
    let read = b
        .run(
            "const t = (s) => { const e = document.querySelector(s); return e ? e.textContent.trim() : null; };
             const all = ['[data-field=status]', '[data-field=progress]', '#run-failed', '#run-accuracy',
                          '#run-cost', '#run-tokens'].map(t);
             return all.includes(null) ? null : all;",
        )
        .await;
    serde_json::from_value(read).ok()
}

/// The failed count a progress text gives: `12 / 16 tasks (2 failed)` → 2.
fn failed_in(progress: &str) -> u64 {
    progress
        .split_once('(')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_newcomer_connects_chooses_a_model_estimates_runs_and_runs_again() {
    // One worker running two calls at a time on a slow model: the run takes a few seconds.
    let app = TestApp::spawn_with(|c| {
        quick_engine(c);
        c.engine.concurrency = 2;
    })
    .await;
    let llm = fake(FakeLlmConfig {
        latency_ms: 300,
        content_filter: vec!["forbidden".into()],
        ..Default::default()
    })
    .await;
    // The other organization is new: a project with tasks and ground truth, nothing else.
    let project = as_other(
        &app,
        Method::POST,
        "/api/projects/",
        json!({"title": "Reviews", "label_config": CLS}),
        201,
    )
    .await["id"]
        .as_i64()
        .expect("project id");
    let mut tasks = vec![];
    for i in 0..16 {
        let (text, label) = match i {
            5 | 11 => (format!("a forbidden review {i}"), "Negative"),
            i if i % 2 == 0 => (format!("I love it, review {i}"), "Positive"),
            _ => (format!("awful service, review {i}"), "Negative"),
        };
        tasks.push((json!({ "text": text }), label));
    }
    let data: Vec<Value> = tasks.iter().map(|(d, _)| d.clone()).collect();
    let imported = as_other(
        &app,
        Method::POST,
        &format!("/api/projects/{project}/import?return_task_ids=true"),
        Value::Array(data),
        201,
    )
    .await;
    let ids: Vec<i64> = imported["task_ids"]
        .as_array()
        .expect("task ids")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    for (id, (_, label)) in ids.iter().zip(&tasks) {
        as_other(
            &app,
            Method::POST,
            &format!("/api/tasks/{id}/annotations/"),
            json!({"result": choice(label), "ground_truth": true}),
            201,
        )
        .await;
    }
    set_password(&app, "other@example.com").await;
    let Some(b) = Browser::start().await else {
        return;
    };
    let url = |path: &str| format!("{}{path}", app.address);
    b.open(&url("/login")).await;
    b.fill("#email", "other@example.com").await;
    b.fill("#password", PASSWORD).await;
    b.click("#sign-in").await;
    b.wait_url(|u| u.ends_with("/prompts")).await;

    // A prompt, and its first version's editor: no connection yet, and a link to where.
    b.fill("#prompt-title", "Review sentiment").await;
    b.click("#create-prompt").await;
    let editor = b.wait_url(|u| u.contains("new=1")).await;
    let hint = b.text("#no-connection").await;
    assert!(hint.contains("Add a connection"), "{hint}");
    snap(&b, "01-no-connection").await;
    b.click("#no-connection a").await;
    b.wait_url(|u| u.ends_with("/connections")).await;

    // The add form starts blank: nothing to clear, and a blank field is not set.
    let blank = b
        .run(
            "return ['endpoint', 'deployment_name', 'rpm_limit', 'tpm_limit', 'budget_limit']
               .map((id) => document.getElementById(id).value);",
        )
        .await;
    assert_eq!(blank, json!(["", "", "", "", ""]));
    b.select("#provider", "Custom").await;
    b.fill("#api_key", "sk-fake-key").await;
    b.fill("#endpoint", &llm.base_url()).await;
    b.click("#save-connection").await;
    b.wait_text("#connections", |t| t.contains("Custom")).await;
    // OpenAI with Endpoint and Deployment left as they are: the browser sends the form.
    b.select("#provider", "OpenAI").await;
    b.fill("#api_key", "sk-openai-key").await;
    b.click("#save-connection").await;
    b.wait_text("#connections", |t| t.contains("OpenAI")).await;
    let listed = as_other(
        &app,
        Method::GET,
        "/api/model-provider-connections/",
        json!(null),
        200,
    )
    .await;
    let listed = listed.as_array().expect("connections").clone();
    let of = |provider: &str| {
        listed
            .iter()
            .find(|c| c["provider"] == provider)
            .unwrap_or_else(|| panic!("a {provider} connection"))
            .clone()
    };
    let (custom, openai) = (of("Custom"), of("OpenAI"));
    assert_eq!(openai["endpoint"], Value::Null, "{openai}");
    assert_eq!(openai["deployment_name"], Value::Null, "{openai}");
    assert_eq!(custom["deployment_name"], Value::Null, "{custom}");
    let (custom, openai) = (
        custom["id"].as_i64().expect("id"),
        openai["id"].as_i64().expect("id"),
    );

    // The Custom connection's test finds the fake LLM's model.
    b.click(&format!("#connection-{custom} .test-connection"))
        .await;
    let probe = b.wait_text("#probe-result", |t| !t.is_empty()).await;
    assert!(
        probe.contains("Connected") && probe.contains("fake-model"),
        "{probe}"
    );
    snap(&b, "02-connections").await;

    // Back in the editor: it starts on that connection with the model its test found, and
    // suggests each connection's models as its connection is chosen.
    b.open(&editor).await;
    let model = b
        .run("return document.getElementById('version-model').value;")
        .await;
    assert_eq!(model, json!("fake-model"));
    let offered = b
        .run(
            "const input = document.getElementById('version-model');
             return [...document.getElementById(input.getAttribute('list')).options].map((o) => o.value);",
        )
        .await;
    assert_eq!(offered, json!(["fake-model"]));
    b.select("#version-connection", &openai.to_string()).await;
    let switched = b
        .run(
            "const input = document.getElementById('version-model');
             const list = [...document.getElementById(input.getAttribute('list')).options].map((o) => o.value);
             return [input.value, list.includes('gpt-4.1-mini')];",
        )
        .await;
    assert_eq!(switched, json!(["gpt-4o-mini", true]));
    b.select("#version-connection", &custom.to_string()).await;
    let model = b
        .run("return document.getElementById('version-model').value;")
        .await;
    assert_eq!(model, json!("fake-model"));
    b.fill(
        "#version-prompt",
        "Classify the sentiment of this review: {text}",
    )
    .await;
    b.click("#save-version").await;
    let version_page = b.wait_url(|u| u.contains("version=")).await;

    // The estimate of a model with no price: the tokens, and how to give a price.
    b.click("#estimate-cost").await;
    let estimate = b.wait_text("#estimate", |t| !t.is_empty()).await;
    assert!(
        estimate.contains("prompt and") && estimate.contains("completion tokens for 16 tasks"),
        "{estimate}"
    );
    assert!(
        b.text("#price-hint").await.contains("PROMPTER_PRICES_FILE"),
        "{estimate}"
    );
    snap(&b, "03-estimate").await;

    // The first run: nothing to replace yet.
    assert!(b.text("#run-replaces").await.contains("first run"));
    b.select("#run-subset", "All").await;
    b.click("#start-run").await;
    let first_run = b.wait_url(|u| u.contains("/runs/")).await;

    // While it runs and after, every counter agrees with every other.
    let mut seen_running = false;
    let started = std::time::Instant::now();
    loop {
        if let Some(c) = counters(&b).await {
            let (status, progress, failed, accuracy, cost, tokens) =
                (&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]);
            let failed_count: u64 = failed
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(u64::MAX);
            assert_eq!(failed_in(progress), failed_count, "{c:?}");
            assert!(!c.concat().contains("null"), "{c:?}");
            let done: u64 = progress
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if done > failed_count {
                assert!(!tokens.starts_with("0 tokens"), "{c:?}");
                assert!(accuracy.contains('%'), "{c:?}");
            }
            assert!(
                cost.starts_with("not known (no price for fake-model)"),
                "{c:?}"
            );
            if status == "InProgress" && done > 0 {
                seen_running = true;
                snap(&b, "04-running").await;
            }
            if status == "Completed" {
                break;
            }
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(90),
            "the run did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    assert!(seen_running, "the page showed the run while it went");
    let done = counters(&b).await.expect("the counters");
    assert_eq!(done[1], "16 / 16 tasks (2 failed)", "{done:?}");
    assert!(done[2].starts_with("2 · "), "{done:?}");
    let summary = b.text("#run-progress").await;
    assert!(
        summary.contains("Cost not known (no price for fake-model)") && !summary.contains("null"),
        "{summary}"
    );
    snap(&b, "05-run").await;

    // Back to the version: the form says what a run on the same tasks replaces.
    b.open(&version_page).await;
    b.select("#run-subset", "HasGT").await;
    let shown = visible_replaces(&b).await;
    assert!(shown.contains("Nothing is replaced"), "{shown}");
    b.select("#run-subset", "All").await;
    let run_id = first_run.rsplit('/').next().unwrap_or_default().to_string();
    let shown = visible_replaces(&b).await;
    assert!(
        shown.contains(&format!("run #{run_id}")) && shown.contains("replaced"),
        "{shown}"
    );
    snap(&b, "06-rerun").await;
    b.click("#start-run").await;
    let second_run = b
        .wait_url(|u| u.contains("/runs/") && *u != first_run)
        .await;
    // The first run's page says it was replaced and leads to the new run.
    b.open(&first_run).await;
    let title = b.text("h1").await;
    assert!(title.contains("was replaced"), "{title}");
    snap(&b, "07-replaced").await;
    b.click("#replacing-run").await;
    b.wait_url(|u| u == second_run).await;

    // The Custom connection deleted: its version offers no Run, says why and where to go.
    b.open(&url("/connections")).await;
    b.run("window.confirm = () => true; return true;").await;
    b.click(&format!("#connection-{custom} button.danger"))
        .await;
    b.wait_text("#connections", |t| !t.contains("Custom")).await;
    b.open(&version_page).await;
    let why = b.text("#no-run").await;
    assert!(why.contains("connection was deleted"), "{why}");
    assert!(!b.has("#start-run").await);
    snap(&b, "08-no-connection-to-run").await;
    b.click("#no-run a").await;
    b.wait_url(|u| u.ends_with("/connections")).await;
}

/// The replacement notes of the run form that show for the project and tasks chosen.
async fn visible_replaces(b: &Browser) -> String {
    b.run(
        "return [...document.querySelectorAll('#run-replaces li')].filter((li) => !li.hidden)
           .map((li) => li.textContent).join(' | ');",
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
}
