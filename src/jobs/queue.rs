//! The statements of the job queue: claim under a lease (the statement shape of the run
//! engine's slice claim: `FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite),
//! extend the lease (the heartbeat, which also reads a cancel request), and settle a job. Every
//! write of a claimed job is fenced by its lease owner: a worker whose lease lapsed and was
//! taken over can no longer change the row.
use crate::engine::queue::statement;
use chrono::{DateTime, Utc};
use entity::enums::{JobKind, JobStatus};
use entity::job;
use rand::Rng;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter,
    TransactionSession, TransactionTrait,
};
use std::time::Duration;

/// The condition of a claimable job: queued and due, or running with a lapsed lease. An
/// inference run's job is never claimed: its slices are.
fn claimable() -> String {
    format!(
        "kind <> '{run}' AND ((status = '{queued}' AND run_at <= ?) \
         OR (status = '{running}' AND lease_expires_at < ?))",
        run = JobKind::InferenceRun,
        queued = JobStatus::Queued,
        running = JobStatus::Running,
    )
}

/// Claims the next claimable job for `worker` until `expires`: its attempts grow by one and
/// `started_at` is set on its first claim. `None` when nothing is claimable.
pub async fn claim<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    worker: &str,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<Option<job::Model>, DbErr> {
    let backend = db.get_database_backend();
    let lock = if backend == DatabaseBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let template = format!(
        "UPDATE jobs SET status = '{running}', lease_owner = ?, lease_expires_at = ?, \
         heartbeat_at = ?, attempts = attempts + 1, started_at = COALESCE(started_at, ?), \
         updated_at = ? \
         WHERE id = (SELECT id FROM jobs WHERE {claimable} ORDER BY run_at, id LIMIT 1{lock}) \
         RETURNING id",
        running = JobStatus::Running,
        claimable = claimable(),
    );
    let stmt = statement(
        backend,
        &template,
        vec![
            worker.into(),
            expires.into(),
            now.into(),
            now.into(),
            now.into(),
            now.into(),
            now.into(),
        ],
    );
    let txn = crate::db::begin_write(db).await?;
    let Some(row) = txn.query_one_raw(stmt).await? else {
        txn.commit().await?;
        return Ok(None);
    };
    let id: i64 = row.try_get_by_index(0)?;
    let found = job::Entity::find_by_id(id).one(&txn).await?;
    txn.commit().await?;
    Ok(found)
}

/// Whether some job is claimable by `before` (a job waiting for its backoff until then counts):
/// what the idle hook waits for. Reads only.
pub async fn has_claimable(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    before: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let template = format!("SELECT id FROM jobs WHERE {} LIMIT 1", claimable());
    let row = db
        .query_one_raw(statement(
            backend,
            &template,
            vec![before.into(), now.into()],
        ))
        .await?;
    Ok(row.is_some())
}

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// The lease was extended.
    Held,
    /// The lease was extended, and a user asked to cancel the job.
    CancelRequested,
    /// The job is no longer this worker's (taken over, or ended).
    Lost,
}

/// Extends `worker`'s lease of job `id` to `expires`.
pub async fn extend(
    db: &impl ConnectionTrait,
    id: i64,
    worker: &str,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<Beat, DbErr> {
    let backend = db.get_database_backend();
    let stmt = statement(
        backend,
        &format!(
            "UPDATE jobs SET lease_expires_at = ?, heartbeat_at = ? \
             WHERE id = ? AND lease_owner = ? AND status = '{running}' RETURNING cancel_requested",
            running = JobStatus::Running
        ),
        vec![expires.into(), now.into(), id.into(), worker.into()],
    );
    Ok(match db.query_one_raw(stmt).await? {
        None => Beat::Lost,
        Some(row) => {
            if row.try_get_by_index::<bool>(0).unwrap_or(false) {
                Beat::CancelRequested
            } else {
                Beat::Held
            }
        }
    })
}

/// An update of job `id` fenced by its lease: it changes the row only while `worker` holds it.
fn fenced(id: i64, worker: &str) -> sea_orm::UpdateMany<job::Entity> {
    job::Entity::update_many()
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::LeaseOwner.eq(worker))
        .filter(job::Column::Status.eq(JobStatus::Running))
}

/// Records progress; `false` when the job is no longer `worker`'s.
pub async fn progress(
    db: &impl ConnectionTrait,
    id: i64,
    worker: &str,
    done: i64,
    total: i64,
) -> Result<bool, DbErr> {
    let updated = fenced(id, worker)
        .col_expr(job::Column::ProgressDone, Expr::value(done))
        .col_expr(job::Column::ProgressTotal, Expr::value(total))
        .col_expr(job::Column::UpdatedAt, Expr::value(crate::util::now()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// Whether `worker` still holds job `id` (read inside a transaction that makes a job's side
/// effect, so the effect and the job's end commit together or not at all).
pub async fn holds(db: &impl ConnectionTrait, id: i64, worker: &str) -> Result<bool, DbErr> {
    Ok(job::Entity::find_by_id(id)
        .filter(job::Column::LeaseOwner.eq(worker))
        .filter(job::Column::Status.eq(JobStatus::Running))
        .one(db)
        .await?
        .is_some())
}

/// How a claimed job ends (or waits for its next attempt).
#[derive(Debug, Clone)]
pub enum Settle {
    /// Done, with a summary.
    Succeeded(String),
    /// Given up, with the reason.
    Failed(String),
    /// Stopped at a user's request.
    Canceled,
    /// To be tried again at `run_at`, after this error.
    Retry {
        /// Why the attempt failed.
        error: String,
        /// When to try again.
        run_at: DateTime<Utc>,
    },
    /// Handed back unfinished (the worker stops): claimable at once, the attempt not counted.
    Release,
    /// Not finished, by design: claimed again at `run_at` (a provider batch polled), the
    /// attempt not counted.
    Wait {
        /// When to look again.
        run_at: DateTime<Utc>,
    },
}

/// Settles job `id` if `worker` still holds it; `false` when it no longer does.
pub async fn settle(
    db: &impl ConnectionTrait,
    id: i64,
    worker: &str,
    how: Settle,
) -> Result<bool, DbErr> {
    let now = crate::util::now();
    let none: Option<DateTime<Utc>> = None;
    let mut update = fenced(id, worker)
        .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(job::Column::LeaseExpiresAt, Expr::value(none))
        .col_expr(job::Column::UpdatedAt, Expr::value(now));
    let cut = |s: &str| -> String { s.chars().take(4000).collect() };
    update = match how {
        Settle::Succeeded(summary) => update
            .col_expr(job::Column::Status, Expr::value(JobStatus::Succeeded))
            .col_expr(job::Column::Result, Expr::value(cut(&summary)))
            .col_expr(job::Column::LastError, Expr::value(Option::<String>::None))
            .col_expr(job::Column::FinishedAt, Expr::value(now)),
        Settle::Failed(reason) => update
            .col_expr(job::Column::Status, Expr::value(JobStatus::Failed))
            .col_expr(job::Column::LastError, Expr::value(cut(&reason)))
            .col_expr(job::Column::FinishedAt, Expr::value(now)),
        Settle::Canceled => update
            .col_expr(job::Column::Status, Expr::value(JobStatus::Canceled))
            .col_expr(
                job::Column::LastError,
                Expr::value(crate::services::jobs::CANCELED_BY_USER),
            )
            .col_expr(job::Column::FinishedAt, Expr::value(now)),
        Settle::Retry { error, run_at } => update
            .col_expr(job::Column::Status, Expr::value(JobStatus::Queued))
            .col_expr(job::Column::LastError, Expr::value(cut(&error)))
            .col_expr(job::Column::RunAt, Expr::value(run_at)),
        Settle::Wait { run_at } => update
            .col_expr(job::Column::Status, Expr::value(JobStatus::Queued))
            .col_expr(job::Column::RunAt, Expr::value(run_at))
            .col_expr(
                job::Column::Attempts,
                Expr::col(job::Column::Attempts).sub(1),
            ),
        Settle::Release => update
            .col_expr(job::Column::Status, Expr::value(JobStatus::Queued))
            .col_expr(job::Column::RunAt, Expr::value(now))
            .col_expr(
                job::Column::Attempts,
                Expr::col(job::Column::Attempts).sub(1),
            ),
    };
    Ok(update.exec(db).await?.rows_affected > 0)
}

/// The wait before attempt `attempts + 1` of a job whose attempt `attempts` failed:
/// `base · 2^(attempts-1)`, at most 10 minutes, with full jitter in its upper half.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    capped_backoff(base, attempts, Duration::from_secs(600), 0.5)
}

/// `base · 2^(attempts-1)`, at most `cap`, times a random factor between `floor` and 1 (so
/// that retries that failed together do not come back together).
pub fn capped_backoff(base: Duration, attempts: i32, cap: Duration, floor: f64) -> Duration {
    let exp = attempts.clamp(1, 30) as u32 - 1;
    let ceiling = base.saturating_mul(1u32 << Ord::min(exp, 20)).min(cap);
    ceiling.mul_f64(rand::thread_rng().gen_range(floor.clamp(0.0, 1.0)..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let base = Duration::from_millis(100);
        for (attempts, ceiling) in [(1, 100), (2, 200), (3, 400), (30, 600_000)] {
            let d = backoff(base, attempts);
            assert!(
                d >= Duration::from_millis(ceiling / 2) && d <= Duration::from_millis(ceiling),
                "attempt {attempts}: {d:?}"
            );
        }
    }
}
