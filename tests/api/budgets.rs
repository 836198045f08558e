//! Budgets that act (issue 10, item 5): a run stops before its connection's spending would
//! cross `budget_limit`, keeping what it had; crossing `budget_alert_threshold` is recorded once
//! per period; model parameters of versions and connections are stored and shown.
use crate::helpers::engine::{Setup, engine_app, fake, finished, setup, start};
use crate::helpers::receiver::{Answer, Receiver};
use crate::helpers::reply::read;
use crate::helpers::{CLS, Reply, TestApp, field_errors};
use entity::enums::RunStatus;
use prompter::fake_llm::FakeLlmConfig;
use prompter::llm::ModelParams;
use prompter::views::model_providers::ModelProviderConnectionView;
use prompter::views::runs::RunView;
use prompter::views::versions::VersionView;
use serde_json::json;

/// Twenty short texts.
fn texts() -> Vec<String> {
    (0..20).map(|i| format!("I love it, number {i}")).collect()
}

async fn connection(app: &TestApp, s: &Setup) -> ModelProviderConnectionView {
    app.get(&format!(
        "/api/model-provider-connections/{}/",
        s.connection
    ))
    .await
    .good()
}

/// The run `run` once the engine is idle, as the run list shows it.
async fn finished_run(app: &TestApp, s: &Setup, run: i64) -> RunView {
    read(finished(app, s, run).await)
}

#[tokio::test]
async fn a_run_stops_before_crossing_the_budget_limit_and_keeps_what_it_spent() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let texts = texts();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let s = setup(&app, &llm, CLS, &texts, "Classify: {text}").await;
    let body: ModelProviderConnectionView = app
        .patch(
            &format!("/api/model-provider-connections/{}/", s.connection),
            json!({"budget_limit": 0.0002, "budget_alert_threshold": 0.00005,
                   "budget_reset_period": "Monthly"}),
        )
        .await
        .good();
    assert_eq!(body.budget_limit, Some(0.0002));
    assert_eq!(body.budget_alerted_at, None);
    let receiver = Receiver::start(|_, _| Answer::Status(200)).await;
    let hook = crate::webhooks::endpoint(
        &app,
        &receiver.url,
        json!([
            "budget.alert",
            "budget.exceeded",
            "run.failed",
            "run.completed"
        ]),
    )
    .await;

    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished_run(&app, &s, run).await;
    assert_eq!(state.status, RunStatus::Failed, "{state:?}");
    let message = state.error_message.as_deref().unwrap_or_default();
    assert!(message.contains("budget limit"), "{message}");
    let predictions = state.total_predictions;
    assert!(
        predictions > 0 && predictions < 20,
        "some tasks ran, then the run stopped: {state:?}"
    );
    let c = connection(&app, &s).await;
    let spent = c.budget_total_spent;
    assert!(
        spent > 0.0 && spent <= 0.0002,
        "spent {spent} stays within the limit"
    );
    assert!((spent - state.total_cost_usd.unwrap_or(0.0)).abs() < 1e-9);
    let alerted = c.budget_alerted_at.expect("the alert is recorded");
    assert!(c.budget_last_reset_date.is_some(), "{c:?}");

    // The next run on the spent connection stops at once; the alert is not recorded again.
    let again = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished_run(&app, &s, again).await;
    assert_eq!(state.status, RunStatus::Failed, "{state:?}");
    let c = connection(&app, &s).await;
    assert_eq!(c.budget_alerted_at, Some(alerted), "once per period");

    // Raising the limit lets runs go on.
    app.patch(
        &format!("/api/model-provider-connections/{}/", s.connection),
        json!({"budget_limit": null}),
    )
    .await;
    // Workers read budgets at most every REFRESH; the hook makes them read it now rather
    // than the test wait.
    app.expire_budget_reads();
    let more = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished_run(&app, &s, more).await;
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");

    // Webhooks: the alert once, the refusal once in the period though two runs met it, each
    // run's end once.
    let deliveries = crate::webhooks::settled_deliveries(&app, hook, 5).await;
    let mut events: Vec<&str> = deliveries
        .iter()
        .filter_map(|d| d["event"].as_str())
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            "budget.alert",
            "budget.exceeded",
            "run.completed",
            "run.failed",
            "run.failed"
        ],
        "{deliveries:?}"
    );
    let exceeded = deliveries
        .iter()
        .find(|d| d["event"] == "budget.exceeded")
        .expect("budget.exceeded");
    assert_eq!(
        exceeded["payload"]["data"]["connection"]["id"],
        s.connection
    );
    assert_eq!(exceeded["payload"]["data"]["limit_usd"], 0.0002);
    // Deliveries are at least once with a stable id (a worker whose lease lapsed under load
    // sends again with the same `Prompter-Delivery`): the receiver saw exactly these five.
    let mut seen: Vec<String> = receiver
        .seen()
        .iter()
        .map(|s| s.header("prompter-delivery").to_string())
        .collect();
    seen.sort();
    seen.dedup();
    let mut ids: Vec<String> = deliveries
        .iter()
        .filter_map(|d| d["delivery_id"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    assert_eq!(seen, ids, "{deliveries:?}");
}

#[tokio::test]
async fn budget_and_parameter_fields_are_checked() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        (json!({"budget_limit": -1}), "budget_limit"),
        (
            json!({"budget_reset_period": "Weekly"}),
            "budget_reset_period",
        ),
        (
            json!({"model_params": {"temperature": 9}}),
            "model_params.temperature",
        ),
        (
            json!({"model_params": {"tempreature": 1}}),
            "model_params.tempreature",
        ),
    ] {
        let err = app
            .post("/api/model-provider-connections/", body)
            .await
            .bad();
        assert_eq!(err.status_code, 400, "{err:?}");
        assert!(!field_errors(&err, field).is_empty(), "{field}: {err:?}");
    }
    let params = json!({"temperature": 0.3, "extra": {"service_tier": "flex"}});
    let c: ModelProviderConnectionView = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "Custom", "endpoint": "http://127.0.0.1:9/v1",
                   "model_params": params}),
        )
        .await
        .created();
    // Typed parameters refuse unknown keys, so equality is the exact object.
    assert_eq!(c.model_params, read::<ModelParams>(params));
}

#[tokio::test]
async fn versions_store_and_show_their_model_parameters() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let s = setup(&app, &llm, CLS, &["I love it"], "Classify: {text}").await;
    let path = format!("/api/prompts/{}/versions/{}", s.prompt, s.version);
    // `model_params` reads as the exact object: `ModelParams` refuses unknown keys, and its
    // default is `{}`.
    let version: VersionView = app.get(&path).await.good();
    assert_eq!(version.model_params, ModelParams::default());
    let params = json!({"temperature": 0.5, "max_tokens": 300, "seed": 7,
                        "reasoning_effort": "low", "extra": {"user": "prompter"}});
    let version: VersionView = app
        .patch(&path, json!({"model_params": params}))
        .await
        .good();
    assert_eq!(version.model_params, read::<ModelParams>(params));
    let err = app
        .patch(&path, json!({"model_params": {"top_p": 2}}))
        .await
        .bad();
    assert_eq!(err.status_code, 400, "{err:?}");
    assert!(
        !field_errors(&err, "model_params.top_p").is_empty(),
        "{err:?}"
    );
    let version: VersionView = app.patch(&path, json!({"model_params": null})).await.good();
    assert_eq!(version.model_params, ModelParams::default());
    // A run with parameters still completes.
    app.patch(&path, json!({"model_params": {"max_tokens": 200}}))
        .await;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished_run(&app, &s, run).await;
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");
    assert_eq!(state.notes, Vec::<String>::new());
}
