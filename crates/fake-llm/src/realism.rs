//! The realistic mode: answers the way real models give them. With `--realistic`, a share of
//! the requests (`--realistic-rate`, 0.3 by default) gets one quirk, chosen from the seed and a
//! hash of the request (so the same request gets the same quirk on every run, whatever the
//! order or concurrency of the calls), among the allowed ones (`--realistic-quirk`, all by
//! default), weighted as listed:
//!
//! | quirk | weight | the answer |
//! |---|---|---|
//! | `offsets` | 3 | span `start`/`end` off by 1 to 3 characters, the quoted `text` right |
//! | `fences` | 2 | the JSON in a ```` ```json ```` fence (a text block, not the tool call, on Anthropic) |
//! | `prose` | 2 | the JSON between a sentence before and one after |
//! | `ignores-format` | 1 | the model ignores `response_format`: the labels in a sentence, no JSON |
//! | `refusal` | 1 | a refusal: OpenAI's `refusal`, Anthropic's `stop_reason: refusal`, Gemini's `SAFETY` |
//! | `cut` | 1 | the answer cut by the token limit: half of it, `length` / `max_tokens` / `MAX_TOKENS` |
use super::FakeLlmConfig;
use super::call::{Finish, Reply, fnv, tokens};
use serde::Serialize;
use serde_json::Value;

/// One way a real model's answer differs from a perfect one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Quirk {
    /// Span offsets off by a few characters (the quoted text right).
    Offsets,
    /// The JSON in a markdown fence.
    Fences,
    /// The JSON wrapped in prose.
    Prose,
    /// No JSON at all: the model ignored the response format.
    IgnoresFormat,
    /// The model refuses.
    Refusal,
    /// The answer is cut at the token limit.
    Cut,
}

/// Each quirk's share of the quirked answers.
const WEIGHTS: &[(Quirk, u64)] = &[
    (Quirk::Offsets, 3),
    (Quirk::Fences, 2),
    (Quirk::Prose, 2),
    (Quirk::IgnoresFormat, 1),
    (Quirk::Refusal, 1),
    (Quirk::Cut, 1),
];

/// What a refusing model says.
pub(super) const REFUSAL: &str = "I'm sorry, but I can't help with that request.";

/// The quirk of the request whose hash is `key`, if the realistic mode gives it one.
pub(super) fn choose(config: &FakeLlmConfig, key: u64) -> Option<Quirk> {
    if !config.realistic {
        return None;
    }
    let key = fnv(config.seed, &key.to_le_bytes());
    let draw = (key >> 11) as f64 / (1u64 << 53) as f64;
    if draw >= config.realistic_rate {
        return None;
    }
    let pool: Vec<(Quirk, u64)> = WEIGHTS
        .iter()
        .copied()
        .filter(|(q, _)| config.realistic_quirks.is_empty() || config.realistic_quirks.contains(q))
        .collect();
    let total: u64 = pool.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return None;
    }
    let mut pick = fnv(key, b"quirk") % total;
    for (quirk, weight) in pool {
        if pick < weight {
            return Some(quirk);
        }
        pick -= weight;
    }
    None
}

/// Applies `quirk` to a clean answer. `key` decides the offsets' shifts.
pub(super) fn apply(quirk: Quirk, reply: &mut Reply, key: u64) {
    match quirk {
        Quirk::Offsets => {
            if let Ok(mut value) = serde_json::from_str::<Value>(&reply.text) {
                let mut index = 0;
                shift(&mut value, key, &mut index);
                reply.text = value.to_string();
            }
        }
        Quirk::Fences => {
            reply.text = format!("```json\n{}\n```", reply.text);
            reply.json = false;
        }
        Quirk::Prose => {
            reply.text = format!(
                "Here are the labels for this text:\n\n{}\n\nLet me know if you need anything else.",
                reply.text
            );
            reply.json = false;
        }
        Quirk::IgnoresFormat => {
            reply.text = in_words(&reply.text);
            reply.json = false;
        }
        Quirk::Refusal => {
            reply.text = REFUSAL.to_string();
            reply.json = false;
            reply.finish = Finish::Refusal;
        }
        Quirk::Cut => {
            let half = reply.text.chars().count() / 2;
            reply.text = reply.text.chars().take(half).collect();
            reply.json = false;
            reply.finish = Finish::Length;
        }
    }
    reply.tokens.output = tokens(reply.text.chars().count());
}

/// Moves every span (an object with numeric `start` and `end`) by 1 to 3 characters.
fn shift(value: &mut Value, key: u64, index: &mut u64) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| shift(v, key, index)),
        Value::Object(map) => {
            let start = map.get("start").and_then(Value::as_u64);
            let end = map.get("end").and_then(Value::as_u64);
            if let (Some(start), Some(end)) = (start, end) {
                let draw = fnv(key, &index.to_le_bytes());
                *index += 1;
                let by = 1 + draw % 3;
                let (start, end) = if draw & 8 == 0 && start >= by {
                    (start - by, end - by)
                } else {
                    (start + by, end + by)
                };
                map.insert("start".into(), start.into());
                map.insert("end".into(), end.into());
            } else {
                map.values_mut().for_each(|v| shift(v, key, index));
            }
        }
        _ => {}
    }
}

/// The labels of a JSON answer in a sentence, with no JSON left in it.
fn in_words(json: &str) -> String {
    fn words(value: &Value) -> String {
        match value {
            Value::String(s) => s.clone(),
            Value::Array(items) => items.iter().map(words).collect::<Vec<_>>().join(", "),
            Value::Object(map) => match (map.get("text"), map.get("labels")) {
                (Some(text), Some(labels)) => format!("{} ({})", words(text), words(labels)),
                _ => map
                    .iter()
                    .map(|(k, v)| format!("{k} is {}", words(v)))
                    .collect::<Vec<_>>()
                    .join("; "),
            },
            other => other.to_string(),
        }
    }
    match serde_json::from_str::<Value>(json) {
        Ok(value) => format!("Based on the text, I would say: {}.", words(&value)),
        Err(_) => "I read the text, but I am not sure how to label it.".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Tokens;
    use serde_json::json;

    fn reply(text: &str) -> Reply {
        Reply {
            text: text.into(),
            json: true,
            finish: Finish::Stop,
            tokens: Tokens::default(),
        }
    }

    #[test]
    fn choices_follow_the_rate_and_the_allowed_quirks() {
        let config = |rate: f64, quirks: Vec<Quirk>| FakeLlmConfig {
            realistic: true,
            realistic_rate: rate,
            realistic_quirks: quirks,
            ..FakeLlmConfig::default()
        };
        let all = config(1.0, vec![]);
        let chosen: Vec<Option<Quirk>> = (0..200).map(|k| choose(&all, k)).collect();
        assert!(chosen.iter().all(Option::is_some));
        for (quirk, _) in WEIGHTS {
            assert!(chosen.contains(&Some(*quirk)), "{quirk:?} is never chosen");
        }
        // The same request gets the same quirk.
        assert_eq!(choose(&all, 42), choose(&all, 42));
        let none = config(0.0, vec![]);
        assert!((0..100).all(|k| choose(&none, k).is_none()));
        let some = config(0.3, vec![]);
        let share = (0..1000).filter(|k| choose(&some, *k).is_some()).count();
        assert!((200..400).contains(&share), "{share}");
        let only = config(1.0, vec![Quirk::Cut]);
        assert!((0..50).all(|k| choose(&only, k) == Some(Quirk::Cut)));
        assert_eq!(choose(&FakeLlmConfig::default(), 1), None);
    }

    #[test]
    fn quirks_change_answers_like_real_models() {
        let spans = r#"{"label":[{"start":4,"end":8,"labels":["PER"],"text":"John"}]}"#;
        let mut r = reply(spans);
        apply(Quirk::Offsets, &mut r, 7);
        let v: Value = serde_json::from_str(&r.text).expect("json");
        let start = v["label"][0]["start"].as_u64().expect("start");
        assert_ne!(start, 4);
        assert!(start.abs_diff(4) <= 3);
        assert_eq!(v["label"][0]["end"].as_u64(), Some(start + 4));
        assert_eq!(v["label"][0]["text"], "John");
        assert!(r.json);

        let mut r = reply(r#"{"sentiment":"Positive"}"#);
        apply(Quirk::Fences, &mut r, 1);
        assert!(r.text.starts_with("```json\n{") && !r.json);
        let mut r = reply(r#"{"sentiment":"Positive"}"#);
        apply(Quirk::IgnoresFormat, &mut r, 1);
        assert_eq!(
            r.text,
            "Based on the text, I would say: sentiment is Positive."
        );
        let mut r = reply(r#"{"sentiment":"Positive"}"#);
        apply(Quirk::Refusal, &mut r, 1);
        assert_eq!((r.text.as_str(), r.finish), (REFUSAL, Finish::Refusal));
        let mut r = reply(r#"{"sentiment":"Positive"}"#);
        apply(Quirk::Cut, &mut r, 1);
        assert_eq!(
            (r.text.as_str(), r.finish),
            (r#"{"sentiment""#, Finish::Length)
        );
        assert_eq!(json!(r.tokens.output), json!(3));
    }
}
