//! The probability a model gave the values of its answer, read from the answer's token
//! log-probabilities.
//!
//! The answer is a JSON object written token by token. [`Answer::new`] lays the tokens end to
//! end and finds every scalar value of the first JSON object in them (a string's characters
//! between its quotes, a number, `true`, `false`), each with its JSON pointer
//! ([`Answer::leaves`]). The probability of one value ([`Answer::probability`]) is the product of
//! the probabilities of the tokens that overlap it: the chance the model wrote exactly this value,
//! given what it wrote before. When the value comes from a closed set (a label, a rating) and the
//! alternatives at its first token show other members of the set, it is normalized over them:
//! `p / (p + Σ p(alternative))`, the alternatives counted by their first token (all a response
//! shows), tokens that begin no allowed value left out.
use crate::TokenLogprob;
use std::collections::HashSet;

/// The deepest nesting read; deeper values are not scored.
const MAX_DEPTH: usize = 32;

/// One scalar value of the answer: where it is in the object and in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// Its JSON pointer (`/sentiment`, `/label/0/labels/0`).
    pub pointer: String,
    /// Its first byte in the text (a string's first character, after the quote).
    pub start: usize,
    /// The byte after its last (a string's closing quote).
    pub end: usize,
}

/// An answer's tokens laid end to end, and the values found in them.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    tokens: &'a [TokenLogprob],
    starts: Vec<usize>,
    leaves: Vec<Leaf>,
}

impl<'a> Answer<'a> {
    /// Reads `tokens`; an answer whose tokens hold no JSON object has no leaves.
    pub fn new(tokens: &'a [TokenLogprob]) -> Answer<'a> {
        let mut text = Vec::new();
        let mut starts = Vec::with_capacity(tokens.len());
        for t in tokens {
            starts.push(text.len());
            text.extend_from_slice(&t.bytes);
        }
        let mut leaves = Vec::new();
        if let Some(open) = text.iter().position(|b| *b == b'{') {
            let mut scan = Scan {
                text: &text,
                at: open,
                leaves: &mut leaves,
            };
            // A cut or malformed object keeps the values read before the fault.
            let _ = scan.value(&mut String::new(), 0);
        }
        Answer {
            tokens,
            starts,
            leaves,
        }
    }

    /// The scalar values of the answer, in the order written.
    pub fn leaves(&self) -> &[Leaf] {
        &self.leaves
    }

    /// The probability of `leaf` (see the module docs), normalized over `allowed` when it is
    /// not empty. `None` for an empty value or one no token covers.
    pub fn probability(&self, leaf: &Leaf, allowed: &[String]) -> Option<f64> {
        if leaf.end <= leaf.start {
            return None;
        }
        let covering: Vec<usize> = (0..self.tokens.len())
            .filter(|&i| {
                let start = self.starts[i];
                let end = start + self.tokens[i].bytes.len();
                start < leaf.end && end > leaf.start
            })
            .collect();
        let first = *covering.first()?;
        let logprob: f64 = covering.iter().map(|&i| self.tokens[i].logprob).sum();
        let p = logprob.exp();
        if !p.is_finite() {
            return None;
        }
        if allowed.is_empty() {
            return Some(p.clamp(0.0, 1.0));
        }
        let token = &self.tokens[first];
        // The bytes of the first token before the value (a quote, a space).
        let lead = leaf.start.saturating_sub(self.starts[first]);
        let chosen = self.value_text(leaf);
        let mut counted: HashSet<&[u8]> = HashSet::new();
        let mut others = 0.0;
        for (alt, alt_logprob) in &token.top {
            if *alt == token.bytes || !counted.insert(alt.as_slice()) {
                continue;
            }
            let Some(part) = alt
                .get(..lead)
                .filter(|p| *p == &token.bytes[..lead.min(token.bytes.len())])
                .and_then(|_| alt.get(lead..))
                .filter(|p| !p.is_empty())
            else {
                continue;
            };
            let begins_other = allowed.iter().any(|w| {
                let w = w.as_bytes();
                w != chosen.as_slice() && (w.starts_with(part) || part.starts_with(w))
            });
            if begins_other {
                others += alt_logprob.exp();
            }
        }
        Some((p / (p + others)).clamp(0.0, 1.0))
    }

    /// The bytes of a leaf (a string's characters as written, escapes included).
    fn value_text(&self, leaf: &Leaf) -> Vec<u8> {
        let mut text = Vec::new();
        for (i, t) in self.tokens.iter().enumerate() {
            let start = self.starts[i];
            for (j, b) in t.bytes.iter().enumerate() {
                if (leaf.start..leaf.end).contains(&(start + j)) {
                    text.push(*b);
                }
            }
        }
        text
    }
}

/// A reader of one JSON value that records the scalars.
struct Scan<'t, 'l> {
    text: &'t [u8],
    at: usize,
    leaves: &'l mut Vec<Leaf>,
}

impl Scan<'_, '_> {
    fn skip_space(&mut self) {
        while self
            .text
            .get(self.at)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.at += 1;
        }
    }

    /// Reads one value at `pointer`; `None` where the text stops being JSON.
    fn value(&mut self, pointer: &mut String, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_space();
        match *self.text.get(self.at)? {
            b'{' => {
                self.at += 1;
                loop {
                    self.skip_space();
                    match *self.text.get(self.at)? {
                        b'}' => {
                            self.at += 1;
                            return Some(());
                        }
                        b',' => self.at += 1,
                        b'"' => {
                            let (start, end) = self.string()?;
                            let key: String =
                                serde_json::from_slice(self.text.get(start - 1..=end)?).ok()?;
                            self.skip_space();
                            if *self.text.get(self.at)? != b':' {
                                return None;
                            }
                            self.at += 1;
                            let len = pointer.len();
                            pointer.push('/');
                            pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                            self.value(pointer, depth + 1)?;
                            pointer.truncate(len);
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.at += 1;
                let mut index = 0usize;
                loop {
                    self.skip_space();
                    match *self.text.get(self.at)? {
                        b']' => {
                            self.at += 1;
                            return Some(());
                        }
                        b',' => self.at += 1,
                        _ => {
                            let len = pointer.len();
                            pointer.push('/');
                            pointer.push_str(&index.to_string());
                            self.value(pointer, depth + 1)?;
                            pointer.truncate(len);
                            index += 1;
                        }
                    }
                }
            }
            b'"' => {
                let (start, end) = self.string()?;
                self.leaf(pointer, start, end);
                Some(())
            }
            b'n' => {
                self.at += 4;
                Some(())
            }
            _ => {
                let start = self.at;
                while self
                    .text
                    .get(self.at)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
                {
                    self.at += 1;
                }
                if self.at == start {
                    return None;
                }
                self.leaf(pointer, start, self.at);
                Some(())
            }
        }
    }

    /// Reads a string at its opening quote: the bytes between the quotes.
    fn string(&mut self) -> Option<(usize, usize)> {
        self.at += 1;
        let start = self.at;
        loop {
            match *self.text.get(self.at)? {
                b'\\' => self.at += 2,
                b'"' => {
                    let end = self.at;
                    self.at += 1;
                    return Some((start, end));
                }
                _ => self.at += 1,
            }
        }
    }

    fn leaf(&mut self, pointer: &str, start: usize, end: usize) {
        self.leaves.push(Leaf {
            pointer: pointer.to_string(),
            start,
            end,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(text: &str, p: f64, top: &[(&str, f64)]) -> TokenLogprob {
        TokenLogprob::of_text(text, p, top)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn leaves_have_pointers_and_offsets() {
        let tokens = [token(
            r#"```json {"a": "x\"y", "b/c": [1, {"d": true}], "e": null}"#,
            1.0,
            &[],
        )];
        let answer = Answer::new(&tokens);
        let pointers: Vec<&str> = answer.leaves().iter().map(|l| l.pointer.as_str()).collect();
        assert_eq!(pointers, ["/a", "/b~1c/0", "/b~1c/1/d"]);
        let text = r#"```json {"a": "x\"y", "b/c": [1, {"d": true}], "e": null}"#;
        let a = &answer.leaves()[0];
        assert_eq!(&text[a.start..a.end], r#"x\"y"#);
        let d = &answer.leaves()[2];
        assert_eq!(&text[d.start..d.end], "true");
    }

    #[test]
    fn a_value_is_the_product_of_its_tokens_normalized_over_the_allowed_values() {
        let allowed = ["Positive".to_string(), "Negative".to_string()];
        let tokens = [
            token(r#"{""#, 1.0, &[]),
            token("sentiment", 1.0, &[]),
            token(r#"":""#, 1.0, &[]),
            token(
                "Pos",
                0.6,
                &[("Pos", 0.6), ("Neg", 0.3), ("Maybe", 0.05), ("Po", 0.02)],
            ),
            token("itive", 0.5, &[]),
            token(r#""}"#, 1.0, &[]),
        ];
        let answer = Answer::new(&tokens);
        let leaf = &answer.leaves()[0];
        assert_eq!(leaf.pointer, "/sentiment");
        // p = 0.6 × 0.5; "Neg" begins another allowed value, "Maybe" none, "Po" only this one.
        let p = answer.probability(leaf, &allowed).unwrap_or_default();
        assert!(close(p, 0.3 / (0.3 + 0.3)), "{p}");
        let raw = answer.probability(leaf, &[]).unwrap_or_default();
        assert!(close(raw, 0.3), "{raw}");
    }

    #[test]
    fn a_token_that_starts_before_the_value_compares_alternatives_after_its_lead() {
        let allowed = ["A".to_string(), "B".to_string()];
        let tokens = [
            token(r#"{"x":"#, 1.0, &[]),
            token(
                r#""A"#,
                0.8,
                &[(r#""A"#, 0.8), (r#""B"#, 0.15), ("B", 0.05)],
            ),
            token(r#""}"#, 1.0, &[]),
        ];
        let answer = Answer::new(&tokens);
        let p = answer
            .probability(&answer.leaves()[0], &allowed)
            .unwrap_or_default();
        assert!(close(p, 0.8 / 0.95), "{p}");
    }

    #[test]
    fn no_object_no_leaves_and_a_cut_object_keeps_what_was_read() {
        assert!(
            Answer::new(&[token("no json here", 1.0, &[])])
                .leaves()
                .is_empty()
        );
        let cut = [token(r#"{"a": "b", "c": ["#, 1.0, &[])];
        assert_eq!(Answer::new(&cut).leaves().len(), 1);
    }
}
