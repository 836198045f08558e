//! Gemini's batch mode with inline requests.
use super::*;

/// A generateContent body answering `text` with the schema.
fn request(text: &str) -> Value {
    json!({
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema()},
    })
}

/// A batch body of `texts`, each with metadata.
fn batch(texts: &[&str]) -> Value {
    let requests: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"request": request(t), "metadata": {"key": format!("k{i}")}}))
        .collect();
    json!({"batch": {"display_name": "tests", "input_config": {"requests": {"requests": requests}}}})
}

/// The label of a generateContent answer.
fn label(answer: &Value) -> String {
    sentiment(
        answer["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .expect("text"),
    )
}

/// The headers of a Gemini request.
const HEADERS: [(&str, &str); 1] = [("x-goog-api-key", KEY)];

/// The path of a model's method.
const MODEL: &str = "/v1beta/models/gemini-2.0-flash";

#[tokio::test]
async fn a_gemini_batch_answers_in_order_like_the_live_endpoint() {
    let fake = start(0).await;
    let [a, b, c] = texts();
    let created = send_json(
        &fake,
        "POST",
        &format!("{MODEL}:batchGenerateContent"),
        &HEADERS,
        &batch(&[&a, &c, &b]),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let created = created.json();
    let name = created["name"].as_str().expect("name").to_string();
    assert!(name.starts_with("batches/"));
    let metadata = &created["metadata"];
    assert_eq!(metadata["state"], "BATCH_STATE_PENDING");
    assert_eq!(metadata["model"], "models/gemini-2.0-flash");
    assert_eq!(metadata["displayName"], "tests");
    assert_eq!(
        metadata["batchStats"],
        json!({"requestCount": "3", "pendingRequestCount": "3"})
    );

    let done = poll(&fake, &format!("/v1beta/{name}"), &HEADERS, |op| {
        op["done"] == true
    })
    .await;
    assert_eq!(done["metadata"]["state"], "BATCH_STATE_SUCCEEDED");
    assert!(done["metadata"]["endTime"].is_string());
    assert_eq!(
        done["metadata"]["batchStats"]["successfulRequestCount"],
        "2"
    );
    assert_eq!(done["metadata"]["batchStats"]["failedRequestCount"], "1");
    let responses = done["response"]["inlinedResponses"]["inlinedResponses"]
        .as_array()
        .expect("responses");
    assert_eq!(responses.len(), 3);
    assert!(responses.iter().all(|r| r.get("metadata").is_none()));
    for (i, text) in [(0, &a), (2, &b)] {
        let path = format!("{MODEL}:generateContent");
        let live = send_json(&fake, "POST", &path, &HEADERS, &request(text))
            .await
            .json();
        assert_eq!(label(&responses[i]["response"]), label(&live));
        assert_eq!(
            responses[i]["response"]["usageMetadata"],
            live["usageMetadata"]
        );
    }
    assert_eq!(label(&responses[0]["response"]), "Positive");
    assert_eq!(label(&responses[2]["response"]), "Negative");
    assert_eq!(
        responses[1],
        json!({"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}})
    );
    let stats = fake.stats();
    assert_eq!(
        (stats.requests, stats.ok, stats.batches, stats.batch_items),
        (2, 4, 1, 3)
    );
    fake.stop().await;
}

#[tokio::test]
async fn gemini_batches_refuse_and_cancel() {
    let fake = start(600_000).await;
    let [a, b, _] = texts();
    let path = format!("{MODEL}:batchGenerateContent");
    let wrong = format!("{path}?key=wrong");
    let unauthorized = send_json(&fake, "POST", &wrong, &[], &batch(&[&a])).await;
    assert_eq!(
        (
            unauthorized.status,
            unauthorized.json()["error"]["status"].clone()
        ),
        (401, json!("UNAUTHENTICATED"))
    );
    let empty = send_json(&fake, "POST", &path, &HEADERS, &batch(&[])).await;
    assert_eq!(
        (empty.status, empty.json()["error"]["status"].clone()),
        (400, json!("INVALID_ARGUMENT"))
    );
    let unknown = http(&fake, "GET", "/v1beta/batches/999", &HEADERS, vec![]).await;
    assert_eq!(
        (unknown.status, unknown.json()["error"]["status"].clone()),
        (404, json!("NOT_FOUND"))
    );

    let keyed = format!("{path}?key={KEY}");
    let name = send_json(&fake, "POST", &keyed, &[], &batch(&[&a, &b]))
        .await
        .json()["name"]
        .as_str()
        .expect("name")
        .to_string();
    let running = http(&fake, "GET", &format!("/v1beta/{name}"), &HEADERS, vec![])
        .await
        .json();
    assert_eq!(running["metadata"]["state"], "BATCH_STATE_RUNNING");
    assert!(running.get("done").is_none());
    assert_eq!(
        running["metadata"]["batchStats"]["pendingRequestCount"],
        "2"
    );
    let cancel = http(
        &fake,
        "POST",
        &format!("/v1beta/{name}:cancel"),
        &HEADERS,
        vec![],
    )
    .await;
    assert_eq!((cancel.status, cancel.json()), (200, json!({})));
    let cancelled = http(&fake, "GET", &format!("/v1beta/{name}"), &HEADERS, vec![])
        .await
        .json();
    assert_eq!(cancelled["done"], true);
    assert_eq!(cancelled["metadata"]["state"], "BATCH_STATE_CANCELLED");
    assert!(cancelled.get("response").is_none());
    assert_eq!(fake.stats().batches_canceled, 1);
    fake.stop().await;
}

#[tokio::test]
async fn the_failure_rate_fails_batch_items() {
    let fake = start_with(FakeLlmConfig {
        batch_failure_rate: 1.0,
        ..FakeLlmConfig::default()
    })
    .await;
    let [a, b, _] = texts();
    let path = format!("{MODEL}:batchGenerateContent");
    let name = send_json(&fake, "POST", &path, &HEADERS, &batch(&[&a, &b]))
        .await
        .json()["name"]
        .as_str()
        .expect("name")
        .to_string();
    let done = poll(&fake, &format!("/v1beta/{name}"), &HEADERS, |op| {
        op["done"] == true
    })
    .await;
    let responses = &done["response"]["inlinedResponses"]["inlinedResponses"];
    assert_eq!(responses[0]["error"]["code"], 500);
    assert_eq!(responses[1]["error"]["status"], "INTERNAL");
    let stats = fake.stats();
    assert_eq!((stats.ok, stats.batch_items), (0, 2));
    fake.stop().await;
}
