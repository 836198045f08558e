//! The response cache on the engine's side: which calls may use it (a version's single call
//! per task: never the samples drawn to measure agreement, nor a jury's, nor a pipeline's),
//! and a cached answer as a prediction that cost nothing and says so, with the scores its
//! log-probabilities give.
use super::{Plan, TaskOutcome, Voice};
use crate::llm::LlmRequest;
use crate::services::llm_cache;
use crate::services::results::{Confidence, PredictionResult};
use serde_json::json;

/// How a plan uses the cache.
#[derive(Debug, Clone, Copy)]
pub(super) struct CacheUse {
    /// Seconds an answer is used for.
    pub(super) ttl_secs: u64,
}

impl Plan {
    /// Turns the response cache on or off for this plan's calls (a run created with
    /// `cache: false` turns it off; the server's `PROMPTER_CACHE_TTL_SECS=0` keeps it off).
    pub fn use_cache(&mut self, on: bool) {
        let ttl_secs = self.engine_cache_ttl;
        self.cache = (on && ttl_secs > 0).then_some(CacheUse { ttl_secs });
    }

    /// `voice`'s call for one task: from the cache when an identical call was answered within
    /// its time, else from the provider (its answer then kept).
    pub(super) async fn answer_cached(
        &self,
        voice: &Voice,
        task_id: i64,
        request: LlmRequest,
    ) -> TaskOutcome {
        // A pipeline's last call depends on its earlier steps' answers, which are not cached:
        // a pipeline asks every time.
        let Some(cache) = self.cache.filter(|_| self.steps.is_empty()) else {
            return self.answer(voice, task_id, request).await;
        };
        if let Some(hit) = self.cache_hit(voice, cache, task_id, &request).await {
            return hit;
        }
        let mut outcome = self.answer(voice, task_id, request.clone()).await;
        if let TaskOutcome::Success(p) = &mut outcome {
            if self.defer_keep {
                // Kept with the result, in its transaction, many at once.
                p.keep = Some(llm_cache::Keep {
                    key: llm_cache::key(voice.connection, &request),
                    model: voice.model.clone(),
                });
            } else {
                self.keep(voice, &request, p).await;
            }
        }
        outcome
    }

    /// Makes this plan's answers kept in the response cache by the writer of their results
    /// ([`crate::services::results::write_batch`], which a run's results go through) instead
    /// of one statement per call.
    pub fn keep_with_results(&mut self) {
        self.defer_keep = true;
    }

    /// The cached answer of `voice`'s `request` as a prediction that cost nothing, if any.
    pub(super) async fn cache_hit(
        &self,
        voice: &Voice,
        cache: CacheUse,
        task_id: i64,
        request: &LlmRequest,
    ) -> Option<TaskOutcome> {
        let organization = self.version.organization_id;
        let key = llm_cache::key(voice.connection, request);
        let now = crate::util::now();
        match llm_cache::lookup(&self.db, organization, &key, cache.ttl_secs, now).await {
            Ok(Some(hit)) => {
                let free = voice.price.map(|_| 0.0);
                Some(TaskOutcome::Success(PredictionResult {
                    task_id,
                    output: hit.output.clone(),
                    prompt_tokens: Some(0),
                    completion_tokens: Some(0),
                    prompt_cost: free,
                    completion_cost: free,
                    total_cost: free,
                    inference_time: Some(0.0),
                    extra: Some(json!({"cached": true, "output": hit.output})),
                    confidence: match hit.logprobs {
                        Some(l) => Confidence::Logprobs(l),
                        None => Confidence::Unknown,
                    },
                    keep: None,
                }))
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "the response cache could not be read");
                None
            }
        }
    }

    /// Keeps `voice`'s answer `p` to `request` in the response cache.
    pub(super) async fn keep(&self, voice: &Voice, request: &LlmRequest, p: &PredictionResult) {
        let key = llm_cache::key(voice.connection, request);
        let logprobs = match &p.confidence {
            Confidence::Logprobs(l) => Some(l.as_slice()),
            _ => None,
        };
        let tokens = (
            p.prompt_tokens.unwrap_or(0),
            p.completion_tokens.unwrap_or(0),
        );
        let entry = llm_cache::Entry {
            model: &voice.model,
            output: &p.output,
            logprobs,
            tokens,
        };
        let organization = self.version.organization_id;
        if let Err(e) =
            llm_cache::store(&self.db, organization, &key, entry, crate::util::now()).await
        {
            tracing::warn!(error = %e, "an answer could not be kept in the response cache");
        }
    }
}
