//! The schema-driven answer of the fake LLM: a deterministic JSON object for the request's JSON
//! schema, taken from the text of the last user message (see the rules in the parent module's
//! documentation).
use crate::hidden::{Cues, statement};
use crate::logprobs::Directives;
use serde_json::{Map, Value, json};

/// Words that make a capitalised word an organisation.
const ORG_WORDS: &[&str] = &[
    "Inc",
    "Corp",
    "Acme",
    "Google",
    "Microsoft",
    "Apple",
    "OpenAI",
];

/// Capitalised words that are not names when they start a sentence.
const SENTENCE_STARTERS: &[&str] = &[
    "A", "An", "The", "This", "That", "These", "Those", "It", "I", "He", "She", "We", "They",
    "You", "In", "On", "At", "But", "And", "Or", "So", "If", "When", "Then", "There", "Here", "My",
    "Our", "Your", "His", "Her", "Their", "Its", "What", "Who", "How", "Why", "Yes", "No", "Text",
];

/// Words that pick a positive label.
const POSITIVE_WORDS: &[&str] = &["love", "great", "good", "excellent", "amazing"];

/// Words that pick a negative label.
const NEGATIVE_WORDS: &[&str] = &["awful", "bad", "terrible", "hate", "poor"];

/// The label that invalid answers use: never in a label set.
const INVALID_LABEL: &str = "NotALabel";

/// The answer of a plain string property.
const PLAIN_STRING: &str = "This is a fake answer.";

/// The refine rule's instruction, put before the current prompt.
const REFINE_INSTRUCTION: &str = "Read the text carefully and answer precisely.";

/// The refine rule's title.
const REFINE_TITLE: &str = "refined";

/// The refine rule's reasoning.
const REFINE_REASONING: &str = "The fake teacher kept the placeholders and added an instruction.";

/// The JSON content answered for a schema (`{"answer": "ok"}` without one); `invalid` puts a
/// label outside the enum (or, with no enum in the schema, an unexpected shape).
///
/// `user_text` is the raw last user message: the batch marker ([`crate::BATCH_FAIL`]) is taken
/// out, its hidden rules (`[[rule:KEY]]`, `[[example:LABEL]]`, a teacher's `<example>` blocks)
/// are read, then its `[[...]]` directives are taken out before it is answered (the sampling
/// ones, `confidence`, `votes` and `model:`, have no effect here).
pub fn answer(schema: Option<&Value>, user_text: &str, invalid: bool) -> String {
    // The batch marker is no part of the text.
    let user_text = &user_text.replace(crate::BATCH_FAIL, "");
    let cues = Cues::read(user_text);
    let mut text = user_text.to_string();
    Directives::take(&mut text);
    answer_with(schema, &text, &cues, invalid)
}

/// [`answer`] of a user text whose directives are taken out already, with the hidden rules'
/// `cues` read from it before.
pub(super) fn answer_with(
    schema: Option<&Value>,
    user_text: &str,
    cues: &Cues,
    invalid: bool,
) -> String {
    let text = focus_text(user_text);
    let value = match schema {
        None => {
            if invalid {
                json!({"answer": 42})
            } else {
                json!({"answer": "ok"})
            }
        }
        Some(schema) => {
            let mut pending_invalid = invalid;
            let source = Source {
                text,
                user_text,
                cues,
            };
            let v = walk(schema, &source, &mut pending_invalid);
            if pending_invalid {
                json!({"unexpected": true})
            } else {
                v
            }
        }
    };
    value.to_string()
}

/// The part of the user text answers are taken from: after its last `Text:`, or all of it.
pub fn focus_text(user_text: &str) -> &str {
    let lower = user_text.to_lowercase();
    // Lowercasing can change byte lengths outside ASCII; only use the position when it is safe.
    match lower.rfind("text:") {
        Some(i) if lower.len() == user_text.len() && user_text.is_char_boundary(i + 5) => {
            user_text[i + 5..].trim_start()
        }
        _ => user_text,
    }
}

/// The type of a schema node (the first non-null one when it is a list).
fn schema_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

/// The string values of a node's `enum`.
fn enum_values(schema: &Value) -> Option<Vec<&str>> {
    schema
        .get("enum")
        .and_then(Value::as_array)
        .map(|values| values.iter().filter_map(Value::as_str).collect())
}

/// The texts answers are taken from.
struct Source<'a> {
    /// The focus text of the user message ([`focus_text`]).
    text: &'a str,
    /// The whole user message.
    user_text: &'a str,
    /// The hidden rules read from the raw user message.
    cues: &'a Cues,
}

/// The refine rule: the answer of a string property of a prompt-refinement schema, by its name.
fn refine(name: &str, schema: &Value, source: &Source) -> Option<Value> {
    if schema_type(schema) != Some("string") || enum_values(schema).is_some() {
        return None;
    }
    let name = name.to_lowercase();
    if name == "reasoning" {
        Some(json!(REFINE_REASONING))
    } else if name.contains("title") {
        Some(json!(REFINE_TITLE))
    } else if name.contains("prompt") {
        let current = between(source.user_text, "<current_prompt>", "</current_prompt>")
            .map(str::trim)
            .unwrap_or(source.text);
        // A statement for each rule the failed examples teach, unless the prompt has it.
        let mut learned = String::new();
        for (key, label) in &source.cues.lessons {
            let line = statement(key, label);
            if !current
                .lines()
                .any(|l| l.trim().eq_ignore_ascii_case(&line))
            {
                learned.push_str(&line);
                learned.push('\n');
            }
        }
        Some(json!(format!("{learned}{REFINE_INSTRUCTION}\n{current}")))
    } else {
        None
    }
}

/// The text between the first `open` and the next `close` after it.
fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    Some(&text[start..start + len])
}

/// An answer for one schema node.
fn walk(schema: &Value, source: &Source, invalid: &mut bool) -> Value {
    let text = source.text;
    if let Some(first) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
        .and_then(|alts| {
            alts.iter()
                .find(|a| schema_type(a) != Some("null"))
                .or(alts.first())
        })
    {
        return walk(first, source, invalid);
    }
    if let Some(values) = enum_values(schema) {
        if std::mem::take(invalid) {
            return json!(INVALID_LABEL);
        }
        if let Some(v) = source.cues.choice(&values) {
            return json!(v);
        }
        return json!(choose(&values, text));
    }
    match schema_type(schema) {
        Some("object") | None if schema.get("properties").is_some() => {
            let mut out = Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    let value =
                        refine(name, prop, source).unwrap_or_else(|| walk(prop, source, invalid));
                    out.insert(name.clone(), value);
                }
            }
            Value::Object(out)
        }
        Some("object") => json!({}),
        Some("array") => {
            let items = schema.get("items").unwrap_or(&Value::Null);
            if let Some(values) = enum_values(items) {
                if std::mem::take(invalid) {
                    return json!([INVALID_LABEL]);
                }
                if let Some(v) = source.cues.choice(&values) {
                    return json!([v]);
                }
                let lower = text.to_lowercase();
                let mut found: Vec<&str> = values
                    .iter()
                    .copied()
                    .filter(|v| contains_word(&lower, &v.to_lowercase()))
                    .collect();
                if found.is_empty() {
                    found.extend(values.first());
                }
                return json!(found);
            }
            let props = items.get("properties");
            // Spans: `labels` with the quoted `text`, or with `start` and `end` offsets.
            let is_span = props.is_some_and(|p| {
                p.get("labels").is_some()
                    && (p.get("text").is_some()
                        || (p.get("start").is_some() && p.get("end").is_some()))
            });
            if is_span {
                return spans(items, text, invalid);
            }
            json!([walk(items, source, invalid)])
        }
        Some("integer") => schema
            .get("minimum")
            .and_then(Value::as_i64)
            .map_or(json!(1), |m| json!(m)),
        Some("number") => schema
            .get("minimum")
            .and_then(Value::as_f64)
            .map_or(json!(1), |m| json!(m)),
        Some("boolean") => json!(true),
        Some("null") => Value::Null,
        _ => json!(PLAIN_STRING),
    }
}

/// Whether `word` occurs in `haystack` between non-alphanumeric characters (both lowercase).
fn contains_word(haystack: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The enum value for a text: one that occurs in it, else the keyword rule, else the first.
fn choose<'a>(values: &[&'a str], text: &str) -> &'a str {
    let lower = text.to_lowercase();
    if let Some(v) = values
        .iter()
        .find(|v| contains_word(&lower, &v.to_lowercase()))
    {
        return v;
    }
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let named = |needle: &str| {
        values
            .iter()
            .copied()
            .find(|v| v.to_lowercase().contains(needle))
    };
    if words.iter().any(|w| POSITIVE_WORDS.contains(w))
        && let Some(v) = named("positive")
    {
        return v;
    }
    if words.iter().any(|w| NEGATIVE_WORDS.contains(w))
        && let Some(v) = named("negative")
    {
        return v;
    }
    values.first().copied().unwrap_or("")
}

/// A word of a text with its character offsets.
struct Word<'a> {
    text: &'a str,
    start: usize,
    end: usize,
    sentence_start: bool,
}

/// The words (runs of alphanumeric characters) of a text, with character offsets.
fn words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    let mut current: Option<(usize, usize)> = None; // (byte start, char start)
    let mut chars = 0;
    for (byte, ch) in text.char_indices() {
        if ch.is_alphanumeric() {
            if current.is_none() {
                current = Some((byte, chars));
            }
        } else {
            if let Some((b, s)) = current.take() {
                out.push(Word {
                    text: &text[b..byte],
                    start: s,
                    end: chars,
                    sentence_start,
                });
                sentence_start = false;
            }
            if matches!(ch, '.' | '!' | '?' | '\n') {
                sentence_start = true;
            }
        }
        chars += 1;
    }
    if let Some((b, s)) = current {
        out.push(Word {
            text: &text[b..],
            start: s,
            end: chars,
            sentence_start,
        });
    }
    out
}

/// The span answer: capitalised word groups labelled `ORG` or `PER` when the label set has them.
fn spans(items: &Value, text: &str, invalid: &mut bool) -> Value {
    let labels: Vec<&str> = items
        .pointer("/properties/labels/items")
        .and_then(enum_values)
        .unwrap_or_default();
    let find = |prefix: &str| {
        labels
            .iter()
            .copied()
            .find(|l| l.to_uppercase().starts_with(prefix))
    };
    let (org, per) = (find("ORG"), find("PER"));
    let with_text = items.pointer("/properties/text").is_some()
        || items.get("additionalProperties") != Some(&Value::Bool(false));
    let chars: Vec<char> = text.chars().collect();
    let all = words(text);
    // Groups of consecutive capitalised words separated by single spaces.
    let mut groups: Vec<Vec<&Word>> = Vec::new();
    let mut last_end: Option<usize> = None;
    for w in &all {
        let capitalised = w.text.chars().next().is_some_and(char::is_uppercase);
        let starter = w.sentence_start && SENTENCE_STARTERS.contains(&w.text);
        if !capitalised || starter {
            last_end = None;
            continue;
        }
        let adjacent = last_end.is_some_and(|e| w.start == e + 1 && chars.get(e) == Some(&' '));
        match groups.last_mut() {
            Some(g) if adjacent => g.push(w),
            _ => groups.push(vec![w]),
        }
        last_end = Some(w.end);
    }
    let mut out = Vec::new();
    for g in groups {
        let (Some(first), Some(last)) = (g.first(), g.last()) else {
            continue;
        };
        let is_org = g.iter().any(|w| ORG_WORDS.contains(&w.text));
        let label = if is_org { org } else { per };
        let Some(label) = label else { continue };
        let label = if std::mem::take(invalid) {
            INVALID_LABEL
        } else {
            label
        };
        let mut span = Map::new();
        span.insert("start".into(), json!(first.start));
        if items.pointer("/properties/end").is_some() {
            span.insert("end".into(), json!(last.end));
        }
        span.insert("labels".into(), json!([label]));
        if with_text {
            let s: String = chars[first.start..last.end].iter().collect();
            span.insert("text".into(), json!(s));
        }
        out.push(Value::Object(span));
    }
    if std::mem::take(invalid) {
        out.push(json!({"start": 0, "end": 0, "labels": [INVALID_LABEL]}));
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_have_char_offsets() {
        let w = words("Zoë met Ann.");
        assert_eq!(w[0].text, "Zoë");
        assert_eq!((w[1].start, w[1].end), (4, 7));
        assert_eq!((w[2].start, w[2].end), (8, 11));
    }

    #[test]
    fn the_refine_rule_answers_by_property_name() {
        let schema = json!({
            "type": "object",
            "properties": {
                "reasoning": {"type": "string"},
                "new_prompt_title": {"type": "string"},
                "new_prompt_content": {"type": "string"},
                "label": {"type": "string", "enum": ["A", "B"]},
            },
        });
        let user = "Improve it.\n<current_prompt>\nClassify {text}.\n</current_prompt>\nText: B";
        let v: Value = serde_json::from_str(&answer(Some(&schema), user, false)).expect("json");
        assert_eq!(
            v["reasoning"],
            "The fake teacher kept the placeholders and added an instruction."
        );
        assert_eq!(v["new_prompt_title"], "refined");
        assert_eq!(
            v["new_prompt_content"],
            "Read the text carefully and answer precisely.\nClassify {text}."
        );
        assert_eq!(v["label"], "B");
        // Without the tags, the focus text.
        let v: Value = serde_json::from_str(&answer(Some(&schema), "Fix it. Text: Say {x}", false))
            .expect("json");
        assert_eq!(
            v["new_prompt_content"],
            "Read the text carefully and answer precisely.\nSay {x}"
        );
        // Only plain strings: an enum property named like a prompt keeps the enum rule.
        let enum_schema = json!({"type": "object", "properties": {
            "prompt_kind": {"type": "string", "enum": ["short", "long"]},
        }});
        let v: Value =
            serde_json::from_str(&answer(Some(&enum_schema), "long", false)).expect("json");
        assert_eq!(v["prompt_kind"], "long");
    }

    /// The answer of a labeling call for `user`: a sentiment and an array of tags.
    fn labeled(user: &str) -> Value {
        let labels = ["Positive", "Negative", "Complaint", "Neutral"];
        let schema = json!({"type": "object", "properties": {
            "sentiment": {"type": "string", "enum": labels},
            "tags": {"type": "array", "items": {"type": "string", "enum": labels}},
        }});
        serde_json::from_str(&answer(Some(&schema), user, false)).expect("json")
    }

    /// The sentiment a labeling call answers for `user`.
    fn sentiment(user: &str) -> Value {
        labeled(user)["sentiment"].clone()
    }

    #[test]
    fn a_hidden_rule_is_followed_only_when_the_prompt_states_it() {
        let focus = "Text: I love it, refund me [[rule:refund]]";
        // Without the statement: the usual rules (`love` is positive).
        assert_eq!(
            sentiment(&format!("Classify the sentiment.\n{focus}")),
            "Positive"
        );
        // With it, even inside a longer line and in another case.
        assert_eq!(
            sentiment(&format!(
                "Classify the sentiment.\nTexts about refund are Complaint.\n{focus}"
            )),
            "Complaint"
        );
        assert_eq!(
            sentiment(&format!(
                "Note: REFUND requests are a complaint, always.\n{focus}"
            )),
            "Complaint"
        );
        // The key and the value must share a line.
        assert_eq!(
            sentiment(&format!("About refund:\nthey are Complaint.\n{focus}")),
            "Positive"
        );
        // A marker in the instruction part triggers nothing.
        assert_eq!(
            sentiment(
                "Texts about refund are Complaint.\nExample: refund [[rule:refund]]\nText: I love it"
            ),
            "Positive"
        );
        // Every enum the rule's value is in answers it; an array of one, `[value]`.
        let v = labeled(&format!("Texts about refund are Complaint.\n{focus}"));
        assert_eq!(v, json!({"sentiment": "Complaint", "tags": ["Complaint"]}));
        // The model answers the focus text: a rule without a marker there does nothing.
        assert_eq!(
            sentiment("Texts about refund are Complaint.\nText: I love it, refund me"),
            "Positive"
        );
    }

    #[test]
    fn a_few_shot_example_is_followed_only_when_the_prompt_shows_it() {
        let focus = "Text: I love it [[example:neutral]]";
        assert_eq!(sentiment(&format!("Classify.\n{focus}")), "Positive");
        let shown = "Classify.\nInput: so so\n  Answer: {\"sentiment\":\"Neutral\"}";
        assert_eq!(
            labeled(&format!("{shown}\n{focus}")),
            json!({"sentiment": "Neutral", "tags": ["Neutral"]})
        );
        // The line must start with `Answer:`.
        assert_eq!(
            sentiment(&format!("Classify. Answer: Neutral\n{focus}")),
            "Positive"
        );
        // The label in the marker never leaks into the usual rules.
        assert_eq!(
            sentiment("Classify.\nText: so so [[example:Neutral]]"),
            "Positive"
        );
        // A rule wins over an example.
        assert_eq!(
            sentiment(&format!(
                "Texts about refund are Complaint.\n{shown}\nText: ok [[example:Neutral]] [[rule:refund]]"
            )),
            "Complaint"
        );
    }

    #[test]
    fn the_teacher_states_the_rules_of_failed_examples() {
        let schema = json!({"type": "object", "properties": {
            "reasoning": {"type": "string"},
            "new_prompt_content": {"type": "string"},
        }});
        let block = |n: u32, text: &str, truth: &str, predicted: &str| {
            format!(
                "<example n=\"{n}\">\nInput:\nClassify.\nText: {text}\nGround truth: {truth}\nCurrent prediction: {predicted}\n</example>\n"
            )
        };
        let teach = |current: &str, blocks: &[String]| {
            let user = format!(
                "Improve the prompt.\n<current_prompt>\n{current}\n</current_prompt>\n{}",
                blocks.concat()
            );
            let v: Value =
                serde_json::from_str(&answer(Some(&schema), &user, false)).expect("json");
            assert_eq!(
                v["reasoning"],
                "The fake teacher kept the placeholders and added an instruction."
            );
            v["new_prompt_content"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let complaint = r#"{"sentiment":"Complaint"}"#;
        let blocks = [
            // Passes: no line.
            block(
                1,
                "ok [[rule:late]]",
                complaint,
                r#"{ "sentiment": "Complaint" }"#,
            ),
            block(
                2,
                "refund me [[rule:refund]]",
                complaint,
                r#"{"sentiment":"Positive"}"#,
            ),
            // The same key again: once, with the first example's label.
            block(
                3,
                "refund [[rule:refund]]",
                r#"{"sentiment":"Negative"}"#,
                "none",
            ),
            block(
                4,
                "where [[rule:lost-parcel]]",
                r#"{"tags":["Negative"]}"#,
                "none",
            ),
            // No rule: no line.
            block(5, "I hate it", complaint, "none"),
        ];
        assert_eq!(
            teach("Classify {text}.", &blocks),
            "Texts about refund are Complaint.\nTexts about lost-parcel are Negative.\n\
             Read the text carefully and answer precisely.\nClassify {text}."
        );
        // A statement the prompt has already is not added again.
        assert_eq!(
            teach(
                "Texts about refund are Complaint.\nClassify {text}.",
                &blocks[1..2]
            ),
            "Read the text carefully and answer precisely.\n\
             Texts about refund are Complaint.\nClassify {text}."
        );
        // Nothing failed: the answer of old.
        assert_eq!(
            teach("Classify {text}.", &blocks[..1]),
            "Read the text carefully and answer precisely.\nClassify {text}."
        );
        // The learned statement makes the labeling call right.
        let learned = teach("Classify {text}.", &blocks[1..2]);
        let rendered = learned.replace("{text}", "\nText: I love it, refund me [[rule:refund]]");
        assert_eq!(sentiment(&rendered), "Complaint");
    }

    #[test]
    fn focus_text_takes_the_part_after_text() {
        assert_eq!(focus_text("Label it.\nText: John"), "John");
        assert_eq!(focus_text("John"), "John");
    }
}
