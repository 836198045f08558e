//! The submit step of a batch run: the tasks in no batch yet, rendered, answered from the
//! cache where they can be, the others packed into batches within the provider's limits and
//! sent; and the batches a worker wrote but did not get to send, sent again.
use super::{Stop, Work, done_tasks, run_tasks};
use crate::engine::plan::TaskOutcome;
use crate::jobs::{JobContext, JobError};
use crate::llm::LlmError;
use crate::llm::batch::{BatchItem, Encoded};
use crate::services::provider_batches::{self, Ended, NewBatch, custom_id};
use crate::services::results::FailureResult;
use entity::enums::ProviderBatchStatus;
use entity::{provider_batch, task};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::Value;

/// Tasks whose data is read and rendered at a time.
const PAGE: usize = 500;

/// A batch being filled: its encoded requests, their bytes and what they may cost.
#[derive(Default)]
struct Chunk {
    tasks: Vec<i64>,
    entries: Vec<Encoded>,
    bytes: usize,
    estimate: f64,
}

/// Submits what is not at the provider yet.
pub(super) async fn submit(cx: &JobContext, work: &Work) -> Result<(), Stop> {
    let db = cx.db();
    let run_id = work.run_id();
    let batches = provider_batches::of_run(db, run_id).await?;
    for b in batches
        .iter()
        .filter(|b| b.status == ProviderBatchStatus::Submitting)
    {
        // Written by a worker that died before it was sent (or before its id was recorded):
        // sent again with the same tasks.
        let tasks = provider_batches::task_ids(b);
        let mut chunk = Chunk::default();
        let immediate = render(db, work, &tasks, |task, entry, estimate| {
            chunk.push(task, entry, estimate);
            Ok(())
        })
        .await?;
        work.write(cx, immediate).await?;
        send(cx, work, b, &chunk.entries).await?;
    }
    let batched = provider_batches::batched_tasks(&batches);
    let unbatched: Vec<i64> = run_tasks(db, run_id)
        .await?
        .into_iter()
        .filter(|t| !batched.contains(t))
        .collect();
    if unbatched.is_empty() {
        // Every look after the first: nothing to read about results.
        return Ok(());
    }
    let done = done_tasks(db, run_id).await?;
    let todo: Vec<i64> = unbatched
        .into_iter()
        .filter(|t| !done.contains(t))
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let limits = work.provider.limits();
    let max_requests = limits
        .max_requests
        .min(cx.engine.config().batch_max_requests.max(1));
    let mut seq = batches.iter().map(|b| b.seq).max().unwrap_or(0);
    let mut chunk = Chunk::default();
    for page in todo.chunks(PAGE) {
        cx.check().map_err(Stop::Job)?;
        let mut full: Vec<Chunk> = vec![];
        let immediate = render(db, work, page, |task, entry, estimate| {
            let len = entry.entry.len() + 1;
            if !chunk.tasks.is_empty()
                && (chunk.tasks.len() >= max_requests || chunk.bytes + len > limits.max_bytes)
            {
                full.push(std::mem::take(&mut chunk));
            }
            chunk.push(task, entry, estimate);
            Ok(())
        })
        .await?;
        work.write(cx, immediate).await?;
        for ready in full {
            seq += 1;
            open(cx, work, seq, ready).await?;
        }
    }
    if !chunk.tasks.is_empty() {
        open(cx, work, seq + 1, chunk).await?;
    }
    Ok(())
}

impl Chunk {
    fn push(&mut self, task: i64, entry: Encoded, estimate: f64) {
        self.bytes += entry.entry.len() + 1;
        self.estimate += estimate;
        self.tasks.push(task);
        self.entries.push(entry);
    }
}

/// Renders `tasks` (those deleted meanwhile are skipped) and gives each encoded request to
/// `add` with what it may cost; returns the outcomes known without the provider: a failure to
/// render, an answer from the response cache.
async fn render(
    db: &sea_orm::DatabaseConnection,
    work: &Work,
    tasks: &[i64],
    mut add: impl FnMut(i64, Encoded, f64) -> Result<(), Stop>,
) -> Result<Vec<TaskOutcome>, Stop> {
    let rows: Vec<(i64, Value)> = task::Entity::find()
        .select_only()
        .columns([task::Column::Id, task::Column::Data])
        .filter(task::Column::Id.is_in(tasks.to_vec()))
        .into_tuple()
        .all(db)
        .await?;
    let data: std::collections::HashMap<i64, Value> = rows.into_iter().collect();
    let mut immediate = vec![];
    for task_id in tasks {
        let Some(data) = data.get(task_id) else {
            continue;
        };
        let request = match work.plan.single_request(*task_id, data).await {
            Ok(request) => request,
            Err(failure) => {
                immediate.push(TaskOutcome::Failure(failure));
                continue;
            }
        };
        if let Some(hit) = work.plan.from_cache(*task_id, &request).await {
            immediate.push(hit);
            continue;
        }
        let estimate = work.plan.batch_estimate(&request);
        let item = BatchItem {
            custom_id: custom_id(*task_id),
            request,
        };
        match work.provider.encode(&item) {
            Ok(entry) => add(*task_id, entry, estimate)?,
            Err(e) => immediate.push(TaskOutcome::Failure(FailureResult {
                task_id: *task_id,
                message: e.to_string(),
                error_type: e.error_type(),
                ..Default::default()
            })),
        }
    }
    Ok(immediate)
}

/// Writes a new batch (fenced by the job's lease) and sends it. The budget gate of the
/// connection admits it first: a batch that could cross the connection's limit fails the run,
/// as an online call would.
async fn open(cx: &JobContext, work: &Work, seq: i32, chunk: Chunk) -> Result<(), Stop> {
    work.plan
        .admit_batch(chunk.estimate)
        .await
        .map_err(Stop::Fatal)?;
    let db = cx.db();
    let txn = crate::db::begin_write(db).await?;
    if !cx.holds(&txn).await.map_err(Stop::Job)? {
        return Err(Stop::Job(JobError::Lost));
    }
    let new = NewBatch {
        organization_id: work.ctx.run.organization_id,
        run_id: work.run_id(),
        connection_id: work.plan.connection_id(),
        provider: work.ctx.version.provider,
        seq,
        task_ids: &chunk.tasks,
    };
    let row = provider_batches::insert(&txn, new, crate::util::now()).await?;
    txn.commit().await?;
    send(cx, work, &row, &chunk.entries).await
}

/// Sends batch `row` with `entries`: recorded `running` with the provider's id, or, refused
/// as a whole, `failed` (its tasks are then asked online). A provider that cannot be reached
/// leaves it `submitting`, sent again at the next attempt.
async fn send(
    cx: &JobContext,
    work: &Work,
    row: &provider_batch::Model,
    entries: &[Encoded],
) -> Result<(), Stop> {
    let db = cx.db();
    let now = crate::util::now();
    if entries.is_empty() {
        // Every task of it was answered without the provider (deleted, cached, unrenderable).
        let end = Ended {
            status: ProviderBatchStatus::Collected,
            completed: 0,
            failed: 0,
            retried: 0,
            error: None,
        };
        provider_batches::ended(db, row.id, end, now).await?;
        return Ok(());
    }
    let name = format!("prompter-run-{}-batch-{}", work.run_id(), row.seq);
    match work
        .provider
        .submit(work.plan.model(), entries, &name)
        .await
    {
        Ok(id) => {
            provider_batches::submitted(db, row.id, &id, now).await?;
            tracing::info!(run = work.run_id(), batch = %id, requests = entries.len(), "provider batch submitted");
            Ok(())
        }
        Err(e @ LlmError::Authentication(_)) => Err(Stop::Fatal(format!(
            "The provider refused the credentials of connection {}: {e}",
            work.plan.connection_id()
        ))),
        Err(e) if e.is_retryable() => Err(Stop::Job(JobError::Transient(format!(
            "A provider batch could not be submitted: {e}"
        )))),
        Err(e) => {
            tracing::warn!(run = work.run_id(), error = %e, "a provider batch was refused; its tasks are asked online");
            let end = Ended {
                status: ProviderBatchStatus::Failed,
                completed: 0,
                failed: 0,
                retried: 0,
                error: Some(format!("The provider refused the batch: {e}")),
            };
            provider_batches::ended(db, row.id, end, now).await?;
            Ok(())
        }
    }
}
