//! One call of a task's final step: by the version's own model or one of its jury's
//! ([`Voice`]), through that model's budget gate and scheduler, as the task's outcome; and the
//! run-wide count of calls failing the same systemic way.
use super::{Plan, TaskOutcome};
use crate::engine::budget::Gate;
use crate::engine::observe;
use crate::llm::scheduler::{CallOutcome, Scheduler};
use crate::llm::{LlmError, LlmRequest, Message, ModelParams};
use crate::pricing::Price;
use crate::services::results::{Confidence, FailureResult, PredictionResult};
use serde_json::json;
use std::sync::Arc;

/// Calls failing the same systemic way, with none succeeding yet, after which a run stops.
pub const SYSTEMIC_FAILURES: u32 = 5;

/// A model that answers a task's final call: the version's own, or one of its jury.
pub(super) struct Voice {
    /// The model at the provider.
    pub(super) model: String,
    /// The connection it is called through.
    pub(super) connection: i64,
    pub(super) scheduler: Arc<Scheduler>,
    /// Its parameters, inherited by the one rule.
    pub(super) params: ModelParams,
    pub(super) price: Option<Price>,
    pub(super) budget: Arc<Gate>,
}

impl Voice {
    /// Its request for `messages` with `params`.
    pub(super) fn request(
        &self,
        schema: &serde_json::Value,
        messages: Vec<Message>,
        params: ModelParams,
    ) -> LlmRequest {
        LlmRequest {
            model: self.model.clone(),
            messages,
            schema: schema.clone(),
            params,
        }
    }

    /// The (prompt, completion) cost of a call, when the model has a price.
    fn cost(&self, usage: crate::llm::Usage) -> (Option<f64>, Option<f64>) {
        super::steps::cost_at(self.price, usage)
    }
}

/// Failures in a row of one kind before any success (see [`Plan::note_outcome`]).
#[derive(Debug, Default)]
pub(super) struct Streak {
    succeeded: bool,
    kind: Option<crate::llm::FailureKind>,
    count: u32,
}

/// Whether an error (after the scheduler's retries) says that no call of the version can
/// succeed: the provider cannot be reached, or refuses the request itself (an unknown model, a
/// wrong path), rather than failing on this task's content.
fn is_systemic(e: &LlmError) -> bool {
    match e {
        LlmError::Connection(_) | LlmError::Unsupported(_) => true,
        LlmError::Request { status, .. } => matches!(status, 404 | 405),
        _ => false,
    }
}

impl Plan {
    /// One call of the final step by `voice`, through its budget gate, as the task's outcome.
    pub(super) async fn answer(
        &self,
        voice: &Voice,
        task_id: i64,
        request: LlmRequest,
    ) -> TaskOutcome {
        let estimate = estimate(voice.price, &request);
        let admitted = tokio::select! {
            biased;
            _ = self.cancel.canceled() => return TaskOutcome::Canceled,
            admitted = voice.budget.admit(&self.db, estimate) => admitted,
        };
        let ticket = match admitted {
            Ok(ticket) => ticket,
            Err(message) => return TaskOutcome::Fatal(message),
        };
        let called = observe::call(&voice.scheduler, &request, &self.cancel, voice.price).await;
        let spent = match &called {
            Ok(outcome) => voice.cost(outcome.response.usage),
            Err(e) => voice.cost(e.usage()),
        };
        voice
            .budget
            .settle(ticket, spent.0.unwrap_or(0.0) + spent.1.unwrap_or(0.0));
        if let Some(fatal) = self.note_outcome(&called) {
            return TaskOutcome::Fatal(fatal);
        }
        outcome_of(voice, voice.price, task_id, called)
    }

    /// Counts calls that failed the same way before any call succeeded; returns why the run
    /// fails when [`SYSTEMIC_FAILURES`] of them in a row say that no call can succeed (the
    /// endpoint cannot be reached, the model does not exist, the request is refused).
    fn note_outcome(&self, called: &Result<CallOutcome, LlmError>) -> Option<String> {
        let mut streak = self.streak.lock().ok()?;
        match called {
            Ok(_) => {
                streak.succeeded = true;
                None
            }
            Err(e) if !streak.succeeded && is_systemic(e) => {
                if streak.kind.as_ref() != Some(&e.error_type()) {
                    streak.kind = Some(e.error_type());
                    streak.count = 0;
                }
                streak.count += 1;
                (streak.count >= SYSTEMIC_FAILURES).then(|| {
                    format!(
                        "The first {} calls of this version all failed the same way, so the \
                         run stops: {e}. Check the connection's endpoint and key and the model \
                         name, then run again.",
                        streak.count
                    )
                })
            }
            Err(_) => None,
        }
    }
}

/// What a call may cost at `price` (0 without one), for the budget gate: its prompt and the
/// answer, up to `max_tokens`, else about what a labels object takes (the gate learns the real
/// cost after a few calls).
pub(super) fn estimate(price: Option<Price>, request: &LlmRequest) -> f64 {
    price.map_or(0.0, |price| {
        let expected = u64::from(request.params.max_tokens.unwrap_or(64));
        let (p, c) = price.cost(request.estimated_tokens(), expected);
        p + c
    })
}

/// The outcome of `voice`'s call for a task, its cost at `price` (the online price, or the
/// batch price for an answer from a provider batch).
pub(super) fn outcome_of(
    voice: &Voice,
    price: Option<Price>,
    task_id: i64,
    called: Result<CallOutcome, LlmError>,
) -> TaskOutcome {
    let cost = |usage| super::steps::cost_at(price, usage);
    match called {
        Ok(outcome) => {
            let usage = outcome.response.usage;
            let raw = outcome.response.output.clone();
            let (prompt_cost, completion_cost) = cost(usage);
            let mut notes = outcome.response.notes;
            if price.is_none() {
                notes.push(crate::pricing::unpriced_note(&voice.model));
            }
            TaskOutcome::Success(PredictionResult {
                task_id,
                output: outcome.response.output,
                prompt_tokens: Some(usage.prompt_tokens as i64),
                completion_tokens: Some(usage.completion_tokens as i64),
                prompt_cost,
                completion_cost,
                total_cost: prompt_cost.zip(completion_cost).map(|(p, c)| p + c),
                inference_time: Some(outcome.seconds),
                confidence: Confidence::Logprobs(outcome.response.logprobs),
                keep: None,
                // The model's answer as it came, for the web app's task view.
                extra: Some(if notes.is_empty() {
                    json!({"attempts": outcome.attempts, "output": raw})
                } else {
                    json!({"attempts": outcome.attempts, "notes": notes, "output": raw})
                }),
            })
        }
        Err(LlmError::Canceled) => TaskOutcome::Canceled,
        Err(e @ LlmError::Authentication(_)) => TaskOutcome::Fatal(format!(
            "The provider refused the credentials of connection {}: {e}",
            voice.connection
        )),
        Err(e) => {
            let usage = e.usage();
            let (p, c) = cost(usage);
            TaskOutcome::Failure(FailureResult {
                task_id,
                message: e.to_string(),
                error_type: e.error_type(),
                inference_time: None,
                prompt_tokens: (usage.prompt_tokens > 0).then_some(usage.prompt_tokens as i64),
                completion_tokens: (usage.completion_tokens > 0)
                    .then_some(usage.completion_tokens as i64),
                total_cost: p.zip(c).map(|(p, c)| p + c).filter(|c| *c > 0.0),
            })
        }
    }
}
