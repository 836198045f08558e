//! The response cache (issue 24, item 2) over real runs and the fake LLM: a second run of the
//! same version over the same tasks is answered from the cache (cost 0, counted apart, no
//! provider call); `cache: false` opts a run out; samples drawn to measure agreement are never
//! cached; the cache is per organization, expires, and an Administrator clears it.
use crate::helpers::engine::{Setup, engine_app, fake, finished, setup, start};
use crate::helpers::fixtures::ground_truth;
use crate::helpers::{CLS, Reply, TestApp, choice};
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use serde_json::{Value, json};

const TEXTS: [&str; 6] = [
    "I love it",
    "Awful service",
    "Great value",
    "Bad fit",
    "Amazing colours",
    "Terrible box",
];

async fn seeded(app: &TestApp, llm: &FakeLlm) -> Setup {
    let s = setup(
        app,
        llm,
        CLS,
        &TEXTS,
        "Classify the sentiment. Text: {text}",
    )
    .await;
    for (task, label) in s.tasks.iter().zip([
        "Positive", "Negative", "Positive", "Negative", "Positive", "Negative",
    ]) {
        ground_truth(app, *task, choice(label)).await;
    }
    s
}

/// Runs `s`'s version over its ground-truth tasks and waits for the end.
async fn run(app: &TestApp, s: &Setup, extra: Value) -> Value {
    let mut body = json!({"project_subset": "HasGT"});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let id = start(app, s, body).await;
    let state = finished(app, s, id).await;
    assert_eq!(state["status"], "Completed", "{state}");
    state
}

#[actix_web::test]
async fn a_second_run_is_answered_from_the_cache_at_no_cost() {
    let app = engine_app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = seeded(&app, &llm).await;
    let first = run(&app, &s, json!({})).await;
    assert_eq!(llm.stats().requests, 6);
    assert_eq!(first["total_cached_predictions"], 0);
    assert!(
        first["total_cost_usd"].as_f64().unwrap_or(0.0) > 0.0,
        "{first}"
    );
    assert_eq!(first["cache"], true);

    // The same version over the same tasks (it replaces the first run): no call, no cost.
    let second = run(&app, &s, json!({})).await;
    assert_eq!(llm.stats().requests, 6, "no provider call");
    assert_eq!(second["total_predictions"], 6);
    assert_eq!(second["total_cached_predictions"], 6);
    assert_eq!(second["total_cost_usd"], 0.0);
    assert_eq!(
        second["total_correct_predictions"],
        first["total_correct_predictions"]
    );
    let (status, cost) = app
        .get(&format!(
            "/api/inference-runs/{}/indicators/cost",
            second["id"].as_i64().unwrap_or_default()
        ))
        .await;
    assert_eq!(status, 200, "{cost}");
    assert_eq!(cost["values"]["cached_predictions"], 6);
    assert_eq!(cost["values"]["cost_per_correct_label"], 0.0);
    let stats: Value = app.get("/api/llm-cache").await.good();
    assert_eq!(stats["entries"], 6);
    assert_eq!(stats["hits"], 6);
    assert_eq!(stats["ttl_seconds"], 7 * 86_400);

    // Opted out: every task is asked again, and paid.
    let fresh = run(&app, &s, json!({"cache": false})).await;
    assert_eq!(llm.stats().requests, 12);
    assert_eq!(fresh["cache"], false);
    assert_eq!(fresh["total_cached_predictions"], 0);
    assert!(fresh["total_cost_usd"].as_f64().unwrap_or(0.0) > 0.0);

    // Another organization sees none of it.
    let (status, theirs) = app
        .send(
            reqwest::Method::GET,
            "/api/llm-cache",
            Some(&app.other_token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(theirs["entries"], 0);

    // Answers older than the cache's time are not used.
    use sea_orm::ConnectionTrait;
    let old = (chrono::Utc::now() - chrono::Duration::days(8)).to_rfc3339();
    app.db
        .execute_unprepared(&format!("UPDATE llm_cache SET created_at = '{old}'"))
        .await
        .expect("age the cache");
    run(&app, &s, json!({})).await;
    assert_eq!(llm.stats().requests, 18, "expired answers are asked again");

    // Only an Owner or Administrator clears it; then the next run asks again.
    let (status, _) = app
        .send(
            reqwest::Method::DELETE,
            "/api/llm-cache",
            Some(&app.annotator_token),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, cleared) = app.delete("/api/llm-cache").await;
    assert_eq!(status, 200, "{cleared}");
    assert_eq!(cleared["deleted"], 6);
    run(&app, &s, json!({})).await;
    assert_eq!(llm.stats().requests, 24);
}

#[actix_web::test]
async fn samples_drawn_for_agreement_are_never_cached() {
    let app = engine_app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = seeded(&app, &llm).await;
    let (status, body) = app
        .post(
            &format!("/api/prompts/{}/versions", s.prompt),
            json!({"title": "sampled", "prompt": "Classify the sentiment. Text: {text}",
                   "provider_model_id": "gpt-4o-mini", "provider": "Custom",
                   "model_provider_connection": s.connection, "samples": 3}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let sampled = Setup {
        version: body["id"].as_i64().unwrap_or_default(),
        ..s
    };
    // Counted as calls the fake received: a call retried after a timeout (the test engine
    // gives calls 1 s, which a loaded machine can exceed) counts twice, so at least.
    run(&app, &sampled, json!({})).await;
    let first = llm.stats().requests;
    assert!(first >= 18, "{first}");
    let again = run(&app, &sampled, json!({})).await;
    let second = llm.stats().requests - first;
    assert!(second >= 18, "independent draws every time: {second}");
    assert_eq!(again["total_cached_predictions"], 0);
    let stats: Value = app.get("/api/llm-cache").await.good();
    assert_eq!(stats["entries"], 0);
}

#[tokio::test]
async fn people_see_the_cache_ask_afresh_from_the_run_form_and_clear_it() {
    use crate::helpers::web::{WebClient, set_password};
    let app = engine_app().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = seeded(&app, &llm).await;
    run(&app, &s, json!({})).await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    // The connections page says what the cache holds.
    let page = web.get("/connections").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("6 answers kept (at most 100,000), 0 calls answered from them"),
        "{}",
        page.body
    );
    // A run from the form with the box checked asks the model for every task.
    let form = web
        .post(
            &format!("/prompts/{}/versions/{}/runs", s.prompt, s.version),
            &[
                ("project", &s.project.to_string()),
                ("subset", "HasGT"),
                ("fresh", "1"),
            ],
        )
        .await;
    assert!(form.status == 303 || form.status == 302, "{}", form.status);
    app.engine_idle().await;
    assert_eq!(llm.stats().requests, 12, "asked afresh");
    // Without it, the next run is answered from the cache; its page says so.
    let form = web
        .post(
            &format!("/prompts/{}/versions/{}/runs", s.prompt, s.version),
            &[("project", &s.project.to_string()), ("subset", "HasGT")],
        )
        .await;
    let run_page = form.location.expect("the run's page");
    app.engine_idle().await;
    assert_eq!(llm.stats().requests, 12, "from the cache");
    let page = web.get(&run_page).await;
    assert!(
        page.body
            .contains("6 answered from the response cache, free"),
        "{}",
        page.body
    );
    // An Administrator clears it from the page.
    let cleared = web.post("/connections/cache/clear", &[]).await;
    assert_eq!(cleared.status, 200);
    assert!(
        cleared.body.contains("Cleared 6 answers"),
        "{}",
        cleared.body
    );
    assert!(cleared.body.contains("0 answers kept"), "{}", cleared.body);
}
