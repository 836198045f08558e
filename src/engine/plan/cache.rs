//! The response cache on the engine's side: which calls may use it (a version's single call
//! per task: never the samples drawn to measure agreement, nor a jury's, nor a pipeline's),
//! and a cached answer as a prediction that cost nothing and says so, with the scores its
//! log-probabilities give.
use super::{Plan, TaskOutcome, Voice};
use crate::llm::{LlmRequest, Part};
use crate::services::llm_cache;
use crate::services::results::{Confidence, PredictionResult};
use serde_json::json;

/// Tasks read ahead at most, beyond which those never called are forgotten.
const READ_AHEAD_MAX: usize = 20_000;

/// A task's call whose cache entry was read ahead (see [`Plan::read_cache_ahead`]).
#[derive(Debug)]
pub(super) struct ReadAhead {
    /// The call's key.
    key: String,
    /// Its answer, or none (a miss).
    hit: Option<llm_cache::Hit>,
}

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
        let key = llm_cache::key(voice.connection, &request);
        if let Some(hit) = self.cached(voice, cache, task_id, &key).await {
            return hit;
        }
        let mut outcome = self.answer(voice, task_id, request).await;
        if let TaskOutcome::Success(p) = &mut outcome {
            let keep = llm_cache::Keep {
                key,
                model: voice.model.clone(),
            };
            if self.defer_keep {
                // Kept with the result, in its transaction, many at once.
                p.keep = Some(keep);
            } else {
                self.keep(&keep, p).await;
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

    /// Reads the cache for a slice of tasks at once, before their calls: the requests a
    /// task's own single call will send (those with no image to fetch first), their keys, and
    /// one [`llm_cache::lookup_many`] for all of them. [`Plan::answer_cached`] then takes a
    /// task's answer, or its miss, from here instead of reading the cache per call. A plan
    /// that would not use the cache for these calls reads nothing.
    pub async fn read_cache_ahead(&self, tasks: &[(i64, serde_json::Value)]) {
        let single = self.steps.is_empty()
            && self.jury.is_empty()
            && self.version.samples.clamp(1, super::samples::MAX_SAMPLES) == 1;
        let Some(cache) = self.cache.filter(|_| single) else {
            return;
        };
        let mut keys: Vec<(i64, String)> = Vec::with_capacity(tasks.len());
        for (task_id, data) in tasks {
            let Ok(messages) = self.messages(*task_id, data) else {
                continue;
            };
            let images = messages
                .iter()
                .flat_map(|m| &m.parts)
                .any(|p| matches!(p, Part::Image(_)));
            if images {
                continue;
            }
            let request = self
                .own
                .request(&self.schema, messages, self.own.params.clone());
            keys.push((*task_id, llm_cache::key(self.own.connection, &request)));
        }
        let wanted: Vec<String> = keys.iter().map(|(_, k)| k.clone()).collect();
        let organization = self.version.organization_id;
        let now = crate::util::now();
        let found = match llm_cache::lookup_many(
            &self.db,
            organization,
            &wanted,
            cache.ttl_secs,
            now,
        )
        .await
        {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "the response cache could not be read");
                return;
            }
        };
        let Ok(mut ahead) = self.read_ahead.lock() else {
            return;
        };
        if ahead.len() > READ_AHEAD_MAX {
            // Tasks read ahead and never called (canceled): forget them.
            ahead.clear();
        }
        for (task_id, key) in keys {
            // Two tasks of identical calls both take the answer.
            let hit = found.get(&key).cloned();
            ahead.insert(task_id, ReadAhead { key, hit });
        }
    }

    /// The cached answer of `voice`'s `request` as a prediction that cost nothing, if any.
    pub(super) async fn cache_hit(
        &self,
        voice: &Voice,
        cache: CacheUse,
        task_id: i64,
        request: &LlmRequest,
    ) -> Option<TaskOutcome> {
        let key = llm_cache::key(voice.connection, request);
        self.cached(voice, cache, task_id, &key).await
    }

    /// The cached answer of the call of `key` as a prediction that cost nothing, if any: read
    /// ahead with the task's slice, else read now.
    async fn cached(
        &self,
        voice: &Voice,
        cache: CacheUse,
        task_id: i64,
        key: &str,
    ) -> Option<TaskOutcome> {
        let ahead = self
            .read_ahead
            .lock()
            .ok()
            .and_then(|mut a| a.remove(&task_id))
            .filter(|a| a.key == key);
        let hit = match ahead {
            Some(read) => read.hit,
            None => {
                let organization = self.version.organization_id;
                let now = crate::util::now();
                match llm_cache::lookup(&self.db, organization, key, cache.ttl_secs, now).await {
                    Ok(hit) => hit,
                    Err(e) => {
                        tracing::warn!(error = %e, "the response cache could not be read");
                        None
                    }
                }
            }
        }?;
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

    /// Keeps the answer `p` in the response cache under `keep`'s key.
    async fn keep(&self, keep: &llm_cache::Keep, p: &PredictionResult) {
        let logprobs = match &p.confidence {
            Confidence::Logprobs(l) => Some(l.as_slice()),
            _ => None,
        };
        let tokens = (
            p.prompt_tokens.unwrap_or(0),
            p.completion_tokens.unwrap_or(0),
        );
        let entry = llm_cache::Entry {
            model: &keep.model,
            output: &p.output,
            logprobs,
            tokens,
        };
        let organization = self.version.organization_id;
        if let Err(e) =
            llm_cache::store(&self.db, organization, &keep.key, entry, crate::util::now()).await
        {
            tracing::warn!(error = %e, "an answer could not be kept in the response cache");
        }
    }
}
