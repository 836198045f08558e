//! The fake's Gemini `generateContent` dialect: JSON text answers, error shapes and faults.
use super::{sentiment_schema, start};
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use serde_json::{Value, json};

/// A Gemini `generateContent` request for `text` with a JSON schema (or none).
fn gemini_request(text: &str, schema: Option<Value>) -> Value {
    let mut body = json!({
        "systemInstruction": {"parts": [{"text": "You are a careful annotator."}]},
        "contents": [{"role": "user", "parts": [{"text": text}]}],
    });
    if let Some(schema) = schema {
        body["generationConfig"] = json!({
            "responseMimeType": "application/json",
            "responseJsonSchema": schema,
        });
    }
    body
}

/// Posts a Gemini request for `model` (`query` appended), with `x-goog-api-key` when given.
async fn post_gemini(
    llm: &FakeLlm,
    model: &str,
    query: &str,
    body: &Value,
    key: Option<&str>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!(
            "{}/v1beta/models/{model}:generateContent{query}",
            llm.root_url()
        ))
        .json(body);
    if let Some(key) = key {
        req = req.header("x-goog-api-key", key);
    }
    req.send().await.expect("request")
}

/// The parsed JSON text of a Gemini answer's first candidate.
fn gemini_content(answer: &Value) -> Value {
    let text = answer["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .expect("candidate text");
    serde_json::from_str(text).expect("the text is JSON")
}

#[tokio::test]
async fn gemini_generate_content_answers_json_text() {
    let llm = start(FakeLlmConfig::default()).await;
    let resp = post_gemini(
        &llm,
        "gemini-fake",
        "",
        &gemini_request("Text: a terrible day", Some(sentiment_schema())),
        None,
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let answer: Value = resp.json().await.expect("json");
    assert_eq!(gemini_content(&answer), json!({"sentiment": "Negative"}));
    let candidate = &answer["candidates"][0];
    assert_eq!(candidate["content"]["role"], "model");
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(answer["modelVersion"], "gemini-fake");
    let usage = &answer["usageMetadata"];
    let prompt = usage["promptTokenCount"].as_u64().expect("prompt");
    let completion = usage["candidatesTokenCount"].as_u64().expect("completion");
    assert!(prompt >= 1 && completion >= 1);
    assert_eq!(usage["totalTokenCount"].as_u64(), Some(prompt + completion));

    // `responseSchema` also carries the schema; a few-shot conversation answers its last user turn.
    let body = json!({
        "contents": [
            {"role": "user", "parts": [{"text": "Text: I love it"}]},
            {"role": "model", "parts": [{"text": "{\"sentiment\": \"Positive\"}"}]},
            {"role": "user", "parts": [{"text": "Text: it is neutral"}]},
        ],
        "generationConfig": {"responseSchema": sentiment_schema()},
    });
    let answer: Value = post_gemini(&llm, "gemini-fake", "", &body, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(gemini_content(&answer), json!({"sentiment": "Neutral"}));

    // Without a schema; and another method of the model is not served.
    let answer: Value = post_gemini(&llm, "g", "", &gemini_request("hi", None), None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(gemini_content(&answer), json!({"answer": "ok"}));
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/v1beta/models/g:streamGenerateContent",
            llm.root_url()
        ))
        .json(&gemini_request("hi", None))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 404);
    let err: Value = resp.json().await.expect("json");
    assert_eq!(err["error"]["status"], "NOT_FOUND");
    assert_eq!(llm.stats().ok, 3);
}

#[tokio::test]
async fn gemini_errors_have_google_shapes() {
    let llm = start(FakeLlmConfig {
        require_key: Some("AIza-fake".into()),
        rpm: Some(1),
        ..FakeLlmConfig::default()
    })
    .await;
    let body = gemini_request("I love it", Some(sentiment_schema()));
    for key in [None, Some("AIza-wrong")] {
        let resp = post_gemini(&llm, "g", "", &body, key).await;
        assert_eq!(resp.status().as_u16(), 401);
        let err: Value = resp.json().await.expect("json");
        assert_eq!(err["error"]["code"], 401);
        assert_eq!(err["error"]["status"], "UNAUTHENTICATED");
        assert!(err["error"]["message"].is_string());
    }
    // The key may come in the query.
    let resp = post_gemini(&llm, "g", "?key=AIza-fake", &body, None).await;
    assert_eq!(resp.status().as_u16(), 200);
    let resp = post_gemini(&llm, "g", "", &body, Some("AIza-fake")).await;
    assert_eq!(resp.status().as_u16(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&retry));
    let err: Value = resp.json().await.expect("json");
    assert_eq!(err["error"]["code"], 429);
    assert_eq!(err["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(
        err["error"]["details"][0]["retryDelay"],
        format!("{retry}s")
    );

    let failing = start(FakeLlmConfig {
        error_rate: 1.0,
        ..FakeLlmConfig::default()
    })
    .await;
    let resp = post_gemini(&failing, "g", "", &body, None).await;
    assert_eq!(resp.status().as_u16(), 500);
    let err: Value = resp.json().await.expect("json");
    assert_eq!(err["error"]["code"], 500);
    assert_eq!(err["error"]["status"], "INTERNAL");

    let malformed = start(FakeLlmConfig {
        malformed_rate: 1.0,
        ..FakeLlmConfig::default()
    })
    .await;
    let answer: Value = post_gemini(&malformed, "g", "", &body, None)
        .await
        .json()
        .await
        .expect("json");
    let text = answer["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .expect("text");
    assert!(serde_json::from_str::<Value>(text).is_err());
}
