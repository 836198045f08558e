//! The fake's **hidden rules**: what a test writes into a task's text so that a prompt stating
//! the right thing scores visibly better, and how the fake teacher learns those statements from
//! failed examples (see the rules in the parent module's documentation).
//!
//! They are read from the raw text of the last user message ([`Cues::read`]), before the
//! directives are taken out of it (`logprobs::Directives::take`, which removes these markers
//! too):
//!
//! * `[[rule:KEY]]` in the focus text (KEY: letters, digits, `-`, `_`): an enum is answered with
//!   the value a line of the instruction part states for KEY (the line holds KEY and the value
//!   as whole words, case-insensitive; the first such line, its first such value);
//! * `[[example:LABEL]]` in the focus text: an enum holding LABEL is answered LABEL when a line
//!   of the instruction part starts with `Answer:` and holds LABEL as a whole word;
//! * `<example n="...">` blocks of a teacher's message (`Input:`, `Ground truth:`,
//!   `Current prediction:`): each `[[rule:KEY]]` in a failing example's input becomes a
//!   statement `Texts about KEY are LABEL.` of the refined prompt.
use crate::answer::focus_text;
use crate::logprobs::Directives;
use serde_json::Value;

/// The start of a teacher's example block.
const EXAMPLE_OPEN: &str = "<example n=";

/// The end of a teacher's example block.
const EXAMPLE_CLOSE: &str = "</example>";

/// The line a few-shot example's answer starts with.
const ANSWER_PREFIX: &str = "Answer:";

/// A hidden-rule marker: the inside of a `[[...]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Marker {
    /// `[[rule:KEY]]`.
    Rule(String),
    /// `[[example:LABEL]]`.
    Example(String),
}

impl Marker {
    /// The marker `inner` (the text between `[[` and `]]`) is, if it is one.
    pub(super) fn parse(inner: &str) -> Option<Marker> {
        let inner = inner.trim();
        if let Some(key) = inner.strip_prefix("rule:") {
            let key = key.trim();
            let word = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
            return word.then(|| Marker::Rule(key.to_string()));
        }
        if let Some(label) = inner.strip_prefix("example:") {
            let label = label.trim();
            return (!label.is_empty() && !label.contains(['[', ']', '=']))
                .then(|| Marker::Example(label.to_string()));
        }
        None
    }

    /// Every marker of `text`, in order.
    fn all(text: &str) -> Vec<Marker> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("[[") {
            let after = &rest[open + 2..];
            let Some(close) = after.find("]]") else { break };
            match Marker::parse(&after[..close]) {
                Some(marker) => {
                    out.push(marker);
                    rest = &after[close + 2..];
                }
                // Not a marker: look again from the next bracket.
                None => rest = &rest[open + 1..],
            }
        }
        out
    }
}

/// What the hidden rules read from the raw user text.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Cues {
    /// The keys of the `[[rule:KEY]]` markers of the focus text, in order.
    rules: Vec<String>,
    /// The labels of the `[[example:LABEL]]` markers of the focus text, in order.
    examples: Vec<String>,
    /// The instruction part: the user text before its focus text, directives taken out.
    instructions: String,
    /// What a teacher learns from its failed examples: `(KEY, LABEL)`, one per key, in order
    /// of first appearance.
    pub(super) lessons: Vec<(String, String)>,
}

impl Cues {
    /// The cues of `user_text`, the last user message before its directives are taken out.
    pub(super) fn read(user_text: &str) -> Cues {
        let focus = focus_text(user_text);
        // The focus text is a suffix of the user text.
        let mut instructions = user_text[..user_text.len() - focus.len()].to_string();
        Directives::take(&mut instructions);
        let mut cues = Cues {
            instructions,
            lessons: lessons(user_text),
            ..Cues::default()
        };
        for marker in Marker::all(focus) {
            match marker {
                Marker::Rule(key) => cues.rules.push(key),
                Marker::Example(label) => cues.examples.push(label),
            }
        }
        cues
    }

    /// The value of `values` (an enum) the hidden rules answer, if one applies: a stated rule
    /// first, then a shown example.
    pub(super) fn choice<'a>(&self, values: &[&'a str]) -> Option<&'a str> {
        let lines: Vec<String> = self.instructions.lines().map(str::to_lowercase).collect();
        for key in &self.rules {
            let key = key.to_lowercase();
            for line in lines.iter().filter(|l| first_word_at(l, &key).is_some()) {
                // The value the line names first.
                let named = values
                    .iter()
                    .filter_map(|v| first_word_at(line, &v.to_lowercase()).map(|at| (at, *v)))
                    .min_by_key(|(at, _)| *at);
                if let Some((_, v)) = named {
                    return Some(v);
                }
            }
        }
        for label in &self.examples {
            let label = label.to_lowercase();
            let Some(v) = values.iter().find(|v| v.to_lowercase() == label) else {
                continue;
            };
            let shown = self.instructions.lines().any(|l| {
                l.trim_start().starts_with(ANSWER_PREFIX)
                    && first_word_at(&l.to_lowercase(), &label).is_some()
            });
            if shown {
                return Some(v);
            }
        }
        None
    }
}

/// Where `word` first occurs in `haystack` as a whole word (both lowercase).
fn first_word_at(haystack: &str, word: &str) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    haystack.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// A JSON text as a value (a text that is not JSON stands for itself as a string).
fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// The first string of a value, depth-first.
fn first_string(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Array(items) => items.iter().find_map(first_string),
        Value::Object(map) => map.values().find_map(first_string),
        _ => None,
    }
}

/// The statement of the rule of KEY: `Texts about KEY are LABEL.`
pub(super) fn statement(key: &str, label: &str) -> String {
    format!("Texts about {key} are {label}.")
}

/// What a teacher learns from the `<example n="...">` blocks of its message: for each key of a
/// `[[rule:KEY]]` in the focus text of an input whose current prediction is not the ground
/// truth, the first string of the ground truth of its first such example.
fn lessons(user_text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut rest = user_text;
    while let Some(open) = rest.find(EXAMPLE_OPEN) {
        let block = &rest[open + EXAMPLE_OPEN.len()..];
        // The block runs to its last `</example>` before the next block.
        let next = block.find(EXAMPLE_OPEN).unwrap_or(block.len());
        let region = &block[..next];
        let body = &region[..region.rfind(EXAMPLE_CLOSE).unwrap_or(region.len())];
        rest = &block[next..];
        let Some(truth_at) = body.rfind("Ground truth:") else {
            continue;
        };
        let input = &body[..truth_at];
        let input = input.find("Input:").map_or(input, |i| &input[i + 6..]);
        let tail = &body[truth_at + "Ground truth:".len()..];
        let (truth, predicted) = match tail.find("Current prediction:") {
            Some(p) => (&tail[..p], Some(&tail[p + "Current prediction:".len()..])),
            None => (tail, None),
        };
        let truth = json_or_text(truth.trim());
        let failed = match predicted.map(str::trim) {
            None | Some("") => true,
            Some(p) if p.eq_ignore_ascii_case("none") => true,
            Some(p) => json_or_text(p) != truth,
        };
        let Some(label) = first_string(&truth).filter(|_| failed) else {
            continue;
        };
        for marker in Marker::all(focus_text(input)) {
            if let Marker::Rule(key) = marker
                && !out.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key))
            {
                out.push((key, label.to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_parsed() {
        assert_eq!(
            Marker::parse("rule:late-delivery_2"),
            Some(Marker::Rule("late-delivery_2".into()))
        );
        assert_eq!(Marker::parse("rule:two words"), None);
        assert_eq!(Marker::parse("rule:"), None);
        assert_eq!(
            Marker::parse(" example: Neutral "),
            Some(Marker::Example("Neutral".into()))
        );
        assert_eq!(Marker::parse("confidence=0.8"), None);
        assert_eq!(
            Marker::all("a [[x]] [[rule:k]] b [[example:L]]"),
            [Marker::Rule("k".into()), Marker::Example("L".into())]
        );
    }

    #[test]
    fn cues_split_the_focus_text_from_the_instructions() {
        let cues = Cues::read(
            "Few-shot: refund [[rule:refund]] [[confidence=0.9]]\nText: x [[rule:refund]] [[example:B]]",
        );
        assert_eq!(cues.rules, ["refund"]);
        assert_eq!(cues.examples, ["B"]);
        assert_eq!(cues.instructions, "Few-shot: refund  \nText: ");
        // Without `Text:` everything is the focus text: no instructions.
        let cues = Cues::read("Texts about refund are B. [[rule:refund]]");
        assert_eq!(cues.rules, ["refund"]);
        assert_eq!(cues.choice(&["A", "B"]), None);
    }

    #[test]
    fn a_rule_line_names_its_first_value() {
        let cues = Cues::read("Refund texts are B, never A.\nText: [[rule:refund]]");
        assert_eq!(cues.choice(&["A", "B"]), Some("B"));
        // The key must be a whole word.
        let cues = Cues::read("Refunds are B.\nText: [[rule:refund]]");
        assert_eq!(cues.choice(&["A", "B"]), None);
    }

    #[test]
    fn lessons_come_from_failed_examples() {
        let user = r#"Improve the prompt.
<example n="1">
Input:
Classify it.
Text: refund now [[rule:refund]]
Ground truth: {"sentiment":"Complaint","topic":"money"}
Current prediction: {"topic":"money","sentiment":"Complaint"}
</example>
<example n="2">
Input:
Classify it.
Text: meh [[rule:late]] [[rule:refund]]
Ground truth: {"labels":["Negative","Complaint"]}
Current prediction: none
</example>
<example n="3">
Input:
Shown [[rule:ignored]]
Text: x [[rule:refund]]
Ground truth: {"sentiment":"Positive"}
Current prediction: {"sentiment":"Negative"}
</example>
"#;
        assert_eq!(
            lessons(user),
            [
                ("late".to_string(), "Negative".to_string()),
                ("refund".to_string(), "Negative".to_string()),
            ]
        );
    }
}
