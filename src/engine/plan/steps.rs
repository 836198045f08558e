//! The earlier steps of a pipeline version: each is called for a task before the step that
//! answers the label config, through the scheduler and budget gate of its own connection and
//! model; its answers join the task's data under its name, and what it used is added to the
//! task's result.
use super::{Plan, TaskOutcome};
use crate::engine::budget::Gate;
use crate::engine::prompt;
use crate::llm::scheduler::Scheduler;
use crate::llm::{FailureKind, LlmError, LlmRequest, Message, ModelParams, Role};
use crate::pricing::Price;
use crate::services::results::FailureResult;
use crate::template::TemplateError;
use serde_json::{Value, json};
use std::sync::Arc;

/// An intermediate step of a pipeline version, ready to call.
pub(super) struct StepPlan {
    pub(super) name: String,
    pub(super) prompt: String,
    pub(super) outputs: Vec<String>,
    pub(super) model: String,
    pub(super) connection: i64,
    pub(super) scheduler: Arc<Scheduler>,
    pub(super) params: ModelParams,
    pub(super) price: Option<Price>,
    pub(super) budget: Arc<Gate>,
    pub(super) schema: Value,
    pub(super) system: String,
}

/// What an intermediate step of a task used.
#[derive(Debug, Clone, Default)]
pub(super) struct StepUsage {
    pub(super) name: String,
    pub(super) prompt_tokens: u64,
    pub(super) completion_tokens: u64,
    pub(super) prompt_cost: Option<f64>,
    pub(super) completion_cost: Option<f64>,
}

/// The JSON schema of an intermediate step's answer: one string per output field.
pub(super) fn step_schema(outputs: &[String]) -> Value {
    let properties: serde_json::Map<String, Value> = outputs
        .iter()
        .map(|o| (o.clone(), json!({"type": "string"})))
        .collect();
    json!({"type": "object", "properties": properties, "required": outputs,
        "additionalProperties": false})
}

/// The instructions of an intermediate step's call.
pub(super) fn step_system_message(schema: &Value) -> String {
    format!(
        "You are one step of a pipeline that annotates a Label Studio task. Follow the user's \
         instructions and answer with one JSON object, and nothing else, that fits this JSON \
         schema:\n{schema}"
    )
}

/// The (prompt, completion) cost of `usage` at `price`, when there is a price.
pub(super) fn cost_at(
    price: Option<Price>,
    usage: crate::llm::Usage,
) -> (Option<f64>, Option<f64>) {
    match price {
        Some(price) => {
            let (p, c) = price.usage_cost(&usage);
            (Some(p), Some(c))
        }
        None => (None, None),
    }
}

/// `outcome` with what the earlier steps of a pipeline used added: tokens and costs summed
/// into the result, and each step's use in a success's `extra.steps`.
pub(super) fn with_steps(outcome: TaskOutcome, steps: &[StepUsage]) -> TaskOutcome {
    let prompt: u64 = steps.iter().map(|s| s.prompt_tokens).sum();
    let completion: u64 = steps.iter().map(|s| s.completion_tokens).sum();
    let add = |a: Option<f64>, b: f64| Some(a.unwrap_or(0.0) + b);
    let prompt_cost: f64 = steps.iter().filter_map(|s| s.prompt_cost).sum();
    let completion_cost: f64 = steps.iter().filter_map(|s| s.completion_cost).sum();
    let record: Vec<Value> = steps
        .iter()
        .map(|s| {
            json!({"step": s.name, "prompt_tokens": s.prompt_tokens,
                "completion_tokens": s.completion_tokens,
                "cost_usd": s.prompt_cost.zip(s.completion_cost).map(|(p, c)| p + c)})
        })
        .collect();
    match outcome {
        TaskOutcome::Success(mut r) => {
            r.prompt_tokens = Some(r.prompt_tokens.unwrap_or(0) + prompt as i64);
            r.completion_tokens = Some(r.completion_tokens.unwrap_or(0) + completion as i64);
            if r.prompt_cost.is_some() || prompt_cost > 0.0 {
                r.prompt_cost = add(r.prompt_cost, prompt_cost);
                r.completion_cost = add(r.completion_cost, completion_cost);
                r.total_cost = r.prompt_cost.zip(r.completion_cost).map(|(p, c)| p + c);
            }
            let mut extra = r.extra.take().unwrap_or_else(|| json!({}));
            if let Value::Object(map) = &mut extra {
                map.insert("steps".into(), Value::Array(record));
            }
            r.extra = Some(extra);
            TaskOutcome::Success(r)
        }
        TaskOutcome::Failure(mut f) => {
            let tokens = |t: Option<i64>, more: u64| {
                let sum = t.unwrap_or(0) + more as i64;
                (sum > 0).then_some(sum)
            };
            f.prompt_tokens = tokens(f.prompt_tokens, prompt);
            f.completion_tokens = tokens(f.completion_tokens, completion);
            let spent = prompt_cost + completion_cost;
            if spent > 0.0 {
                f.total_cost = Some(f.total_cost.unwrap_or(0.0) + spent);
            }
            TaskOutcome::Failure(f)
        }
        other => other,
    }
}

impl Plan {
    /// One intermediate step of a task: its answers (an object of strings) and what it used,
    /// or how the task ends (a failure that names the step).
    pub(super) async fn run_step(
        &self,
        step: &StepPlan,
        task_id: i64,
        data: &Value,
    ) -> Result<(Value, StepUsage), TaskOutcome> {
        let failed = |message: String, error_type: FailureKind, usage: StepUsage| {
            TaskOutcome::Failure(FailureResult {
                task_id,
                message: format!("Step \"{}\" failed: {message}", step.name),
                error_type,
                prompt_tokens: (usage.prompt_tokens > 0).then_some(usage.prompt_tokens as i64),
                completion_tokens: (usage.completion_tokens > 0)
                    .then_some(usage.completion_tokens as i64),
                total_cost: usage
                    .prompt_cost
                    .zip(usage.completion_cost)
                    .map(|(p, c)| p + c)
                    .filter(|c| *c > 0.0),
                ..Default::default()
            })
        };
        let nothing = StepUsage {
            name: step.name.clone(),
            ..Default::default()
        };
        let parts = match prompt::user_parts(&step.prompt, data, &self.image_keys, None) {
            Ok(parts) => parts,
            Err(e) => {
                let kind = match e {
                    TemplateError::MissingField(_) => FailureKind::MissingField,
                    TemplateError::Syntax(_) => FailureKind::PromptError,
                };
                return Err(failed(e.to_string(), kind, nothing));
            }
        };
        let messages = vec![
            Message::new(Role::System, step.system.clone()),
            Message::with_parts(Role::User, parts),
        ];
        let messages = self
            .images
            .resolve_messages(messages)
            .await
            .map_err(|m| failed(m, FailureKind::ImageError, nothing.clone()))?;
        let request = LlmRequest {
            model: step.model.clone(),
            messages,
            schema: step.schema.clone(),
            params: step.params.clone(),
        };
        let estimate = step.price.map_or(0.0, |price| {
            let expected = u64::from(request.params.max_tokens.unwrap_or(256));
            let (p, c) = price.cost(request.estimated_tokens(), expected);
            p + c
        });
        let admitted = tokio::select! {
            biased;
            _ = self.cancel.canceled() => return Err(TaskOutcome::Canceled),
            admitted = step.budget.admit(&self.db, estimate) => admitted,
        };
        let ticket = admitted.map_err(TaskOutcome::Fatal)?;
        let called =
            crate::engine::observe::call(&step.scheduler, &request, &self.cancel, step.price).await;
        let usage = match &called {
            Ok(outcome) => outcome.response.usage,
            Err(e) => e.usage(),
        };
        let (prompt_cost, completion_cost) = cost_at(step.price, usage);
        step.budget.settle(
            ticket,
            prompt_cost.unwrap_or(0.0) + completion_cost.unwrap_or(0.0),
        );
        let used = StepUsage {
            name: step.name.clone(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            prompt_cost,
            completion_cost,
        };
        match called {
            Ok(outcome) => {
                let mut answers = serde_json::Map::new();
                for field in &step.outputs {
                    let value = match outcome.response.output.get(field) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Null) | None => {
                            return Err(failed(
                                format!("the answer has no \"{field}\""),
                                FailureKind::InvalidOutput,
                                used,
                            ));
                        }
                        Some(other) => other.to_string(),
                    };
                    answers.insert(field.clone(), Value::String(value));
                }
                Ok((Value::Object(answers), used))
            }
            Err(LlmError::Canceled) => Err(TaskOutcome::Canceled),
            Err(e @ LlmError::Authentication(_)) => Err(TaskOutcome::Fatal(format!(
                "The provider refused the credentials of connection {} (step \"{}\"): {e}",
                step.connection, step.name
            ))),
            Err(e) => Err(failed(e.to_string(), e.error_type(), used)),
        }
    }
}
