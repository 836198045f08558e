//! The fake is as strict as the real APIs: parameters a model does not take, fields a provider
//! does not know and images in the wrong shape get the provider's own 400; reasoning tokens,
//! cached prefixes and the output token limit show in the usage and the finish.
use super::{ner_schema, sentiment_schema, start};
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use serde_json::{Value, json};

/// A 1x1 PNG, base64.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/// Posts `body` to `path` of the fake with `headers`; the status and the JSON answer.
async fn post(llm: &FakeLlm, path: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", llm.root_url()))
        .json(body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

/// An OpenAI chat completion of `model` with `extra` fields; the status and answer.
async fn openai(llm: &FakeLlm, model: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({
        "model": model,
        "messages": [{"role": "user", "content": "Text: I love it"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": sentiment_schema()}},
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        body[k] = v;
    }
    post(llm, "/v1/chat/completions", &[], &body).await
}

#[tokio::test]
async fn openai_reasoning_models_refuse_sampling_and_max_tokens() {
    let llm = start(FakeLlmConfig::default()).await;
    let (status, err) = openai(&llm, "gpt-5-mini", json!({"temperature": 0})).await;
    assert_eq!(status, 400);
    assert_eq!(
        err["error"],
        json!({
            "message": "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported.",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": "unsupported_value",
        })
    );
    // The default value is fine.
    assert_eq!(
        openai(&llm, "gpt-5-mini", json!({"temperature": 1}))
            .await
            .0,
        200
    );
    let (status, err) = openai(&llm, "o3", json!({"top_p": 0.5})).await;
    assert_eq!(status, 400);
    assert_eq!(
        err["error"]["message"],
        "Unsupported parameter: 'top_p' is not supported with this model."
    );
    assert_eq!(err["error"]["code"], "unsupported_parameter");
    let (status, err) = openai(&llm, "gpt-5-mini", json!({"max_tokens": 100})).await;
    assert_eq!(status, 400);
    assert_eq!(
        err["error"]["message"],
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
    );
    assert_eq!(err["error"]["param"], "max_tokens");
    // Chat models take no reasoning effort; nobody takes an unknown field.
    let (status, err) = openai(&llm, "gpt-4o-mini", json!({"reasoning_effort": "low"})).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["param"], "reasoning_effort");
    let (status, err) = openai(&llm, "gpt-4o-mini", json!({"top_k": 5})).await;
    assert_eq!(status, 400);
    assert_eq!(
        err["error"]["message"],
        "Unrecognized request argument supplied: top_k"
    );
    // What a reasoning model takes, it answers, spending reasoning tokens by effort.
    let (status, answer) = openai(
        &llm,
        "gpt-5-mini",
        json!({"max_completion_tokens": 2000, "reasoning_effort": "low", "seed": 1}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let usage = &answer["usage"];
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 64);
    let visible = usage["completion_tokens"].as_u64().expect("completion") - 64;
    assert!(visible >= 1);
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    let stats = llm.stats();
    assert_eq!((stats.bad_requests, stats.ok), (5, 2));
    assert_eq!(stats.reasoning_tokens, 64 + 192);
}

#[tokio::test]
async fn openai_image_parts_have_one_shape() {
    let llm = start(FakeLlmConfig::default()).await;
    let with = |parts: Value, system: Value| {
        json!({"model": "gpt-4o", "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": parts},
        ]})
    };
    let good = json!([
        {"type": "text", "text": "Label the picture."},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}"), "detail": "low"}},
        {"type": "text", "text": "Text: a cat"},
    ]);
    let (status, answer) = post(&llm, "/v1/chat/completions", &[], &with(good, json!("sys"))).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["usage"]["prompt_tokens"].as_u64() >= Some(2 * 258));
    let refused = [
        (
            json!([{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]),
            "messages[1].content[0].type",
            "invalid_value",
        ),
        (
            json!([{"type": "image_url", "image_url": "https://example.com/cat.png"}]),
            "messages[1].content[0].image_url",
            "invalid_type",
        ),
        (
            json!([{"type": "image_url", "image_url": {"uri": "https://example.com/cat.png"}}]),
            "messages[1].content[0].image_url.url",
            "missing_required_parameter",
        ),
        (
            json!([{"type": "image_url", "image_url": {"url": format!("image/png;base64,{PNG}")}}]),
            "messages[1].content[0].image_url.url",
            "invalid_value",
        ),
        (
            json!([{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}]),
            "messages[1].content[0].image_url.url",
            "invalid_image_format",
        ),
        (
            json!([{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]),
            "messages[1].content[0].image_url.url",
            "image_parse_error",
        ),
    ];
    for (parts, param, code) in refused {
        let (status, err) = post(
            &llm,
            "/v1/chat/completions",
            &[],
            &with(parts.clone(), json!("s")),
        )
        .await;
        assert_eq!(status, 400, "{parts}");
        assert_eq!(err["error"]["param"], param, "{parts}: {err}");
        assert_eq!(err["error"]["code"], code, "{parts}: {err}");
        assert_eq!(err["error"]["type"], "invalid_request_error");
    }
    // Images go in user messages only.
    let system = json!([{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]);
    let (status, err) = post(
        &llm,
        "/v1/chat/completions",
        &[],
        &with(json!("hi"), system),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        err["error"]["message"],
        "Invalid value: 'image_url'. Supported values are: 'text'."
    );
}

#[tokio::test]
async fn openai_limits_cut_and_long_prefixes_are_cached() {
    let llm = start(FakeLlmConfig::default()).await;
    // Reasoning eats the whole budget: no content, finish_reason length.
    let (status, answer) = openai(
        &llm,
        "o4-mini",
        json!({"max_completion_tokens": 100, "reasoning_effort": "high"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    assert_eq!(answer["choices"][0]["message"]["content"], "");
    assert_eq!(answer["usage"]["completion_tokens"], 100);
    assert_eq!(llm.stats().cut, 1);
    // A prompt of more than 1,024 tokens: its prefix is cached from the second call on.
    let system = "You label reviews. ".repeat(300);
    let call = |text: &str| {
        json!({"model": "gpt-4o-mini", "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": text},
        ]})
    };
    let (_, first) = post(&llm, "/v1/chat/completions", &[], &call("Text: one")).await;
    assert_eq!(first["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    let (_, second) = post(&llm, "/v1/chat/completions", &[], &call("Text: two")).await;
    let cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .expect("cached");
    assert!(cached >= 1024 && cached % 128 == 0, "{cached}");
    assert!(cached <= second["usage"]["prompt_tokens"].as_u64().expect("prompt"));
}

/// An Anthropic request of `model` with `extra` fields.
fn anthropic_body(model: &str, extra: Value) -> Value {
    let mut body = json!({
        "model": model,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Text: John works at Acme"}],
        "tools": [{"name": "record_labels", "input_schema": ner_schema()}],
        "tool_choice": {"type": "tool", "name": "record_labels"},
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        if v.is_null() {
            body.as_object_mut().expect("object").remove(&k);
        } else {
            body[k] = v;
        }
    }
    body
}

/// Posts an Anthropic request.
async fn anthropic(llm: &FakeLlm, body: &Value) -> (u16, Value) {
    post(
        llm,
        "/v1/messages",
        &[("anthropic-version", "2023-06-01")],
        body,
    )
    .await
}

#[tokio::test]
async fn anthropic_refuses_what_claude_refuses() {
    let llm = start(FakeLlmConfig::default()).await;
    let cases = [
        (
            "claude-sonnet-4-5",
            json!({"max_tokens": null}),
            "max_tokens: Field required",
        ),
        (
            "claude-haiku-4-5",
            json!({"seed": 3}),
            "seed: Extra inputs are not permitted",
        ),
        (
            "claude-sonnet-4-5-20250929",
            json!({"temperature": 0.2, "top_p": 0.9}),
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
        ),
        (
            "claude-opus-4-7",
            json!({"temperature": 0}),
            "`temperature` is deprecated for this model.",
        ),
        (
            "claude-sonnet-5",
            json!({"top_k": 5}),
            "`top_k` is deprecated for this model.",
        ),
        (
            "claude-sonnet-4-5",
            json!({"thinking": {"type": "enabled", "budget_tokens": 2048}}),
            "Thinking may not be enabled when tool_choice forces tool use.",
        ),
    ];
    for (model, extra, message) in cases {
        let (status, err) = anthropic(&llm, &anthropic_body(model, extra.clone())).await;
        assert_eq!(status, 400, "{model} {extra}");
        assert_eq!(err["type"], "error");
        assert_eq!(err["error"]["type"], "invalid_request_error");
        assert_eq!(err["error"]["message"], message, "{model} {extra}");
    }
    // Claude 4 takes one of the two; the newest take the default temperature.
    let (status, _) = anthropic(
        &llm,
        &anthropic_body("claude-sonnet-4-5", json!({"temperature": 0})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = anthropic(
        &llm,
        &anthropic_body("claude-opus-4-8", json!({"temperature": 1.0})),
    )
    .await;
    assert_eq!(status, 200);
    // Thinking without a forced tool spends thinking tokens, reported as output.
    let extra = json!({"thinking": {"type": "adaptive"}, "tool_choice": {"type": "auto"}});
    let (status, answer) = anthropic(&llm, &anthropic_body("claude-sonnet-5", extra)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["content"][0]["type"], "thinking");
    assert!(answer["usage"]["output_tokens"].as_u64() > Some(256));
    // The output limit cuts.
    let (_, cut) = anthropic(
        &llm,
        &anthropic_body("claude-haiku-4-5", json!({"max_tokens": 3})),
    )
    .await;
    assert_eq!(cut["stop_reason"], "max_tokens");
    assert_eq!(cut["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn anthropic_images_and_cache_control() {
    let llm = start(FakeLlmConfig::default()).await;
    let with = |blocks: Value| {
        anthropic_body(
            "claude-haiku-4-5",
            json!({"messages": [{"role": "user", "content": blocks}]}),
        )
    };
    let good = json!([
        {"type": "text", "text": "Label the picture."},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]);
    let (status, answer) = anthropic(&llm, &with(good)).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["usage"]["input_tokens"].as_u64() >= Some(2 * 258));
    let refused = [
        (
            json!([{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]),
            "messages.0.content.0: Input tag 'image_url' found using 'type'",
        ),
        (
            json!([{"type": "image"}]),
            "messages.0.content.0.image.source: Field required",
        ),
        (
            json!([{"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": PNG}}]),
            "messages.0.content.0.image.source.base64.media_type: Input should be",
        ),
        (
            json!([{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "%%"}}]),
            "messages.0.content.0.image.source.base64.data",
        ),
        (
            json!([{"type": "image", "source": {"type": "image_url", "url": "https://x"}}]),
            "messages.0.content.0.image.source: Input tag 'image_url'",
        ),
    ];
    for (blocks, message) in refused {
        let (status, err) = anthropic(&llm, &with(blocks.clone())).await;
        assert_eq!(status, 400, "{blocks}");
        let got = err["error"]["message"].as_str().expect("message");
        assert!(got.starts_with(message), "{blocks}: {got}");
    }
    // cache_control: the long system prompt is written once, then read.
    let system = json!([{"type": "text", "text": "You label entities. ".repeat(300), "cache_control": {"type": "ephemeral"}}]);
    let call = |text: &str| {
        anthropic_body(
            "claude-sonnet-4-5",
            json!({"system": system, "messages": [{"role": "user", "content": text}]}),
        )
    };
    let (_, first) = anthropic(&llm, &call("Text: Ann")).await;
    let written = first["usage"]["cache_creation_input_tokens"]
        .as_u64()
        .expect("written");
    assert!(written >= 1024, "{first}");
    assert_eq!(first["usage"]["cache_read_input_tokens"], 0);
    let (_, second) = anthropic(&llm, &call("Text: Bob")).await;
    assert_eq!(
        second["usage"]["cache_read_input_tokens"].as_u64(),
        Some(written)
    );
    assert_eq!(second["usage"]["cache_creation_input_tokens"], 0);
    assert!(second["usage"]["input_tokens"].as_u64() < Some(100));
}

/// Posts a Gemini request for `model`.
async fn gemini(llm: &FakeLlm, model: &str, body: &Value) -> (u16, Value) {
    post(
        llm,
        &format!("/v1beta/models/{model}:generateContent"),
        &[],
        body,
    )
    .await
}

#[tokio::test]
async fn gemini_refuses_unknown_fields_and_wrong_images() {
    let llm = start(FakeLlmConfig::default()).await;
    let body = |parts: Value, config: Value| json!({"contents": [{"role": "user", "parts": parts}], "generationConfig": config});
    let text = json!([{"text": "Text: I love it"}]);
    let (status, err) = gemini(
        &llm,
        "gemini-2.5-flash",
        &body(text.clone(), json!({"seed": 1, "foo": 2})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        err["error"]["message"],
        "Invalid JSON payload received. Unknown name \"foo\" at 'generation_config': Cannot find field."
    );
    assert_eq!(err["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        err["error"]["details"][0]["fieldViolations"][0]["field"],
        "generation_config"
    );
    // Both spellings of the image parts; a part in another provider's shape is refused.
    let good = json!([
        {"text": "Label the picture."},
        {"inline_data": {"mime_type": "image/png", "data": PNG}},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"file_data": {"mime_type": "image/jpeg", "file_uri": "https://example.com/cat.jpg"}},
    ]);
    let (status, answer) =
        gemini(&llm, "gemini-2.0-flash", &body(good, json!({"topP": 0.5}))).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["usageMetadata"]["promptTokenCount"].as_u64() >= Some(3 * 258));
    let refused = [
        (
            json!([{"image_url": {"url": "https://example.com/a.png"}}]),
            "Invalid JSON payload received. Unknown name \"image_url\" at 'contents[0].parts[0]': Cannot find field.",
        ),
        (
            json!([{"inline_data": {"mime_type": "image/png", "data": "not base64!"}}]),
            "Invalid value at 'contents[0].parts[0].inline_data.data' (TYPE_BYTES), Base64 decoding failed for \"not base64!\"",
        ),
        (
            json!([{"inline_data": {"mime_type": "application/zip", "data": PNG}}]),
            "Unsupported MIME type: application/zip",
        ),
        (
            json!([{"file_data": {"mime_type": "image/png", "file_uri": "cat.png"}}]),
            "* GenerateContentRequest.contents[0].parts[0].file_data.file_uri: Invalid or unsupported file uri: cat.png",
        ),
    ];
    for (parts, message) in refused {
        let (status, err) = gemini(&llm, "gemini-2.5-flash", &body(parts.clone(), json!({}))).await;
        assert_eq!(status, 400, "{parts}");
        assert_eq!(err["error"]["message"], message, "{parts}");
    }
    let zero = json!({"thinkingConfig": {"thinkingBudget": 0}});
    let (status, err) = gemini(&llm, "gemini-2.5-pro", &body(text, zero)).await;
    assert_eq!(status, 400);
    assert_eq!(
        err["error"]["message"],
        "Budget 0 is invalid. This model only works in thinking mode."
    );
}

#[tokio::test]
async fn gemini_thinking_models_report_thoughts_cuts_and_cache() {
    let llm = start(FakeLlmConfig::default()).await;
    let body = |text: &str, config: Value| {
        json!({
            "systemInstruction": {"parts": [{"text": "You label reviews. ".repeat(300)}]},
            "contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": config,
        })
    };
    let schema =
        json!({"responseMimeType": "application/json", "responseJsonSchema": sentiment_schema()});
    let (_, first) = gemini(
        &llm,
        "gemini-2.5-flash",
        &body("Text: I love it", schema.clone()),
    )
    .await;
    let usage = &first["usageMetadata"];
    assert_eq!(usage["thoughtsTokenCount"], 160);
    assert!(usage.get("cachedContentTokenCount").is_none());
    let total = usage["promptTokenCount"].as_u64().expect("prompt")
        + usage["candidatesTokenCount"].as_u64().expect("candidates")
        + 160;
    assert_eq!(usage["totalTokenCount"].as_u64(), Some(total));
    let (_, second) = gemini(&llm, "gemini-2.5-flash", &body("Text: awful", schema)).await;
    assert!(second["usageMetadata"]["cachedContentTokenCount"].as_u64() >= Some(1024));
    // No thinking on 2.0; Gemini 3 thinks by level.
    let (_, plain) = gemini(&llm, "gemini-2.0-flash", &body("Text: ok", json!({}))).await;
    assert!(plain["usageMetadata"].get("thoughtsTokenCount").is_none());
    let low = json!({"thinkingConfig": {"thinkingLevel": "low"}});
    let (_, three) = gemini(&llm, "gemini-3-pro-preview", &body("Text: ok", low)).await;
    assert_eq!(three["usageMetadata"]["thoughtsTokenCount"], 64);
    // Thoughts count against maxOutputTokens.
    let (_, cut) = gemini(
        &llm,
        "gemini-2.5-flash",
        &body("Text: ok", json!({"maxOutputTokens": 50})),
    )
    .await;
    assert_eq!(cut["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert!(cut["candidates"][0].get("content").is_none());
    assert_eq!(cut["usageMetadata"]["thoughtsTokenCount"], 50);
}
