//! A run says how it is going and why (issue 12, items 4 and 5): its last error and retry
//! state while in progress, a cost that is null (with a note) for a model without a price,
//! systemic failures that fail the run early, invalid drill-down filters, and the CLI's
//! Ctrl-C and `--no-follow`.
use crate::helpers::engine::{engine_app, fake, finished, quick_engine, setup, start, version};
use crate::helpers::fixtures::runs_path;
use crate::helpers::reply::read;
use crate::helpers::{CLS, Reply, TestApp, field_errors};
use entity::enums::{FailureKind, RunStatus};
use prompter::fake_llm::FakeLlmConfig;
use prompter::views::evaluation::{IndicatorView, SubsetTasksView};
use prompter::views::model_providers::ModelProviderConnectionView;
use prompter::views::runs::{CancelView, RunView};
use prompter::views::versions::VersionView;
use serde_json::json;
use std::time::Duration;

/// The runs of a version, as the run list shows them.
async fn runs_of(app: &TestApp, prompt: i64, version: i64) -> Vec<RunView> {
    app.get(&runs_path(prompt, version)).await.good()
}

/// The run `run` as the run list shows it.
async fn listed(app: &TestApp, prompt: i64, version: i64, run: i64) -> RunView {
    let runs = runs_of(app, prompt, version).await;
    let ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
    runs.into_iter()
        .find(|r| r.id == run)
        .unwrap_or_else(|| panic!("run {run} not listed: {ids:?}"))
}

#[tokio::test]
async fn a_model_without_a_price_costs_null_with_a_note_not_zero() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let s = setup(&app, &llm, CLS, &["I love it", "awful"], "Text: {text}").await;
    let v: VersionView = app
        .post(
            &format!("/api/prompts/{}/versions", s.prompt),
            json!({"title": "local", "prompt": "Text: {text}", "provider": "Custom",
                   "provider_model_id": "my-local-llama", "model_provider_connection": s.connection}),
        )
        .await
        .created();
    let mut s = s;
    s.version = v.id;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state: RunView = read(finished(&app, &s, run).await);
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");
    assert!(state.total_cost_usd.is_none(), "{state:?}");
    assert!(state.prompt_tokens > 0, "{state:?}");
    let notes = state.notes.join("\n");
    assert!(
        notes.contains("No price is known for model") && notes.contains("my-local-llama"),
        "{state:?}"
    );
    let cost: IndicatorView = app
        .get(&format!("/api/inference-runs/{run}/indicators/cost"))
        .await
        .good();
    // An indicator's values are untyped JSON, one shape per indicator.
    assert!(cost.values["total_cost_usd"].is_null(), "{cost:?}");
    // A priced model's run has a number.
    let v1: Vec<VersionView> = app
        .get(&format!("/api/prompts/{}/versions", s.prompt))
        .await
        .good();
    let priced = v1
        .iter()
        .find(|v| v.provider_model_id == "gpt-4o-mini")
        .map(|v| v.id)
        .expect("the gpt-4o-mini version");
    s.version = priced;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state: RunView = read(finished(&app, &s, run).await);
    assert!(state.total_cost_usd.is_some_and(|c| c > 0.0), "{state:?}");
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
    let last_error = state.last_error.as_ref().expect("a last error");
    assert_eq!(
        last_error.error_type,
        Some(FailureKind::MissingField),
        "{state:?}"
    );
    assert!(
        last_error
            .message
            .as_deref()
            .is_some_and(|m| m.contains("source")),
        "{state:?}"
    );
    assert!(state.retry_state.is_none(), "{state:?}");
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
    let mut seen = listed(&app, s.prompt, s.version, run).await;
    for _ in 0..100 {
        if seen.retry_state.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = listed(&app, s.prompt, s.version, run).await;
    }
    let retry = seen.retry_state.as_ref().expect("a retry state");
    assert_eq!(seen.status, RunStatus::InProgress, "{seen:?}");
    assert!(retry.waiting >= 1, "{seen:?}");
    assert!(retry.retried >= 1, "{seen:?}");
    assert_eq!(
        retry.last_error_type,
        FailureKind::ProviderError,
        "{seen:?}"
    );
    let _: CancelView = app
        .post(
            &format!("{}/{run}/cancel", runs_path(s.prompt, s.version)),
            json!({}),
        )
        .await
        .good();
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_the_run_early_and_says_why() {
    let app = engine_app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let texts: Vec<String> = (0..40).map(|i| format!("review {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut s = setup(&app, &llm, CLS, &refs, "Text: {text}").await;
    // Port 1 on loopback: connection refused, every time.
    let c: ModelProviderConnectionView = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "Custom", "endpoint": "http://127.0.0.1:1/v1", "api_key": "k"}),
        )
        .await
        .created();
    s.version = version(&app, s.prompt, c.id, "dead", "Text: {text}").await;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state: RunView = read(finished(&app, &s, run).await);
    assert_eq!(state.status, RunStatus::Failed, "{state:?}");
    let reason = state.error_message.as_deref().unwrap_or_default();
    assert!(
        reason.contains("127.0.0.1:1") || reason.to_lowercase().contains("connect"),
        "{reason}"
    );
    // Failed after the first few tasks, not after grinding through all 40.
    assert!(state.total_failed_predictions < 40, "{state:?}");
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
        let error = app.get(&format!("{base}&{query}")).await.bad();
        assert_eq!(error.status_code, 400, "{query}: {error:?}");
        assert!(
            !field_errors(&error, field).is_empty(),
            "{query}: {error:?}"
        );
    }
    let _: SubsetTasksView = app
        .get(&format!("{base}&ordering=-id&alignment_outcome=all"))
        .await
        .good();
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
    let mut run = None;
    for _ in 0..200 {
        let runs = runs_of(&app, s.prompt, s.version).await;
        if let Some(r) = runs.into_iter().next()
            && r.status == RunStatus::InProgress
        {
            run = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        run.as_ref().map(|r| r.status),
        Some(RunStatus::InProgress),
        "{run:?}"
    );
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
    let runs = runs_of(&app, s.prompt, s.version).await;
    assert_eq!(
        runs.first().map(|r| r.status),
        Some(RunStatus::Canceled),
        "{runs:?} {stdout} {stderr}"
    );

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
    assert!(state.status.is_active(), "{state:?}");
}
