//! Token log-probabilities of the fake's answers (OpenAI's `logprobs.content`), and the
//! directives a test writes into a task's text to set them.
//!
//! **Directives**, taken out of the user text before it is answered:
//!
//! * `[[confidence=0.83]]`: the probability the model gives each value it chooses (a label, a
//!   number, a boolean). Without it, a value gets a probability between 0.55 and 0.99 drawn
//!   from a hash of the text, so every answer has one.
//! * `[[votes=Positive|Positive|Negative]]`: the answer of the call whose `seed` is `k` is taken
//!   from the text `votes[k mod n]` (a call without a seed is `k = 0`): a test of agreement
//!   across samples says which sample dissents.
//! * `[[model:gpt-4.1-nano=Negative]]`: a call to that model answers the text `Negative`
//!   (before `votes`): different models answer differently, as a jury's do.
//! * `[[rule:KEY]]` (KEY: one word of letters, digits, `-` or `_`), in the focus text (after
//!   the last `Text:`) of a labeling call: a **hidden rule**. The model answers right only if
//!   the prompt states it: when a line of the instruction part (the user text before the focus
//!   text, directives taken out) holds KEY and one of an enum's values as whole words
//!   (case-insensitive; the first such line, the value it names first), every single-choice
//!   enum holding that value answers it, and an array of such an enum `[value]`. A statement
//!   is any such line, e.g. `Texts about refund are Complaint.` (the fake teacher writes these).
//!   Otherwise the usual rules answer the text without its directives. A marker in the
//!   instruction part (in a few-shot example of the prompt, say) triggers nothing.
//! * `[[example:LABEL]]`, in the focus text of a labeling call: a case a **few-shot example**
//!   fixes. An enum holding LABEL (compared case-insensitively; answered in the enum's own
//!   spelling; `[LABEL]` for an array of it) answers LABEL only when a line of the instruction
//!   part starts (after optional whitespace) with `Answer:` and holds LABEL as a whole word;
//!   otherwise the usual rules answer, the marker (and so the word LABEL in it) taken out. When
//!   both apply, the rule wins.
//!
//! The last two are read from the raw user text before the directives are taken out of it
//! (see the `hidden` module, which also reads the teacher's `<example>` blocks), and apply
//! only when the call answers the user text itself (not a `model:` or `votes` text).
//!
//! **Tokens**: the content is cut into tokens of at most four characters; a token never spans
//! the edge of a string or number. A chosen value's first token has the value's probability and
//! its other tokens probability 1, so the value's probability is exactly the confidence; the
//! first token's alternatives (`top_logprobs`, as many as the request asks) are the first tokens
//! of the other values of the same `enum` (or the neighbouring integers of a number), sharing
//! the rest of the probability. Keys, punctuation and free text have probability 0.9999 per
//! token. `bytes` is each token's UTF-8 bytes, as OpenAI gives it.
use crate::call::fnv;
use crate::hidden::Marker;
use serde_json::{Value, json};

/// The most alternatives OpenAI returns per token.
pub(super) const MAX_TOP_LOGPROBS: u64 = 20;

/// The probability of a token that is not a chosen value.
const CERTAIN: f64 = 0.9999;

/// The longest token, in characters.
const TOKEN_CHARS: usize = 4;

/// What a task's text asks of the fake.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Directives {
    /// `[[confidence=p]]`.
    pub(super) confidence: Option<f64>,
    /// `[[votes=a|b|c]]`.
    pub(super) votes: Vec<String>,
    /// `[[model:name=text]]`, in the order given.
    pub(super) by_model: Vec<(String, String)>,
}

impl Directives {
    /// Takes the directives out of `text` (the hidden rules' markers too: `hidden::Cues`
    /// reads those, from the text before this).
    pub(super) fn take(text: &mut String) -> Directives {
        let mut found = Directives::default();
        while let Some(open) = text.find("[[") {
            let Some(close) = text[open..].find("]]").map(|c| open + c) else {
                break;
            };
            let inner = text[open + 2..close].trim().to_string();
            match inner.split_once('=') {
                // The hidden rules' markers, read before (see `hidden`): only taken out here.
                _ if Marker::parse(&inner).is_some() => {}
                Some(("confidence", p)) => {
                    found.confidence = p
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|p| *p > 0.0 && *p <= 1.0);
                }
                Some(("votes", votes)) => {
                    found.votes = votes.split('|').map(|v| v.trim().to_string()).collect();
                }
                Some((key, said)) if key.starts_with("model:") => {
                    let model = key.trim_start_matches("model:").trim().to_string();
                    found.by_model.push((model, said.trim().to_string()));
                }
                _ => break,
            }
            text.replace_range(open..close + 2, "");
        }
        found
    }

    /// Whether the text a call to `model` answers is not the user text but one these
    /// directives give (`model:` or `votes`).
    pub(super) fn overrides(&self, model: &str) -> bool {
        !self.votes.is_empty() || self.by_model.iter().any(|(m, _)| m == model)
    }

    /// The text a call to `model` answers: what the text says that model answers, else the
    /// vote of its seed, else `text`.
    pub(super) fn answer_text<'a>(
        &'a self,
        text: &'a str,
        seed: Option<i64>,
        model: &str,
    ) -> &'a str {
        if let Some((_, said)) = self.by_model.iter().find(|(m, _)| m == model) {
            return said;
        }
        if self.votes.is_empty() {
            return text;
        }
        let k = seed.unwrap_or(0).rem_euclid(self.votes.len() as i64) as usize;
        &self.votes[k]
    }

    /// The probability of each chosen value of an answer to `text`.
    pub(super) fn probability(&self, text: &str) -> f64 {
        self.confidence
            .unwrap_or_else(|| 0.55 + 0.44 * ((fnv(7, text.as_bytes()) % 1000) as f64 / 1000.0))
    }
}

/// The enum lists of a schema, wherever they are.
fn enums(schema: &Value, out: &mut Vec<Vec<String>>) {
    match schema {
        Value::Object(map) => {
            if let Some(list) = map.get("enum").and_then(Value::as_array) {
                out.push(
                    list.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                );
            }
            map.values().for_each(|v| enums(v, out));
        }
        Value::Array(list) => list.iter().for_each(|v| enums(v, out)),
        _ => {}
    }
}

/// One token of the answer.
struct Token {
    text: String,
    p: f64,
    alternatives: Vec<(String, f64)>,
}

/// The first token of a value.
fn head(value: &str) -> String {
    value.chars().take(TOKEN_CHARS).collect()
}

/// `text` in tokens of at most four characters, each with probability `p`.
fn chunks(text: &str, p: f64, out: &mut Vec<Token>) {
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(TOKEN_CHARS) {
        out.push(Token {
            text: piece.iter().collect(),
            p,
            alternatives: vec![],
        });
    }
}

/// The tokens of a chosen value `raw` (a string's characters, or a number or boolean as
/// written): the first with probability `p` and its alternatives, the rest certain.
fn value_tokens(raw: &str, p: f64, others: Vec<String>, out: &mut Vec<Token>) {
    let first = head(raw);
    let others: Vec<String> = others
        .into_iter()
        .map(|o| head(&o))
        .filter(|o| *o != first)
        .collect();
    // The rest of the probability, shared 0.6, 0.25, 0.1... then evenly, among the others.
    let mut weights: Vec<f64> = (0..others.len())
        .map(|i| [0.6, 0.25, 0.1].get(i).copied().unwrap_or(0.05))
        .collect();
    let total: f64 = weights.iter().sum();
    weights
        .iter_mut()
        .for_each(|w| *w *= (1.0 - p) / total.max(f64::MIN_POSITIVE));
    let mut alternatives = vec![(first.clone(), p)];
    alternatives.extend(others.into_iter().zip(weights).filter(|(_, w)| *w > 0.0));
    out.push(Token {
        text: first.clone(),
        p,
        alternatives,
    });
    chunks(&raw[first.len()..], 1.0, out);
}

/// The tokens of `text`, an answer to a request with `schema`, whose values have probability
/// `p`.
fn tokens(text: &str, schema: Option<&Value>, p: f64) -> Vec<Token> {
    let mut sets = Vec::new();
    if let Some(schema) = schema {
        enums(schema, &mut sets);
    }
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            // A string: its closing quote, and whether a colon makes it a key.
            let mut end = 1;
            let bytes = rest.as_bytes();
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            if end >= bytes.len() {
                // A string the text cuts: plain text to its end.
                plain.push_str(rest);
                break;
            }
            let inner = &rest[1..end];
            let is_key = rest[end + 1..].trim_start().starts_with(':');
            let set = sets.iter().find(|s| s.iter().any(|v| v == inner));
            plain.push('"');
            match set {
                Some(set) if !is_key && !inner.is_empty() => {
                    chunks(&std::mem::take(&mut plain), CERTAIN, &mut out);
                    let others = set.iter().filter(|v| *v != inner).cloned().collect();
                    value_tokens(inner, p, others, &mut out);
                }
                _ => {
                    chunks(&std::mem::take(&mut plain), CERTAIN, &mut out);
                    chunks(inner, CERTAIN, &mut out);
                }
            }
            plain.push('"');
            rest = &rest[(end + 1).min(rest.len())..];
        } else if c == '-'
            || c.is_ascii_digit()
            || rest.starts_with("true")
            || rest.starts_with("false")
        {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
                .unwrap_or(rest.len());
            let raw = &rest[..len];
            chunks(&std::mem::take(&mut plain), CERTAIN, &mut out);
            let others = match raw.parse::<i64>() {
                Ok(n) => vec![(n + 1).to_string(), (n - 1).max(0).to_string()],
                Err(_) if raw == "true" => vec!["false".into()],
                Err(_) if raw == "false" => vec!["true".into()],
                Err(_) => vec![],
            };
            value_tokens(raw, p, others, &mut out);
            rest = &rest[len..];
        } else {
            plain.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    chunks(&plain, CERTAIN, &mut out);
    out
}

/// Gemini's `logprobsResult` of a candidate whose text is `text`, with `top` candidates per step.
pub(super) fn gemini(text: &str, schema: Option<&Value>, p: f64, top: u64) -> Value {
    let entry = |t: &str, p: f64| json!({"token": t, "logProbability": p.ln()});
    let all = tokens(text, schema, p);
    let chosen: Vec<Value> = all.iter().map(|t| entry(&t.text, t.p)).collect();
    let steps: Vec<Value> = all
        .into_iter()
        .map(|t| {
            let mut alternatives = if t.alternatives.is_empty() {
                vec![(t.text.clone(), t.p)]
            } else {
                t.alternatives
            };
            alternatives.truncate(top as usize);
            json!({"candidates": alternatives.iter().map(|(a, p)| entry(a, *p)).collect::<Vec<_>>()})
        })
        .collect();
    json!({"topCandidates": steps, "chosenCandidates": chosen})
}

/// OpenAI's `logprobs` of a choice whose content is `text`, with `top` alternatives per token.
pub(super) fn openai(text: &str, schema: Option<&Value>, p: f64, top: u64) -> Value {
    let entry = |t: &str, p: f64| json!({"token": t, "logprob": p.ln(), "bytes": t.as_bytes()});
    let content: Vec<Value> = tokens(text, schema, p)
        .into_iter()
        .map(|t| {
            let mut item = entry(&t.text, t.p);
            let mut alternatives = if t.alternatives.is_empty() {
                vec![(t.text.clone(), t.p)]
            } else {
                t.alternatives
            };
            alternatives.truncate(top as usize);
            item["top_logprobs"] = alternatives.iter().map(|(a, p)| entry(a, *p)).collect();
            item
        })
        .collect();
    json!({"content": content, "refusal": null})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_are_taken_out_of_the_text() {
        let mut text = "Text: great [[confidence=0.8]] day [[votes=A|B]]".to_string();
        let d = Directives::take(&mut text);
        assert_eq!(text, "Text: great  day ");
        assert_eq!(d.confidence, Some(0.8));
        assert_eq!(d.answer_text(&text, Some(3), "m"), "B");
        assert_eq!(d.answer_text(&text, None, "m"), "A");
        assert_eq!(d.probability(&text), 0.8);
        let p = Directives::default().probability("x");
        assert!((0.55..=0.99).contains(&p));
        let mut text = "Text: fine [[model:small=Negative]] [[votes=A|B]]".to_string();
        let d = Directives::take(&mut text);
        assert_eq!(d.answer_text(&text, Some(0), "small"), "Negative");
        assert_eq!(d.answer_text(&text, Some(1), "big"), "B");
    }

    #[test]
    fn tokens_rebuild_the_text_and_a_value_has_the_confidence() {
        let schema = json!({"properties": {"s": {"enum": ["Positive", "Negative", "Neutral"]}}});
        let text = r#"{"s":"Positive","n":12,"t":"free text"}"#;
        let lp = openai(text, Some(&schema), 0.7, 5);
        let items = lp["content"].as_array().cloned().unwrap_or_default();
        let joined: String = items.iter().filter_map(|t| t["token"].as_str()).collect();
        assert_eq!(joined, text);
        let pos = items
            .iter()
            .find(|t| t["token"] == "Posi")
            .cloned()
            .unwrap_or_default();
        assert!((pos["logprob"].as_f64().unwrap_or_default() - 0.7f64.ln()).abs() < 1e-12);
        let alts: Vec<&str> = pos["top_logprobs"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t["token"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(alts, ["Posi", "Nega", "Neut"]);
        let mass: f64 = pos["top_logprobs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t["logprob"].as_f64())
                    .map(f64::exp)
                    .sum()
            })
            .unwrap_or_default();
        assert!((mass - 1.0).abs() < 1e-9);
        let rest = items
            .iter()
            .find(|t| t["token"] == "tive")
            .cloned()
            .unwrap_or_default();
        assert_eq!(rest["logprob"], 0.0);
        assert!(items.iter().any(|t| t["token"] == "12"));
    }
}
