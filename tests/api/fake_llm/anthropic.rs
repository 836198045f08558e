//! The fake's Anthropic Messages dialect: tool-call answers, error shapes and faults.
use super::{ner_schema, sentiment_schema, start};
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use serde_json::{Value, json};

/// An Anthropic Messages request for `text`, with the schema as a forced tool (or no tools).
fn anthropic_request(text: &str, schema: Option<Value>) -> Value {
    let mut body = json!({
        "model": "claude-fake",
        "max_tokens": 1024,
        "system": "You are a careful annotator.",
        "messages": [{"role": "user", "content": text}],
    });
    if let Some(schema) = schema {
        body["tools"] = json!([{"name": "record_labels", "input_schema": schema}]);
        body["tool_choice"] = json!({"type": "tool", "name": "record_labels"});
    }
    body
}

/// Posts an Anthropic Messages request with `x-api-key` and `anthropic-version`.
async fn post_anthropic(llm: &FakeLlm, body: &Value, key: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{}/v1/messages", llm.root_url()))
        .header("anthropic-version", "2023-06-01")
        .json(body);
    if let Some(key) = key {
        req = req.header("x-api-key", key);
    }
    req.send().await.expect("request")
}

#[tokio::test]
async fn anthropic_messages_answer_with_a_tool_call() {
    let llm = start(FakeLlmConfig::default()).await;
    let resp = post_anthropic(
        &llm,
        &anthropic_request("Text: I love it", Some(sentiment_schema())),
        None,
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-fake");
    assert_eq!(body["stop_reason"], "tool_use");
    let blocks = body["content"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0]["type"], "tool_use");
    assert_eq!(blocks[0]["name"], "record_labels");
    assert!(
        blocks[0]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("toolu_fake_"))
    );
    assert_eq!(blocks[0]["input"], json!({"sentiment": "Positive"}));
    assert!(body["usage"]["input_tokens"].as_u64() >= Some(1));
    assert!(body["usage"]["output_tokens"].as_u64() >= Some(1));

    // Content blocks, and a NER tool.
    let mut ner = anthropic_request("", Some(ner_schema()));
    ner["messages"] = json!([{"role": "user", "content": [
        {"type": "text", "text": "Find the entities."},
        {"type": "text", "text": "Text: John works at Acme"},
    ]}]);
    let body: Value = post_anthropic(&llm, &ner, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        body["content"][0]["input"]["label"],
        json!([
            {"start": 0, "end": 4, "labels": ["PER"], "text": "John"},
            {"start": 14, "end": 18, "labels": ["ORG"], "text": "Acme"},
        ])
    );

    // No tools: a text block holding the JSON.
    let body: Value = post_anthropic(&llm, &anthropic_request("hi", None), None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["content"][0]["type"], "text");
    assert_eq!(body["content"][0]["text"], r#"{"answer":"ok"}"#);
    assert_eq!(body["stop_reason"], "end_turn");

    // The version header is required.
    let resp = reqwest::Client::new()
        .post(format!("{}/messages", llm.root_url()))
        .json(&anthropic_request("hi", None))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    let err: Value = resp.json().await.expect("json");
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "invalid_request_error");
    let stats = llm.stats();
    assert_eq!((stats.requests, stats.ok, stats.bad_requests), (4, 3, 1));
}

#[tokio::test]
async fn anthropic_errors_have_anthropic_shapes() {
    let llm = start(FakeLlmConfig {
        require_key: Some("sk-ant-fake".into()),
        rpm: Some(1),
        ..FakeLlmConfig::default()
    })
    .await;
    let body = anthropic_request("I love it", Some(sentiment_schema()));
    for key in [None, Some("sk-ant-wrong")] {
        let resp = post_anthropic(&llm, &body, key).await;
        assert_eq!(resp.status().as_u16(), 401);
        let err: Value = resp.json().await.expect("json");
        assert_eq!(err["type"], "error");
        assert_eq!(err["error"]["type"], "authentication_error");
        assert!(err["error"]["message"].is_string());
    }
    let first = post_anthropic(&llm, &body, Some("sk-ant-fake")).await;
    assert_eq!(first.status().as_u16(), 200);
    assert_eq!(first.headers()["anthropic-ratelimit-requests-limit"], "1");
    assert_eq!(
        first.headers()["anthropic-ratelimit-requests-remaining"],
        "0"
    );
    assert!(
        first
            .headers()
            .contains_key("anthropic-ratelimit-requests-reset")
    );
    assert!(!first.headers().contains_key("x-ratelimit-limit-requests"));
    let second = post_anthropic(&llm, &body, Some("sk-ant-fake")).await;
    assert_eq!(second.status().as_u16(), 429);
    let retry: u64 = second.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&retry));
    assert_eq!(second.headers()["anthropic-ratelimit-requests-limit"], "1");
    let err: Value = second.json().await.expect("json");
    assert_eq!(err["error"]["type"], "rate_limit_error");
    let stats = llm.stats();
    assert_eq!(
        (stats.unauthorized, stats.ok, stats.rate_limited),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn anthropic_faults_follow_the_rates() {
    let failing = start(FakeLlmConfig {
        error_rate: 1.0,
        ..FakeLlmConfig::default()
    })
    .await;
    let body = anthropic_request("I love it", Some(sentiment_schema()));
    let resp = post_anthropic(&failing, &body, None).await;
    assert_eq!(resp.status().as_u16(), 500);
    let err: Value = resp.json().await.expect("json");
    assert_eq!(err["error"]["type"], "api_error");

    let malformed = start(FakeLlmConfig {
        malformed_rate: 1.0,
        ..FakeLlmConfig::default()
    })
    .await;
    let answer: Value = post_anthropic(&malformed, &body, None)
        .await
        .json()
        .await
        .expect("json");
    let blocks = answer["content"].as_array().expect("blocks");
    assert!(blocks.iter().all(|b| b["type"] == "text"));
    let text = blocks[0]["text"].as_str().expect("text");
    assert!(serde_json::from_str::<Value>(text).is_err());
    assert_eq!(malformed.stats().malformed, 1);

    let invalid = start(FakeLlmConfig {
        invalid_rate: 1.0,
        ..FakeLlmConfig::default()
    })
    .await;
    let answer: Value = post_anthropic(&invalid, &body, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(answer["content"][0]["type"], "tool_use");
    let label = answer["content"][0]["input"]["sentiment"]
        .as_str()
        .expect("a string label");
    assert!(!["Positive", "Negative", "Neutral"].contains(&label));
    assert_eq!(invalid.stats().invalid, 1);
}
