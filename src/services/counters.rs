//! Denormalised task counters (`total_annotations`, `cancelled_annotations`,
//! `total_predictions`, `is_labeled`), recomputed from the rows after every change.
use sea_orm::{ConnectionTrait, DbErr};

const RECOUNT: &str = "UPDATE tasks SET \
    total_annotations = (SELECT COUNT(*) FROM annotations a WHERE a.task_id = tasks.id AND a.was_cancelled = false), \
    cancelled_annotations = (SELECT COUNT(*) FROM annotations a WHERE a.task_id = tasks.id AND a.was_cancelled = true), \
    total_predictions = (SELECT COUNT(*) FROM predictions p WHERE p.task_id = tasks.id), \
    is_labeled = ((SELECT COUNT(*) FROM annotations a WHERE a.task_id = tasks.id AND a.was_cancelled = false) >= tasks.overlap)";

/// Recounts the given tasks, in chunks so that any number of ids is fine.
pub async fn recount_tasks(db: &impl ConnectionTrait, task_ids: &[i64]) -> Result<(), DbErr> {
    let mut ids = task_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(500) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        db.execute_unprepared(&format!("{RECOUNT} WHERE tasks.id IN ({list})"))
            .await?;
    }
    Ok(())
}

/// Recounts every task of a project.
pub async fn recount_project(db: &impl ConnectionTrait, project_id: i64) -> Result<(), DbErr> {
    db.execute_unprepared(&format!("{RECOUNT} WHERE tasks.project_id = {project_id}"))
        .await?;
    Ok(())
}

/// Before the runs `run_ids` (and their predictions) are deleted: takes their predictions off
/// the tasks' `total_predictions`, touching only the tasks those runs predicted.
pub async fn forget_runs(db: &impl ConnectionTrait, run_ids: &[i64]) -> Result<(), DbErr> {
    for chunk in run_ids.chunks(200) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        db.execute_unprepared(&format!(
            "UPDATE tasks SET total_predictions = total_predictions - \
             (SELECT COUNT(*) FROM predictions p WHERE p.task_id = tasks.id AND p.model_run_id IN ({list})) \
             WHERE tasks.id IN (SELECT task_id FROM predictions WHERE model_run_id IN ({list}))"
        ))
        .await?;
    }
    Ok(())
}
