//! The provider layer against the fake LLM server over loopback: each provider kind
//! (OpenAI, Custom, AzureOpenAI, Anthropic, Gemini) through `provider_for` and
//! `LlmProvider::complete` — keyword and span answers, usage, typed errors for a wrong key, a
//! rate limit, server errors and malformed output — and the scheduler retrying server errors;
//! parameters per the rules and refused ones retried (`params`); images, usage details, cuts,
//! refusals and answers as real models give them (`answers`).
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use prompter::llm::scheduler::{Cancel, Scheduler, SchedulerConfig};
use prompter::llm::{Credentials, Provider};
use prompter::llm::{LlmError, LlmRequest, LlmResponse, Message, Role, provider_for};
use serde_json::{Value, json};
use std::time::Duration;

mod answers;
mod logprobs;
mod params;

/// Every provider kind Prompter runs.
const DIALECTS: [Provider; 5] = [
    Provider::OpenAI,
    Provider::Custom,
    Provider::AzureOpenAI,
    Provider::Anthropic,
    Provider::Gemini,
];

/// The key every fake server of these tests requires.
const KEY: &str = "fake-key";

/// Starts a fake server requiring [`KEY`], with `config` otherwise.
async fn start(config: FakeLlmConfig) -> FakeLlm {
    let config = FakeLlmConfig {
        require_key: Some(KEY.into()),
        ..config
    };
    // reqwest is built without a TLS provider of its own; the tests' clients need one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    FakeLlm::start(config, 0).await.expect("start fake LLM")
}

/// The credentials of a `provider` connection to `llm` with `key`.
fn credentials(provider: Provider, llm: &FakeLlm, key: &str) -> Credentials {
    let (endpoint, deployment_name) = match provider {
        Provider::OpenAI | Provider::Custom => (llm.base_url(), None),
        Provider::AzureOpenAI => (
            format!("{}?api-version=2024-10-21", llm.root_url()),
            Some("fake-deployment".to_string()),
        ),
        _ => (llm.root_url(), None),
    };
    Credentials {
        id: 1,
        provider,
        api_key: Some(key.to_string()),
        auth_token: None,
        google_application_credentials: None,
        endpoint: Some(endpoint),
        deployment_name,
        google_project_id: None,
        google_location: None,
        rpm_limit: None,
        tpm_limit: None,
    }
}

/// The schema of a single-choice sentiment answer.
fn choices_schema() -> Value {
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
                "labels": {"type": "array", "items": {"type": "string", "enum": ["PER", "ORG"]}},
                "text": {"type": "string"},
            },
            "required": ["start", "end", "labels", "text"],
            "additionalProperties": false,
        }}},
        "required": ["label"],
        "additionalProperties": false,
    })
}

/// A call for `text` with `schema`.
fn request(text: &str, schema: Value) -> LlmRequest {
    LlmRequest {
        model: "fake-model".into(),
        messages: vec![
            Message::new(Role::System, "You are a careful annotator."),
            Message::new(Role::User, format!("Label the text.\nText: {text}")),
        ],
        schema,
        params: Default::default(),
    }
}

/// One call of a `provider` connection to `llm` with `key`.
async fn call(
    provider: Provider,
    llm: &FakeLlm,
    key: &str,
    request: &LlmRequest,
) -> Result<LlmResponse, LlmError> {
    let p = provider_for(&credentials(provider, llm, key), &http_client()).expect("provider");
    p.complete(request).await
}

/// Every check of one provider kind against the fake.
async fn exercise(provider: Provider) {
    // A Choices schema gets the keyword answer and usage.
    let llm = start(FakeLlmConfig::default()).await;
    let response = call(provider, &llm, KEY, &request("I love it", choices_schema()))
        .await
        .expect("a Choices answer");
    assert_eq!(response.output, json!({"sentiment": "Positive"}));
    assert!(response.usage.prompt_tokens > 0 && response.usage.completion_tokens > 0);

    // A NER schema gets spans.
    let response = call(
        provider,
        &llm,
        KEY,
        &request("John works at Acme", ner_schema()),
    )
    .await
    .expect("a NER answer");
    assert_eq!(
        response.output,
        json!({"label": [
            {"start": 0, "end": 4, "labels": ["PER"], "text": "John"},
            {"start": 14, "end": 18, "labels": ["ORG"], "text": "Acme"},
        ]})
    );

    // A wrong key is an authentication error.
    let error = call(
        provider,
        &llm,
        "wrong-key",
        &request("I love it", choices_schema()),
    )
    .await
    .expect_err("a wrong key fails");
    assert!(
        matches!(error, LlmError::Authentication(_)),
        "{provider:?}: {error:?}"
    );
    assert!(!error.is_retryable());
    let stats = llm.stats();
    assert_eq!((stats.ok, stats.unauthorized), (2, 1), "{provider:?}");

    // Past an RPM limit of 1, a rate-limit error with the wait.
    let limited = start(FakeLlmConfig {
        rpm: Some(1),
        ..FakeLlmConfig::default()
    })
    .await;
    let choice = request("I love it", choices_schema());
    call(provider, &limited, KEY, &choice)
        .await
        .expect("the first call fits");
    let error = call(provider, &limited, KEY, &choice)
        .await
        .expect_err("the second call is limited");
    let LlmError::RateLimit { retry_after, .. } = &error else {
        panic!("{provider:?}: not a rate limit: {error:?}");
    };
    assert!(retry_after.is_some(), "{provider:?}: no retry_after");
    assert_eq!(error.error_type(), "RateLimit");
    assert!(error.is_retryable());

    // Server errors.
    let failing = start(FakeLlmConfig {
        error_rate: 1.0,
        ..FakeLlmConfig::default()
    })
    .await;
    let error = call(provider, &failing, KEY, &choice)
        .await
        .expect_err("a server error");
    assert_eq!(
        error.error_type(),
        "ProviderError",
        "{provider:?}: {error:?}"
    );
    assert!(error.is_retryable());

    // Malformed output.
    let malformed = start(FakeLlmConfig {
        malformed_rate: 1.0,
        ..FakeLlmConfig::default()
    })
    .await;
    let error = call(provider, &malformed, KEY, &choice)
        .await
        .expect_err("malformed output");
    assert_eq!(
        error.error_type(),
        "InvalidOutput",
        "{provider:?}: {error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(malformed.stats().malformed, 1);
}

#[tokio::test]
async fn openai_connections_call_the_fake() {
    exercise(Provider::OpenAI).await;
}

#[tokio::test]
async fn custom_connections_call_the_fake() {
    exercise(Provider::Custom).await;
}

#[tokio::test]
async fn azure_openai_connections_call_the_fake() {
    exercise(Provider::AzureOpenAI).await;
}

#[tokio::test]
async fn anthropic_connections_call_the_fake() {
    exercise(Provider::Anthropic).await;
}

#[tokio::test]
async fn gemini_connections_call_the_fake() {
    exercise(Provider::Gemini).await;
}

#[tokio::test]
async fn the_scheduler_retries_server_errors_until_an_answer() {
    let llm = start(FakeLlmConfig {
        error_rate: 0.5,
        seed: 3,
        ..FakeLlmConfig::default()
    })
    .await;
    let provider =
        provider_for(&credentials(Provider::Custom, &llm, KEY), &http_client()).expect("provider");
    let scheduler = Scheduler::new(
        provider,
        SchedulerConfig {
            rpm: None,
            max_attempts: 10,
            base_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            call_timeout: Duration::from_secs(10),
            ..SchedulerConfig::default()
        },
    );
    let cancel = Cancel::new();
    let calls = 4;
    let mut attempts = 0;
    for _ in 0..calls {
        let outcome = scheduler
            .call(&request("a terrible day", choices_schema()), &cancel)
            .await
            .expect("the scheduler retries until an answer");
        assert_eq!(outcome.response.output, json!({"sentiment": "Negative"}));
        assert!(outcome.attempts >= 1);
        attempts += u64::from(outcome.attempts);
    }
    let stats = scheduler.stats();
    let fake = llm.stats();
    assert_eq!(stats.succeeded, calls);
    assert_eq!(stats.failed, 0);
    assert_eq!(stats.attempts, attempts);
    assert_eq!(stats.retried, attempts - calls);
    assert!(stats.retried >= 1, "seed 3 draws at least one server error");
    assert_eq!(fake.server_errors, stats.retried);
    assert_eq!(fake.ok, calls);
}

/// The outbound client of a local install (loopback allowed), as the providers' tests use.
pub fn http_client() -> prompter::outbound::Outbound {
    let policy = prompter::outbound::Policy::new(&[], true).expect("policy");
    prompter::outbound::Outbound::new(policy, 32 * 1024 * 1024)
}
