//! The poll-and-collect step of a batch run: each running batch's state from the provider; the
//! results of those that ended written at the batch price; the items a batch failed or never
//! executed asked online, once.
use super::{Stop, Work, done_tasks};
use crate::engine::plan::TaskOutcome;
use crate::jobs::JobContext;
use crate::llm::LlmError;
use crate::llm::batch::{BatchState, ItemResult};
use crate::services::provider_batches::{self, Ended, task_ids, task_of};
use entity::enums::ProviderBatchStatus;
use entity::{provider_batch, task};
use futures_util::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Looks at every open batch of the run; collects those that ended.
pub(super) async fn collect(cx: &JobContext, work: &Work) -> Result<(), Stop> {
    let db = cx.db();
    let batches = provider_batches::of_run(db, work.run_id()).await?;
    for b in &batches {
        cx.check().map_err(Stop::Job)?;
        match (b.status, &b.provider_batch_id) {
            (ProviderBatchStatus::Running, Some(id)) => poll(cx, work, b, id).await?,
            (ProviderBatchStatus::Failed, _) if b.retried_count == 0 => {
                let retried = ask_online(cx, work, &task_ids(b)).await?;
                let end = Ended {
                    retried: retried as i64,
                    ..ended_as(b)
                };
                provider_batches::ended(db, b.id, end, crate::util::now()).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// How `b` ended, as recorded.
fn ended_as(b: &provider_batch::Model) -> Ended {
    Ended {
        status: b.status,
        completed: b.completed_count,
        failed: b.failed_count,
        retried: b.retried_count,
        error: b.error.clone(),
    }
}

/// Asks the provider where batch `b` (its id `id`) stands; collects it when it ended.
async fn poll(
    cx: &JobContext,
    work: &Work,
    b: &provider_batch::Model,
    id: &str,
) -> Result<(), Stop> {
    let db = cx.db();
    let now = crate::util::now();
    let status = match work.provider.status(id).await {
        Ok(status) => status,
        Err(e) => return unreachable(work, e),
    };
    match status.state {
        BatchState::Running => {
            provider_batches::counted(db, b.id, status.completed, status.failed, now).await?;
            Ok(())
        }
        BatchState::Failed => {
            let reason = status.reason.unwrap_or_else(|| "no reason given".into());
            let end = Ended {
                status: ProviderBatchStatus::Failed,
                completed: 0,
                failed: b.request_count,
                retried: 0,
                error: Some(format!("The provider failed the batch: {reason}")),
            };
            provider_batches::ended(db, b.id, end, now).await?;
            // Its tasks are asked online at the next look (a failed batch not yet retried).
            Ok(())
        }
        state => {
            let results = match work.provider.results(id, &custom_ids(b)).await {
                Ok(results) => results,
                Err(e) => return unreachable(work, e),
            };
            let status = if state == BatchState::Canceled {
                ProviderBatchStatus::Canceled
            } else {
                ProviderBatchStatus::Collected
            };
            write_results(cx, work, b, results, status).await
        }
    }
}

/// A provider that could not be asked this time: looked at again at the next poll, unless it
/// refused the credentials (the run fails).
fn unreachable(work: &Work, e: LlmError) -> Result<(), Stop> {
    if let LlmError::Authentication(_) = e {
        return Err(Stop::Fatal(format!(
            "The provider refused the credentials of connection {}: {e}",
            work.plan.connection_id()
        )));
    }
    tracing::warn!(run = work.run_id(), error = %e, "a provider batch could not be read; it is read again at the next look");
    Ok(())
}

/// The custom ids of `b`'s items, in the order they were submitted.
fn custom_ids(b: &provider_batch::Model) -> Vec<String> {
    task_ids(b)
        .into_iter()
        .map(provider_batches::custom_id)
        .collect()
}

/// Whether an item that failed inside a batch is asked again online: anything but an answer
/// the model gave and Prompter cannot use (a call online would not fare better).
fn worth_asking_online(e: &LlmError) -> bool {
    !matches!(e, LlmError::InvalidOutput { .. })
}

/// Writes an ended batch's results, asks online (once) what it failed or did not execute,
/// and records how it ended.
async fn write_results(
    cx: &JobContext,
    work: &Work,
    b: &provider_batch::Model,
    results: Vec<(String, ItemResult)>,
    status: ProviderBatchStatus,
) -> Result<(), Stop> {
    let mine: HashSet<i64> = task_ids(b).into_iter().collect();
    let mut outcomes = vec![];
    let mut answered: HashSet<i64> = HashSet::new();
    let mut again: Vec<i64> = vec![];
    let (mut completed, mut failed) = (0i64, 0i64);
    for (custom_id, result) in results {
        let Some(task_id) = task_of(&custom_id).filter(|t| mine.contains(t)) else {
            continue;
        };
        if !answered.insert(task_id) {
            continue;
        }
        match result {
            Ok(_) => completed += 1,
            Err(_) => failed += 1,
        }
        match result {
            Err(e) if worth_asking_online(&e) => again.push(task_id),
            result => outcomes.push(work.plan.batch_outcome(task_id, result)),
        }
    }
    work.write(cx, outcomes).await?;
    // Items with no result: the provider never executed them (canceled, expired).
    let unexecuted: Vec<i64> = task_ids(b)
        .into_iter()
        .filter(|t| !answered.contains(t))
        .collect();
    failed += unexecuted.len() as i64;
    again.extend(unexecuted);
    // A batch canceled at the provider while its run goes on (not by Prompter: a canceled
    // run's batches are not collected) has its unexecuted items asked online like any other.
    let retried = if again.is_empty() {
        0
    } else {
        ask_online(cx, work, &again).await?
    };
    let end = Ended {
        status,
        completed,
        failed,
        retried: retried as i64,
        error: None,
    };
    provider_batches::ended(cx.db(), b.id, end, crate::util::now()).await?;
    tracing::info!(
        run = work.run_id(),
        batch = b.seq,
        completed,
        failed,
        retried,
        "provider batch collected"
    );
    Ok(())
}

/// Asks `tasks` that have no result yet online, once each, as many at a time as the engine's
/// concurrency; writes their outcomes and returns how many were asked.
async fn ask_online(cx: &JobContext, work: &Work, tasks: &[i64]) -> Result<usize, Stop> {
    let db = cx.db();
    let done = done_tasks(db, work.run_id()).await?;
    let todo: Vec<i64> = tasks
        .iter()
        .copied()
        .filter(|t| !done.contains(t))
        .collect();
    if todo.is_empty() {
        return Ok(0);
    }
    let rows: Vec<(i64, Value)> = task::Entity::find()
        .select_only()
        .columns([task::Column::Id, task::Column::Data])
        .filter(task::Column::Id.is_in(todo.clone()))
        .into_tuple()
        .all(db)
        .await?;
    let data: HashMap<i64, Value> = rows.into_iter().collect();
    let concurrency = cx.engine.config().concurrency.max(1);
    let outcomes: Vec<TaskOutcome> = futures_util::stream::iter(todo.iter().copied())
        .filter_map(|task_id| {
            let data = data.get(&task_id).cloned();
            async move { data.map(|d| (task_id, d)) }
        })
        .map(|(task_id, data)| async move {
            match work.plan.single_request(task_id, &data).await {
                Ok(request) => work.plan.ask_online(task_id, request).await,
                Err(failure) => TaskOutcome::Failure(failure),
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let asked = outcomes.len();
    work.write(cx, outcomes).await?;
    Ok(asked)
}
