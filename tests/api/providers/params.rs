//! Model parameters per the rules table, end to end against the strict fake: what each model
//! takes is sent, what it does not is left out with a note, a parameter the provider refuses
//! anyway is retried once without it (and the scheduler sees one successful attempt).
use super::{DIALECTS, KEY, call, choices_schema, credentials, start};
use prompter::fake_llm::FakeLlmConfig;
use prompter::llm::Provider;
use prompter::llm::scheduler::{Cancel, Scheduler, SchedulerConfig};
use super::http_client;
use prompter::llm::{LlmRequest, Message, ModelParams, Role, provider_for};
use serde_json::{Value, json};

/// A sentiment call of `model` with `params`.
fn with(model: &str, params: ModelParams) -> LlmRequest {
    LlmRequest {
        model: model.into(),
        messages: vec![
            Message::new(Role::System, "You are a careful annotator."),
            Message::new(Role::User, "Label the text.\nText: I love it"),
        ],
        schema: choices_schema(),
        params,
    }
}

/// Parameters with `extra` body fields.
fn extra(fields: Value) -> ModelParams {
    ModelParams {
        extra: fields.as_object().cloned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn gpt_5_mini_with_default_settings_succeeds() {
    let llm = start(FakeLlmConfig::default()).await;
    for provider in [Provider::OpenAI, Provider::Custom, Provider::AzureOpenAI] {
        let response = call(
            provider,
            &llm,
            KEY,
            &with("gpt-5-mini", ModelParams::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("{provider:?}: {e}"));
        assert_eq!(response.output, json!({"sentiment": "Positive"}));
        assert!(response.notes.is_empty(), "{:?}", response.notes);
        // A reasoning model at its default effort: reasoning tokens, billed as output.
        assert_eq!(response.usage.reasoning_tokens, 192);
        assert!(response.usage.completion_tokens > 192);
    }
    assert_eq!(llm.stats().bad_requests, 0);
}

#[tokio::test]
async fn each_model_gets_what_it_takes() {
    let llm = start(FakeLlmConfig::default()).await;
    let full = ModelParams {
        temperature: Some(0.2),
        top_p: Some(0.9),
        seed: Some(7),
        max_tokens: Some(3000),
        reasoning_effort: Some("low".into()),
        extra: None,
    };
    let sampling = ModelParams {
        temperature: Some(0.3),
        top_p: Some(0.9),
        seed: Some(4),
        max_tokens: Some(500),
        ..Default::default()
    };
    let effort = |e: &str| ModelParams {
        reasoning_effort: Some(e.into()),
        ..Default::default()
    };
    // (provider, model, params, notes expected to start with, reasoning tokens)
    let cases: Vec<(Provider, &str, ModelParams, Vec<&str>, u64)> = vec![
        (
            Provider::OpenAI,
            "gpt-5-mini",
            full.clone(),
            vec!["temperature not sent", "top_p not sent"],
            64,
        ),
        (
            Provider::AzureOpenAI,
            "o3",
            full.clone(),
            vec!["temperature not sent", "top_p not sent"],
            64,
        ),
        (Provider::OpenAI, "gpt-4o-mini", sampling.clone(), vec![], 0),
        (
            Provider::OpenAI,
            "gpt-4o-mini",
            effort("low"),
            vec!["reasoning_effort not sent"],
            0,
        ),
        (
            Provider::Custom,
            "llama3.1:8b",
            ModelParams::default(),
            vec![],
            0,
        ),
        (
            Provider::Anthropic,
            "claude-sonnet-4-5",
            sampling.clone(),
            vec!["seed not sent", "top_p not sent"],
            0,
        ),
        (
            Provider::Anthropic,
            "claude-opus-4-7",
            full.clone(),
            vec!["temperature not sent", "top_p not sent", "seed not sent"],
            0,
        ),
        (
            Provider::Anthropic,
            "claude-haiku-4-5",
            ModelParams::default(),
            vec![],
            0,
        ),
        (
            Provider::Gemini,
            "gemini-2.5-flash",
            full.clone(),
            vec![],
            160,
        ),
        (
            Provider::Gemini,
            "gemini-3-pro-preview",
            effort("low"),
            vec![],
            64,
        ),
        (
            Provider::Gemini,
            "gemini-2.0-flash",
            effort("low"),
            vec!["reasoning_effort not sent"],
            0,
        ),
    ];
    for (provider, model, params, notes, reasoning) in cases {
        let response = call(provider, &llm, KEY, &with(model, params))
            .await
            .unwrap_or_else(|e| panic!("{provider:?} {model}: {e}"));
        assert_eq!(response.output, json!({"sentiment": "Positive"}), "{model}");
        assert_eq!(
            response.notes.len(),
            notes.len(),
            "{model}: {:?}",
            response.notes
        );
        for (note, start) in response.notes.iter().zip(notes) {
            assert!(note.starts_with(start), "{model}: {note}");
        }
        assert_eq!(response.usage.reasoning_tokens, reasoning, "{model}");
    }
    assert_eq!(
        llm.stats().bad_requests,
        0,
        "the rules send nothing a model refuses"
    );
}

#[tokio::test]
async fn a_refused_parameter_is_retried_once_without_it() {
    let llm = start(FakeLlmConfig::default()).await;
    // A temperature the rules would not send, forced in through `extra`: OpenAI refuses it
    // ("Unsupported value: 'temperature' does not support 0 with this model").
    let provider =
        provider_for(&credentials(Provider::OpenAI, &llm, KEY), &http_client()).expect("provider");
    let scheduler = Scheduler::new(provider, SchedulerConfig::default());
    let request = with("gpt-5-mini", extra(json!({"temperature": 0})));
    let outcome = scheduler
        .call(&request, &Cancel::new())
        .await
        .expect("the retry succeeds");
    assert_eq!(outcome.response.output, json!({"sentiment": "Positive"}));
    assert_eq!(
        outcome.response.notes,
        vec!["retried without temperature: the provider refused it"]
    );
    // One attempt for the scheduler, not a failure.
    assert_eq!(outcome.attempts, 1);
    let stats = scheduler.stats();
    assert_eq!(
        (stats.attempts, stats.succeeded, stats.failed, stats.retried),
        (1, 1, 0, 0)
    );
    assert_eq!((llm.stats().bad_requests, llm.stats().ok), (1, 1));
    // The next call leaves it out at once.
    let outcome = scheduler
        .call(&request, &Cancel::new())
        .await
        .expect("an answer");
    assert_eq!(
        outcome.response.notes,
        vec!["temperature not sent: the provider refused it on an earlier call"]
    );
    assert_eq!((llm.stats().bad_requests, llm.stats().ok), (1, 2));

    // Anthropic and Gemini refusals are read from their own error bodies.
    let cases = [
        (
            Provider::Anthropic,
            "claude-haiku-4-5",
            json!({"seed": 1}),
            "seed",
        ),
        (
            Provider::Gemini,
            "gemini-2.5-flash",
            json!({"generationConfig": {"topA": 0.5}}),
            "generationConfig.topA",
        ),
    ];
    for (provider, model, fields, path) in cases {
        let response = call(provider, &llm, KEY, &with(model, extra(fields)))
            .await
            .unwrap_or_else(|e| panic!("{provider:?}: {e}"));
        assert_eq!(
            response.notes,
            vec![format!("retried without {path}: the provider refused it")]
        );
    }
    assert_eq!((llm.stats().bad_requests, llm.stats().ok), (3, 4));
}

#[tokio::test]
async fn other_bad_requests_are_not_retried() {
    let llm = start(FakeLlmConfig::default()).await;
    for provider in DIALECTS {
        // A null in `extra` removes a field; without its messages the call is refused.
        let fields = match provider {
            Provider::Gemini => json!({"contents": null}),
            _ => json!({"messages": null}),
        };
        let error = call(provider, &llm, KEY, &with("gpt-4o-mini", extra(fields)))
            .await
            .expect_err("refused");
        assert_eq!(error.error_type(), "BadRequest", "{provider:?}: {error}");
        assert!(!error.is_retryable());
    }
    assert_eq!(llm.stats().bad_requests, 5);
}
