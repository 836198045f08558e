//! The fake's realistic mode: answers the way real models give them (offsets a few characters
//! off, fences, prose, no JSON, refusals, cuts), at a rate, reproducibly; off by default.
use super::{complete, ner_schema, post, request, sentiment_schema, start};
use clap::Parser;
use prompter::fake_llm::{FakeLlm, FakeLlmConfig, Quirk};
use serde_json::{Value, json};

/// A realistic fake giving every request `quirk`.
async fn always(quirk: Quirk) -> FakeLlm {
    start(FakeLlmConfig {
        realistic: true,
        realistic_rate: 1.0,
        realistic_quirks: vec![quirk],
        ..FakeLlmConfig::default()
    })
    .await
}

/// The message of an OpenAI chat completion for `text`.
async fn message(llm: &FakeLlm, text: &str, schema: Value) -> (Value, Value) {
    let resp = post(llm, &request(text, Some(schema)), None).await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    (body["choices"][0].clone(), body["usage"].clone())
}

#[tokio::test]
async fn without_the_flag_answers_are_clean() {
    let llm = start(FakeLlmConfig::default()).await;
    for i in 0..20 {
        complete(
            &llm,
            &request(
                &format!("Text: review {i}, I love it"),
                Some(sentiment_schema()),
            ),
        )
        .await;
    }
    assert_eq!(llm.stats().quirked, 0);
}

#[tokio::test]
async fn each_quirk_looks_like_a_real_model() {
    let text = "Text: John works at Acme";
    // Offsets a few characters off, the quoted text right.
    let llm = always(Quirk::Offsets).await;
    let (choice, _) = message(&llm, text, ner_schema()).await;
    let spans: Value =
        serde_json::from_str(choice["message"]["content"].as_str().expect("content"))
            .expect("still JSON");
    for (span, (start, word)) in spans["label"]
        .as_array()
        .expect("spans")
        .iter()
        .zip([(0, "John"), (14, "Acme")])
    {
        assert_eq!(span["text"], word);
        let got = span["start"].as_u64().expect("start");
        assert!(got != start && got.abs_diff(start) <= 3, "{span}");
        assert_eq!(span["end"].as_u64(), Some(got + 4));
    }
    // Fences and prose around the JSON.
    let llm = always(Quirk::Fences).await;
    let (choice, _) = message(&llm, "Text: I love it", sentiment_schema()).await;
    assert_eq!(
        choice["message"]["content"],
        "```json\n{\"sentiment\":\"Positive\"}\n```"
    );
    let llm = always(Quirk::Prose).await;
    let (choice, _) = message(&llm, "Text: I love it", sentiment_schema()).await;
    let content = choice["message"]["content"].as_str().expect("content");
    assert!(
        content.starts_with("Here are the labels")
            && content.contains("{\"sentiment\":\"Positive\"}")
    );
    // A model that ignores the response format.
    let llm = always(Quirk::IgnoresFormat).await;
    let (choice, _) = message(&llm, "Text: I love it", sentiment_schema()).await;
    let content = choice["message"]["content"].as_str().expect("content");
    assert!(!content.contains('{'), "{content}");
    // A refusal.
    let llm = always(Quirk::Refusal).await;
    let (choice, _) = message(&llm, "Text: I love it", sentiment_schema()).await;
    assert_eq!(choice["message"]["content"], Value::Null);
    assert!(
        choice["message"]["refusal"]
            .as_str()
            .is_some_and(|r| r.starts_with("I'm sorry"))
    );
    assert_eq!(llm.stats().refusals, 1);
    // A cut at the token limit: the request's limit is what it used.
    let llm = always(Quirk::Cut).await;
    let mut body = request(text, Some(ner_schema()));
    body["max_completion_tokens"] = json!(40);
    let resp: Value = post(&llm, &body, None).await.json().await.expect("json");
    assert_eq!(resp["choices"][0]["finish_reason"], "length");
    assert_eq!(resp["usage"]["completion_tokens"], 40);
    let content = resp["choices"][0]["message"]["content"]
        .as_str()
        .expect("content");
    assert!(serde_json::from_str::<Value>(content).is_err());
    assert_eq!((llm.stats().quirked, llm.stats().cut), (1, 1));
}

#[tokio::test]
async fn refusals_and_cuts_have_each_dialects_shape() {
    let llm = always(Quirk::Refusal).await;
    let anthropic = json!({
        "model": "claude-haiku-4-5", "max_tokens": 100,
        "messages": [{"role": "user", "content": "Text: I love it"}],
        "tools": [{"name": "record_labels", "input_schema": sentiment_schema()}],
        "tool_choice": {"type": "tool", "name": "record_labels"},
    });
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/v1/messages", llm.root_url()))
        .header("anthropic-version", "2023-06-01")
        .json(&anthropic)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["stop_reason"], "refusal");
    assert_eq!(answer["content"], json!([]));
    let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "Text: I love it"}]}]});
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "{}/v1beta/models/gemini-2.0-flash:generateContent",
            llm.root_url()
        ))
        .json(&gemini)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["candidates"][0]["finishReason"], "SAFETY");
    assert!(answer["candidates"][0].get("content").is_none());
}

#[tokio::test]
async fn the_rate_is_kept_and_the_choice_is_reproducible() {
    let config = || FakeLlmConfig {
        realistic: true,
        realistic_rate: 0.3,
        seed: 11,
        ..FakeLlmConfig::default()
    };
    let texts: Vec<String> = (0..60)
        .map(|i| format!("Text: review {i}, Mary Ann met Google Inc"))
        .collect();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let llm = start(config()).await;
        let mut answers = Vec::new();
        for text in &texts {
            let (choice, _) = message(&llm, text, ner_schema()).await;
            answers.push(choice);
        }
        let quirked = llm.stats().quirked;
        assert!((8..=30).contains(&quirked), "{quirked} of 60");
        runs.push(answers);
    }
    assert_eq!(runs[0], runs[1], "the same seed gives the same answers");
}

/// The command line of `prompter fake-llm`.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    config: FakeLlmConfig,
}

#[test]
fn the_flags_parse() {
    let cli = Cli::parse_from([
        "fake-llm",
        "--realistic",
        "--realistic-rate",
        "0.5",
        "--realistic-quirk",
        "fences,ignores-format",
    ]);
    assert!(cli.config.realistic);
    assert_eq!(cli.config.realistic_rate, 0.5);
    assert_eq!(
        cli.config.realistic_quirks,
        vec![Quirk::Fences, Quirk::IgnoresFormat]
    );
    let plain = Cli::parse_from(["fake-llm"]);
    assert!(!plain.config.realistic);
    assert_eq!(plain.config.realistic_rate, 0.3);
    assert!(Cli::try_parse_from(["fake-llm", "--realistic-rate", "2"]).is_err());
}
