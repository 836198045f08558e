//! Prompt optimization over real HTTP, the real job queue and the fake LLM's hidden rules: a
//! project whose complaints are answered right only when the prompt states the rule
//! (`[[rule:refund]]`) and whose neutral texts only with a worked example of Neutral
//! (`[[example:Neutral]]`). A weak prompt is optimized into a version that is significantly
//! better on the held-out tasks; a prompt that is already right promotes nothing; a budget
//! stops the search; a killed worker's optimization resumes and ends the same way.
use crate::helpers::engine::{Setup, fake, setup, worker_command};
use crate::helpers::fixtures::ground_truth;
use crate::helpers::{Reply, TestApp, choice};
use crate::jobs::wait_job;
use entity::enums::{CandidateOrigin, JobStatus, OptimizationStatus};
use prompter::fake_llm::FakeLlmConfig;
use prompter::views::optimizations::{OptimizationEstimate, OptimizationView, Outcome};
use prompter::views::versions::VersionView;
use serde_json::{Value, json};
use std::time::Duration;

/// Sentiment with four classes.
const CONFIG: &str = r#"<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/><Choice value="Complaint"/><Choice value="Neutral"/></Choices></View>"#;

/// The weak prompt: it states neither rule.
pub(crate) const WEAK: &str = "Classify the sentiment of the review. Text: {text}";

/// 30 positive, 20 negative (the fake gets both right), 20 complaints that read positive
/// (right only with the rule stated) and 10 neutral (right only with a Neutral example).
fn texts() -> Vec<(String, &'static str)> {
    let mut out = vec![];
    for i in 0..30 {
        out.push((format!("I love this, great product {i}"), "Positive"));
    }
    for i in 0..20 {
        out.push((
            format!("Awful experience, terrible service {i}"),
            "Negative",
        ));
    }
    for i in 0..20 {
        out.push((
            format!("Great shop but refund my order {i} [[rule:refund]]"),
            "Complaint",
        ));
    }
    for i in 0..10 {
        out.push((
            format!("It arrived on day {i} [[example:Neutral]]"),
            "Neutral",
        ));
    }
    out
}

/// The project with ground truth on every task, and version v1 with `prompt`.
pub(crate) async fn seeded(
    app: &TestApp,
    llm: &prompter::fake_llm::FakeLlm,
    prompt: &str,
) -> Setup {
    let all = texts();
    let refs: Vec<&str> = all.iter().map(|(t, _)| t.as_str()).collect();
    let s = setup(app, llm, CONFIG, &refs, prompt).await;
    for (task, (_, label)) in s.tasks.iter().zip(&all) {
        ground_truth(app, *task, choice(label)).await;
    }
    s
}

fn path(s: &Setup) -> String {
    format!(
        "/api/prompts/{}/versions/{}/optimizations",
        s.prompt, s.version
    )
}

fn request(s: &Setup, extra: Value) -> Value {
    let mut body = json!({"project_id": s.project, "teacher_model_name": "gpt-4o",
                          "teacher_model_provider_connection_id": s.connection});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    body
}

pub(crate) async fn start(app: &TestApp, s: &Setup, extra: Value) -> OptimizationView {
    let (status, body) = app.post(&path(s), request(s, extra)).await;
    assert_eq!(status, 201, "{body}");
    serde_json::from_value(body).expect("optimization view")
}

/// Polls the optimization until it ends.
pub(crate) async fn ended(app: &TestApp, s: &Setup, id: i64) -> OptimizationView {
    for _ in 0..1200 {
        let view: OptimizationView = app
            .get(&format!("/api/prompts/{}/optimizations/{id}", s.prompt))
            .await
            .good();
        if !view.status.is_open() {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("optimization {id} did not end");
}

/// What the README's figures are printed from.
fn report(label: &str, v: &OptimizationView) {
    let r = v.result.as_ref();
    let test = r.and_then(|r| r.tests.first());
    eprintln!(
        "{label}: {:?}; calls {} (estimate {}), cost ${:.4} (estimate {:?}, single rewrite {:?}); \
         train {} / held-out {}; candidates {}; parent held-out {:?}, best {:?}, p {:?}; {}",
        r.map(|r| r.outcome),
        v.calls,
        v.estimate.calls,
        v.cost,
        v.estimate.cost,
        v.estimate.single_rewrite_cost,
        v.train_tasks,
        v.held_out_tasks,
        v.candidates.len(),
        test.map(|t| t.parent_accuracy),
        test.map(|t| t.accuracy),
        test.map(|t| t.p_value),
        r.map(|r| r.message.as_str()).unwrap_or(""),
    );
    for c in &v.candidates {
        eprintln!(
            "  #{} round {} {:?} {:?}: train {:?} of {}, held-out {:?} of {}, ${:.5}, front {}",
            c.seq,
            c.round,
            c.origin,
            c.status,
            c.train.accuracy,
            c.train.scored,
            c.held_out.accuracy,
            c.held_out.scored,
            c.cost,
            c.on_front
        );
    }
}

#[actix_web::test]
async fn a_weak_prompt_is_optimized_into_a_significantly_better_version() {
    let app = TestApp::spawn().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = seeded(&app, &llm, WEAK).await;
    // The estimate first, without starting anything.
    let estimate: OptimizationEstimate = app
        .post(&format!("{}/estimate", path(&s)), request(&s, json!({})))
        .await
        .good();
    assert_eq!(estimate.tasks, 80);
    assert_eq!((estimate.train_tasks, estimate.held_out_tasks), (48, 32));
    assert!(
        estimate.calls > 0 && estimate.cost.is_some(),
        "{estimate:?}"
    );
    assert!(estimate.cost > estimate.single_rewrite_cost);
    assert_eq!(llm.stats().requests, 0, "an estimate calls no model");

    let started = start(&app, &s, json!({"max_cost": 5.0})).await;
    assert_eq!(started.estimate, estimate);
    let v = ended(&app, &s, started.id).await;
    report("optimization", &v);
    assert_eq!(
        v.status,
        OptimizationStatus::Completed,
        "{:?}",
        v.error_message
    );
    let result = v.result.clone().expect("result");
    assert_eq!(result.outcome, Outcome::Promoted, "{}", result.message);
    // The split is stored, stratified and disjoint.
    assert_eq!((v.train_tasks, v.held_out_tasks), (48, 32));
    // The parent is candidate 0; proposals came from rewrites and few-shot sets.
    assert_eq!(v.candidates[0].origin, CandidateOrigin::Parent);
    assert!(
        v.candidates
            .iter()
            .any(|c| c.origin == CandidateOrigin::Rewrite)
    );
    assert!(
        v.candidates
            .iter()
            .any(|c| c.origin == CandidateOrigin::FewShot)
    );
    let winner = v
        .candidates
        .iter()
        .find(|c| Some(c.id) == result.winner_candidate_id)
        .expect("winner");
    assert!(
        winner.prompt.contains("Texts about refund are Complaint."),
        "{}",
        winner.prompt
    );
    assert!(winner.prompt.contains("Answer:"), "{}", winner.prompt);
    let test = result
        .tests
        .iter()
        .find(|t| t.candidate_id == winner.id)
        .expect("its test");
    assert_eq!(test.tasks, 32);
    assert!(test.accuracy > test.parent_accuracy + 0.2, "{test:?}");
    assert!(test.p_value < result.alpha_per_test, "{test:?}");
    assert!(v.cost <= 5.0 && v.calls as i64 <= v.estimate.calls, "{v:?}");
    assert!(!v.pareto_front.is_empty());
    // The new version holds the winner's prompt, beside the unchanged v1.
    let new_id = v.new_version_id.expect("new version");
    let version: VersionView = app
        .get(&format!("/api/prompts/{}/versions/{new_id}", s.prompt))
        .await
        .good();
    assert_eq!(version.prompt, winner.prompt);
    assert!(version.title.contains("optimized"), "{}", version.title);
    let v1: VersionView = app
        .get(&format!("/api/prompts/{}/versions/{}", s.prompt, s.version))
        .await
        .good();
    assert_eq!(v1.prompt, WEAK);
    // The list shows it, without its candidates.
    let list: Vec<OptimizationView> = app
        .get(&format!("/api/prompts/{}/optimizations", s.prompt))
        .await
        .good();
    assert_eq!(list.len(), 1);
    assert!(list[0].candidates.is_empty());
    // The cheapest setting beside it: one rewrite by the same teacher, untested.
    let (status, refined) = app
        .post(
            &format!(
                "/api/prompts/{}/versions/{}/refine?async=false",
                s.prompt, s.version
            ),
            json!({"project_id": s.project, "teacher_model_name": "gpt-4o",
                   "teacher_model_provider_connection_id": s.connection}),
        )
        .await;
    assert_eq!(status, 201, "{refined}");
    eprintln!(
        "single rewrite: cost ${}, status {}; the search: ${:.4} over {} calls",
        refined["total_cost"], refined["refinement_status"], v.cost, v.calls
    );
}

#[actix_web::test]
async fn a_prompt_already_right_promotes_nothing() {
    let app = TestApp::spawn().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = seeded(&app, &llm, WEAK).await;
    // A prompt that states the rule and shows a Neutral example is right everywhere.
    let good = "Texts about refund are Complaint.\nAnswer: {{\"sentiment\": \"Neutral\"}}\n\
                Classify the sentiment of the review. Text: {text}";
    let version = crate::helpers::engine::version(&app, s.prompt, s.connection, "good", good).await;
    let s = Setup { version, ..s };
    let v = ended(&app, &s, start(&app, &s, json!({})).await.id).await;
    report("nothing better", &v);
    let result = v.result.expect("result");
    assert_eq!(result.outcome, Outcome::NothingBetter, "{}", result.message);
    assert_eq!(v.new_version_id, None);
    let versions: Vec<VersionView> = app
        .get(&format!("/api/prompts/{}/versions", s.prompt))
        .await
        .good();
    assert_eq!(versions.len(), 2, "no version was added");
}

#[actix_web::test]
async fn a_budget_stops_the_search_and_nothing_is_promoted() {
    let app = TestApp::spawn().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = seeded(&app, &llm, WEAK).await;
    let v = ended(
        &app,
        &s,
        start(&app, &s, json!({"max_calls": 150})).await.id,
    )
    .await;
    report("budget", &v);
    let result = v.result.expect("result");
    assert_eq!(result.outcome, Outcome::BudgetReached, "{}", result.message);
    assert_eq!(result.budget.as_deref(), Some("max_calls"));
    assert!(v.calls <= 150, "{}", v.calls);
    assert_eq!(v.new_version_id, None);
    assert!(llm.stats().requests <= 150);
}

#[actix_web::test]
async fn requests_are_checked() {
    let app = TestApp::spawn().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = seeded(&app, &llm, WEAK).await;
    for (extra, field) in [
        (json!({"alpha": 0}), "alpha"),
        (json!({"held_out_fraction": 0.95}), "held_out_fraction"),
        (json!({"rounds": 9}), "rounds"),
        (json!({"max_cost": -1}), "max_cost"),
        (json!({"project_id": 999_999}), "project_id"),
    ] {
        let (status, body) = app.post(&path(&s), request(&s, extra)).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["validation_errors"].get(field).is_some(),
            "{field}: {body}"
        );
    }
    // Too little ground truth: a project with 4 labeled tasks.
    let small = setup(&app, &llm, CONFIG, &["a", "b", "c", "d"], WEAK).await;
    for t in &small.tasks {
        ground_truth(&app, *t, choice("Positive")).await;
    }
    let (status, body) = app.post(&path(&small), request(&small, json!({}))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("at least 10"), "{body}");
    // Another organization's prompt is a 404.
    let (status, _) = app
        .send(
            reqwest::Method::POST,
            &path(&s),
            Some(&app.other_token),
            Some(&request(&s, json!({}))),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(
            reqwest::Method::GET,
            &format!("/api/prompts/{}/optimizations", s.prompt),
            Some(&app.other_token),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn a_killed_workers_optimization_resumes_and_ends_the_same() {
    let app = TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.engine.job_workers = 0;
    })
    .await;
    let llm = fake(FakeLlmConfig {
        latency_ms: 30,
        ..Default::default()
    })
    .await;
    let s = seeded(&app, &llm, WEAK).await;
    let started = start(&app, &s, json!({})).await;
    let job = started.job_id.expect("job");
    let mut first = worker_command(&app, 4).spawn().expect("worker");
    // Killed in the middle of the search.
    let mut mid = 0;
    for _ in 0..600 {
        let v: OptimizationView = app
            .get(&format!(
                "/api/prompts/{}/optimizations/{}",
                s.prompt, started.id
            ))
            .await
            .good();
        if v.calls >= 90 {
            mid = v.calls;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(mid >= 90, "the first worker made progress");
    let mut second = worker_command(&app, 4).spawn().expect("worker");
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let done = wait_job(&app, job, |j| !j.status.is_open()).await;
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.last_error);
    assert!(done.attempts >= 2, "taken over: {}", done.attempts);
    let v = ended(&app, &s, started.id).await;
    report("resumed", &v);
    assert_eq!(
        v.result.as_ref().map(|r| r.outcome),
        Some(Outcome::Promoted)
    );
    // The stored search is the uninterrupted one's: the same calls and the same winner. What
    // the fake answered beyond it was paid but not stored: the step cut by the kill (and, on a
    // loaded machine, steps a worker made after its lease lapsed, whose writes were fenced off).
    let answered = llm.stats().requests as i32;
    eprintln!(
        "resumed: {} calls stored, {answered} answered, {} attempts",
        v.calls, done.attempts
    );
    // A teacher call cut by the kill after it was counted is asked again: at most one more.
    assert!(
        (307..=308).contains(&v.calls),
        "the same search as without the kill: {}",
        v.calls
    );
    assert!(
        answered >= v.calls && answered <= v.calls + v.calls / 10,
        "{answered} vs {}",
        v.calls
    );
    assert!(i64::from(v.calls) <= v.estimate.calls);
}

#[tokio::test]
async fn a_person_optimizes_a_prompt_in_the_browser() {
    let app = crate::helpers::engine::engine_app().await;
    crate::helpers::web::set_password(&app, "admin@example.com").await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = seeded(&app, &llm, WEAK).await;
    let Some(b) = crate::helpers::browser::Browser::start().await else {
        return;
    };
    let url = |path: &str| format!("{}{path}", app.address);
    b.sign_in(&app.address, "admin@example.com").await;
    b.open(&url(&format!(
        "/prompts/{}?version={}",
        s.prompt, s.version
    )))
    .await;
    b.click("#optimize-link").await;
    b.wait_url(|u| u.contains("/optimize?version=")).await;
    let estimate = b.text("#optimize-estimate").await;
    assert!(
        estimate.contains("48 tasks to search on, 32 held out"),
        "{estimate}"
    );
    assert_eq!(b.text("#no-optimizations").await, "None yet.");
    // A mistake stays on the form, named at its input.
    b.fill("#max-cost", "lots").await;
    b.click("#start-optimize").await;
    let problem = b.wait_text("#max-cost-error", |t| !t.is_empty()).await;
    assert!(problem.contains("number"), "{problem}");
    b.fill("#max-cost", "2").await;
    b.click("#start-optimize").await;
    b.wait_url(|u| u.contains("/optimizations/")).await;
    let conclusion = b
        .wait_text("#conclusion", |t| t.contains("better version"))
        .await;
    assert_eq!(conclusion, "A better version was found");
    let message = b.text("#optimization-message").await;
    assert!(
        message.contains("100.0% of the 32 held-out tasks"),
        "{message}"
    );
    assert!(b.text("#optimization-spend").await.contains("of $2"));
    assert!(b.has("#front-chart svg circle").await);
    assert!(b.has("#held-out-tests tbody tr").await);
    let rows = b
        .run("return document.querySelectorAll('#candidates tbody tr[id]').length;")
        .await;
    assert!(rows.as_u64().unwrap_or(0) >= 5, "{rows}");
    let page = b.source().await;
    assert!(
        !page.contains("few_shot") && !page.contains("\"outcome\""),
        "no raw vocabulary or JSON"
    );
    b.click("#open-new-version").await;
    b.wait_url(|u| u.contains("version=")).await;
    // The prompt's optimizations are listed on the start page.
    b.open(&url(&format!(
        "/prompts/{}/optimize?version={}",
        s.prompt, s.version
    )))
    .await;
    let listed = b.text("#optimizations").await;
    assert!(listed.contains("A better version was found"), "{listed}");
}

#[actix_web::test]
async fn an_optimization_is_canceled_and_keeps_what_it_found() {
    let app = TestApp::spawn().await;
    let llm = fake(FakeLlmConfig {
        latency_ms: 100,
        ..Default::default()
    })
    .await;
    let s = seeded(&app, &llm, WEAK).await;
    let started = start(&app, &s, json!({})).await;
    for _ in 0..300 {
        let v: OptimizationView = app
            .get(&format!(
                "/api/prompts/{}/optimizations/{}",
                s.prompt, started.id
            ))
            .await
            .good();
        if v.calls > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A Reviewer may read it but not stop it.
    let cancel = format!(
        "/api/prompts/{}/optimizations/{}/cancel",
        s.prompt, started.id
    );
    let (status, _) = app
        .send(
            reqwest::Method::POST,
            &cancel,
            Some(&app.annotator_token),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = app.post(&cancel, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let v = ended(&app, &s, started.id).await;
    assert_eq!(
        v.status,
        OptimizationStatus::Canceled,
        "{:?}",
        v.error_message
    );
    assert!(v.calls > 0 && v.candidates[0].train.scored > 0);
    assert_eq!(v.new_version_id, None);
    // Ended: canceling again changes nothing.
    let (status, again) = app.post(&cancel, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(again["status"], "canceled");
}
