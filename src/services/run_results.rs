//! A run's results task by task, for people to read: the input, the prediction beside the
//! ground truth, correct or not, tokens, cost and errors, filtered by outcome and class; and the
//! disagreements of two runs. (The confusion matrix comes with the run's scores, see
//! `run_scores`.)
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::label_config::LabelConfig;
use crate::pagination::{Page, PageRequest};
use crate::scoring;
use crate::services::runs::{self, page_of_tasks};
use crate::services::scored::ground_truth;
use entity::{failed_prediction, model_run, prediction, project, task};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// Tasks read per query when a whole run is scanned.
const CHUNK: u64 = 1000;

/// Which results to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Every task.
    All,
    /// Predicted and matching the ground truth.
    Correct,
    /// Predicted and not matching the ground truth.
    Incorrect,
    /// Ended in a failure.
    Failed,
}

impl Outcome {
    /// Parses `correct`, `incorrect`, `failed`; anything else is every task.
    pub fn parse(raw: Option<&str>) -> Outcome {
        match raw {
            Some("correct") => Outcome::Correct,
            Some("incorrect") => Outcome::Incorrect,
            Some("failed") => Outcome::Failed,
            _ => Outcome::All,
        }
    }
}

/// Which results to show by their prediction's score (a score with a method: Label Studio's
/// constant 1.0 is no score), in hundredths so the filter can key a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScoreFilter {
    /// Any score, or none.
    Any,
    /// Scored below this many hundredths (failed tasks count as 0).
    Below(u8),
    /// Scored at least this many hundredths.
    AtLeast(u8),
}

impl ScoreFilter {
    /// Parses `below-80`, `from-90` (hundredths, 1 to 99); anything else is any score.
    pub fn parse(raw: Option<&str>) -> ScoreFilter {
        let hundredths = |n: &str| n.parse::<u8>().ok().filter(|n| (1..100).contains(n));
        match raw.and_then(|r| r.split_once('-')) {
            Some(("below", n)) => hundredths(n).map_or(ScoreFilter::Any, ScoreFilter::Below),
            Some(("from", n)) => hundredths(n).map_or(ScoreFilter::Any, ScoreFilter::AtLeast),
            _ => ScoreFilter::Any,
        }
    }

    /// Whether a task with `score` (`None`: not scored; failed tasks are 0) is kept.
    fn keeps(self, score: Option<f64>) -> bool {
        match self {
            ScoreFilter::Any => true,
            ScoreFilter::Below(n) => score.is_some_and(|s| s < f64::from(n) / 100.0),
            ScoreFilter::AtLeast(n) => score.is_some_and(|s| s >= f64::from(n) / 100.0),
        }
    }
}

/// The filters and order of a page of results.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResultsFilter {
    /// By outcome.
    pub outcome: Outcome,
    /// By a class predicted or true.
    pub class: Option<String>,
    /// By score.
    pub score: ScoreFilter,
    /// Least sure first (by score, unscored last) instead of task order.
    pub least_sure_first: bool,
}

impl ResultsFilter {
    /// Whether every task is shown in task order (a page reads only its own tasks).
    fn is_none(&self) -> bool {
        self.outcome == Outcome::All
            && self.class.is_none()
            && self.score == ScoreFilter::Any
            && !self.least_sure_first
    }
}

/// One task of a run, as the results table shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ResultRow {
    /// Task id.
    pub task_id: i64,
    /// The task's data.
    pub data: Value,
    /// The predicted labels (choices, labels, text, ratings), in order.
    pub predicted: Vec<String>,
    /// The ground truth's labels; empty when the task has none.
    pub truth: Vec<String>,
    /// Whether the task has ground truth.
    pub has_truth: bool,
    /// Correct or not, when both a prediction and ground truth exist.
    pub correct: Option<bool>,
    /// The prediction's score, when it has a method (see `scoring::confidence`).
    pub score: Option<f64>,
    /// How it was found.
    pub score_method: Option<entity::enums::ScoreMethod>,
    /// Tokens the call used.
    pub tokens: Option<i64>,
    /// What the call cost (USD).
    pub cost: Option<f64>,
    /// The failure kind, for a failed task.
    pub error_type: Option<entity::enums::FailureKind>,
    /// The failure message, for a failed task.
    pub error: Option<String>,
    /// The model's answer as it came, when stored.
    pub raw_output: Option<Value>,
    /// The prediction's result, as Label Studio stores it.
    pub result: Option<Value>,
}

pub use crate::scoring::result_labels as labels;

async fn run_and_config(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    run_id: i64,
) -> ApiResult<(model_run::Model, LabelConfig)> {
    let run = runs::get(db, caller, run_id).await?;
    let project = project::Entity::find_by_id(run.project_id)
        .one(db)
        .await?
        .ok_or(crate::error::ApiError::NotFound)?;
    let config = crate::services::projects::config_of(&project);
    Ok((run, config))
}

/// The rows of `task_ids` (in that order) of `run`.
async fn rows(
    db: &impl ConnectionTrait,
    config: &LabelConfig,
    run_id: i64,
    task_ids: &[i64],
) -> ApiResult<Vec<ResultRow>> {
    let tasks: HashMap<i64, Value> = task::Entity::find()
        .select_only()
        .columns([task::Column::Id, task::Column::Data])
        .filter(task::Column::Id.is_in(task_ids.to_vec()))
        .into_tuple::<(i64, Value)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut preds: HashMap<i64, prediction::Model> = prediction::Entity::find()
        .filter(prediction::Column::ModelRunId.eq(run_id))
        .filter(prediction::Column::TaskId.is_in(task_ids.to_vec()))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.task_id, p))
        .collect();
    let mut failures: HashMap<i64, failed_prediction::Model> = failed_prediction::Entity::find()
        .filter(failed_prediction::Column::ModelRunId.eq(run_id))
        .filter(failed_prediction::Column::TaskId.is_in(task_ids.to_vec()))
        .all(db)
        .await?
        .into_iter()
        .map(|f| (f.task_id, f))
        .collect();
    let gt = ground_truth(db, task_ids).await?;
    Ok(task_ids
        .iter()
        .map(|id| {
            let p = preds.remove(id);
            let f = failures.remove(id);
            let truth = gt.get(id).map(|a| &a.result);
            let correct = match (&p, truth) {
                (Some(p), Some(t)) => Some(scoring::score_task(config, &p.result, t).correct),
                _ => None,
            };
            ResultRow {
                task_id: *id,
                data: tasks.get(id).cloned().unwrap_or(Value::Null),
                predicted: p.as_ref().map(|p| labels(&p.result)).unwrap_or_default(),
                truth: truth.map(labels).unwrap_or_default(),
                has_truth: truth.is_some(),
                correct,
                score: p
                    .as_ref()
                    .filter(|p| p.score_method.is_some())
                    .and_then(|p| p.score),
                score_method: p.as_ref().and_then(|p| p.score_method),
                tokens: p.as_ref().and_then(|p| p.total_tokens).or_else(|| {
                    f.as_ref()
                        .map(|f| f.prompt_tokens.unwrap_or(0) + f.completion_tokens.unwrap_or(0))
                }),
                cost: p
                    .as_ref()
                    .and_then(|p| p.total_cost)
                    .or_else(|| f.as_ref().and_then(|f| f.total_cost)),
                error_type: f.as_ref().and_then(|f| f.error_type.clone()),
                error: f.as_ref().and_then(|f| f.message.clone()),
                raw_output: p
                    .as_ref()
                    .and_then(|p| p.extra.as_ref())
                    .and_then(|e| e.get("output"))
                    .cloned(),
                result: p.map(|p| p.result),
            }
        })
        .collect())
}

/// Every task id of a run, in order, a chunk at a time.
async fn all_task_ids(db: &impl ConnectionTrait, run: &model_run::Model) -> ApiResult<Vec<i64>> {
    let total = run.total_tasks.max(0) as u64;
    let mut ids = Vec::with_capacity(total as usize);
    let mut offset = 0;
    while offset < total {
        ids.extend(page_of_tasks(db, run.id, total, offset, CHUNK, false).await?);
        offset += CHUNK;
    }
    Ok(ids)
}

/// A page of a run's results kept by `filter`, in its order. Unfiltered pages in task order
/// read only their own tasks; filters and the score order scan the run.
pub async fn page(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    run_id: i64,
    filter: &ResultsFilter,
    request: PageRequest,
) -> ApiResult<(Vec<ResultRow>, u64, Page)> {
    let (run, config) = run_and_config(db, caller, run_id).await?;
    let total = run.total_tasks.max(0) as u64;
    if filter.is_none() {
        let page = request.locate(total);
        let ids = page_of_tasks(db, run.id, total, page.offset, page.size, false).await?;
        return Ok((rows(db, &config, run.id, &ids).await?, total, page));
    }
    let key = (
        super::scan_cache::watermark(db, &run).await?,
        filter.clone(),
    );
    let matching = match FILTERED.get(&key) {
        Some(found) => found,
        None => FILTERED.put(key, matching_tasks(db, &config, &run, filter).await?),
    };
    let count = matching.len() as u64;
    let page = request.locate(count);
    let start = (page.offset as usize).min(matching.len());
    let end = (start + page.size as usize).min(matching.len());
    Ok((
        rows(db, &config, run.id, &matching[start..end]).await?,
        count,
        page,
    ))
}

/// Task ids a results filter matched, by the watermark of what the scan read.
type FilterKey = (super::scan_cache::Watermark, ResultsFilter);
static FILTERED: std::sync::LazyLock<super::scan_cache::Cache<FilterKey, Vec<i64>>> =
    std::sync::LazyLock::new(super::scan_cache::Cache::new);

/// The task ids of a run that `filter` keeps, in its order: one scan of the run.
async fn matching_tasks(
    db: &impl ConnectionTrait,
    config: &LabelConfig,
    run: &model_run::Model,
    filter: &ResultsFilter,
) -> ApiResult<Vec<i64>> {
    let (outcome, class) = (filter.outcome, filter.class.as_deref());
    let mut matching: Vec<(i64, Option<f64>)> = vec![];
    let ids = all_task_ids(db, run).await?;
    for chunk in ids.chunks(CHUNK as usize) {
        // Only what the filters read: results, failures and ground truth, not the task data.
        let mut scores: HashMap<i64, Option<f64>> = HashMap::new();
        let preds: HashMap<i64, Value> = prediction::Entity::find()
            .select_only()
            .columns([
                prediction::Column::TaskId,
                prediction::Column::Result,
                prediction::Column::Score,
                prediction::Column::ScoreMethod,
            ])
            .filter(prediction::Column::ModelRunId.eq(run.id))
            .filter(prediction::Column::TaskId.is_in(chunk.to_vec()))
            .into_tuple::<(i64, Value, Option<f64>, Option<entity::enums::ScoreMethod>)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(task, result, score, method)| {
                scores.insert(task, score.filter(|_| method.is_some()));
                (task, result)
            })
            .collect();
        let failed: std::collections::HashSet<i64> = failed_prediction::Entity::find()
            .select_only()
            .column(failed_prediction::Column::TaskId)
            .filter(failed_prediction::Column::ModelRunId.eq(run.id))
            .filter(failed_prediction::Column::TaskId.is_in(chunk.to_vec()))
            .into_tuple::<i64>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        let needs_truth =
            class.is_some() || matches!(outcome, Outcome::Correct | Outcome::Incorrect);
        let gt = if needs_truth {
            ground_truth(db, chunk).await?
        } else {
            HashMap::new()
        };
        for id in chunk {
            let p = preds.get(id);
            let truth = gt.get(id).map(|a| &a.result);
            let keep_outcome = match outcome {
                Outcome::All => true,
                Outcome::Failed => failed.contains(id),
                Outcome::Correct | Outcome::Incorrect => match (p, truth) {
                    (Some(p), Some(t)) => {
                        scoring::score_task(config, p, t).correct == (outcome == Outcome::Correct)
                    }
                    _ => false,
                },
            };
            let keep_class = class.is_none_or(|c| {
                p.is_some_and(|p| labels(p).iter().any(|l| l == c))
                    || truth.is_some_and(|t| labels(t).iter().any(|l| l == c))
            });
            // A failed task has no answer: score 0.
            let score = match scores.get(id) {
                Some(score) => *score,
                None => failed.contains(id).then_some(0.0),
            };
            if keep_outcome && keep_class && filter.score.keeps(score) {
                matching.push((*id, score));
            }
        }
    }
    if filter.least_sure_first {
        // Unscored tasks last; equal scores in task order (the sort is stable).
        matching.sort_by(|a, b| match (a.1, b.1) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
    Ok(matching.into_iter().map(|(id, _)| id).collect())
}

/// One task of a run.
pub async fn one(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    run_id: i64,
    task_id: i64,
) -> ApiResult<(model_run::Model, LabelConfig, ResultRow)> {
    let (run, config) = run_and_config(db, caller, run_id).await?;
    if runs::members(db, run.id, &[task_id]).await?.is_empty() {
        return Err(crate::error::ApiError::NotFound);
    }
    let row = rows(db, &config, run.id, &[task_id])
        .await?
        .pop()
        .ok_or(crate::error::ApiError::NotFound)?;
    Ok((run, config, row))
}

/// A task two runs answered differently.
#[derive(Debug, Clone, Serialize)]
pub struct Disagreement {
    /// Task id.
    pub task_id: i64,
    /// The task's data.
    pub data: Value,
    /// What the first run predicted.
    pub a: Vec<String>,
    /// What the second run predicted.
    pub b: Vec<String>,
    /// The ground truth's labels, if any.
    pub truth: Vec<String>,
}

/// The tasks both runs answered, with different labels (at most `limit`), and how many there
/// are in all.
pub async fn disagreements(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    run_a: i64,
    run_b: i64,
    limit: usize,
) -> ApiResult<(Vec<Disagreement>, u64)> {
    let a = runs::get(db, caller, run_a).await?;
    runs::get(db, caller, run_b).await?;
    let ids = all_task_ids(db, &a).await?;
    let mut out = vec![];
    let mut count = 0u64;
    for chunk in ids.chunks(CHUNK as usize) {
        let read = |run: i64| {
            prediction::Entity::find()
                .select_only()
                .columns([prediction::Column::TaskId, prediction::Column::Result])
                .filter(prediction::Column::ModelRunId.eq(run))
                .filter(prediction::Column::TaskId.is_in(chunk.to_vec()))
                .order_by_asc(prediction::Column::TaskId)
                .into_tuple::<(i64, Value)>()
                .all(db)
        };
        let pa: HashMap<i64, Value> = read(run_a).await?.into_iter().collect();
        let pb: HashMap<i64, Value> = read(run_b).await?.into_iter().collect();
        let mut differing = vec![];
        for id in chunk {
            if let (Some(x), Some(y)) = (pa.get(id), pb.get(id)) {
                let (lx, ly) = (labels(x), labels(y));
                if lx != ly {
                    count += 1;
                    if out.len() + differing.len() < limit {
                        differing.push((*id, lx, ly));
                    }
                }
            }
        }
        if differing.is_empty() {
            continue;
        }
        let ids: Vec<i64> = differing.iter().map(|d| d.0).collect();
        let gt = ground_truth(db, &ids).await?;
        let data: HashMap<i64, Value> = task::Entity::find()
            .select_only()
            .columns([task::Column::Id, task::Column::Data])
            .filter(task::Column::Id.is_in(ids))
            .into_tuple::<(i64, Value)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        for (id, la, lb) in differing {
            out.push(Disagreement {
                task_id: id,
                data: data.get(&id).cloned().unwrap_or(Value::Null),
                a: la,
                b: lb,
                truth: gt.get(&id).map(|g| labels(&g.result)).unwrap_or_default(),
            });
        }
    }
    Ok((out, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_outcomes() {
        assert_eq!(Outcome::parse(Some("failed")), Outcome::Failed);
        assert_eq!(Outcome::parse(Some("correct")), Outcome::Correct);
        assert_eq!(Outcome::parse(Some("bogus")), Outcome::All);
        assert_eq!(Outcome::parse(None), Outcome::All);
    }
}
