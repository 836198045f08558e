//! A refinement as a job of the queue: one attempt ([`run_job`]), resumed with the teacher's
//! kept answer after a takeover; its end for good ([`give_up`]); and waiting for its end
//! ([`wait_end`], for `async=false`).
use super::{Finished, Job, Outcome, SAVE_ATTEMPTS, finish, is_running, teach};
use crate::engine::Engine;
use crate::error::{ApiError, ApiResult};
use crate::jobs::{JobContext, JobError};
use crate::services::jobs as job_rows;
use crate::services::{projects, versions};
use entity::enums::RefinementStatus;
use entity::model_refinement;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

/// A database error as a job error (worth another attempt).
fn transient(e: ApiError) -> JobError {
    match e {
        ApiError::Database(e) => JobError::from(e),
        other => JobError::Permanent(other.to_string()),
    }
}

/// Runs one attempt of the `refine` job of refinement `id`: the teacher call (skipped when an
/// earlier attempt already kept the teacher's answer on the row), the checks of its answer,
/// and the new version, saved with the row's end while the worker still holds the job. What
/// goes wrong with the teacher or its answer is recorded on the row as `Failed`, and fails the
/// job for good; a database error is worth another attempt.
pub async fn run_job(cx: &JobContext, id: i64) -> Result<String, JobError> {
    let db = cx.db();
    let Some(row) = model_refinement::Entity::find_by_id(id).one(db).await? else {
        return Ok(format!("refinement {id} was deleted"));
    };
    if !is_running(&row.status) {
        return Ok(format!(
            "refinement {} is already {}",
            row.job_id, row.status
        ));
    }
    let caller = job_rows::caller_of(db, row.organization_id, row.created_by_id)
        .await
        .map_err(transient)?
        .ok_or_else(|| {
            JobError::Permanent(
                "The user who asked for the refinement is no longer an active member.".into(),
            )
        })?;
    let version = match versions::get(db, &caller, row.prompt_id, row.previous_version_id).await {
        Ok(v) => v,
        Err(ApiError::NotFound) => {
            return Ok(format!("the version of refinement {id} was deleted"));
        }
        Err(e) => return Err(transient(e)),
    };
    let project = match projects::get(db, &caller, row.project_id).await {
        Ok(p) => p,
        Err(ApiError::NotFound) => {
            return Err(JobError::Permanent(format!(
                "Project {} was deleted.",
                row.project_id
            )));
        }
        Err(e) => return Err(transient(e)),
    };
    model_refinement::Entity::update_many()
        .col_expr(
            model_refinement::Column::Status,
            Expr::value(RefinementStatus::InProgress),
        )
        .col_expr(
            model_refinement::Column::UpdatedAt,
            Expr::value(crate::util::now()),
        )
        .filter(model_refinement::Column::Id.eq(id))
        .filter(model_refinement::Column::Status.eq(RefinementStatus::Pending))
        .exec(db)
        .await?;
    let job = Job {
        refinement: row,
        version,
        project,
        caller,
    };
    let outcome = if !job.refinement.prompt.is_empty() {
        // An earlier attempt was paid for and checked: its answer is on the row.
        tracing::info!(
            refinement = id,
            "refinement resumed with the teacher's kept answer"
        );
        Outcome {
            cost: job.refinement.total_cost,
            reasoning: job.refinement.reasoning.clone(),
            title: job.refinement.title.clone(),
            prompt: job.refinement.prompt.clone(),
            error: None,
        }
    } else {
        let outcome = teach(&cx.engine, db, &job).await;
        cx.check()?;
        if outcome.error.is_none() {
            keep_answer(db, id, &outcome).await?;
        }
        outcome
    };
    // A save that lost a race (a version of the same title made by hand meanwhile) or met a
    // deadlock is tried again: the teacher's answer is paid for.
    let mut saved = finish(db, &job, outcome.clone(), cx).await;
    for _ in 1..SAVE_ATTEMPTS {
        match &saved {
            Err(ApiError::Database(e))
                if crate::db::is_transient(e)
                    || matches!(
                        e.sql_err(),
                        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                    ) =>
            {
                saved = finish(db, &job, outcome.clone(), cx).await;
            }
            _ => break,
        }
    }
    match saved {
        Ok(Finished::Saved(row)) => {
            tracing::info!(
                refinement = id,
                job_id = %row.job_id,
                status = %row.status,
                new_version = ?row.new_version_id,
                "refinement finished"
            );
            match (row.status, row.error_message) {
                (RefinementStatus::Completed, _) => Ok(format!(
                    "refinement {}: new version {}",
                    row.job_id,
                    row.new_version_id.unwrap_or_default()
                )),
                (_, message) => Err(JobError::Permanent(
                    message.unwrap_or_else(|| "The refinement failed.".into()),
                )),
            }
        }
        Ok(Finished::Gone) => Ok(format!("refinement {id} was deleted")),
        Ok(Finished::Lost) => Err(JobError::Lost),
        Err(e) => Err(transient(e)),
    }
}

/// Keeps the teacher's checked answer (and its cost) on the row, so that an attempt that
/// takes the job over does not call the teacher again.
async fn keep_answer(
    db: &DatabaseConnection,
    id: i64,
    outcome: &Outcome,
) -> Result<(), sea_orm::DbErr> {
    unfinished(id)
        .col_expr(
            model_refinement::Column::Prompt,
            Expr::value(outcome.prompt.clone()),
        )
        .col_expr(
            model_refinement::Column::Title,
            Expr::value(outcome.title.clone()),
        )
        .col_expr(
            model_refinement::Column::Reasoning,
            Expr::value(outcome.reasoning.clone()),
        )
        .col_expr(
            model_refinement::Column::TotalCost,
            Expr::value(outcome.cost),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// An update of refinement `id` that applies only while it has not ended, stamped now.
fn unfinished(id: i64) -> sea_orm::UpdateMany<model_refinement::Entity> {
    model_refinement::Entity::update_many()
        .col_expr(
            model_refinement::Column::UpdatedAt,
            Expr::value(crate::util::now()),
        )
        .filter(model_refinement::Column::Id.eq(id))
        .filter(
            model_refinement::Column::Status
                .is_in([RefinementStatus::Pending, RefinementStatus::InProgress]),
        )
}

/// Marks refinement `id` `Failed` with `error` if it has not ended (its job was given up or
/// canceled).
pub async fn give_up(
    db: &impl ConnectionTrait,
    id: i64,
    error: &str,
) -> Result<(), sea_orm::DbErr> {
    let ended = unfinished(id)
        .col_expr(
            model_refinement::Column::Status,
            Expr::value(RefinementStatus::Failed),
        )
        .col_expr(model_refinement::Column::ErrorMessage, Expr::value(error))
        .exec(db)
        .await?;
    // Ended here, not by the job's last step: told once, by the update that ended it.
    if ended.rows_affected > 0
        && let Some(r) = model_refinement::Entity::find_by_id(id).one(db).await?
    {
        crate::services::webhooks::refinement_ended(db, &r).await?;
    }
    Ok(())
}

/// Waits until refinement `id` has ended (polling its row; a worker of any process runs it),
/// for at most `at_most`; returns the row as it is then.
pub async fn wait_end(
    engine: &Engine,
    id: i64,
    at_most: std::time::Duration,
) -> ApiResult<model_refinement::Model> {
    let deadline = tokio::time::Instant::now() + at_most;
    loop {
        let row = model_refinement::Entity::find_by_id(id)
            .one(engine.db())
            .await?
            .ok_or(ApiError::NotFound)?;
        if !is_running(&row.status) || tokio::time::Instant::now() >= deadline {
            return Ok(row);
        }
        engine.wake();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
