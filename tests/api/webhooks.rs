//! Outbound webhooks: endpoints managed by Owners and Administrators (their secret never shown
//! nor logged in the audit log), events emitted once by the change that is the event, each
//! delivery signed and retried until a receiver on loopback accepts it, with one delivery id
//! for all its attempts; the outbound policy's refusal fails a delivery at once.
use crate::helpers::engine::{engine_app, fake, finished, setup, start};
use crate::helpers::fixtures::{assert_field_error, id_of};
use crate::helpers::receiver::{Answer, Receiver, signed_with};
use crate::helpers::{CLS, TestApp};
use prompter::fake_llm::FakeLlmConfig;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

pub const SECRET: &str = "a-receiver-secret-of-32-characters";

pub async fn endpoint(app: &TestApp, url: &str, events: Value) -> i64 {
    let (status, body) = app
        .post(
            "/api/webhooks/",
            json!({"url": url, "secret": SECRET, "events": events, "description": "test"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    id_of(&body)
}

/// The endpoint's deliveries once none is pending any more (bounded).
pub async fn settled_deliveries(app: &TestApp, webhook: i64, expected: usize) -> Vec<Value> {
    for _ in 0..600 {
        let (status, page) = app
            .get(&format!("/api/webhooks/{webhook}/deliveries"))
            .await;
        assert_eq!(status, 200, "{page}");
        let items = page["results"].as_array().cloned().unwrap_or_default();
        if items.len() >= expected && items.iter().all(|d| d["status"] != "pending") {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the deliveries of webhook {webhook} never settled");
}

#[tokio::test]
async fn endpoints_are_checked_owned_by_admins_and_their_secret_never_shows() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        (json!({"secret": SECRET}), "url"),
        (
            json!({"url": "ftp://example.com/x", "secret": SECRET}),
            "url",
        ),
        (
            json!({"url": "https://u:p@example.com/x", "secret": SECRET}),
            "url",
        ),
        (json!({"url": "https://example.com/x"}), "secret"),
        (
            json!({"url": "https://example.com/x", "secret": "short"}),
            "secret",
        ),
        (
            json!({"url": "https://example.com/x", "secret": SECRET, "events": []}),
            "events",
        ),
        (
            json!({"url": "https://example.com/x", "secret": SECRET,
                   "events": vec!["run.failed"; 11]}),
            "events",
        ),
        (
            json!({"url": "https://example.com/a b", "secret": SECRET}),
            "url",
        ),
        (
            json!({"url": "HTTPS://example.com/x", "secret": SECRET}),
            "url",
        ),
        (
            json!({"url": format!("https://example.com/{}", "x".repeat(2100)), "secret": SECRET}),
            "url",
        ),
    ] {
        let (status, answer) = app.post("/api/webhooks/", body).await;
        assert_field_error(status, &answer, field);
    }
    let (status, answer) = app
        .post(
            "/api/webhooks/",
            json!({"url": "https://example.com/x", "secret": SECRET, "events": ["run.exploded"]}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(app.rows("webhooks").await, 0, "nothing half-written");

    let (status, created) = app
        .post(
            "/api/webhooks/",
            json!({"url": "https://hooks.example.com/p", "secret": SECRET}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = id_of(&created);
    assert_eq!(
        created["events"].as_array().map(Vec::len),
        Some(10),
        "{created}"
    );
    assert_eq!(created["secret_set"], true);
    assert!(!created.to_string().contains(SECRET), "{created}");
    let (status, changed) = app
        .patch(
            &format!("/api/webhooks/{id}/"),
            json!({"events": ["run.completed", "run.completed", "prompt.deployed"],
                   "secret": "another-secret-0123456789", "is_active": false}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        changed["events"],
        json!(["run.completed", "prompt.deployed"])
    );
    assert_eq!(changed["is_active"], false);
    let (_, listed) = app.get("/api/webhooks/").await;
    assert_eq!(listed["count"], 1, "{listed}");
    assert!(!listed.to_string().contains("another-secret"), "{listed}");

    // Managers and below are refused; another organization sees nothing.
    let (status, _) = app
        .send(
            Method::GET,
            "/api/webhooks/",
            Some(&app.annotator_token),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let path = format!("/api/webhooks/{id}/");
    let (status, _) = app
        .send(Method::GET, &path, Some(&app.other_token), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(Method::DELETE, &path, Some(&app.other_token), None)
        .await;
    assert_eq!(status, 404);

    // The audit log has the three changes, the secret only as set and changed.
    let (_, log) = app.get("/api/audit-log/?object_type=webhook").await;
    let text = log.to_string();
    assert!(
        !text.contains(SECRET) && !text.contains("another-secret"),
        "{text}"
    );
    assert!(text.contains("\"secret\":\"set\""), "{text}");
    assert!(text.contains("\"secret\":\"changed\""), "{text}");
    let (status, _) = app.delete(&path).await;
    assert_eq!(status, 204);
    let (status, _) = app.get(&path).await;
    assert_eq!(status, 404);
    let (_, log) = app.get("/api/audit-log/?object_type=webhook").await;
    assert_eq!(log["count"], 3, "create, update, delete: {log}");
}

#[tokio::test]
async fn a_receiver_that_fails_first_gets_each_event_once_and_signed() {
    // The receiver answers 500 to the first two attempts of each delivery, then 200.
    let receiver = Receiver::start(|before, _| {
        if before < 2 {
            Answer::Status(500)
        } else {
            Answer::Status(200)
        }
    })
    .await;
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let s = setup(&app, &llm, CLS, &["great", "awful"], "Classify: {text}").await;
    let hook = endpoint(
        &app,
        &receiver.url,
        json!([
            "run.completed",
            "run.failed",
            "prompt.deployed",
            "webhook.test"
        ]),
    )
    .await;
    // A second endpoint that wants none of these events gets nothing.
    let quiet = endpoint(&app, &receiver.url, json!(["sync.completed"])).await;

    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished(&app, &s, run).await;
    assert_eq!(state["status"], "Completed", "{state}");
    let (status, body) = app
        .patch(
            &format!("/api/prompts/{}/", s.prompt),
            json!({"deployed_version": s.version}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Deploying the same version again is no new event.
    app.patch(
        &format!("/api/prompts/{}/", s.prompt),
        json!({"deployed_version": s.version}),
    )
    .await;
    let (status, queued) = app
        .send(
            Method::POST,
            &format!("/api/webhooks/{hook}/test"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "pending");

    let deliveries = settled_deliveries(&app, hook, 3).await;
    let events: Vec<&str> = deliveries
        .iter()
        .filter_map(|d| d["event"].as_str())
        .collect();
    assert_eq!(events, ["webhook.test", "prompt.deployed", "run.completed"]);
    for d in &deliveries {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["attempts"], 3, "{d}");
        assert_eq!(d["response_status"], 200, "{d}");
        assert!(d["error"].is_null(), "{d}");
    }
    let (_, other) = app.get(&format!("/api/webhooks/{quiet}/deliveries")).await;
    assert_eq!(other["count"], 0, "{other}");

    let seen = receiver.seen();
    let mut by_delivery: HashMap<String, Vec<_>> = HashMap::new();
    for s in &seen {
        assert!(signed_with(s, SECRET), "a bad signature: {s:?}");
        assert_eq!(s.header("content-type"), "application/json");
        let body: Value = serde_json::from_str(&s.body).expect("JSON body");
        assert_eq!(body["id"], s.header("prompter-delivery"), "{body}");
        assert_eq!(body["event"], s.header("prompter-event"), "{body}");
        by_delivery
            .entry(s.header("prompter-delivery").to_string())
            .or_default()
            .push(s.clone());
    }
    assert_eq!(by_delivery.len(), 3, "one delivery id per event");
    let mut accepted_total = 0;
    for (id, attempts) in &by_delivery {
        let accepted = attempts.iter().filter(|s| s.answered == Some(200)).count();
        assert_eq!(accepted, 1, "delivery {id}: {attempts:?}");
        assert_eq!(attempts.len(), 3, "delivery {id}");
        assert!(
            attempts.windows(2).all(|w| w[0].body == w[1].body),
            "same body"
        );
        accepted_total += accepted;
    }
    let run_event = seen
        .iter()
        .find(|s| s.header("prompter-event") == "run.completed")
        .expect("run.completed");
    let body: Value = serde_json::from_str(&run_event.body).expect("body");
    assert_eq!(body["data"]["run"]["id"], run, "{body}");
    assert_eq!(body["data"]["run"]["total_predictions"], 2, "{body}");
    assert_eq!(body["data"]["run"]["prompt"], s.prompt, "{body}");
    eprintln!(
        "webhooks: {} requests for {} events, {accepted_total} accepted, duplicates 0",
        seen.len(),
        by_delivery.len()
    );
    // What the receiver answered never reaches a user.
    let (_, log) = app.get(&format!("/api/webhooks/{hook}/deliveries")).await;
    assert!(!log.to_string().contains("not for users"), "{log}");
}

#[tokio::test]
async fn a_refused_address_or_a_disabled_endpoint_is_not_tried_again() {
    let app = TestApp::spawn().await;
    // Link-local (cloud metadata) is never reached, whatever the operator allows.
    let hook = endpoint(
        &app,
        "http://169.254.169.254/latest",
        json!(["webhook.test"]),
    )
    .await;
    let (status, _) = app
        .send(
            Method::POST,
            &format!("/api/webhooks/{hook}/test"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, 202);
    let deliveries = settled_deliveries(&app, hook, 1).await;
    let d = &deliveries[0];
    assert_eq!(d["status"], "failed", "{d}");
    assert_eq!(d["attempts"], 1, "{d}");
    let error = d["error"].as_str().unwrap_or_default();
    assert!(error.contains("refused"), "{error}");

    // A disabled endpoint gets no event (a test is still sent: it was asked for).
    let receiver = Receiver::start(|_, _| Answer::Status(204)).await;
    let off = endpoint(
        &app,
        &receiver.url,
        json!(["prompt.deployed", "webhook.test"]),
    )
    .await;
    app.patch(
        &format!("/api/webhooks/{off}/"),
        json!({"is_active": false}),
    )
    .await;
    let f = crate::helpers::fixtures::fixture(&app, CLS, &["x"]).await;
    let (status, _) = app
        .patch(
            &format!("/api/prompts/{}/", f.prompt),
            json!({"deployed_version": f.version}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, none) = app.get(&format!("/api/webhooks/{off}/deliveries")).await;
    assert_eq!(none["count"], 0, "{none}");
    app.send(
        Method::POST,
        &format!("/api/webhooks/{off}/test"),
        Some(&app.token),
        None,
    )
    .await;
    let deliveries = settled_deliveries(&app, off, 1).await;
    assert_eq!(deliveries[0]["status"], "delivered", "{deliveries:?}");
    assert_eq!(receiver.seen().len(), 1);
}
