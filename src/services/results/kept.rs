//! The answers a results batch keeps in the response cache, written in its transaction.
use super::{Confidence, PredictionResult};
use serde_json::Value;
use std::collections::HashSet;

/// An answer to keep in the response cache, owned (the results are consumed by the batch).
pub(super) struct Kept {
    model: String,
    output: Value,
    logprobs: Option<Vec<crate::llm::TokenLogprob>>,
    tokens: (i64, i64),
}

impl Kept {
    pub(super) fn entry(&self) -> crate::services::llm_cache::Entry<'_> {
        crate::services::llm_cache::Entry {
            model: &self.model,
            output: &self.output,
            logprobs: self.logprobs.as_deref(),
            tokens: self.tokens,
        }
    }
}

/// The answers `successes` ask to keep in the response cache, one per key (two tasks that sent
/// the same call got the same answer).
pub(super) fn keeps_of(successes: &[PredictionResult]) -> Vec<(String, Kept)> {
    let mut seen = HashSet::new();
    successes
        .iter()
        .filter_map(|s| {
            let keep = s.keep.as_ref()?;
            seen.insert(keep.key.clone()).then(|| {
                let logprobs = match &s.confidence {
                    Confidence::Logprobs(l) => Some(l.clone()),
                    _ => None,
                };
                // Storable as the prediction is (no NUL for PostgreSQL): a row the database
                // refuses would fail the results' transaction with it.
                let mut output = s.output.clone();
                crate::util::make_storable(&mut output);
                let kept = Kept {
                    model: keep.model.clone(),
                    output,
                    logprobs,
                    tokens: (
                        s.prompt_tokens.unwrap_or(0),
                        s.completion_tokens.unwrap_or(0),
                    ),
                };
                (keep.key.clone(), kept)
            })
        })
        .collect()
}
