//! Scored counters on runs: of a run's predictions and failures, those on tasks that had ground
//! truth when the result was stored. Accuracy is the correct tasks over these (a run over All or
//! a Sample has tasks without ground truth, which say nothing about accuracy), so a run over
//! tasks with no ground truth has no figure instead of 0%.
use crate::builders::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `model_runs.total_scored_predictions` and `model_runs.total_scored_failed`, filled for
/// the runs already there from their results and the ground truth now.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns added, one statement each (SQLite takes one per `ALTER TABLE`).
fn columns() -> Vec<(&'static str, ColumnDef)> {
    vec![
        (
            "model_runs",
            big_integer("total_scored_predictions")
                .default(0)
                .to_owned(),
        ),
        (
            "model_runs",
            big_integer("total_scored_failed").default(0).to_owned(),
        ),
    ]
}

/// A task of the result row `r` has ground truth (a non-cancelled ground-truth annotation).
const HAS_GT: &str = "EXISTS (SELECT 1 FROM annotations a WHERE a.task_id = r.task_id \
    AND a.ground_truth = true AND a.was_cancelled = false)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(manager, columns()).await?;
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "UPDATE model_runs SET \
                 total_scored_predictions = (SELECT COUNT(*) FROM predictions r \
                   WHERE r.model_run_id = model_runs.id AND {HAS_GT}), \
                 total_scored_failed = (SELECT COUNT(*) FROM failed_predictions r \
                   WHERE r.model_run_id = model_runs.id AND {HAS_GT})"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, columns()).await
    }
}
