//! Images, usage and answers as real models give them, end to end against the fake for every
//! dialect: image parts in each provider's shape, reasoning and cached tokens, answers cut at
//! the token limit, refusals, and JSON in fences or prose.
use super::{DIALECTS, KEY, call, choices_schema, start};
use prompter::fake_llm::{FakeLlm, FakeLlmConfig, Quirk};
use prompter::llm::Provider;
use prompter::llm::{ImageSource, LlmRequest, Message, ModelParams, Part, Role};
use serde_json::json;

/// A 1x1 PNG, base64.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/// A model of each provider that takes images and thinks where it can.
fn model_of(provider: Provider) -> &'static str {
    match provider {
        Provider::Anthropic => "claude-haiku-4-5",
        Provider::Gemini => "gemini-2.5-flash",
        Provider::Custom => "llava:13b",
        _ => "gpt-4o-mini",
    }
}

/// A sentiment call of `model` whose user message is `parts`, with `params`.
fn call_of(model: &str, system: &str, parts: Vec<Part>, params: ModelParams) -> LlmRequest {
    LlmRequest {
        model: model.into(),
        messages: vec![
            Message::new(Role::System, system),
            Message::with_parts(Role::User, parts),
        ],
        schema: choices_schema(),
        params,
    }
}

/// A text-only sentiment call of `model`.
fn text_call(model: &str, params: ModelParams) -> LlmRequest {
    call_of(
        model,
        "You are a careful annotator.",
        vec![Part::Text("Text: I love it".into())],
        params,
    )
}

/// A fake whose every answer has `quirk`.
async fn quirky(quirk: Quirk) -> FakeLlm {
    start(FakeLlmConfig {
        realistic: true,
        realistic_rate: 1.0,
        realistic_quirks: vec![quirk],
        ..FakeLlmConfig::default()
    })
    .await
}

#[tokio::test]
async fn image_parts_are_accepted_in_each_dialect() {
    let llm = start(FakeLlmConfig::default()).await;
    let parts = vec![
        Part::Text("Label the picture and the text.".into()),
        Part::Image(ImageSource::Inline {
            media_type: "image/png".into(),
            data: PNG.into(),
        }),
        Part::Image(ImageSource::Url("https://example.com/cat.png".into())),
        Part::Text("Text: I love it".into()),
    ];
    for provider in DIALECTS {
        let request = call_of(
            model_of(provider),
            "Be careful.",
            parts.clone(),
            ModelParams::default(),
        );
        let response = call(provider, &llm, KEY, &request)
            .await
            .unwrap_or_else(|e| panic!("{provider:?}: {e}"));
        assert_eq!(
            response.output,
            json!({"sentiment": "Positive"}),
            "{provider:?}"
        );
        assert!(
            response.usage.prompt_tokens >= 2 * 258,
            "{provider:?}: {:?}",
            response.usage
        );
    }
    assert_eq!(llm.stats().bad_requests, 0);
}

#[tokio::test]
async fn usage_has_reasoning_and_cached_tokens() {
    let llm = start(FakeLlmConfig::default()).await;
    let long = "You label reviews by their sentiment. ".repeat(150);
    let cached = ModelParams {
        extra: json!({"cache_control": {"type": "ephemeral"}})
            .as_object()
            .cloned(),
        ..Default::default()
    };
    let cases = [
        (Provider::OpenAI, "gpt-5-mini", ModelParams::default(), 192),
        (Provider::Anthropic, "claude-sonnet-4-5", cached, 0),
        (
            Provider::Gemini,
            "gemini-2.5-flash",
            ModelParams::default(),
            160,
        ),
    ];
    for (provider, model, params, reasoning) in cases {
        let first = call(
            provider,
            &llm,
            KEY,
            &call_of(
                model,
                &long,
                vec![Part::Text("Text: I love it".into())],
                params.clone(),
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("{provider:?}: {e}"));
        assert_eq!(first.usage.cached_tokens, 0, "{provider:?}");
        assert_eq!(first.usage.reasoning_tokens, reasoning, "{provider:?}");
        assert!(first.usage.completion_tokens > reasoning, "{provider:?}");
        let second = call(
            provider,
            &llm,
            KEY,
            &call_of(model, &long, vec![Part::Text("Text: awful".into())], params),
        )
        .await
        .unwrap_or_else(|e| panic!("{provider:?}: {e}"));
        assert_eq!(second.output, json!({"sentiment": "Negative"}));
        // The long system prompt is served from the cache; prompt tokens still count it.
        assert!(
            second.usage.cached_tokens >= 1024,
            "{provider:?}: {:?}",
            second.usage
        );
        assert!(second.usage.prompt_tokens >= second.usage.cached_tokens);
        assert!(
            second
                .usage
                .prompt_tokens
                .abs_diff(first.usage.prompt_tokens)
                <= 2,
            "{provider:?}"
        );
    }
}

#[tokio::test]
async fn answers_cut_at_the_token_limit_fail_with_their_usage() {
    let llm = start(FakeLlmConfig::default()).await;
    let limit = |max: u32, effort: Option<&str>| ModelParams {
        max_tokens: Some(max),
        reasoning_effort: effort.map(str::to_string),
        ..Default::default()
    };
    let cases = [
        (
            Provider::OpenAI,
            "gpt-5-mini",
            limit(100, Some("high")),
            100,
            100,
        ),
        (Provider::AzureOpenAI, "gpt-4o-mini", limit(2, None), 2, 0),
        (
            Provider::Anthropic,
            "claude-haiku-4-5",
            limit(3, None),
            3,
            0,
        ),
        (
            Provider::Gemini,
            "gemini-2.5-flash",
            limit(50, None),
            50,
            50,
        ),
    ];
    for (provider, model, params, completion, reasoning) in cases {
        let error = call(provider, &llm, KEY, &text_call(model, params))
            .await
            .expect_err("cut");
        assert_eq!(error.error_type(), "InvalidOutput", "{provider:?}");
        assert!(
            error.to_string().contains("cut at the output token limit"),
            "{provider:?}: {error}"
        );
        assert!(!error.is_retryable());
        let usage = error.usage();
        assert_eq!(
            (usage.completion_tokens, usage.reasoning_tokens),
            (completion, reasoning),
            "{provider:?}"
        );
    }
    assert_eq!(llm.stats().cut, 4);
}

#[tokio::test]
async fn refusals_fail_clearly_in_each_dialect() {
    let llm = quirky(Quirk::Refusal).await;
    for provider in DIALECTS {
        let error = call(
            provider,
            &llm,
            KEY,
            &text_call(model_of(provider), ModelParams::default()),
        )
        .await
        .expect_err("refused");
        assert_eq!(error.error_type(), "InvalidOutput", "{provider:?}");
        let message = error.to_string();
        let clear = match provider {
            Provider::Gemini => message.contains("withheld the answer (finishReason: SAFETY)"),
            _ => message.contains("refused to answer"),
        };
        assert!(clear, "{provider:?}: {message}");
    }
}

#[tokio::test]
async fn answers_in_fences_and_prose_are_read_and_prose_alone_fails() {
    for quirk in [
        Quirk::Fences,
        Quirk::Prose,
        Quirk::Cut,
        Quirk::IgnoresFormat,
    ] {
        let llm = quirky(quirk).await;
        for provider in DIALECTS {
            let result = call(
                provider,
                &llm,
                KEY,
                &text_call(model_of(provider), ModelParams::default()),
            )
            .await;
            match quirk {
                Quirk::Fences | Quirk::Prose => {
                    let response = result.unwrap_or_else(|e| panic!("{quirk:?} {provider:?}: {e}"));
                    assert_eq!(response.output, json!({"sentiment": "Positive"}));
                }
                _ => {
                    let error = result.expect_err("no usable answer");
                    assert_eq!(
                        error.error_type(),
                        "InvalidOutput",
                        "{quirk:?} {provider:?}"
                    );
                }
            }
        }
    }
}
