//! The one way a teacher model is called (a refinement's rewrite, an optimization's
//! proposals): through its connection's scheduler (pacing and retries) and spend budget gate,
//! with its cost recorded against that connection's budget, as a run's calls are.
use super::Engine;
use super::plan::scheduler_for;
use crate::llm::scheduler::Cancel;
use crate::llm::{LlmError, LlmRequest, Message};
use serde_json::Value;

/// Tokens a teacher's answer is assumed to take before the call (the budget gate's estimate).
const ANSWER_TOKENS: u64 = 1_000;

/// Who teaches: a model through a connection of an organization.
#[derive(Debug, Clone, Copy)]
pub struct Teacher<'a> {
    /// The organization whose connection it is.
    pub organization_id: i64,
    /// The connection.
    pub connection_id: i64,
    /// The model at the provider.
    pub model: &'a str,
}

/// A teacher's answer (the object of the schema asked for) and its cost, USD.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The answer object.
    pub output: Value,
    /// What the call cost (0 when the model has no price).
    pub cost: f64,
}

/// Why a teacher call gave no answer.
#[derive(Debug, Clone)]
pub struct Failed {
    /// In words.
    pub message: String,
    /// What the call cost all the same.
    pub cost: f64,
    /// No other call can do better (credentials refused, the connection unusable, its budget
    /// spent): a job stops rather than asking again.
    pub fatal: bool,
}

impl Failed {
    fn fatal(message: String) -> Failed {
        Failed {
            message,
            cost: 0.0,
            fatal: true,
        }
    }
}

/// Asks `teacher` with `messages` for an object of `schema`.
pub async fn ask(
    engine: &Engine,
    teacher: Teacher<'_>,
    messages: Vec<Message>,
    schema: Value,
) -> Result<Answer, Failed> {
    let db = engine.db();
    let scheduler = scheduler_for(
        engine,
        db,
        teacher.organization_id,
        teacher.connection_id,
        teacher.model,
    )
    .await
    .map_err(|e| Failed::fatal(e.0))?;
    let request = LlmRequest {
        model: teacher.model.to_string(),
        messages,
        schema,
        params: Default::default(),
    };
    let price = engine.prices().price(teacher.model);
    let cost_of = |usage| {
        price.map_or(0.0, |p| {
            let (a, b) = p.usage_cost(&usage);
            a + b
        })
    };
    let gate = engine.budgets().get(teacher.connection_id);
    let estimate = price.map_or(0.0, |p| {
        let (a, b) = p.cost(request.estimated_tokens(), ANSWER_TOKENS);
        a + b
    });
    let ticket = gate.admit(db, estimate).await.map_err(Failed::fatal)?;
    let called = super::observe::call(&scheduler, &request, &Cancel::new(), price).await;
    let cost = match &called {
        Ok(outcome) => cost_of(outcome.response.usage),
        Err(e) => cost_of(e.usage()),
    };
    gate.settle(ticket, cost);
    if let Err(e) = record(engine, teacher.connection_id, cost).await {
        tracing::warn!(connection = teacher.connection_id, error = %e, "recording a teacher call's spending failed");
    }
    match called {
        Ok(outcome) => Ok(Answer {
            output: outcome.response.output,
            cost,
        }),
        Err(e @ LlmError::Authentication(_)) => Err(Failed {
            message: format!(
                "The teacher provider refused the credentials of connection {}: {e}",
                teacher.connection_id
            ),
            cost,
            fatal: true,
        }),
        Err(e) => Err(Failed {
            message: format!("The call to the teacher model failed: {e}"),
            cost,
            fatal: false,
        }),
    }
}

/// Adds a teacher call's cost to its connection's spending of the period.
async fn record(engine: &Engine, connection_id: i64, cost: f64) -> crate::error::ApiResult<()> {
    if cost <= 0.0 {
        return Ok(());
    }
    let txn = crate::db::begin_write(engine.db()).await?;
    crate::services::budgets::record_spend(&txn, connection_id, cost).await?;
    txn.commit().await?;
    Ok(())
}
