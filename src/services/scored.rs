//! A run's scored counters (`total_scored_predictions`, `total_scored_failed`,
//! `total_correct_predictions`: its results on tasks with ground truth, which accuracy is
//! made of) kept true when ground truth changes after the results were stored: an annotation
//! made, edited, marked or unmarked as ground truth, cancelled or deleted (by hand or by a
//! Label Studio sync), or a run's prediction edited or deleted.
//!
//! The write takes the share of the runs' counters that the changed tasks make up
//! ([`before`]), changes its rows, then [`Before::apply`] adds the difference between the
//! share now and then, in the same transaction: no run is recounted, so the cost is that of
//! the tasks changed.
use crate::error::ApiResult;
use crate::label_config::LabelConfig;
use crate::scoring;
use entity::{annotation, failed_prediction, model_run, prediction, project};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use std::collections::HashMap;

/// The ground-truth result of each task that has one: its newest non-cancelled annotation
/// with `ground_truth = true`.
pub async fn ground_truth(
    db: &impl ConnectionTrait,
    task_ids: &[i64],
) -> ApiResult<HashMap<i64, annotation::Model>> {
    let mut out: HashMap<i64, annotation::Model> = HashMap::new();
    for chunk in task_ids.chunks(500) {
        for a in annotation::Entity::find()
            .filter(annotation::Column::TaskId.is_in(chunk.to_vec()))
            .filter(annotation::Column::GroundTruth.eq(true))
            .filter(annotation::Column::WasCancelled.eq(false))
            .order_by_asc(annotation::Column::Id)
            .all(db)
            .await?
        {
            out.insert(a.task_id, a);
        }
    }
    Ok(out)
}

/// What the results on some tasks make up of one run's scored counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Share {
    predictions: i64,
    failed: i64,
    correct: i64,
}

/// The runs' shares of some tasks, taken before a change to them.
#[derive(Debug)]
pub struct Before {
    tasks: Vec<i64>,
    shares: HashMap<i64, Share>,
}

/// Takes the runs' shares of `task_ids` before they change.
pub async fn before(db: &impl ConnectionTrait, task_ids: &[i64]) -> ApiResult<Before> {
    let mut tasks = task_ids.to_vec();
    tasks.sort_unstable();
    tasks.dedup();
    let shares = shares(db, &tasks).await?;
    Ok(Before { tasks, shares })
}

impl Before {
    /// After the change: adds to each run's counters the difference its share made.
    pub async fn apply(self, db: &impl ConnectionTrait) -> ApiResult<()> {
        let mut after = shares(db, &self.tasks).await?;
        let mut runs: Vec<i64> = after.keys().chain(self.shares.keys()).copied().collect();
        runs.sort_unstable();
        runs.dedup();
        for run in runs {
            let now = after.remove(&run).unwrap_or_default();
            let then = self.shares.get(&run).copied().unwrap_or_default();
            if now == then {
                continue;
            }
            let add = |c: model_run::Column, n: i64| (c, Expr::col(c).add(n));
            let mut update = model_run::Entity::update_many();
            for (column, expr) in [
                add(
                    model_run::Column::TotalScoredPredictions,
                    now.predictions - then.predictions,
                ),
                add(
                    model_run::Column::TotalScoredFailed,
                    now.failed - then.failed,
                ),
                add(
                    model_run::Column::TotalCorrectPredictions,
                    now.correct - then.correct,
                ),
            ] {
                update = update.col_expr(column, expr);
            }
            update
                .filter(model_run::Column::Id.eq(run))
                .exec(db)
                .await?;
        }
        Ok(())
    }
}

/// Each run's share of `tasks` by the ground truth now: its predictions and failures on the
/// tasks that have ground truth, and which of those predictions are correct.
async fn shares(db: &impl ConnectionTrait, tasks: &[i64]) -> ApiResult<HashMap<i64, Share>> {
    let truth = ground_truth(db, tasks).await?;
    let mut out: HashMap<i64, Share> = HashMap::new();
    if truth.is_empty() {
        return Ok(out);
    }
    let scored: Vec<i64> = truth.keys().copied().collect();
    let predicted: Vec<(i64, i64, i64, Value)> = crate::db::in_chunks(&scored, |chunk| {
        prediction::Entity::find()
            .select_only()
            .columns([
                prediction::Column::ModelRunId,
                prediction::Column::TaskId,
                prediction::Column::ProjectId,
                prediction::Column::Result,
            ])
            .filter(prediction::Column::TaskId.is_in(chunk))
            .filter(prediction::Column::ModelRunId.is_not_null())
            .into_tuple()
            .all(db)
    })
    .await?;
    let mut configs: HashMap<i64, LabelConfig> = HashMap::new();
    let mut projects: Vec<i64> = predicted.iter().map(|p| p.2).collect();
    projects.sort_unstable();
    projects.dedup();
    for p in project::Entity::find()
        .filter(project::Column::Id.is_in(projects))
        .all(db)
        .await?
    {
        configs.insert(p.id, crate::services::projects::config_of(&p));
    }
    for (run, task, project_id, result) in predicted {
        let (Some(config), Some(gt)) = (configs.get(&project_id), truth.get(&task)) else {
            continue;
        };
        let share = out.entry(run).or_default();
        share.predictions += 1;
        if scoring::score_task(config, &result, &gt.result).correct {
            share.correct += 1;
        }
    }
    let failed: Vec<(i64, i64)> = crate::db::in_chunks(&scored, |chunk| {
        failed_prediction::Entity::find()
            .select_only()
            .column(failed_prediction::Column::ModelRunId)
            .expr(Expr::cust("COUNT(*)"))
            .filter(failed_prediction::Column::TaskId.is_in(chunk))
            .filter(failed_prediction::Column::ModelRunId.is_not_null())
            .group_by(failed_prediction::Column::ModelRunId)
            .into_tuple()
            .all(db)
    })
    .await?;
    for (run, n) in failed {
        out.entry(run).or_default().failed += n;
    }
    Ok(out)
}
