//! Model prices (USD per million tokens) and token counting for cost estimates and run costs.
//! Prices are a built-in table for current OpenAI, Anthropic and Gemini models, matched by the
//! longest prefix of the model id, and extended or overridden by a JSON file
//! (`PROMPTER_PRICES_FILE`: `{"model-prefix": {"prompt": 0.15, "completion": 0.6}}`).
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use tiktoken_rs::CoreBPE;

/// Prices of one model, USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Price {
    /// Per million prompt (input) tokens.
    pub prompt: f64,
    /// Per million completion (output) tokens.
    pub completion: f64,
}

impl Price {
    /// The cost of a call, in USD: (prompt, completion).
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> (f64, f64) {
        (
            prompt_tokens as f64 * self.prompt / 1e6,
            completion_tokens as f64 * self.completion / 1e6,
        )
    }
}

const BUILT_IN: &[(&str, f64, f64)] = &[
    ("gpt-5", 1.25, 10.0),
    ("gpt-5-mini", 0.25, 2.0),
    ("gpt-5-nano", 0.05, 0.40),
    ("gpt-4.1", 2.0, 8.0),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4o", 2.50, 10.0),
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4-turbo", 10.0, 30.0),
    ("gpt-4", 30.0, 60.0),
    ("gpt-3.5-turbo", 0.50, 1.50),
    ("o1", 15.0, 60.0),
    ("o1-mini", 1.10, 4.40),
    ("o3", 2.0, 8.0),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("claude-opus-4-5", 5.0, 25.0),
    ("claude-opus-4", 15.0, 75.0),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-haiku-4-5", 1.0, 5.0),
    ("claude-3-7-sonnet", 3.0, 15.0),
    ("claude-3-5-sonnet", 3.0, 15.0),
    ("claude-3-5-haiku", 0.80, 4.0),
    ("claude-3-opus", 15.0, 75.0),
    ("claude-3-haiku", 0.25, 1.25),
    ("gemini-2.5-pro", 1.25, 10.0),
    ("gemini-2.5-flash", 0.30, 2.50),
    ("gemini-2.5-flash-lite", 0.10, 0.40),
    ("gemini-2.0-flash", 0.10, 0.40),
    ("gemini-2.0-flash-lite", 0.075, 0.30),
    ("gemini-1.5-pro", 1.25, 5.0),
    ("gemini-1.5-flash", 0.075, 0.30),
];

/// A price table: the built-in prices plus configured ones.
#[derive(Debug, Clone)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl Default for PriceTable {
    fn default() -> Self {
        let prices = BUILT_IN
            .iter()
            .map(|(m, p, c)| {
                (
                    m.to_string(),
                    Price {
                        prompt: *p,
                        completion: *c,
                    },
                )
            })
            .collect();
        PriceTable { prices }
    }
}

impl PriceTable {
    /// The built-in table extended by the JSON object in `json` (model prefix → price).
    pub fn with_overrides(json: &str) -> Result<Self, String> {
        let extra: BTreeMap<String, Price> =
            serde_json::from_str(json).map_err(|e| format!("price file: {e}"))?;
        let mut table = PriceTable::default();
        for (model, price) in extra {
            if price.prompt < 0.0 || price.completion < 0.0 {
                return Err(format!("price file: negative price for {model}"));
            }
            table.prices.insert(model.to_lowercase(), price);
        }
        Ok(table)
    }

    /// The price of `model`: the entry with the longest prefix of the id (so
    /// `gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`), ignoring a `provider/` prefix.
    pub fn price(&self, model: &str) -> Option<Price> {
        let model = model.to_lowercase();
        let model = model.rsplit('/').next().unwrap_or(&model);
        self.prices
            .iter()
            .filter(|(prefix, _)| model.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, price)| *price)
    }
}

fn bpe(cl100k: bool) -> Option<&'static CoreBPE> {
    static O200K: OnceLock<Option<CoreBPE>> = OnceLock::new();
    static CL100K: OnceLock<Option<CoreBPE>> = OnceLock::new();
    if cl100k {
        CL100K
            .get_or_init(|| tiktoken_rs::cl100k_base().ok())
            .as_ref()
    } else {
        O200K
            .get_or_init(|| tiktoken_rs::o200k_base().ok())
            .as_ref()
    }
}

/// Counts the tokens of `text` for `model`: OpenAI's own encodings (`cl100k_base` for GPT-4
/// and GPT-3.5, `o200k_base` for the rest); other providers' models are counted with
/// `o200k_base`, a close approximation. Loads the encoding on first use (CPU-bound: call it
/// off the async executor for large inputs).
pub fn count_tokens(model: &str, text: &str) -> u64 {
    let m = model.to_lowercase();
    let cl100k = (m.starts_with("gpt-4") && !m.starts_with("gpt-4o") && !m.starts_with("gpt-4.1"))
        || m.starts_with("gpt-3.5");
    match bpe(cl100k) {
        Some(bpe) => bpe.encode_ordinary(text).len() as u64,
        None => text.len().div_ceil(4) as u64,
    }
}

/// A USD amount as Label Studio writes costs: a decimal string without trailing zeros.
pub fn usd(amount: f64) -> String {
    let s = format!("{amount:.8}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_match_the_longest_prefix_and_overrides_win() {
        let table = PriceTable::default();
        assert_eq!(
            table.price("gpt-4o-mini-2024-07-18"),
            Some(Price {
                prompt: 0.15,
                completion: 0.60
            })
        );
        assert_eq!(table.price("gpt-4o").map(|p| p.prompt), Some(2.50));
        assert_eq!(table.price("openai/gpt-4o").map(|p| p.prompt), Some(2.50));
        assert_eq!(
            table
                .price("claude-sonnet-4-5-20250929")
                .map(|p| p.completion),
            Some(15.0)
        );
        assert_eq!(table.price("llama3"), None);
        let custom = PriceTable::with_overrides(r#"{"llama3": {"prompt": 0.0, "completion": 0.0}, "gpt-4o": {"prompt": 1, "completion": 2}}"#)
            .expect("valid");
        assert_eq!(custom.price("llama3:8b").map(|p| p.prompt), Some(0.0));
        assert_eq!(custom.price("gpt-4o").map(|p| p.completion), Some(2.0));
        assert!(PriceTable::with_overrides("[]").is_err());
        assert!(PriceTable::with_overrides(r#"{"x": {"prompt": -1, "completion": 0}}"#).is_err());
    }

    #[test]
    fn counts_tokens_and_formats_costs() {
        assert_eq!(count_tokens("gpt-4o", "hello world"), 2);
        assert_eq!(count_tokens("gpt-3.5-turbo", "hello world"), 2);
        assert!(
            count_tokens(
                "claude-3-5-haiku",
                "The quick brown fox jumps over the lazy dog."
            ) >= 9
        );
        assert_eq!(usd(0.0012), "0.0012");
        assert_eq!(usd(0.0), "0");
        assert_eq!(usd(1.5), "1.5");
        let (p, c) = Price {
            prompt: 0.15,
            completion: 0.60,
        }
        .cost(1_000_000, 500_000);
        assert!((p - 0.15).abs() < 1e-12 && (c - 0.30).abs() < 1e-12);
    }
}
