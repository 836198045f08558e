//! Tests of the rules table and the settings it gives.
use super::*;
use serde_json::json;

fn openai(model: &str) -> ModelRules {
    rules(Provider::OpenAI, model, None)
}

fn params(temperature: Option<f64>, top_p: Option<f64>) -> ModelParams {
    ModelParams {
        temperature,
        top_p,
        ..Default::default()
    }
}

#[test]
fn openai_reasoning_models_take_no_sampling_parameters() {
    for model in [
        "gpt-5-mini",
        "gpt-5",
        "gpt-5.2",
        "o1",
        "o3-mini",
        "o4-mini",
        "ft:o4-mini:acme::x",
    ] {
        let r = openai(model);
        assert_eq!(r.temperature, Support::Refuses, "{model}");
        assert_eq!(r.top_p, Support::Refuses, "{model}");
        assert_eq!(r.reasoning_effort, Support::Takes, "{model}");
        assert!(r.reasons, "{model}");
    }
    // Defaults: nothing but what the version sets.
    let s = settings(&openai("gpt-5-mini"), "gpt-5-mini", &ModelParams::default());
    assert_eq!(s, Settings::default());
    // A set temperature is dropped with a note; the effort and the limit are kept.
    let p = ModelParams {
        temperature: Some(0.2),
        top_p: Some(0.9),
        max_tokens: Some(2000),
        reasoning_effort: Some("minimal".into()),
        ..Default::default()
    };
    let s = settings(&openai("gpt-5-mini"), "gpt-5-mini", &p);
    assert_eq!((s.temperature, s.top_p), (None, None));
    assert_eq!(s.max_tokens, Some(2000));
    assert_eq!(s.reasoning_effort.as_deref(), Some("minimal"));
    assert_eq!(s.notes.len(), 2);
    assert!(
        s.notes[0].starts_with("temperature not sent: gpt-5-mini is an OpenAI reasoning model")
    );
}

#[test]
fn openai_chat_models_default_to_temperature_zero() {
    for model in [
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-3.5-turbo",
        "chatgpt-4o-latest",
        "openai/gpt-4o",
    ] {
        let s = settings(&openai(model), model, &ModelParams::default());
        assert_eq!(s.temperature, Some(0.0), "{model}");
    }
    let p = ModelParams {
        temperature: Some(0.7),
        seed: Some(7),
        reasoning_effort: Some("low".into()),
        ..Default::default()
    };
    let s = settings(&openai("gpt-4o"), "gpt-4o", &p);
    assert_eq!((s.temperature, s.seed), (Some(0.7), Some(7)));
    assert_eq!(s.reasoning_effort, None);
    assert_eq!(s.notes.len(), 1);
}

#[test]
fn unknown_models_send_only_what_is_set_except_on_custom_servers() {
    let s = settings(
        &openai("gpt-7-turbo"),
        "gpt-7-turbo",
        &ModelParams::default(),
    );
    assert_eq!(s.temperature, None);
    let s = settings(
        &openai("gpt-7-turbo"),
        "gpt-7-turbo",
        &params(Some(0.3), Some(0.5)),
    );
    assert_eq!((s.temperature, s.top_p), (Some(0.3), Some(0.5)));
    assert!(s.notes.is_empty());
    // An open-weight model behind an OpenAI-compatible server: temperature 0 for stable labels.
    let custom = rules(Provider::Custom, "llama3.1:8b", None);
    let s = settings(&custom, "llama3.1:8b", &ModelParams::default());
    assert_eq!(s.temperature, Some(0.0));
    // A proxied OpenAI model keeps OpenAI's rules.
    let proxied = rules(Provider::Custom, "openai/gpt-5-mini", None);
    assert_eq!(proxied.temperature, Support::Refuses);
}

#[test]
fn azure_follows_the_model_else_the_deployment() {
    let r = rules(Provider::AzureOpenAI, "my-model", Some("gpt-5-mini-prod"));
    assert_eq!(r.temperature, Support::Refuses);
    let r = rules(Provider::AzureOpenAI, "gpt-4o", Some("o3-deployment"));
    assert_eq!(r.temperature, Support::Takes);
    let r = rules(Provider::AzureOpenAI, "prod", Some("prod"));
    assert_eq!(r.temperature, Support::AsGiven);
}

#[test]
fn anthropic_rules_follow_the_claude_generation() {
    let model = "claude-sonnet-4-5-20250929";
    let r = rules(Provider::Anthropic, model, None);
    let s = settings(&r, model, &ModelParams::default());
    assert_eq!(s.temperature, Some(0.0));
    assert_eq!(s.max_tokens, Some(ANTHROPIC_DEFAULT_MAX_TOKENS));
    // Claude 4 takes temperature or top_p, not both: temperature wins...
    let s = settings(&r, model, &params(Some(0.5), Some(0.9)));
    assert_eq!((s.temperature, s.top_p), (Some(0.5), None));
    assert!(s.notes[0].starts_with("top_p not sent"));
    // ...and a version that sets only top_p gets no default temperature.
    let s = settings(&r, model, &params(None, Some(0.9)));
    assert_eq!((s.temperature, s.top_p), (None, Some(0.9)));
    // Claude 3 takes both; no model takes a seed.
    let r = rules(Provider::Anthropic, "claude-3-5-haiku-20241022", None);
    let p = ModelParams {
        seed: Some(1),
        ..params(Some(0.5), Some(0.9))
    };
    let s = settings(&r, "claude-3-5-haiku", &p);
    assert_eq!(
        (s.temperature, s.top_p, s.seed),
        (Some(0.5), Some(0.9), None)
    );
    // Opus 4.7 and later, Sonnet 5, Fable: no sampling parameters at all.
    for model in [
        "claude-opus-4-7",
        "claude-opus-4-8",
        "claude-sonnet-5",
        "claude-fable-5",
        "anthropic.claude-opus-4-8-v1:0",
    ] {
        let r = rules(Provider::Anthropic, model, None);
        let s = settings(&r, model, &params(Some(0.0), None));
        assert_eq!(s.temperature, None, "{model}");
        assert_eq!(s.max_tokens, Some(4096), "{model}");
        assert_eq!(r.reasoning_effort, Support::Takes, "{model}");
    }
    // Dated Claude 4 ids are not minor versions.
    let r = rules(Provider::Anthropic, "claude-opus-4-20250514", None);
    assert_eq!(r.temperature, Support::Takes);
    assert_eq!(r.reasoning_effort, Support::Refuses);
    assert_eq!(
        rules(Provider::Anthropic, "claude-opus-4-6", None).reasoning_effort,
        Support::Takes
    );
    // An unknown Claude: only what is set, never a seed.
    let r = rules(Provider::Anthropic, "claude-next", None);
    assert_eq!(
        (r.temperature, r.seed),
        (Support::AsGiven, Support::Refuses)
    );
}

#[test]
fn gemini_rules_know_thinking_models() {
    let r = rules(Provider::Gemini, "gemini-2.5-flash", None);
    assert!(r.reasons);
    assert_eq!(r.effort, Effort::ThinkingBudget);
    assert_eq!(
        settings(&r, "m", &ModelParams::default()).temperature,
        Some(0.0)
    );
    let r = rules(Provider::Gemini, "models/gemini-3-pro-preview", None);
    assert!(r.reasons);
    assert_eq!(r.effort, Effort::ThinkingLevel);
    assert_eq!(settings(&r, "m", &ModelParams::default()).temperature, None);
    let r = rules(Provider::Gemini, "gemini-2.0-flash", None);
    assert!(!r.reasons);
    assert_eq!(r.reasoning_effort, Support::Refuses);
    assert_eq!(thinking_budget("low", false), Some(1024));
    assert_eq!(thinking_budget("minimal", true), Some(128));
    assert_eq!(thinking_budget("odd", false), None);
}

#[test]
fn extra_merges_into_the_body() {
    let mut body = json!({"model": "m", "temperature": 0, "generationConfig": {"topP": 1}});
    let extra = json!({"temperature": null, "generationConfig": {"topK": 40}, "user": "u"});
    merge_extra(&mut body, extra.as_object().expect("object"));
    assert_eq!(
        body,
        json!({"model": "m", "generationConfig": {"topP": 1, "topK": 40}, "user": "u"})
    );
}
