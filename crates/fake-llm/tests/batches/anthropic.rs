//! Anthropic's Message Batches.
use super::*;
use std::collections::HashMap;

/// The headers of an Anthropic request.
const HEADERS: [(&str, &str); 2] = [("x-api-key", KEY), ("anthropic-version", "2023-06-01")];

/// A Messages body answering `text` through the `label` tool.
fn params(text: &str) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 512,
        "messages": [{"role": "user", "content": text}],
        "tools": [{"name": "label", "description": "Label it.", "input_schema": schema()}],
        "tool_choice": {"type": "tool", "name": "label"},
    })
}

/// The label of a Messages answer.
fn label(message: &Value) -> String {
    let blocks = message["content"].as_array().expect("blocks");
    let call = blocks
        .iter()
        .find(|b| b["type"] == "tool_use")
        .expect("a tool call");
    call["input"]["sentiment"]
        .as_str()
        .expect("a sentiment")
        .to_string()
}

/// Creates a batch of `(custom_id, params)`.
async fn create(fake: &FakeLlm, requests: &[(&str, Value)]) -> Answer {
    let requests: Vec<Value> = requests
        .iter()
        .map(|(id, params)| json!({"custom_id": id, "params": params}))
        .collect();
    send_json(
        fake,
        "POST",
        "/v1/messages/batches",
        &HEADERS,
        &json!({"requests": requests}),
    )
    .await
}

/// The results of a batch, by custom_id.
async fn results(fake: &FakeLlm, id: &str) -> HashMap<String, Value> {
    let path = format!("/v1/messages/batches/{id}/results");
    let answer = http(fake, "GET", &path, &HEADERS, vec![]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.has_header("content-type", "application/x-jsonl"));
    answer
        .lines()
        .into_iter()
        .map(|l| {
            (
                l["custom_id"].as_str().expect("custom_id").to_string(),
                l["result"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_anthropic_batch_answers_like_the_live_endpoint() {
    let fake = start(800).await;
    let [a, b, c] = texts();
    let requests = [("a", params(&a)), ("b", params(&b)), ("c", params(&c))];
    let created = create(&fake, &requests).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let created = created.json();
    let id = created["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("msgbatch_"));
    assert_eq!(created["type"], "message_batch");
    assert_eq!(created["processing_status"], "in_progress");
    assert_eq!(created["request_counts"]["processing"], 3);
    assert!(created["results_url"].is_null());
    assert!(
        created["created_at"]
            .as_str()
            .expect("created_at")
            .ends_with('Z')
    );

    let batch = poll(
        &fake,
        &format!("/v1/messages/batches/{id}"),
        &HEADERS,
        |b| b["processing_status"] == "ended",
    )
    .await;
    assert_eq!(
        batch["request_counts"],
        json!({"processing": 0, "succeeded": 2, "errored": 1, "canceled": 0, "expired": 0})
    );
    assert!(batch["ended_at"].is_string());
    let url = batch["results_url"].as_str().expect("results_url");
    assert_eq!(
        url,
        format!(
            "http://127.0.0.1:{}/v1/messages/batches/{id}/results",
            fake.port
        )
    );

    let results = results(&fake, &id).await;
    assert_eq!(results.len(), 3);
    for (custom_id, text) in [("a", &a), ("b", &b)] {
        let live = send_json(&fake, "POST", "/v1/messages", &HEADERS, &params(text))
            .await
            .json();
        let result = &results[custom_id];
        assert_eq!(result["type"], "succeeded");
        assert_eq!(result["message"]["type"], "message");
        assert_eq!(label(&result["message"]), label(&live));
        assert_eq!(result["message"]["usage"], live["usage"]);
    }
    assert_eq!(label(&results["b"]["message"]), "Negative");
    assert_eq!(
        results["c"],
        json!({"type": "errored", "error": {"type": "error",
            "error": {"type": "api_error", "message": "Internal server error"}}})
    );
    let stats = fake.stats();
    assert_eq!(
        (stats.requests, stats.ok, stats.batches, stats.batch_items),
        (2, 4, 1, 3)
    );
    fake.stop().await;
}

#[tokio::test]
async fn anthropic_batches_refuse_and_cancel() {
    let fake = start(600_000).await;
    let [a, b, c] = texts();
    let missing_version = send_json(
        &fake,
        "POST",
        "/v1/messages/batches",
        &[("x-api-key", KEY)],
        &json!({}),
    )
    .await;
    assert_eq!(missing_version.status, 400);
    let wrong_key = [("x-api-key", "wrong"), ("anthropic-version", "2023-06-01")];
    let unauthorized = http(
        &fake,
        "GET",
        "/v1/messages/batches/msgbatch_1",
        &wrong_key,
        vec![],
    )
    .await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(unauthorized.json()["error"]["type"], "authentication_error");
    for requests in [
        vec![],
        vec![("a", params(&a)), ("a", params(&b))],
        vec![("not valid!", params(&a))],
    ] {
        let refused = create(&fake, &requests).await;
        assert_eq!(refused.status, 400, "{}", refused.text());
        assert_eq!(refused.json()["error"]["type"], "invalid_request_error");
    }
    let unknown = http(
        &fake,
        "GET",
        "/v1/messages/batches/msgbatch_999",
        &HEADERS,
        vec![],
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.json()["error"]["type"].clone()),
        (404, json!("not_found_error"))
    );

    let requests = [("a", params(&a)), ("b", params(&b)), ("c", params(&c))];
    let id = create(&fake, &requests).await.json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    let early = http(
        &fake,
        "GET",
        &format!("/v1/messages/batches/{id}/results"),
        &HEADERS,
        vec![],
    )
    .await;
    assert_eq!(early.status, 400);
    assert_eq!(
        early.json()["error"]["message"],
        "Batch is still processing"
    );
    let canceling = http(
        &fake,
        "POST",
        &format!("/v1/messages/batches/{id}/cancel"),
        &HEADERS,
        vec![],
    )
    .await;
    let canceling = canceling.json();
    assert_eq!(canceling["processing_status"], "canceling");
    assert!(canceling["cancel_initiated_at"].is_string());
    let ended = http(
        &fake,
        "GET",
        &format!("/v1/messages/batches/{id}"),
        &HEADERS,
        vec![],
    )
    .await
    .json();
    assert_eq!(ended["processing_status"], "ended");
    assert_eq!(ended["request_counts"]["canceled"], 3);
    let results = results(&fake, &id).await;
    assert!(results.values().all(|r| *r == json!({"type": "canceled"})));
    assert_eq!(fake.stats().batches_canceled, 1);
    fake.stop().await;
}

#[tokio::test]
async fn an_anthropic_item_the_live_endpoint_refuses_is_errored() {
    let fake = start(0).await;
    let mut refused = params("Text: good");
    refused
        .as_object_mut()
        .expect("an object")
        .remove("max_tokens");
    let id = create(&fake, &[("r", refused)]).await.json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    let ended = http(
        &fake,
        "GET",
        &format!("/v1/messages/batches/{id}"),
        &HEADERS,
        vec![],
    )
    .await
    .json();
    assert_eq!(ended["request_counts"]["errored"], 1);
    let results = results(&fake, &id).await;
    assert_eq!(
        results["r"]["error"]["error"],
        json!({"type": "invalid_request_error", "message": "max_tokens: Field required"})
    );
    fake.stop().await;
}
