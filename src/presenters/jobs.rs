//! Job views with what the rows alone do not say: an inference run's progress, from the run's
//! counters.
use crate::error::ApiResult;
use crate::services::jobs as service;
use crate::views::jobs::JobView;
use entity::enums::JobKind;
use entity::job;
use sea_orm::ConnectionTrait;

/// The views of `rows`, in order.
pub async fn views(db: &impl ConnectionTrait, rows: Vec<job::Model>) -> ApiResult<Vec<JobView>> {
    let runs: Vec<i64> = rows
        .iter()
        .filter(|r| r.kind == JobKind::InferenceRun)
        .filter_map(|r| r.subject_id)
        .collect();
    let progress = service::run_progress(db, &runs).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let run = (r.kind == JobKind::InferenceRun)
                .then(|| r.subject_id.and_then(|id| progress.get(&id).copied()))
                .flatten();
            JobView::new(r, run)
        })
        .collect())
}
