//! A batch run's provider batches: the rows that say which tasks went into which batch at the
//! provider, its id and counts, and the one summary every page and endpoint shows of them.
use chrono::{DateTime, Utc};
use entity::enums::{JobKind, JobStatus, Provider, ProviderBatchStatus};
use entity::{job, provider_batch};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The `batch_run` job of a batch run: submits its batches, polls them, writes their results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchRunJob {
    /// The run.
    pub run_id: i64,
}

/// Why `version` cannot run through its provider's batch API (`None` when it can): a batch
/// asks one call per task, so pipelines, juries and samples run online; and the provider must
/// have a batch API Prompter speaks. The one rule for run creation and the engine.
pub fn refusal(version: &entity::model_version::Model) -> Option<String> {
    let title = &version.title;
    let steps = crate::views::versions::Step::of_stored(version.steps.as_ref());
    if steps.is_some_and(|s| s.len() > 1) {
        return Some(format!(
            "Version \"{title}\" is a pipeline: its steps depend on each other's answers, so it \
             runs online."
        ));
    }
    let jury = crate::views::versions::Juror::of_stored(version.jury.as_ref());
    if !jury.is_empty() || version.samples > 1 {
        return Some(format!(
            "Version \"{title}\" asks several answers per task (samples or a jury), so it runs \
             online."
        ));
    }
    if !crate::llm::batch::supports(version.provider) {
        return Some(format!(
            "Provider {} has no batch API Prompter can use; run version \"{title}\" online, or \
             use OpenAI, AzureOpenAI, Anthropic or Gemini.",
            version.provider.as_str()
        ));
    }
    None
}

/// The custom id of a task's request in a batch.
pub fn custom_id(task_id: i64) -> String {
    format!("task-{task_id}")
}

/// The task of a custom id written by [`custom_id`].
pub fn task_of(custom_id: &str) -> Option<i64> {
    custom_id.strip_prefix("task-")?.parse().ok()
}

/// The task ids of a batch row, in order.
pub fn task_ids(row: &provider_batch::Model) -> Vec<i64> {
    row.task_ids
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .collect()
}

/// The batches of run `run_id`, in order.
pub async fn of_run(
    db: &impl ConnectionTrait,
    run_id: i64,
) -> Result<Vec<provider_batch::Model>, DbErr> {
    provider_batch::Entity::find()
        .filter(provider_batch::Column::ModelRunId.eq(run_id))
        .order_by_asc(provider_batch::Column::Seq)
        .all(db)
        .await
}

/// The batches of each of `run_ids`, in order.
pub async fn of_runs(
    db: &impl ConnectionTrait,
    run_ids: &[i64],
) -> Result<HashMap<i64, Vec<provider_batch::Model>>, DbErr> {
    let mut out: HashMap<i64, Vec<provider_batch::Model>> = HashMap::new();
    if run_ids.is_empty() {
        return Ok(out);
    }
    let rows = provider_batch::Entity::find()
        .filter(provider_batch::Column::ModelRunId.is_in(run_ids.to_vec()))
        .order_by_asc(provider_batch::Column::Seq)
        .all(db)
        .await?;
    for row in rows {
        out.entry(row.model_run_id).or_default().push(row);
    }
    Ok(out)
}

/// The tasks already given to a batch, whatever became of it: a task goes into one batch at
/// most (the items a batch failed or never executed are asked online, once).
pub fn batched_tasks(batches: &[provider_batch::Model]) -> HashSet<i64> {
    batches.iter().flat_map(task_ids).collect()
}

/// A new batch of a run, written before it is sent (status `submitting`).
pub struct NewBatch<'a> {
    /// The run's organization.
    pub organization_id: i64,
    /// The run.
    pub run_id: i64,
    /// The connection it goes through.
    pub connection_id: i64,
    /// Its provider.
    pub provider: Provider,
    /// Its place among the run's batches.
    pub seq: i32,
    /// Its tasks, in order.
    pub task_ids: &'a [i64],
}

/// Writes a batch about to be submitted.
pub async fn insert(
    db: &impl ConnectionTrait,
    new: NewBatch<'_>,
    now: DateTime<Utc>,
) -> Result<provider_batch::Model, DbErr> {
    provider_batch::ActiveModel {
        id: NotSet,
        organization_id: Set(new.organization_id),
        model_run_id: Set(new.run_id),
        connection_id: Set(new.connection_id),
        provider: Set(new.provider),
        seq: Set(new.seq),
        task_ids: Set(Value::from(new.task_ids.to_vec())),
        status: Set(ProviderBatchStatus::Submitting),
        provider_batch_id: Set(None),
        request_count: Set(new.task_ids.len() as i64),
        completed_count: Set(0),
        failed_count: Set(0),
        retried_count: Set(0),
        error: Set(None),
        submitted_at: Set(None),
        ended_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

/// Records that batch `id` was accepted by the provider as `provider_batch_id`.
pub async fn submitted(
    db: &impl ConnectionTrait,
    id: i64,
    provider_batch_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    provider_batch::Entity::update_many()
        .col_expr(
            provider_batch::Column::Status,
            Expr::value(ProviderBatchStatus::Running),
        )
        .col_expr(
            provider_batch::Column::ProviderBatchId,
            Expr::value(provider_batch_id),
        )
        .col_expr(provider_batch::Column::SubmittedAt, Expr::value(now))
        .col_expr(provider_batch::Column::UpdatedAt, Expr::value(now))
        .filter(provider_batch::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records the counts the provider reports for a running batch.
pub async fn counted(
    db: &impl ConnectionTrait,
    id: i64,
    completed: u64,
    failed: u64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    provider_batch::Entity::update_many()
        .col_expr(
            provider_batch::Column::CompletedCount,
            Expr::value(completed as i64),
        )
        .col_expr(
            provider_batch::Column::FailedCount,
            Expr::value(failed as i64),
        )
        .col_expr(provider_batch::Column::UpdatedAt, Expr::value(now))
        .filter(provider_batch::Column::Id.eq(id))
        .filter(provider_batch::Column::Status.eq(ProviderBatchStatus::Running))
        .exec(db)
        .await?;
    Ok(())
}

/// How a batch ended, as written.
#[derive(Debug, Clone)]
pub struct Ended {
    /// `collected`, `canceled` or `failed`.
    pub status: ProviderBatchStatus,
    /// Items answered inside the batch.
    pub completed: i64,
    /// Items failed inside the batch (or never executed).
    pub failed: i64,
    /// Of its tasks, those asked again online.
    pub retried: i64,
    /// Why it failed as a whole.
    pub error: Option<String>,
}

/// Records how batch `id` ended.
pub async fn ended(
    db: &impl ConnectionTrait,
    id: i64,
    end: Ended,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    provider_batch::Entity::update_many()
        .col_expr(provider_batch::Column::Status, Expr::value(end.status))
        .col_expr(
            provider_batch::Column::CompletedCount,
            Expr::value(end.completed),
        )
        .col_expr(provider_batch::Column::FailedCount, Expr::value(end.failed))
        .col_expr(
            provider_batch::Column::RetriedCount,
            Expr::value(end.retried),
        )
        .col_expr(provider_batch::Column::Error, Expr::value(end.error))
        .col_expr(provider_batch::Column::EndedAt, Expr::value(now))
        .col_expr(provider_batch::Column::UpdatedAt, Expr::value(now))
        .filter(provider_batch::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// A batch run's progress at its provider, summed over its batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Requests the provider accepted.
    pub submitted: i64,
    /// Answered inside batches.
    pub completed: i64,
    /// Failed inside batches (or never executed).
    pub failed: i64,
    /// Asked again online.
    pub retried: i64,
    /// Batches not finished at the provider.
    pub open: i64,
}

/// The progress of `batches`: the one sum the API, the web app and the job report.
pub fn progress(batches: &[provider_batch::Model]) -> Progress {
    batches.iter().fold(Progress::default(), |p, b| {
        let at_provider = b.provider_batch_id.is_some();
        let open = matches!(
            b.status,
            ProviderBatchStatus::Submitting | ProviderBatchStatus::Running
        );
        Progress {
            submitted: p.submitted + if at_provider { b.request_count } else { 0 },
            completed: p.completed + b.completed_count,
            failed: p.failed + b.failed_count,
            retried: p.retried + b.retried_count,
            open: p.open + i64::from(open),
        }
    })
}

/// Makes the `batch_run` job of run `run_id` claimable now (a cancel is acted on at once,
/// not at the next poll).
pub async fn hurry(db: &impl ConnectionTrait, run_id: i64) -> Result<(), DbErr> {
    job::Entity::update_many()
        .col_expr(job::Column::RunAt, Expr::value(crate::util::now()))
        .filter(job::Column::Kind.eq(JobKind::BatchRun))
        .filter(job::Column::SubjectType.eq(crate::services::jobs::subject::RUN))
        .filter(job::Column::SubjectId.eq(run_id))
        .filter(job::Column::Status.eq(JobStatus::Queued))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_name_their_tasks() {
        assert_eq!(custom_id(42), "task-42");
        assert_eq!(task_of("task-42"), Some(42));
        assert_eq!(task_of("task-x"), None);
        assert_eq!(task_of("other-1"), None);
    }
}
