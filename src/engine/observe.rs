//! What the engine tells [`crate::metrics`]: every LLM call it makes (runs, pipeline steps,
//! live predictions, refinements) goes through [`call`], which counts it by provider, model
//! and outcome with its latency, tokens and cost; [`scrape`] reads what `/metrics` shows at the
//! moment it is scraped (the run-slice queue's depth, this process's LLM schedulers).
use super::Engine;
use crate::llm::scheduler::{CallOutcome, Cancel, Scheduler};
use crate::llm::{LlmError, LlmRequest};
use crate::metrics::{SchedulerSample, Scrape};
use crate::pricing::Price;
use entity::enums::{JobKind, JobStatus, RunStatus, SliceStatus};
use sea_orm::{ConnectionTrait, DbErr, Statement};

/// Calls the provider through `scheduler` (pacing and retries included) and counts the call
/// in [`crate::metrics`]: its outcome and latency, the tokens the provider reported and their
/// cost at `price` (none counted without a price).
pub async fn call(
    scheduler: &Scheduler,
    request: &LlmRequest,
    cancel: &Cancel,
    price: Option<Price>,
) -> Result<CallOutcome, LlmError> {
    let started = std::time::Instant::now();
    let called = scheduler.call(request, cancel).await;
    let seconds = started.elapsed().as_secs_f64();
    let provider = scheduler.provider_name();
    crate::metrics::observe_llm_call(provider, &request.model, outcome(&called), seconds);
    let usage = match &called {
        Ok(outcome) => outcome.response.usage,
        Err(e) => e.usage(),
    };
    if usage.prompt_tokens > 0 || usage.completion_tokens > 0 {
        let cost = price.map(|p| {
            let (prompt, completion) = p.usage_cost(&usage);
            prompt + completion
        });
        crate::metrics::observe_llm_usage(
            provider,
            &request.model,
            usage.prompt_tokens,
            usage.completion_tokens,
            cost,
        );
    }
    called
}

/// The outcome label of a call: `ok`, or what ended it (a fixed list, never the error's text).
pub fn outcome(called: &Result<CallOutcome, LlmError>) -> &'static str {
    match called {
        Ok(_) => "ok",
        Err(LlmError::RateLimit { .. }) => "rate_limited",
        Err(LlmError::Timeout(_)) => "timeout",
        Err(LlmError::Server { .. }) => "server_error",
        Err(LlmError::Connection(_)) => "connection_error",
        Err(LlmError::Authentication(_)) => "authentication",
        Err(LlmError::Request { .. }) => "bad_request",
        Err(LlmError::InvalidOutput { .. }) => "invalid_output",
        Err(LlmError::Unsupported(_)) => "unsupported",
        Err(LlmError::Canceled) => "canceled",
    }
}

/// What `/metrics` reads when scraped: the depth of the run-slice queue (slices of active
/// runs, `pending` and `leased`), from the database every process shares, and the LLM
/// schedulers of this process. (Other queues add their depths here.)
pub async fn scrape(engine: &Engine) -> Result<Scrape, DbErr> {
    let scrape = Scrape::new();
    let db = engine.db();
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT s.status AS state, COUNT(*) AS n FROM model_run_slices s \
                 JOIN model_runs r ON r.id = s.model_run_id \
                 WHERE r.status IN ('{run_pending}', '{run_running}') \
                 AND s.status IN ('{pending}', '{leased}') GROUP BY s.status",
                run_pending = RunStatus::Pending,
                run_running = RunStatus::InProgress,
                pending = SliceStatus::Pending,
                leased = SliceStatus::Leased,
            ),
        ))
        .await?;
    let mut depth = [(SliceStatus::Pending, 0i64), (SliceStatus::Leased, 0i64)];
    for row in rows {
        let state: String = row.try_get("", "state")?;
        let n: i64 = row.try_get("", "n")?;
        if let Some(slot) = depth.iter_mut().find(|(s, _)| s.as_str() == state) {
            slot.1 = n;
        }
    }
    for (state, n) in depth {
        scrape.queue_depth("run_slices", state.as_str(), n);
    }
    let jobs = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT status AS state, COUNT(*) AS n FROM jobs \
                 WHERE status IN ('{queued}', '{running}') AND kind <> '{run}' GROUP BY status",
                queued = JobStatus::Queued,
                running = JobStatus::Running,
                run = JobKind::InferenceRun,
            ),
        ))
        .await?;
    let mut job_depth = [(JobStatus::Queued, 0i64), (JobStatus::Running, 0i64)];
    for row in jobs {
        let state: String = row.try_get("", "state")?;
        let n: i64 = row.try_get("", "n")?;
        if let Some(slot) = job_depth.iter_mut().find(|(s, _)| s.as_str() == state) {
            slot.1 = n;
        }
    }
    for (state, n) in job_depth {
        scrape.queue_depth("jobs", state.as_str(), n);
    }
    for (connection, model, scheduler) in engine.schedulers().all() {
        let stats = scheduler.stats();
        scrape.scheduler(&SchedulerSample {
            connection,
            provider: scheduler.provider_name().to_string(),
            model,
            concurrency: scheduler.concurrency() as u64,
            max_concurrency: scheduler.max_concurrency() as u64,
            attempts: stats.attempts,
            rate_limited: stats.rate_limited,
            retried: stats.retried,
        });
    }
    Ok(scrape)
}
