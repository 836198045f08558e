//! What a batch run needs of a plan: whether the version can run through a provider batch
//! (one call per task), a task's request, a cached answer, and an item's result as the task's
//! outcome at the batch price, kept in the response cache like any answer.
use super::call::outcome_of;
use super::{Plan, TaskOutcome};
use crate::llm::batch::ItemResult;
use crate::llm::scheduler::CallOutcome;
use crate::llm::{FailureKind, LlmRequest};
use crate::services::results::FailureResult;
use crate::template::TemplateError;
use serde_json::Value;

impl Plan {
    /// Why this version cannot run through its provider's batch API (`None` when it can), by
    /// the one rule ([`crate::services::provider_batches::refusal`]).
    pub fn batch_refusal(&self) -> Option<String> {
        crate::services::provider_batches::refusal(&self.version)
    }

    /// The connection of the version's own calls.
    pub fn connection_id(&self) -> i64 {
        self.own.connection
    }

    /// The model of the version's own calls.
    pub fn model(&self) -> &str {
        &self.own.model
    }

    /// The request of a task's one call (instructions, examples, the rendered prompt and its
    /// images), or the failure that ends the task without a call.
    pub async fn single_request(
        &self,
        task_id: i64,
        data: &Value,
    ) -> Result<LlmRequest, FailureResult> {
        let failure = |message: String, error_type| FailureResult {
            task_id,
            message,
            error_type,
            ..Default::default()
        };
        let messages = self.messages_with_hint(task_id, data, None).map_err(|e| {
            let kind = match e {
                TemplateError::MissingField(_) => FailureKind::MissingField,
                TemplateError::Syntax(_) => FailureKind::PromptError,
            };
            failure(e.to_string(), kind)
        })?;
        let messages = self
            .images
            .resolve_messages(messages)
            .await
            .map_err(|m| failure(m, FailureKind::ImageError))?;
        let own = &self.own;
        Ok(own.request(&self.schema, messages, own.params.clone()))
    }

    /// The answer of `request` from the response cache, when the run may use it and an
    /// identical call was answered within the cache's time.
    pub async fn from_cache(&self, task_id: i64, request: &LlmRequest) -> Option<TaskOutcome> {
        let cache = self.cache?;
        self.cache_hit(&self.own, cache, task_id, request).await
    }

    /// A batch item's result as the task's outcome, its cost at the provider's batch price.
    /// (Batch answers are not added to the response cache: the request is not kept until its
    /// batch ends.)
    pub fn batch_outcome(&self, task_id: i64, result: ItemResult) -> TaskOutcome {
        let called = result.map(|response| CallOutcome {
            response,
            attempts: 1,
            // A batch answers within its window; no call time of its own is known.
            seconds: 0.0,
        });
        let price = self.own.price.map(|p| p.batch());
        outcome_of(&self.own, price, task_id, called)
    }

    /// A task asked online, once (an item its batch failed or never executed): through the
    /// budget gate, the scheduler and the cache, as a run's online call.
    pub async fn ask_online(&self, task_id: i64, request: LlmRequest) -> TaskOutcome {
        self.answer_cached(&self.own, task_id, request).await
    }

    /// What `request` may cost at the batch price, by the budget gate's estimate of a call
    /// ([`super::call::estimate`]); 0 when the model has no price.
    pub fn batch_estimate(&self, request: &LlmRequest) -> f64 {
        super::call::estimate(self.own.price.map(|p| p.batch()), request)
    }

    /// Asks the budget gate of the version's connection to admit a batch that may cost
    /// `estimate`; the reason it is refused (the connection's budget limit) otherwise. The
    /// batch's real cost is recorded with its results.
    pub async fn admit_batch(&self, estimate: f64) -> Result<(), String> {
        let ticket = self.own.budget.admit(&self.db, estimate).await?;
        self.own.budget.settle(ticket, 0.0);
        Ok(())
    }
}
