//! Tests of the fake LLM server over real HTTP: deterministic answers for classification,
//! multi-choice, NER and refine schemas, usage, the rate limits, the API key check and the fault
//! rates, in the OpenAI, Azure OpenAI, Anthropic and Gemini dialects; the strictness of each
//! dialect (`strict`) and the realistic mode (`realistic`).
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use serde_json::{Value, json};

mod anthropic;
mod gemini;
mod realistic;
mod strict;

/// Starts a fake server with `config` on a free port.
async fn start(config: FakeLlmConfig) -> FakeLlm {
    // reqwest is built without a TLS provider of its own; the tests' clients need one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    FakeLlm::start(config, 0).await.expect("start fake LLM")
}

/// A chat request for `text` with a JSON schema response format (or none).
fn request(text: &str, schema: Option<Value>) -> Value {
    let mut body = json!({
        "model": "fake-model",
        "messages": [
            {"role": "system", "content": "You are a careful annotator."},
            {"role": "user", "content": text},
        ],
    });
    if let Some(schema) = schema {
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": true},
        });
    }
    body
}

/// The schema of a single-choice sentiment answer.
fn sentiment_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"sentiment": {"type": "string", "enum": ["Positive", "Negative", "Neutral"]}},
        "required": ["sentiment"],
        "additionalProperties": false,
    })
}

/// The schema of a NER answer.
fn ner_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"label": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "start": {"type": "integer", "minimum": 0},
                "end": {"type": "integer", "minimum": 0},
                "labels": {"type": "array", "items": {"type": "string", "enum": ["PER", "ORG", "LOC"]}},
                "text": {"type": "string"},
            },
            "required": ["start", "end", "labels", "text"],
            "additionalProperties": false,
        }}},
        "required": ["label"],
        "additionalProperties": false,
    })
}

/// Posts a chat completion; returns the response.
async fn post(llm: &FakeLlm, body: &Value, key: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{}/chat/completions", llm.base_url()))
        .json(body);
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    req.send().await.expect("request")
}

/// Posts a chat completion, asserts 200 and returns the body and the parsed content.
async fn complete(llm: &FakeLlm, body: &Value) -> (Value, Value) {
    let resp = post(llm, body, None).await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    let content = body["choices"][0]["message"]["content"]
        .as_str()
        .expect("content string");
    let parsed = serde_json::from_str(content).expect("content is JSON");
    (body, parsed)
}

#[tokio::test]
async fn classification_follows_the_enum_then_the_keyword_rule() {
    let llm = start(FakeLlmConfig::default()).await;
    let schema = Some(sentiment_schema());
    let (_, c) = complete(
        &llm,
        &request("I love this phone, it is great", schema.clone()),
    )
    .await;
    assert_eq!(c, json!({"sentiment": "Positive"}));
    let (_, c) = complete(
        &llm,
        &request("Text: an awful, terrible day", schema.clone()),
    )
    .await;
    assert_eq!(c, json!({"sentiment": "Negative"}));
    let (_, c) = complete(
        &llm,
        &request("Honestly it is neutral to me", schema.clone()),
    )
    .await;
    assert_eq!(c, json!({"sentiment": "Neutral"}));
    let (_, c) = complete(&llm, &request("Nothing to say", schema)).await;
    assert_eq!(
        c,
        json!({"sentiment": "Positive"}),
        "the first value by default"
    );
    let (body, c) = complete(&llm, &request("hello", None)).await;
    assert_eq!(c, json!({"answer": "ok"}));
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "fake-model");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["id"].is_string());
    assert!(body["created"].is_u64());
    let stats = llm.stats();
    assert_eq!((stats.requests, stats.ok), (5, 5));
}

#[tokio::test]
async fn multi_choice_lists_every_value_in_the_text() {
    let llm = start(FakeLlmConfig::default()).await;
    let schema = json!({
        "type": "object",
        "properties": {"topics": {
            "type": "array",
            "items": {"type": "string", "enum": ["Sports", "Politics", "Tech"]},
            "uniqueItems": true,
        }},
        "required": ["topics"],
    });
    let (_, c) = complete(
        &llm,
        &request("Text: tech giants lobby on politics", Some(schema.clone())),
    )
    .await;
    assert_eq!(c, json!({"topics": ["Politics", "Tech"]}));
    let (_, c) = complete(&llm, &request("Text: cooking recipes", Some(schema))).await;
    assert_eq!(c, json!({"topics": ["Sports"]}));
}

#[tokio::test]
async fn ner_spans_have_character_offsets() {
    let llm = start(FakeLlmConfig::default()).await;
    let (_, c) = complete(&llm, &request("John works at Acme", Some(ner_schema()))).await;
    assert_eq!(
        c,
        json!({"label": [
            {"start": 0, "end": 4, "labels": ["PER"], "text": "John"},
            {"start": 14, "end": 18, "labels": ["ORG"], "text": "Acme"},
        ]})
    );
    // After "Text:", with a multi-word name, a sentence starter and a non-ASCII character.
    let prompt = "Find the entities.\nText: The café of Mary Ann Lee joined Google Inc.";
    let (_, c) = complete(&llm, &request(prompt, Some(ner_schema()))).await;
    assert_eq!(
        c,
        json!({"label": [
            {"start": 12, "end": 24, "labels": ["PER"], "text": "Mary Ann Lee"},
            {"start": 32, "end": 42, "labels": ["ORG"], "text": "Google Inc"},
        ]})
    );
}

#[tokio::test]
async fn usage_counts_prompt_and_completion_tokens() {
    let llm = start(FakeLlmConfig::default()).await;
    let (body, _) = complete(&llm, &request("I love it", Some(sentiment_schema()))).await;
    let usage = &body["usage"];
    let prompt = usage["prompt_tokens"].as_u64().expect("prompt_tokens");
    let completion = usage["completion_tokens"]
        .as_u64()
        .expect("completion_tokens");
    assert!(prompt >= 1 && completion >= 1);
    assert_eq!(usage["total_tokens"].as_u64(), Some(prompt + completion));
    let stats = llm.stats();
    assert_eq!(stats.prompt_tokens, prompt);
    assert_eq!(stats.completion_tokens, completion);
}

#[tokio::test]
async fn models_lists_the_fake_model() {
    let llm = start(FakeLlmConfig::default()).await;
    let body: Value = reqwest::get(format!("{}/models", llm.base_url()))
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][0]["id"], "fake-model");
    assert_eq!(body["data"][0]["object"], "model");
}

#[tokio::test]
async fn past_the_rpm_limit_requests_get_429_with_retry_after() {
    let llm = start(FakeLlmConfig {
        rpm: Some(2),
        tpm: Some(1_000_000),
        ..FakeLlmConfig::default()
    })
    .await;
    let body = request("I love it", Some(sentiment_schema()));
    let first = post(&llm, &body, None).await;
    assert_eq!(first.status().as_u16(), 200);
    let h = first.headers();
    assert_eq!(h["x-ratelimit-limit-requests"], "2");
    assert_eq!(h["x-ratelimit-remaining-requests"], "1");
    assert_eq!(h["x-ratelimit-limit-tokens"], "1000000");
    assert!(h.contains_key("x-ratelimit-remaining-tokens"));
    assert_eq!(post(&llm, &body, None).await.status().as_u16(), 200);
    let third = post(&llm, &body, None).await;
    assert_eq!(third.status().as_u16(), 429);
    let h = third.headers().clone();
    let retry: u64 = h["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&retry));
    assert_eq!(h["x-ratelimit-limit-requests"], "2");
    assert_eq!(h["x-ratelimit-remaining-requests"], "0");
    assert!(h.contains_key("x-ratelimit-limit-tokens"));
    assert!(h.contains_key("x-ratelimit-remaining-tokens"));
    let err: Value = third.json().await.expect("json");
    assert_eq!(err["error"]["type"], "rate_limit_exceeded");
    assert_eq!(err["error"]["code"], "rate_limit_exceeded");
    assert!(err["error"]["message"].is_string());
    let stats = llm.stats();
    assert_eq!((stats.ok, stats.rate_limited), (2, 1));
}

#[tokio::test]
async fn past_the_tpm_limit_requests_get_429() {
    let llm = start(FakeLlmConfig {
        tpm: Some(30),
        ..FakeLlmConfig::default()
    })
    .await;
    let body = request(&"word ".repeat(20), None);
    assert_eq!(post(&llm, &body, None).await.status().as_u16(), 200);
    let second = post(&llm, &body, None).await;
    assert_eq!(second.status().as_u16(), 429);
    assert!(second.headers().contains_key("retry-after"));
    assert_eq!(second.headers()["x-ratelimit-limit-tokens"], "30");
}

#[tokio::test]
async fn a_required_key_answers_401_without_it() {
    let llm = start(FakeLlmConfig {
        require_key: Some("sk-fake".into()),
        ..FakeLlmConfig::default()
    })
    .await;
    let body = request("hi", None);
    for key in [None, Some("sk-wrong")] {
        let resp = post(&llm, &body, key).await;
        assert_eq!(resp.status().as_u16(), 401);
        let err: Value = resp.json().await.expect("json");
        assert_eq!(err["error"]["code"], "invalid_api_key");
    }
    assert_eq!(
        post(&llm, &body, Some("sk-fake")).await.status().as_u16(),
        200
    );
    assert_eq!(llm.stats().unauthorized, 2);
}

#[tokio::test]
async fn error_rate_one_answers_500() {
    let llm = start(FakeLlmConfig {
        error_rate: 1.0,
        ..FakeLlmConfig::default()
    })
    .await;
    let resp = post(&llm, &request("hi", None), None).await;
    assert_eq!(resp.status().as_u16(), 500);
    let err: Value = resp.json().await.expect("json");
    assert!(err["error"]["message"].is_string());
    assert_eq!(err["error"]["type"], "server_error");
    assert_eq!(llm.stats().server_errors, 1);
}

#[tokio::test]
async fn malformed_rate_one_answers_content_that_is_not_json() {
    let llm = start(FakeLlmConfig {
        malformed_rate: 1.0,
        ..FakeLlmConfig::default()
    })
    .await;
    let resp = post(&llm, &request("I love it", Some(sentiment_schema())), None).await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    let content = body["choices"][0]["message"]["content"]
        .as_str()
        .expect("content");
    assert!(serde_json::from_str::<Value>(content).is_err());
    assert_eq!(llm.stats().malformed, 1);
}

#[tokio::test]
async fn invalid_rate_one_violates_the_enum() {
    let llm = start(FakeLlmConfig {
        invalid_rate: 1.0,
        ..FakeLlmConfig::default()
    })
    .await;
    let (_, c) = complete(&llm, &request("I love it", Some(sentiment_schema()))).await;
    let label = c["sentiment"].as_str().expect("a string label");
    assert!(!["Positive", "Negative", "Neutral"].contains(&label));
    let (_, c) = complete(&llm, &request("John works at Acme", Some(ner_schema()))).await;
    let spans = c["label"].as_array().expect("spans");
    assert!(
        spans
            .iter()
            .flat_map(|s| s["labels"].as_array().cloned().unwrap_or_default())
            .any(|l| !["PER", "ORG", "LOC"].contains(&l.as_str().unwrap_or("")))
    );
    assert_eq!(llm.stats().invalid, 2);
}

#[tokio::test]
async fn latency_and_jitter_still_answer() {
    let llm = start(FakeLlmConfig {
        latency_ms: 20,
        jitter_ms: 10,
        seed: 7,
        ..FakeLlmConfig::default()
    })
    .await;
    let (_, c) = complete(&llm, &request("bad", Some(sentiment_schema()))).await;
    assert_eq!(c, json!({"sentiment": "Negative"}));
}

#[tokio::test]
async fn timeouts_answer_after_the_timeout() {
    let llm = start(FakeLlmConfig {
        timeout_rate: 1.0,
        timeout_ms: 50,
        ..FakeLlmConfig::default()
    })
    .await;
    let (_, c) = complete(&llm, &request("hi", None)).await;
    assert_eq!(c, json!({"answer": "ok"}));
    assert_eq!(llm.stats().timeouts, 1);
}

#[tokio::test]
async fn the_path_without_v1_and_array_content_work() {
    let llm = start(FakeLlmConfig::default()).await;
    let body = json!({
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Text: I hate it"}]}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": sentiment_schema()}},
    });
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/chat/completions", llm.port))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    let content: Value = serde_json::from_str(
        body["choices"][0]["message"]["content"]
            .as_str()
            .expect("content"),
    )
    .expect("json content");
    assert_eq!(content, json!({"sentiment": "Negative"}));
    llm.stop().await;
}

#[tokio::test]
async fn the_refine_rule_answers_a_teacher_schema() {
    let llm = start(FakeLlmConfig::default()).await;
    let schema = json!({
        "type": "object",
        "properties": {
            "reasoning": {"type": "string"},
            "new_prompt_title": {"type": "string"},
            "new_prompt_content": {"type": "string"},
        },
        "required": ["reasoning", "new_prompt_title", "new_prompt_content"],
        "additionalProperties": false,
    });
    let teacher = "Refine the prompt below.\n<current_prompt>\nClassify the sentiment of {text}.\n\
                   </current_prompt>\nMistakes: 3 of 10.";
    let (_, c) = complete(&llm, &request(teacher, Some(schema.clone()))).await;
    assert_eq!(
        c,
        json!({
            "reasoning": "The fake teacher kept the placeholders and added an instruction.",
            "new_prompt_title": "refined",
            "new_prompt_content":
                "Read the text carefully and answer precisely.\nClassify the sentiment of {text}.",
        })
    );
    let (_, c) = complete(
        &llm,
        &request("Make it better. Text: Label {text}", Some(schema)),
    )
    .await;
    assert_eq!(
        c["new_prompt_content"],
        "Read the text carefully and answer precisely.\nLabel {text}"
    );
}

/// Posts an Azure OpenAI chat completion to `deployment`, with `query` and an `api-key`.
async fn post_azure(
    llm: &FakeLlm,
    deployment: &str,
    query: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!(
            "{}/openai/deployments/{deployment}/chat/completions{query}",
            llm.root_url()
        ))
        .json(body);
    if let Some(key) = key {
        req = req.header("api-key", key);
    }
    req.send().await.expect("request")
}

#[tokio::test]
async fn azure_deployments_answer_with_the_api_key_header() {
    let llm = start(FakeLlmConfig {
        require_key: Some("azure-key".into()),
        ..FakeLlmConfig::default()
    })
    .await;
    let mut body = request("I hate it", Some(sentiment_schema()));
    body.as_object_mut().expect("object").remove("model");
    let q = "?api-version=2024-10-21";
    let resp = post_azure(&llm, "my-deployment", q, Some("azure-key"), &body).await;
    assert_eq!(resp.status().as_u16(), 200);
    let answer: Value = resp.json().await.expect("json");
    assert_eq!(answer["model"], "my-deployment");
    let content = answer["choices"][0]["message"]["content"]
        .as_str()
        .expect("content");
    assert_eq!(
        serde_json::from_str::<Value>(content).expect("json content"),
        json!({"sentiment": "Negative"})
    );
    let resp = post_azure(&llm, "my-deployment", q, Some("wrong"), &body).await;
    assert_eq!(resp.status().as_u16(), 401);
    let err: Value = resp.json().await.expect("json");
    assert_eq!(err["error"]["code"], "invalid_api_key");
    // The api-version query is required.
    let resp = post_azure(&llm, "my-deployment", "", Some("azure-key"), &body).await;
    assert_eq!(resp.status().as_u16(), 400);
    let stats = llm.stats();
    assert_eq!(
        (stats.ok, stats.unauthorized, stats.bad_requests),
        (1, 1, 1)
    );
}
