//! Model prices (USD per million tokens) and token counting for cost estimates and run costs.
//! Prices are a built-in table for current OpenAI, Anthropic and Gemini models, matched by the
//! longest prefix of the model id, and extended or overridden by a JSON file
//! (`PROMPTER_PRICES_FILE`: `{"model-prefix": {"prompt": 0.15, "completion": 0.6}}`, with an
//! optional `"cached"` price of prompt tokens served from the provider's cache).
//!
//! A call's cost ([`Price::usage_cost`]) charges cached prompt tokens at the cached price when
//! the model has one (OpenAI's cached input, Anthropic's cache reads, Gemini's cached content),
//! and reasoning tokens as output (they are part of the completion tokens). Anthropic's cache
//! writes are charged as plain prompt tokens (Anthropic bills them 25% higher).
use crate::llm::{Provider, Usage};
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
    /// Per million prompt tokens served from the provider's prompt cache, when it has a price
    /// of its own (else they cost `prompt`).
    #[serde(default)]
    pub cached: Option<f64>,
}

/// What a provider's batch API charges, as a share of the online price: half, at OpenAI,
/// Azure OpenAI (Global Batch), Anthropic and Google alike.
pub const BATCH_DISCOUNT: f64 = 0.5;

impl Price {
    /// The price of the same model's calls through the provider's batch API.
    pub fn batch(&self) -> Price {
        Price {
            prompt: self.prompt * BATCH_DISCOUNT,
            completion: self.completion * BATCH_DISCOUNT,
            cached: self.cached.map(|c| c * BATCH_DISCOUNT),
        }
    }

    /// The cost of a call, in USD: (prompt, completion).
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> (f64, f64) {
        (
            prompt_tokens as f64 * self.prompt / 1e6,
            completion_tokens as f64 * self.completion / 1e6,
        )
    }

    /// The cost of a call's `usage`, in USD: (prompt, completion). Cached prompt tokens cost
    /// the cached price when there is one; reasoning tokens are completion tokens.
    pub fn usage_cost(&self, usage: &Usage) -> (f64, f64) {
        let cached = usage.cached_tokens.min(usage.prompt_tokens);
        let cached_rate = self.cached.unwrap_or(self.prompt);
        (
            ((usage.prompt_tokens - cached) as f64 * self.prompt + cached as f64 * cached_rate)
                / 1e6,
            usage.completion_tokens as f64 * self.completion / 1e6,
        )
    }
}

/// Built-in prices: model prefix, prompt, completion, cached prompt (USD per million tokens).
const BUILT_IN: &[(&str, f64, f64, Option<f64>)] = &[
    ("gpt-5", 1.25, 10.0, Some(0.125)),
    ("gpt-5.2", 1.75, 14.0, Some(0.175)),
    ("gpt-5-mini", 0.25, 2.0, Some(0.025)),
    ("gpt-5-nano", 0.05, 0.40, Some(0.005)),
    ("gpt-4.1", 2.0, 8.0, Some(0.50)),
    ("gpt-4.1-mini", 0.40, 1.60, Some(0.10)),
    ("gpt-4.1-nano", 0.10, 0.40, Some(0.025)),
    ("gpt-4o", 2.50, 10.0, Some(1.25)),
    ("gpt-4o-mini", 0.15, 0.60, Some(0.075)),
    ("gpt-4-turbo", 10.0, 30.0, None),
    ("gpt-4", 30.0, 60.0, None),
    ("gpt-3.5-turbo", 0.50, 1.50, None),
    ("o1", 15.0, 60.0, Some(7.50)),
    ("o1-mini", 1.10, 4.40, Some(0.55)),
    ("o3", 2.0, 8.0, Some(0.50)),
    ("o3-mini", 1.10, 4.40, Some(0.55)),
    ("o4-mini", 1.10, 4.40, Some(0.275)),
    ("claude-fable-5", 10.0, 50.0, Some(1.0)),
    ("claude-opus-4-8", 5.0, 25.0, Some(0.50)),
    ("claude-opus-4-7", 5.0, 25.0, Some(0.50)),
    ("claude-opus-4-6", 5.0, 25.0, Some(0.50)),
    ("claude-opus-4-5", 5.0, 25.0, Some(0.50)),
    ("claude-opus-4", 15.0, 75.0, Some(1.50)),
    ("claude-sonnet-5", 3.0, 15.0, Some(0.30)),
    ("claude-sonnet-4", 3.0, 15.0, Some(0.30)),
    ("claude-haiku-4-5", 1.0, 5.0, Some(0.10)),
    ("claude-3-7-sonnet", 3.0, 15.0, Some(0.30)),
    ("claude-3-5-sonnet", 3.0, 15.0, Some(0.30)),
    ("claude-3-5-haiku", 0.80, 4.0, Some(0.08)),
    ("claude-3-opus", 15.0, 75.0, Some(1.50)),
    ("claude-3-haiku", 0.25, 1.25, Some(0.03)),
    ("gemini-2.5-pro", 1.25, 10.0, Some(0.125)),
    ("gemini-2.5-flash", 0.30, 2.50, Some(0.03)),
    ("gemini-2.5-flash-lite", 0.10, 0.40, Some(0.01)),
    ("gemini-2.0-flash", 0.10, 0.40, Some(0.025)),
    ("gemini-2.0-flash-lite", 0.075, 0.30, None),
    ("gemini-1.5-pro", 1.25, 5.0, None),
    ("gemini-1.5-flash", 0.075, 0.30, None),
];

/// The models of `provider` in the built-in price table, in the table's order: what a version
/// editor offers beside the models a connection's test found. Custom servers name their own
/// models, so none are known for them.
pub fn known_models(provider: Provider) -> Vec<&'static str> {
    let of_provider = |model: &str| match provider {
        Provider::OpenAI | Provider::AzureOpenAI | Provider::AzureAIFoundry => {
            model.starts_with("gpt-") || model.starts_with('o')
        }
        Provider::Anthropic => model.starts_with("claude-"),
        Provider::Gemini | Provider::VertexAI => model.starts_with("gemini-"),
        Provider::Custom => false,
    };
    BUILT_IN
        .iter()
        .map(|(model, ..)| *model)
        .filter(|m| of_provider(m))
        .collect()
}

/// The model a new version of `provider` starts with when its connection's test found none:
/// a small, cheap current model (none for Custom servers, whose models have no common name).
pub fn default_model(provider: Provider) -> Option<&'static str> {
    match provider {
        Provider::OpenAI | Provider::AzureOpenAI | Provider::AzureAIFoundry => Some("gpt-4o-mini"),
        Provider::Anthropic => Some("claude-haiku-4-5"),
        Provider::Gemini | Provider::VertexAI => Some("gemini-2.5-flash"),
        Provider::Custom => None,
    }
}

/// A price table: the built-in prices plus configured ones.
#[derive(Debug, Clone)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl Default for PriceTable {
    fn default() -> Self {
        let prices = BUILT_IN
            .iter()
            .map(|(m, p, c, cached)| {
                (
                    m.to_string(),
                    Price {
                        prompt: *p,
                        completion: *c,
                        cached: *cached,
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
            if price.prompt < 0.0 || price.completion < 0.0 || price.cached.is_some_and(|c| c < 0.0)
            {
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

/// The first words of the run note that says a model has no known price.
const UNPRICED: &str = "No price is known for model";

/// The run note that says `model` has no known price, so the run's cost is not counted.
pub fn unpriced_note(model: &str) -> String {
    format!(
        "{UNPRICED} \"{model}\", so the cost of this run is not counted. Give its price in the \
         server's prices file (--prices-file, PROMPTER_PRICES_FILE)."
    )
}

/// The model a run's notes say has no known price, if one does.
pub fn unpriced_model(notes: &[String]) -> Option<String> {
    notes.iter().find_map(|n| {
        let rest = n.strip_prefix(UNPRICED)?.trim_start().strip_prefix('"')?;
        rest.split_once('"').map(|(model, _)| model.to_string())
    })
}

/// Whether a run's notes say its model has no known price (its cost is then unknown).
pub fn has_unpriced_note(notes: &[String]) -> bool {
    notes.iter().any(|n| n.starts_with(UNPRICED))
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
    fn an_unpriced_note_names_its_model() {
        let note = unpriced_note("my-llama");
        assert!(has_unpriced_note(std::slice::from_ref(&note)));
        assert!(!note.contains("null"), "{note}");
        assert_eq!(
            unpriced_model(&["other".into(), note]).as_deref(),
            Some("my-llama")
        );
        // Notes written before the wording changed read the same.
        let old =
            "No price is known for model \"x-1\": the cost is not counted (null).".to_string();
        assert_eq!(unpriced_model(&[old]).as_deref(), Some("x-1"));
        assert_eq!(unpriced_model(&["nothing".into()]), None);
    }

    #[test]
    fn known_models_are_the_providers_own_and_hold_its_default() {
        let openai = known_models(Provider::OpenAI);
        assert!(openai.contains(&"gpt-4o-mini") && openai.contains(&"o3-mini"));
        assert!(!openai.iter().any(|m| m.starts_with("claude")));
        assert!(
            known_models(Provider::Anthropic)
                .iter()
                .all(|m| m.starts_with("claude-"))
        );
        assert!(known_models(Provider::Custom).is_empty());
        for p in Provider::ALL {
            if let Some(d) = default_model(*p) {
                assert!(known_models(*p).contains(&d), "{p:?}: {d}");
                assert!(PriceTable::default().price(d).is_some(), "{d}");
            }
        }
        assert_eq!(default_model(Provider::Custom), None);
    }

    #[test]
    fn prices_match_the_longest_prefix_and_overrides_win() {
        let table = PriceTable::default();
        assert_eq!(
            table.price("gpt-4o-mini-2024-07-18"),
            Some(Price {
                prompt: 0.15,
                completion: 0.60,
                cached: Some(0.075),
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
            cached: None,
        }
        .cost(1_000_000, 500_000);
        assert!((p - 0.15).abs() < 1e-12 && (c - 0.30).abs() < 1e-12);
    }

    #[test]
    fn cached_tokens_cost_the_cached_price_and_reasoning_is_output() {
        let table = PriceTable::default();
        let price = table.price("gpt-5-mini-2025-08-07").expect("priced");
        let usage = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 1_000_000,
            reasoning_tokens: 800_000,
            cached_tokens: 600_000,
        };
        let (p, c) = price.usage_cost(&usage);
        assert!((p - (0.4 * 0.25 + 0.6 * 0.025)).abs() < 1e-12, "{p}");
        assert!((c - 2.0).abs() < 1e-12, "{c}");
        // Without a cached price, cached tokens are prompt tokens.
        let plain = table.price("gpt-4").expect("priced");
        assert!((plain.usage_cost(&usage).0 - 30.0).abs() < 1e-9);
        // Recent Claude models are not priced as Opus 4.
        assert_eq!(table.price("claude-opus-4-7").map(|p| p.prompt), Some(5.0));
        assert_eq!(table.price("claude-opus-4-1").map(|p| p.prompt), Some(15.0));
        // A prices file without "cached" still reads; with it, the cached price is used.
        let custom = PriceTable::with_overrides(
            r#"{"m": {"prompt": 1, "completion": 2}, "n": {"prompt": 1, "completion": 2, "cached": 0.1}}"#,
        )
        .expect("valid");
        assert_eq!(custom.price("m").and_then(|p| p.cached), None);
        assert_eq!(custom.price("n").and_then(|p| p.cached), Some(0.1));
        assert!(
            PriceTable::with_overrides(r#"{"x": {"prompt": 1, "completion": 0, "cached": -1}}"#)
                .is_err()
        );
    }
}
