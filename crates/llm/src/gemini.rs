//! Google Gemini's `generateContent` over HTTP, with `responseMimeType: application/json` and
//! the output schema as `responseJsonSchema`. Images are `inline_data` parts (base64) or
//! `file_data` parts (a URL Gemini fetches, its media type guessed from the extension); the
//! reasoning effort is a `thinkingConfig`; thinking tokens count as completion tokens.
use super::refusals::{self, Refused};
use super::rules::{self, Effort, Settings};
use super::{
    ImageSource, LlmError, LlmProvider, LlmRequest, LlmResponse, Message, Part, Role, Usage,
};
use crate::{Credentials, Provider};
use serde_json::{Value, json};

/// The Gemini API base.
pub const DEFAULT_BASE: &str = "https://generativelanguage.googleapis.com";

/// A Gemini connection.
pub struct Gemini {
    base: String,
    key: String,
    http: outbound::Outbound,
    refused: Refused,
}

impl Gemini {
    /// The provider of a Gemini connection (`endpoint` overrides the API base).
    pub fn new(credentials: &Credentials, http: outbound::Outbound) -> Result<Self, LlmError> {
        let (key, base) = super::key_and_base(credentials, DEFAULT_BASE, "/v1beta")?;
        Ok(Gemini {
            base,
            key,
            http,
            refused: Refused::default(),
        })
    }
}

/// The parts of a message: text, and `inline_data` or `file_data` images in order.
fn parts(message: &Message) -> Vec<Value> {
    if message.role != Role::User || message.images().next().is_none() {
        return vec![json!({"text": message.text()})];
    }
    message
        .parts
        .iter()
        .map(|part| match part {
            Part::Text(text) => json!({"text": text}),
            Part::Image(ImageSource::Inline { media_type, data }) => {
                json!({"inline_data": {"mime_type": media_type, "data": data}})
            }
            Part::Image(ImageSource::Url(url)) => json!({"file_data": {
                "mime_type": super::media_type_of_url(url),
                "file_uri": url,
            }}),
        })
        .collect()
}

/// The `thinkingConfig` of a reasoning effort: a token budget for Gemini 2.5 (when the effort
/// is one it knows), else the thinking level.
fn thinking_config(model: &str, effort: Effort, level: &str) -> Value {
    match (effort, rules::thinking_budget(level, model.contains("pro"))) {
        (Effort::ThinkingBudget, Some(budget)) => json!({"thinkingBudget": budget}),
        _ => json!({"thinkingLevel": level.to_lowercase()}),
    }
}

/// The `generateContent` body of `request` with `settings` (see `llm::rules`); `effort` is how
/// the model spells the reasoning effort.
pub fn body(request: &LlmRequest, effort: Effort, settings: &Settings) -> Value {
    let (system, rest) = super::split_system(&request.messages);
    let contents: Vec<Value> = rest
        .into_iter()
        .map(|m| {
            let role = if m.role == Role::Assistant {
                "model"
            } else {
                "user"
            };
            json!({"role": role, "parts": parts(m)})
        })
        .collect();
    let mut config = json!({
        "responseMimeType": "application/json",
        "responseJsonSchema": request.schema,
    });
    if let Some(t) = settings.temperature {
        config["temperature"] = json!(t);
    }
    if let Some(p) = settings.top_p {
        config["topP"] = json!(p);
    }
    if let Some(seed) = settings.seed {
        config["seed"] = json!(seed);
    }
    if let Some(max) = settings.max_tokens {
        config["maxOutputTokens"] = json!(max);
    }
    if let Some(level) = &settings.reasoning_effort {
        config["thinkingConfig"] = thinking_config(&request.model, effort, level);
    }
    if settings.logprobs {
        config["responseLogprobs"] = json!(true);
        config["logprobs"] = json!(super::openai::TOP_LOGPROBS);
    }
    let mut body = json!({"contents": contents, "generationConfig": config});
    if let Some(system) = system {
        body["systemInstruction"] = json!({"parts": [{"text": system}]});
    }
    rules::merge_extra(&mut body, &settings.extra);
    body
}

/// The usage of a `generateContent` answer: thinking tokens are billed as output, so they are
/// added to the completion tokens (and counted as reasoning tokens).
pub fn read_usage(usage: Option<&Value>) -> Usage {
    let number = |key: &str| {
        usage
            .and_then(|u| u.get(key))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let thoughts = number("thoughtsTokenCount");
    Usage {
        prompt_tokens: number("promptTokenCount"),
        completion_tokens: number("candidatesTokenCount") + thoughts,
        reasoning_tokens: thoughts,
        cached_tokens: number("cachedContentTokenCount"),
    }
}

/// The token log-probabilities of the first candidate (`logprobsResult`: the chosen token and
/// the top candidates at each step), empty when it has none.
pub fn read_logprobs(answer: &Value) -> Vec<super::TokenLogprob> {
    let result = answer.pointer("/candidates/0/logprobsResult");
    let list = |key: &str| {
        result
            .and_then(|r| r.get(key))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let entry = |c: &Value| -> Option<(Vec<u8>, f64)> {
        Some((
            c.get("token")?.as_str()?.as_bytes().to_vec(),
            c.get("logProbability")?.as_f64()?,
        ))
    };
    let (chosen, top) = (list("chosenCandidates"), list("topCandidates"));
    let read: Option<Vec<super::TokenLogprob>> = chosen
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (bytes, logprob) = entry(c)?;
            let alternatives = top
                .get(i)
                .and_then(|t| t.get("candidates"))
                .and_then(Value::as_array)
                .map(|alts| alts.iter().filter_map(entry).collect())
                .unwrap_or_default();
            Some(super::TokenLogprob {
                bytes,
                logprob,
                top: alternatives,
            })
        })
        .collect();
    read.unwrap_or_default()
}

/// Finish reasons of an answer the provider's filters withheld.
const WITHHELD: &[&str] = &[
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "LANGUAGE",
];

/// The output and usage of a `generateContent` answer. A blocked prompt or answer and an
/// answer cut at `maxOutputTokens` are `InvalidOutput`.
pub fn read_answer(answer: &Value) -> Result<(Value, Usage), LlmError> {
    let usage = read_usage(answer.get("usageMetadata"));
    if let Some(reason) = answer
        .pointer("/promptFeedback/blockReason")
        .and_then(Value::as_str)
    {
        return Err(super::withheld(
            format!("the provider blocked the prompt (blockReason: {reason})"),
            usage,
        ));
    }
    let finish = answer
        .pointer("/candidates/0/finishReason")
        .and_then(Value::as_str);
    match finish {
        Some("MAX_TOKENS") => return Err(super::cut_at_limit("finishReason: MAX_TOKENS", usage)),
        Some(reason) if WITHHELD.contains(&reason) => {
            return Err(super::withheld(
                format!("the provider withheld the answer (finishReason: {reason})"),
                usage,
            ));
        }
        _ => {}
    }
    // Thought summaries (`thought: true`) are not the answer.
    let text: String = answer
        .pointer("/candidates/0/content/parts")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter(|p| p.get("thought").and_then(Value::as_bool) != Some(true))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if text.is_empty()
        && let Some(reason) = finish
    {
        return Err(LlmError::InvalidOutput {
            message: format!("no answer (finish reason {reason})"),
            usage,
        });
    }
    super::parse::json_object(&text)
        .map(|v| (v, usage))
        .map_err(|message| LlmError::InvalidOutput { message, usage })
}

#[async_trait::async_trait]
impl LlmProvider for Gemini {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let model = request.model.trim_start_matches("models/");
        let rules = rules::rules(Provider::Gemini, model, None);
        let settings = rules::settings(&rules, model, &request.params);
        let mut notes = settings.notes.clone();
        let url = format!("{}/v1beta/models/{model}:generateContent", self.base);
        let (answer, headers) = refusals::send(
            &self.refused,
            model,
            body(request, rules.effort, &settings),
            &mut notes,
            |b| {
                super::send_json(
                    &self.http,
                    self.http
                        .client()
                        .post(&url)
                        .header("x-goog-api-key", &self.key)
                        .json(&b),
                )
            },
        )
        .await?;
        let (output, usage) = read_answer(&answer)?;
        Ok(LlmResponse {
            output,
            usage,
            limits: super::rate_limits(&headers),
            notes,
            logprobs: read_logprobs(&answer),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelParams;

    fn body_of(model: &str, messages: Vec<Message>, params: ModelParams) -> Value {
        let request = LlmRequest {
            model: model.into(),
            messages,
            schema: json!({"type": "object"}),
            params,
        };
        let rules = rules::rules(Provider::Gemini, model, None);
        body(
            &request,
            rules.effort,
            &rules::settings(&rules, model, &request.params),
        )
    }

    #[test]
    fn the_schema_is_sent_and_the_answer_read() {
        let params = ModelParams {
            max_tokens: Some(50),
            seed: Some(9),
            top_p: Some(0.5),
            ..Default::default()
        };
        let messages = vec![
            Message::new(Role::System, "sys"),
            Message::new(Role::User, "u"),
            Message::new(Role::Assistant, "{}"),
        ];
        let b = body_of("gemini-2.5-flash", messages, params);
        assert_eq!(b["systemInstruction"]["parts"][0]["text"], "sys");
        assert_eq!(b["contents"][1]["role"], "model");
        let config = &b["generationConfig"];
        assert_eq!(config["responseJsonSchema"]["type"], "object");
        assert_eq!(config["maxOutputTokens"], 50);
        assert_eq!(
            (config["seed"].clone(), config["topP"].clone()),
            (json!(9), json!(0.5))
        );
        assert_eq!(config["temperature"], 0.0);
        let answer = json!({
            "candidates": [{"content": {"parts": [{"text": "{\"a\": 1}"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 2}
        });
        let (output, usage) = read_answer(&answer).expect("answer");
        assert_eq!(output, json!({"a": 1}));
        assert_eq!(usage.completion_tokens, 2);
    }

    #[test]
    fn efforts_become_thinking_configs() {
        let effort = |e: &str| ModelParams {
            reasoning_effort: Some(e.into()),
            ..Default::default()
        };
        let hi = || vec![Message::new(Role::User, "hi")];
        let b = body_of("gemini-2.5-flash", hi(), effort("low"));
        assert_eq!(
            b["generationConfig"]["thinkingConfig"],
            json!({"thinkingBudget": 1024})
        );
        let b = body_of("gemini-3-pro-preview", hi(), effort("High"));
        assert_eq!(
            b["generationConfig"]["thinkingConfig"],
            json!({"thinkingLevel": "high"})
        );
        assert!(b["generationConfig"].get("temperature").is_none());
        let b = body_of("gemini-2.0-flash", hi(), effort("low"));
        assert!(b["generationConfig"].get("thinkingConfig").is_none());
    }

    #[test]
    fn images_are_inline_or_file_data_parts_in_order() {
        let message = Message::with_parts(
            Role::User,
            vec![
                Part::Text("Look:".into()),
                Part::Image(ImageSource::Inline {
                    media_type: "image/png".into(),
                    data: "aGVsbG8=".into(),
                }),
                Part::Image(ImageSource::Url("https://example.com/b.webp?x=1".into())),
                Part::Text("Text: hi".into()),
            ],
        );
        let b = body_of("gemini-2.5-flash", vec![message], ModelParams::default());
        assert_eq!(
            b["contents"][0]["parts"],
            json!([
                {"text": "Look:"},
                {"inline_data": {"mime_type": "image/png", "data": "aGVsbG8="}},
                {"file_data": {"mime_type": "image/webp", "file_uri": "https://example.com/b.webp?x=1"}},
                {"text": "Text: hi"},
            ])
        );
    }

    #[test]
    fn thoughts_are_output_and_stops_fail() {
        let usage = read_usage(Some(&json!({
            "promptTokenCount": 1500, "cachedContentTokenCount": 1024,
            "candidatesTokenCount": 20, "thoughtsTokenCount": 300,
        })));
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 1500,
                completion_tokens: 320,
                reasoning_tokens: 300,
                cached_tokens: 1024,
            }
        );
        let cut = json!({"candidates": [{"content": {"parts": [{"text": "{\"a\": "}]}, "finishReason": "MAX_TOKENS"}],
                         "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "thoughtsTokenCount": 61}});
        let e = read_answer(&cut).expect_err("cut");
        assert!(e.to_string().contains("token limit"), "{e}");
        assert!(e.to_string().contains("61 of its 64"), "{e}");
        let safety = json!({"candidates": [{"finishReason": "SAFETY"}]});
        assert!(
            read_answer(&safety)
                .expect_err("withheld")
                .to_string()
                .contains("SAFETY")
        );
        let blocked = json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}});
        assert!(
            read_answer(&blocked)
                .expect_err("blocked")
                .to_string()
                .contains("blocked the prompt")
        );
        // A thought summary is not the answer.
        let thought = json!({"candidates": [{"content": {"parts": [
            {"text": "thinking...", "thought": true}, {"text": "{\"a\": 2}"}]}, "finishReason": "STOP"}]});
        assert_eq!(read_answer(&thought).expect("answer").0, json!({"a": 2}));
    }
}
