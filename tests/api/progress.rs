//! A run says how it is going and why (issue 12, items 4 and 5): its last error and retry
//! state while in progress, a cost that is null (with a note) for a model without a price,
//! systemic failures that fail the run early, invalid drill-down filters, and the CLI's
//! Ctrl-C and `--no-follow`.
use crate::helpers::engine::{engine_app, fake, finished, quick_engine, setup, start, version};
use crate::helpers::fixtures::{id_of, runs_path};
use crate::helpers::{CLS, TestApp};
use prompter::fake_llm::FakeLlmConfig;
use serde_json::{Value, json};
use std::time::Duration;

/// The run `run` as the run list shows it.
async fn listed(app: &TestApp, prompt: i64, version: i64, run: i64) -> Value {
    let (status, runs) = app.get(&runs_path(prompt, version)).await;
    assert_eq!(status, 200, "{runs}");
    runs.as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == run)
        .cloned()
        .unwrap_or_else(|| panic!("run {run} not listed: {runs}"))
}

#[tokio::test]
async fn a_model_without_a_price_costs_null_with_a_note_not_zero() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let s = setup(&app, &llm, CLS, &["I love it", "awful"], "Text: {text}").await;
    let (status, v) = app
        .post(
            &format!("/api/prompts/{}/versions", s.prompt),
            json!({"title": "local", "prompt": "Text: {text}", "provider": "Custom",
                   "provider_model_id": "my-local-llama", "model_provider_connection": s.connection}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let mut s = s;
    s.version = id_of(&v);
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished(&app, &s, run).await;
    assert_eq!(state["status"], "Completed", "{state}");
    assert!(state["total_cost_usd"].is_null(), "{state}");
    assert!(state["prompt_tokens"].as_i64().unwrap_or(0) > 0, "{state}");
    let notes = state["notes"].to_string();
    assert!(
        notes.contains("No price is known for model") && notes.contains("my-local-llama"),
        "{state}"
    );
    let (status, cost) = app
        .get(&format!("/api/inference-runs/{run}/indicators/cost"))
        .await;
    assert_eq!(status, 200, "{cost}");
    assert!(cost["values"]["total_cost_usd"].is_null(), "{cost}");
    // A priced model's run has a number.
    let (_, v1) = app
        .get(&format!("/api/prompts/{}/versions", s.prompt))
        .await;
    let priced = v1
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["provider_model_id"] == "gpt-4o-mini")
        .map(id_of)
        .expect("the gpt-4o-mini version");
    s.version = priced;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished(&app, &s, run).await;
    assert!(
        state["total_cost_usd"].as_f64().is_some_and(|c| c > 0.0),
        "{state}"
    );
}

#[tokio::test]
async fn a_run_shows_its_last_error() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let mut s = setup(&app, &llm, CLS, &["I love it"], "Text: {text}").await;
    app.import(s.project, json!([{"text": "so so", "source": "mail"}]))
        .await;
    s.version = version(&app, s.prompt, s.connection, "v2", "{text} ({source})").await;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    finished(&app, &s, run).await;
    let state = listed(&app, s.prompt, s.version, run).await;
    assert_eq!(state["last_error"]["error_type"], "MissingField", "{state}");
    assert!(
        state["last_error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("source")),
        "{state}"
    );
    assert!(state["retry_state"].is_null(), "{state}");
}

#[tokio::test]
async fn an_active_run_shows_what_it_is_retrying() {
    // Every call fails with a 500; retries wait 3 s, long enough to be seen.
    let llm = fake(FakeLlmConfig {
        error_rate: 1.0,
        ..FakeLlmConfig::default()
    })
    .await;
    let app = TestApp::spawn_with(|c| {
        quick_engine(c);
        c.engine.llm_backoff_ms = 3_000;
        c.engine.llm_max_attempts = 5;
    })
    .await;
    let s = setup(&app, &llm, CLS, &["I love it"], "Text: {text}").await;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = listed(&app, s.prompt, s.version, run).await;
        if !seen["retry_state"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let retry = &seen["retry_state"];
    assert_eq!(seen["status"], "InProgress", "{seen}");
    assert!(retry["waiting"].as_u64().is_some_and(|n| n >= 1), "{seen}");
    assert!(retry["retried"].as_u64().is_some_and(|n| n >= 1), "{seen}");
    assert_eq!(retry["last_error_type"], "ProviderError", "{seen}");
    let (status, _) = app
        .post(
            &format!("{}/{run}/cancel", runs_path(s.prompt, s.version)),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_the_run_early_and_says_why() {
    let app = engine_app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let texts: Vec<String> = (0..40).map(|i| format!("review {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut s = setup(&app, &llm, CLS, &refs, "Text: {text}").await;
    // Port 1 on loopback: connection refused, every time.
    let (status, c) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "Custom", "endpoint": "http://127.0.0.1:1/v1", "api_key": "k"}),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    s.version = version(&app, s.prompt, id_of(&c), "dead", "Text: {text}").await;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished(&app, &s, run).await;
    assert_eq!(state["status"], "Failed", "{state}");
    let reason = state["error_message"].as_str().unwrap_or_default();
    assert!(
        reason.contains("127.0.0.1:1") || reason.to_lowercase().contains("connect"),
        "{reason}"
    );
    // Failed after the first few tasks, not after grinding through all 40.
    let failed = state["total_failed_predictions"].as_i64().unwrap_or(0);
    assert!(failed < 40, "{state}");
}

#[tokio::test]
async fn invalid_drill_down_filters_are_400s_naming_the_field() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let s = setup(&app, &llm, CLS, &["I love it"], "Text: {text}").await;
    let base = format!(
        "/api/projects/{}/subset-tasks?parent_model={}",
        s.project, s.prompt
    );
    for (query, field) in [
        ("ordering=sideways", "ordering"),
        (
            "alignment_class=Positive&alignment_outcome=maybe",
            "alignment_outcome",
        ),
        (
            "output_class=Positive&output_from_name=nope",
            "output_from_name",
        ),
        (
            "alignment_class=Positive&alignment_from_name=nope",
            "alignment_from_name",
        ),
        ("include_total=perhaps", "include_total"),
        ("project_subset=Most", "project_subset"),
    ] {
        let (status, body) = app.get(&format!("{base}&{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["validation_errors"][field].is_array(),
            "{query}: {body}"
        );
    }
    let (status, body) = app
        .get(&format!("{base}&ordering=-id&alignment_outcome=all"))
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Runs `prompter run` for the setup's version in the background; returns the child.
fn prompter_run(
    app: &TestApp,
    s: &crate::helpers::engine::Setup,
    extra: &[&str],
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_prompter"))
        .args(["run", "--url", &app.address, "--subset", "All"])
        .args(["--prompt", &s.prompt.to_string()])
        .args(["--version", &s.version.to_string()])
        .args(["--project", &s.project.to_string()])
        .args(extra)
        .env("PROMPTER_TOKEN", &app.token)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start prompter run")
}

#[tokio::test]
async fn ctrl_c_cancels_the_run_and_no_follow_exits_at_once() {
    // Calls take 30 s: the run is still in progress when Ctrl-C arrives.
    let llm = fake(FakeLlmConfig {
        latency_ms: 30_000,
        ..FakeLlmConfig::default()
    })
    .await;
    let app = TestApp::spawn_with(|c| {
        quick_engine(c);
        c.engine.llm_timeout_secs = 60.0;
    })
    .await;
    let s = setup(&app, &llm, CLS, &["I love it", "awful"], "Text: {text}").await;
    let child = prompter_run(&app, &s, &[]);
    // Wait until the run exists and is in progress, then send SIGINT.
    let mut run = Value::Null;
    for _ in 0..200 {
        let (_, runs) = app.get(&runs_path(s.prompt, s.version)).await;
        if let Some(r) = runs.as_array().and_then(|r| r.first())
            && r["status"] == "InProgress"
        {
            run = r.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(run["status"], "InProgress", "{run}");
    let pid = child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout} {stderr}");
    let (_, runs) = app.get(&runs_path(s.prompt, s.version)).await;
    assert_eq!(runs[0]["status"], "Canceled", "{runs} {stdout} {stderr}");

    // --no-follow: the run id on stdout, exit 0, the run goes on.
    let child = prompter_run(&app, &s, &["--no-follow"]);
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let id: i64 = stdout
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no run id in {stdout:?}"));
    let state = listed(&app, s.prompt, s.version, id).await;
    assert!(
        matches!(state["status"].as_str(), Some("Pending" | "InProgress")),
        "{state}"
    );
}
