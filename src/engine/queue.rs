//! The work queue: a run's slices, leased by one worker at a time.
//!
//! A claim takes the oldest claimable slice of an active run (pending, or leased with an
//! expired lease) and stamps it with the worker's id and a lease deadline, in one statement:
//! PostgreSQL's `FOR UPDATE SKIP LOCKED` lets concurrent workers pass over each other's rows;
//! on SQLite the statement runs in a `BEGIN IMMEDIATE` transaction (its single writer). Leases
//! are extended by a heartbeat while the worker works and lapse when it dies; no transaction is
//! held while the LLM is called.
use chrono::{DateTime, Utc};
use entity::enums::{RunExecution, RunStatus, SliceStatus};
use entity::model_run;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, Statement,
    TransactionSession, TransactionTrait, Value as DbValue,
};
use serde_json::Value;

/// A claimed slice.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The slice.
    pub slice_id: i64,
    /// Its run.
    pub run_id: i64,
    /// Its task ids.
    pub task_ids: Vec<i64>,
    /// Claims of the slice so far, this one included (1: never claimed before).
    pub attempts: i32,
}

/// Placeholders `$1..` for PostgreSQL, `?` for SQLite.
fn sql(backend: DatabaseBackend, template: &str) -> String {
    if backend == DatabaseBackend::Postgres {
        let mut out = String::new();
        let mut n = 0;
        for c in template.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    } else {
        template.to_string()
    }
}

/// A raw statement of `template` with `?` placeholders (numbered for PostgreSQL).
pub fn statement(backend: DatabaseBackend, template: &str, values: Vec<DbValue>) -> Statement {
    Statement::from_sql_and_values(backend, sql(backend, template), values)
}

/// Claims the next slice for `worker` until `expires`; `None` when nothing is claimable.
/// The run moves from Pending to InProgress.
pub async fn claim<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    worker: &str,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<Option<Claim>, DbErr> {
    let backend = db.get_database_backend();
    let lock = if backend == DatabaseBackend::Postgres {
        " FOR UPDATE OF s SKIP LOCKED"
    } else {
        ""
    };
    let template = format!(
        "UPDATE model_run_slices SET status = '{leased}', lease_owner = ?, lease_expires_at = ?, \
         attempts = attempts + 1, updated_at = ? \
         WHERE id = (SELECT s.id FROM model_run_slices s JOIN model_runs r ON r.id = s.model_run_id \
         WHERE r.status IN ('{run_pending}', '{run_running}') AND r.execution = '{online}' \
         AND (s.status = '{pending}' OR (s.status = '{leased}' AND s.lease_expires_at < ?)) \
         ORDER BY s.model_run_id, s.seq LIMIT 1{lock}) \
         RETURNING id, model_run_id, task_ids, attempts",
        run_pending = RunStatus::Pending,
        run_running = RunStatus::InProgress,
        pending = SliceStatus::Pending,
        leased = SliceStatus::Leased,
        online = RunExecution::Online,
    );
    let stmt = statement(
        backend,
        &template,
        vec![worker.into(), expires.into(), now.into(), now.into()],
    );
    let txn = crate::db::begin_write(db).await?;
    let row = txn.query_one_raw(stmt).await?;
    let Some(row) = row else {
        txn.commit().await?;
        return Ok(None);
    };
    let slice_id: i64 = row.try_get_by_index(0)?;
    let run_id: i64 = row.try_get_by_index(1)?;
    let task_ids: Value = row.try_get_by_index(2)?;
    let attempts: i32 = row.try_get_by_index(3)?;
    let started = model_run::Entity::update_many()
        .col_expr(
            model_run::Column::Status,
            Expr::value(RunStatus::InProgress),
        )
        .filter(model_run::Column::Id.eq(run_id))
        .filter(model_run::Column::Status.eq(RunStatus::Pending))
        .exec(&txn)
        .await?;
    if started.rows_affected > 0 {
        crate::services::jobs::mirror_run(&txn, run_id, RunStatus::InProgress, None, now).await?;
    }
    txn.commit().await?;
    let task_ids = task_ids
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .collect();
    Ok(Some(Claim {
        slice_id,
        run_id,
        task_ids,
        attempts,
    }))
}

/// Whether some slice is claimable at `now` (what [`claim`] would take): a pending slice, or
/// a leased one whose lease has lapsed, of an active run. Reads only.
pub async fn has_claimable(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let template = format!(
        "SELECT s.id FROM model_run_slices s JOIN model_runs r ON r.id = s.model_run_id \
         WHERE r.status IN ('{run_pending}', '{run_running}') AND r.execution = '{online}' \
         AND (s.status = '{pending}' OR (s.status = '{leased}' AND s.lease_expires_at < ?)) \
         LIMIT 1",
        run_pending = RunStatus::Pending,
        run_running = RunStatus::InProgress,
        pending = SliceStatus::Pending,
        leased = SliceStatus::Leased,
        online = RunExecution::Online,
    );
    let row = db
        .query_one_raw(statement(backend, &template, vec![now.into()]))
        .await?;
    Ok(row.is_some())
}

/// Extends every lease `worker` holds to `expires`; returns the slices it still holds (a
/// slice another worker took over after a lapse is no longer among them).
pub async fn extend(
    db: &impl ConnectionTrait,
    worker: &str,
    expires: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    let backend = db.get_database_backend();
    let stmt = statement(
        backend,
        &format!(
            "UPDATE model_run_slices SET lease_expires_at = ? \
             WHERE lease_owner = ? AND status = '{leased}' RETURNING id",
            leased = SliceStatus::Leased
        ),
        vec![expires.into(), worker.into()],
    );
    let rows = db.query_all_raw(stmt).await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<i64>(0).ok())
        .collect())
}

/// Marks a slice done (if `worker` still holds it). When it was the run's last open slice and
/// the run is still active, the run completes: every task has been dealt with, even those
/// whose result could not be stored (a task deleted meanwhile).
pub async fn complete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    worker: &str,
    slice_id: i64,
    run_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let txn = crate::db::begin_write(db).await?;
    txn.execute_raw(statement(
        backend,
        &format!(
            "UPDATE model_run_slices SET status = '{done}', lease_owner = NULL, \
             lease_expires_at = NULL, updated_at = ? WHERE id = ? AND lease_owner = ?",
            done = SliceStatus::Done
        ),
        vec![now.into(), slice_id.into(), worker.into()],
    ))
    .await?;
    txn.commit().await?;
    complete_if_settled(db, run_id, now).await
}

/// Completes run `run_id` when none of its slices is open and it is still active: every task
/// has been dealt with, even those whose result could not be stored (a task deleted
/// meanwhile).
async fn complete_if_settled<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    run_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let txn = crate::db::begin_write(db).await?;
    let open = txn
        .query_one_raw(statement(
            backend,
            &format!(
                "SELECT COUNT(*) FROM model_run_slices WHERE model_run_id = ? AND status <> '{done}'",
                done = SliceStatus::Done
            ),
            vec![run_id.into()],
        ))
        .await?
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(1);
    if open == 0 {
        let completed = model_run::Entity::update_many()
            .col_expr(model_run::Column::Status, Expr::value(RunStatus::Completed))
            .col_expr(model_run::Column::CompletedAt, Expr::value(now))
            .filter(model_run::Column::Id.eq(run_id))
            .filter(model_run::Column::Status.is_in([RunStatus::Pending, RunStatus::InProgress]))
            .exec(&txn)
            .await?;
        if completed.rows_affected > 0 {
            crate::services::jobs::mirror_run(&txn, run_id, RunStatus::Completed, None, now)
                .await?;
        }
        txn.commit().await?;
        if completed.rows_affected > 0 {
            log_completed(db, run_id).await;
        }
        return Ok(());
    }
    txn.commit().await
}

/// Marks every slice of run `run_id` done and completes the run if it is still active (a
/// batch run whose batches have all ended: its slices were never claimed).
pub async fn complete_run<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    run_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    db.execute_raw(statement(
        backend,
        &format!(
            "UPDATE model_run_slices SET status = '{done}', lease_owner = NULL, \
             lease_expires_at = NULL, updated_at = ? WHERE model_run_id = ?",
            done = SliceStatus::Done
        ),
        vec![now.into(), run_id.into()],
    ))
    .await?;
    complete_if_settled(db, run_id, now).await
}

/// The log line of a run that completed, with its counts; its time from creation to completion
/// goes to the metrics (job kind `inference_run`).
pub async fn log_completed(db: &impl ConnectionTrait, run_id: i64) {
    if let Ok(Some(run)) = model_run::Entity::find_by_id(run_id).one(db).await {
        if let Some(done) = run.completed_at {
            let ms = (done - run.created_at).num_milliseconds();
            crate::metrics::observe_job("inference_run", ms as f64 / 1000.0);
        }
        tracing::info!(
            run = run.id,
            project = run.project_id,
            version = run.model_version_id,
            tasks = run.total_tasks,
            predictions = run.total_predictions,
            failed = run.total_failed,
            correct = run.total_correct_predictions,
            cost_usd = run.total_cost,
            "run completed"
        );
    }
}

/// Gives a slice back unfinished (a worker shutting down), so another worker takes it at once.
pub async fn release(db: &impl ConnectionTrait, worker: &str, slice_id: i64) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    db.execute_raw(statement(
        backend,
        &format!(
            "UPDATE model_run_slices SET status = '{pending}', lease_owner = NULL, \
             lease_expires_at = NULL WHERE id = ? AND lease_owner = ? AND status = '{leased}'",
            pending = SliceStatus::Pending,
            leased = SliceStatus::Leased
        ),
        vec![slice_id.into(), worker.into()],
    ))
    .await?;
    Ok(())
}

/// Fails a run at once (a job-level failure such as refused credentials): status Failed, the
/// message, `completed_at`. Only an active run changes.
pub async fn fail_run(
    db: &impl ConnectionTrait,
    run_id: i64,
    message: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let done = model_run::Entity::update_many()
        .col_expr(model_run::Column::Status, Expr::value(RunStatus::Failed))
        .col_expr(model_run::Column::ErrorMessage, Expr::value(message))
        .col_expr(model_run::Column::CompletedAt, Expr::value(now))
        .filter(model_run::Column::Id.eq(run_id))
        .filter(model_run::Column::Status.is_in([RunStatus::Pending, RunStatus::InProgress]))
        .exec(db)
        .await?;
    if done.rows_affected > 0 {
        crate::services::jobs::mirror_run(db, run_id, RunStatus::Failed, Some(message), now)
            .await?;
    }
    Ok(done.rows_affected > 0)
}

/// The statuses of `run_ids` (a run deleted meanwhile is missing).
pub async fn statuses(
    db: &impl ConnectionTrait,
    run_ids: &[i64],
) -> Result<Vec<(i64, RunStatus)>, DbErr> {
    if run_ids.is_empty() {
        return Ok(vec![]);
    }
    use sea_orm::QuerySelect;
    model_run::Entity::find()
        .select_only()
        .columns([model_run::Column::Id, model_run::Column::Status])
        .filter(model_run::Column::Id.is_in(run_ids.to_vec()))
        .into_tuple()
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        assert_eq!(
            sql(DatabaseBackend::Postgres, "a = ? AND b = ?"),
            "a = $1 AND b = $2"
        );
        assert_eq!(
            sql(DatabaseBackend::Sqlite, "a = ? AND b = ?"),
            "a = ? AND b = ?"
        );
    }
}
