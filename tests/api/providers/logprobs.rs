//! Token log-probabilities through each dialect (issue 22 item 1): asked where the model gives
//! them, read from OpenAI's `logprobs.content` and Gemini's `logprobsResult`, and the chosen
//! label's probability is what the fake gave it; models that give none are not asked, and one
//! that refuses them is answered without.
use super::{KEY, call, choices_schema, request, start};
use prompter::fake_llm::FakeLlmConfig;
use prompter::llm::confidence::Answer;
use prompter::llm::{ModelParams, Provider};
use serde_json::json;

const TEXT: &str = "A great day [[confidence=0.83]]";

/// The probability of the answer's `sentiment`, normalized over the three labels.
fn sentiment_probability(logprobs: &[prompter::llm::TokenLogprob]) -> Option<f64> {
    let answer = Answer::new(logprobs);
    let leaf = answer.leaves().iter().find(|l| l.pointer == "/sentiment")?;
    let allowed = ["Positive", "Negative", "Neutral"].map(String::from);
    answer.probability(leaf, &allowed)
}

#[tokio::test]
async fn each_dialect_gives_the_labels_probability_where_the_model_has_one() {
    let llm = start(FakeLlmConfig::default()).await;
    for (provider, model, expected) in [
        (Provider::OpenAI, "gpt-4o-mini", Some(0.83)),
        (Provider::Custom, "llama-3.1-8b-instruct", Some(0.83)),
        (Provider::AzureOpenAI, "gpt-4o-mini", Some(0.83)),
        (Provider::Gemini, "gemini-2.0-flash", Some(0.83)),
        (Provider::OpenAI, "o4-mini", None),
        (Provider::Gemini, "gemini-2.5-flash", None),
        (Provider::Anthropic, "claude-sonnet-4-5", None),
    ] {
        let mut r = request(TEXT, choices_schema());
        r.model = model.into();
        let response = call(provider, &llm, KEY, &r)
            .await
            .unwrap_or_else(|e| panic!("{provider:?} {model}: {e}"));
        assert_eq!(response.output, json!({"sentiment": "Positive"}));
        let p = sentiment_probability(&response.logprobs);
        match expected {
            Some(e) => assert!(
                p.is_some_and(|p| (p - e).abs() < 1e-9),
                "{provider:?} {model}: {p:?}"
            ),
            None => assert!(response.logprobs.is_empty(), "{provider:?} {model}"),
        }
        assert!(
            response.notes.is_empty(),
            "{provider:?} {model}: {:?}",
            response.notes
        );
    }
}

#[tokio::test]
async fn a_model_that_refuses_log_probabilities_is_answered_without_them() {
    let llm = start(FakeLlmConfig::default()).await;
    // Asked anyway through `extra`: the thinking model refuses, the retry drops both fields.
    let mut r = request(TEXT, choices_schema());
    r.model = "gemini-2.5-flash".into();
    r.params = ModelParams {
        extra: serde_json::from_value(
            json!({"generationConfig": {"responseLogprobs": true, "logprobs": 3}}),
        )
        .ok(),
        ..Default::default()
    };
    let response = call(Provider::Gemini, &llm, KEY, &r)
        .await
        .expect("answered");
    assert!(response.logprobs.is_empty());
    assert!(
        response
            .notes
            .iter()
            .any(|n| n.contains("generationConfig.responseLogprobs")),
        "{:?}",
        response.notes
    );
    assert_eq!(llm.stats().bad_requests, 1);
}
