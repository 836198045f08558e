//! Batch execution: a run created with `execution: "batch"` is not taken by the run workers;
//! its `batch_run` job ([`run_job`]) does the work in steps, one attempt per look:
//!
//! 1. **Submit** ([`submit`]): the run's tasks that have no result and are in no batch yet are
//!    rendered by the version's plan; a template or image failure is written at once, a call
//!    the response cache answers too; the others are encoded and packed into batches within
//!    the provider's limits and `PROMPTER_BATCH_MAX_REQUESTS`. Each batch is written
//!    (`submitting`) before it is sent and marked `running` with the provider's id after, so a
//!    worker that dies in between leaves a row the next attempt sends again.
//! 2. **Poll and collect** ([`collect`]): each running batch is asked its state; one that
//!    ended has its results written as predictions or typed failures at the batch price
//!    (half the online price), through the same idempotent writes as online runs, so a task
//!    ends with one result however often a worker dies while collecting. Items that failed for
//!    a reason worth another try, or that the provider never executed, are asked online, once.
//! 3. The job waits ([`JobError::Later`], the attempt not counted) and looks again after
//!    `PROMPTER_BATCH_POLL_MS`, on whichever worker claims it; the run completes once every
//!    task has a result. A canceled run has its open batches canceled at the provider.
mod collect;
mod submit;

use super::plan::{Plan, TaskOutcome};
use crate::jobs::{JobContext, JobError};
use crate::llm::batch::BatchProvider;
use crate::services::provider_batches::{self, Ended};
use crate::services::results::{self, FailureResult, PredictionResult, RunContext};
use entity::enums::ProviderBatchStatus;
use entity::{failed_prediction, model_run, model_run_slice, prediction, provider_batch};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// What every step of a batch run uses: the run, the version's plan, the provider's batch API.
struct Work {
    ctx: RunContext,
    plan: Plan,
    provider: Arc<dyn BatchProvider>,
}

impl Work {
    /// Loads the work of `run`; why the run cannot go on otherwise.
    async fn load(cx: &JobContext, run: model_run::Model) -> Result<Work, String> {
        let db = cx.db();
        let ctx = RunContext::load(db, run)
            .await
            .map_err(|e| format!("The run's version or project is gone: {e}"))?;
        let mut plan = Plan::load(
            &cx.engine,
            db,
            ctx.version.clone(),
            ctx.run.project_id,
            ctx.config.clone(),
        )
        .await
        .map_err(|e| e.0)?;
        plan.use_cache(ctx.run.use_cache);
        plan.keep_with_results();
        if let Some(refusal) = plan.batch_refusal() {
            return Err(refusal);
        }
        let credentials = crate::services::model_providers::credentials(
            db,
            cx.engine.secrets(),
            ctx.run.organization_id,
            plan.connection_id(),
        )
        .await
        .map_err(|_| {
            format!(
                "The model provider connection {} is gone or cannot be opened.",
                plan.connection_id()
            )
        })?;
        let provider = crate::llm::batch::batch_provider_for(&credentials, cx.engine.http())
            .map_err(|e| e.to_string())?;
        Ok(Work {
            ctx,
            plan,
            provider,
        })
    }

    fn run_id(&self) -> i64 {
        self.ctx.run.id
    }

    /// Writes `outcomes` (fenced: only while this worker holds the job). A fatal outcome
    /// (refused credentials) is returned as the reason the run fails.
    async fn write(&self, cx: &JobContext, outcomes: Vec<TaskOutcome>) -> Result<(), Stop> {
        let mut successes: Vec<PredictionResult> = vec![];
        let mut failures: Vec<FailureResult> = vec![];
        let mut fatal = None;
        for outcome in outcomes {
            match outcome {
                TaskOutcome::Success(p) => successes.push(p),
                TaskOutcome::Failure(f) => failures.push(f),
                TaskOutcome::Fatal(m) => fatal = Some(m),
                TaskOutcome::Canceled => {}
            }
        }
        let size = cx.engine.config().write_batch.max(1);
        while !successes.is_empty() || !failures.is_empty() {
            cx.check().map_err(Stop::Job)?;
            let s: Vec<_> = successes.drain(..successes.len().min(size)).collect();
            let f: Vec<_> = failures.drain(..failures.len().min(size)).collect();
            results::write_batch(cx.db(), &self.ctx, s, f)
                .await
                .map_err(|e| Stop::Job(JobError::Transient(e.to_string())))?;
        }
        match fatal {
            Some(message) => Err(Stop::Fatal(message)),
            None => Ok(()),
        }
    }
}

/// Why a step stops.
enum Stop {
    /// The job stops (lost, canceled, transient or permanent error).
    Job(JobError),
    /// The run fails with this message.
    Fatal(String),
}

impl From<sea_orm::DbErr> for Stop {
    fn from(e: sea_orm::DbErr) -> Stop {
        Stop::Job(e.into())
    }
}

/// One attempt of run `run_id`'s `batch_run` job.
pub async fn run_job(cx: &JobContext, run_id: i64) -> Result<String, JobError> {
    let db = cx.db();
    let Some(run) = model_run::Entity::find_by_id(run_id).one(db).await? else {
        return Ok(format!("run {run_id} was deleted"));
    };
    if !run.status.is_active() {
        let canceled = cancel_open(cx, run_id).await?;
        return Ok(format!(
            "run {run_id} is {}; {canceled} open provider batches canceled",
            run.status
        ));
    }
    let work = match Work::load(cx, run).await {
        Ok(work) => work,
        Err(message) => return fail(cx, run_id, message).await,
    };
    let stopped = async {
        submit::submit(cx, &work).await?;
        collect::collect(cx, &work).await
    }
    .await;
    match stopped {
        Ok(()) => {}
        Err(Stop::Job(e)) => return Err(e),
        Err(Stop::Fatal(message)) => return fail(cx, run_id, message).await,
    }
    let batches = provider_batches::of_run(db, run_id).await?;
    // Progress from the run's counters, which the result writes keep (not a read of every
    // result at each look).
    let done = model_run::Entity::find_by_id(run_id)
        .one(db)
        .await?
        .map_or(0, |r| r.total_predictions + r.total_failed);
    let total = work.ctx.run.total_tasks;
    cx.progress(done, total).await?;
    let p = provider_batches::progress(&batches);
    if p.open > 0 {
        let wait = Duration::from_millis(cx.engine.config().batch_poll_ms.max(10));
        return Err(JobError::Later(wait));
    }
    // Every batch has ended and every task was submitted, answered from the cache or failed
    // before a call: what has no result now is a task deleted meanwhile.
    finish(db, run_id).await?;
    Ok(format!(
        "{} of {total} tasks answered through {} provider batches ({} answered inside them, {} \
         failed, {} asked online)",
        done,
        batches.len(),
        p.completed,
        p.failed,
        p.retried
    ))
}

/// Fails the run with `message`, cancels its open batches, and ends the job.
async fn fail(cx: &JobContext, run_id: i64, message: String) -> Result<String, JobError> {
    crate::engine::queue::fail_run(cx.db(), run_id, &message, crate::util::now()).await?;
    cancel_open(cx, run_id).await?;
    Err(JobError::Permanent(message))
}

/// Cancels the run's batches still open at the provider (a failed or canceled run); returns
/// how many.
async fn cancel_open(cx: &JobContext, run_id: i64) -> Result<usize, JobError> {
    let db = cx.db();
    let batches = provider_batches::of_run(db, run_id).await?;
    let open: Vec<&provider_batch::Model> = batches
        .iter()
        .filter(|b| {
            matches!(
                b.status,
                ProviderBatchStatus::Submitting | ProviderBatchStatus::Running
            )
        })
        .collect();
    if open.is_empty() {
        return Ok(0);
    }
    let provider = provider_for_cancel(cx, open[0]).await;
    for b in &open {
        if let (Some(id), Some(provider)) = (&b.provider_batch_id, &provider)
            && let Err(e) = provider.cancel(id).await
        {
            tracing::warn!(run = run_id, batch = %id, error = %e, "a provider batch could not be canceled");
        }
        let end = Ended {
            status: ProviderBatchStatus::Canceled,
            completed: b.completed_count,
            failed: b.failed_count,
            retried: 0,
            error: None,
        };
        provider_batches::ended(db, b.id, end, crate::util::now()).await?;
    }
    Ok(open.len())
}

/// The batch API of the connection `batch` went through, to cancel the run's batches (none
/// when it is gone).
async fn provider_for_cancel(
    cx: &JobContext,
    batch: &provider_batch::Model,
) -> Option<Arc<dyn BatchProvider>> {
    let credentials = crate::services::model_providers::credentials(
        cx.db(),
        cx.engine.secrets(),
        batch.organization_id,
        batch.connection_id,
    )
    .await
    .ok()?;
    crate::llm::batch::batch_provider_for(&credentials, cx.engine.http()).ok()
}

/// The run's task ids, in the order of its slices.
async fn run_tasks(db: &impl ConnectionTrait, run_id: i64) -> Result<Vec<i64>, sea_orm::DbErr> {
    let slices: Vec<Value> = model_run_slice::Entity::find()
        .select_only()
        .column(model_run_slice::Column::TaskIds)
        .filter(model_run_slice::Column::ModelRunId.eq(run_id))
        .order_by_asc(model_run_slice::Column::Seq)
        .into_tuple()
        .all(db)
        .await?;
    Ok(slices
        .iter()
        .flat_map(|ids| ids.as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_i64())
        .collect())
}

/// The run's tasks that have a result (a prediction or a failure).
async fn done_tasks(
    db: &impl ConnectionTrait,
    run_id: i64,
) -> Result<HashSet<i64>, sea_orm::DbErr> {
    let mut done: HashSet<i64> = prediction::Entity::find()
        .select_only()
        .column(prediction::Column::TaskId)
        .filter(prediction::Column::ModelRunId.eq(run_id))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    done.extend(
        failed_prediction::Entity::find()
            .select_only()
            .column(failed_prediction::Column::TaskId)
            .filter(failed_prediction::Column::ModelRunId.eq(run_id))
            .into_tuple::<i64>()
            .all(db)
            .await?,
    );
    Ok(done)
}

/// Marks the run's slices done and completes the run if it is still active.
async fn finish(db: &sea_orm::DatabaseConnection, run_id: i64) -> Result<(), sea_orm::DbErr> {
    crate::engine::queue::complete_run(db, run_id, crate::util::now()).await
}

/// When the job ended for good without succeeding: the run fails with its reason (unless it
/// already ended).
pub async fn give_up(
    db: &sea_orm::DatabaseConnection,
    run_id: i64,
    error: &str,
) -> Result<(), sea_orm::DbErr> {
    let message = format!("The run's batch job ended: {error}");
    crate::engine::queue::fail_run(db, run_id, &message, crate::util::now()).await?;
    Ok(())
}
