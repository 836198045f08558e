//! What a page of prompts shows beside each: counts of versions and runs, their cost, the best
//! version score, the titles of their projects; aggregated in the database. Scores are
//! [`Accuracy`] of the counters each scored run holds, the one definition every page shows.
use crate::error::ApiResult;
use crate::scoring::Accuracy;
use entity::{model_run, model_version, project};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;

/// Counts and best score of a prompt, for its list and detail views.
#[derive(Debug, Clone, Default)]
pub struct PromptStats {
    /// Versions.
    pub versions_count: i64,
    /// Runs across all versions.
    pub runs_count: i64,
    /// Best version score, if any version has one.
    pub best_score: Option<f64>,
    /// The accuracy that best score is (its counts, failures among them).
    pub best: Option<Accuracy>,
    /// What every run of every version cost (USD; runs of unpriced models count 0).
    pub total_cost: f64,
}

/// The score of each of `version_ids`: the accuracy of its latest completed HasGT run (none
/// for a version whose latest such run scored no task).
pub async fn version_scores(
    db: &impl ConnectionTrait,
    version_ids: &[i64],
) -> ApiResult<HashMap<i64, Accuracy>> {
    let mut out = HashMap::new();
    if version_ids.is_empty() {
        return Ok(out);
    }
    // Each version's runs all sit in one chunk, newest first.
    let runs = crate::db::in_chunks(version_ids, |chunk| {
        model_run::Entity::find()
            .filter(model_run::Column::ModelVersionId.is_in(chunk))
            .filter(model_run::Column::ProjectSubset.eq(entity::enums::Subset::HasGT))
            .filter(model_run::Column::Status.eq(entity::enums::RunStatus::Completed))
            .order_by_desc(model_run::Column::CreatedAt)
            .order_by_desc(model_run::Column::Id)
            .all(db)
    })
    .await?;
    let mut seen = std::collections::HashSet::new();
    for run in runs {
        if !seen.insert(run.model_version_id) {
            continue;
        }
        let accuracy = Accuracy::of_run(&run);
        if accuracy.value().is_some() {
            out.insert(run.model_version_id, accuracy);
        }
    }
    Ok(out)
}

/// Counts and best scores of `prompt_ids`.
pub async fn stats(
    db: &impl ConnectionTrait,
    prompt_ids: &[i64],
) -> ApiResult<HashMap<i64, PromptStats>> {
    let mut out: HashMap<i64, PromptStats> = prompt_ids
        .iter()
        .map(|id| (*id, PromptStats::default()))
        .collect();
    if prompt_ids.is_empty() {
        return Ok(out);
    }
    // Aggregated in the database over a join: the cost of a page of prompts does not grow
    // with their number of versions (a prompt with 25,000 versions made the list read them
    // all, for every request).
    let counts: Vec<(i64, i64)> = crate::db::in_chunks(prompt_ids, |chunk| {
        model_version::Entity::find()
            .select_only()
            .column(model_version::Column::ParentModelId)
            .expr(Expr::cust("COUNT(*)"))
            .filter(model_version::Column::ParentModelId.is_in(chunk))
            .group_by(model_version::Column::ParentModelId)
            .into_tuple()
            .all(db)
    })
    .await?;
    for (prompt, n) in counts {
        out.entry(prompt).or_default().versions_count = n;
    }
    let runs: Vec<(i64, i64, Option<f64>)> = crate::db::in_chunks(prompt_ids, |chunk| {
        model_run::Entity::find()
            .select_only()
            .column(model_version::Column::ParentModelId)
            .expr(Expr::cust("COUNT(*)"))
            .expr(Expr::cust("SUM(model_runs.total_cost)"))
            .join(JoinType::InnerJoin, run_version())
            .filter(model_version::Column::ParentModelId.is_in(chunk))
            .group_by(model_version::Column::ParentModelId)
            .into_tuple()
            .all(db)
    })
    .await?;
    for (prompt, n, cost) in runs {
        let entry = out.entry(prompt).or_default();
        entry.runs_count = n;
        entry.total_cost = cost.unwrap_or(0.0);
    }
    // The scored runs only (completed HasGT runs), newest first: each version's newest one
    // is its score (as `version_scores` reads it), the best of them the prompt's.
    let scored: Vec<(i64, i64, i64, i64, i64)> = crate::db::in_chunks(prompt_ids, |chunk| {
        model_run::Entity::find()
            .select_only()
            .column(model_version::Column::ParentModelId)
            .column(model_run::Column::ModelVersionId)
            .column(model_run::Column::TotalCorrectPredictions)
            .column(model_run::Column::TotalScoredPredictions)
            .column(model_run::Column::TotalScoredFailed)
            .join(JoinType::InnerJoin, run_version())
            .filter(model_version::Column::ParentModelId.is_in(chunk))
            .filter(model_run::Column::ProjectSubset.eq(entity::enums::Subset::HasGT))
            .filter(model_run::Column::Status.eq(entity::enums::RunStatus::Completed))
            .order_by_desc(model_run::Column::CreatedAt)
            .order_by_desc(model_run::Column::Id)
            .into_tuple()
            .all(db)
    })
    .await?;
    let mut seen = std::collections::HashSet::new();
    for (prompt, version, correct, predicted, failed) in scored {
        if !seen.insert(version) {
            continue;
        }
        let accuracy = Accuracy::new(correct, predicted, failed);
        let Some(score) = accuracy.value() else {
            continue;
        };
        let entry = out.entry(prompt).or_default();
        if entry.best_score.is_none_or(|best| score > best) {
            entry.best_score = Some(score);
            entry.best = Some(accuracy);
        }
    }
    Ok(out)
}

/// A run's version, for joins (the entities declare no relations).
fn run_version() -> sea_orm::RelationDef {
    model_run::Entity::belongs_to(model_version::Entity)
        .from(model_run::Column::ModelVersionId)
        .to(model_version::Column::Id)
        .into()
}

/// Project (id, title) pairs for the given ids.
pub async fn project_titles(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> ApiResult<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(crate::db::in_chunks(ids, |chunk| {
        project::Entity::find()
            .select_only()
            .columns([project::Column::Id, project::Column::Title])
            .filter(project::Column::Id.is_in(chunk))
            .into_tuple::<(i64, String)>()
            .all(db)
    })
    .await?
    .into_iter()
    .collect())
}
