//! Honest scores of a run, recomputed from its stored results and the current ground truth:
//! accuracy over the ground-truth tasks of the run ([`scoring::Accuracy`]: a failed task counts
//! as wrong) with its Wilson interval, per-class counts, Rating/Number closeness, dropped spans,
//! and McNemar's test between two runs on the tasks they share.
//!
//! The run's tasks are its resolved subset (its slices), read a few slices at a time, so memory
//! and time are linear in the run.

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::label_config::LabelConfig;
use crate::scoring::{self, ClassCounts, Closeness};
use crate::services::scored::ground_truth;
use crate::stats;
use entity::{failed_prediction, model_run, model_run_slice, model_version, prediction};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Slices read per step (each holds up to 100 task ids).
const SLICES_PER_STEP: u64 = 10;

/// The significance level of the version comparison.
pub const ALPHA: f64 = 0.05;

/// Runs compared with by default: the latest completed runs of this many other versions.
pub const DEFAULT_COMPARISONS: u64 = 5;

/// What a run's results say against the ground truth.
#[derive(Debug, Clone, Default)]
pub struct RunScores {
    /// Tasks of the run with ground truth.
    pub ground_truth_tasks: u64,
    /// Of those, tasks with a prediction.
    pub predicted: u64,
    /// Of those, correct predictions (task score 1.0).
    pub correct: u64,
    /// Of the ground-truth tasks, tasks with a failed prediction.
    pub failed: u64,
    /// Per-class counts of the predicted ground-truth tasks.
    pub classes: BTreeMap<String, ClassCounts>,
    /// Rating/Number closeness per control, over the ground-truth tasks with a value for it.
    pub closeness: BTreeMap<String, Closeness>,
    /// Spans dropped over all the run's predictions (from their `extra`).
    pub dropped_spans: u64,
    /// Predictions that dropped at least one span.
    pub predictions_with_dropped_spans: u64,
    /// Each ground-truth task's correctness (failed and unanswered: false), when asked for.
    pub outcomes: HashMap<i64, bool>,
    /// Ground-truth tasks by (true labels, predicted labels), as [`scoring::labels_key`]
    /// words them; a task without a prediction is predicted [`scoring::NO_ANSWER`].
    pub confusion: BTreeMap<(String, String), u64>,
}

/// A confusion matrix: for each true label (rows) how often each label was predicted
/// (columns).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Confusion {
    /// The labels, rows and columns alike ([`scoring::NO_ANSWER`] last when present).
    pub labels: Vec<String>,
    /// `cells[i][j]`: tasks whose truth is `labels[i]` and prediction `labels[j]`.
    pub cells: Vec<Vec<u64>>,
    /// The largest cell (for shading).
    pub max: u64,
}

/// The task ids of a run, a few slices at a time, in slice order.
async fn slice_ids(
    db: &impl ConnectionTrait,
    run_id: i64,
    from_seq: i32,
) -> ApiResult<Option<(Vec<i64>, i32)>> {
    let slices: Vec<(i32, Value)> = model_run_slice::Entity::find()
        .select_only()
        .columns([
            model_run_slice::Column::Seq,
            model_run_slice::Column::TaskIds,
        ])
        .filter(model_run_slice::Column::ModelRunId.eq(run_id))
        .filter(model_run_slice::Column::Seq.gte(from_seq))
        .order_by_asc(model_run_slice::Column::Seq)
        .limit(SLICES_PER_STEP)
        .into_tuple()
        .all(db)
        .await?;
    let Some(last) = slices.last().map(|(seq, _)| *seq) else {
        return Ok(None);
    };
    let ids = slices
        .iter()
        .flat_map(|(_, ids)| ids.as_array().into_iter().flatten())
        .filter_map(Value::as_i64)
        .collect();
    Ok(Some((ids, last + 1)))
}

/// Scores a run (see [`RunScores`]); `outcomes` keeps each ground-truth task's correctness.
pub async fn scan(
    db: &impl ConnectionTrait,
    config: &LabelConfig,
    run_id: i64,
    outcomes: bool,
) -> ApiResult<RunScores> {
    let mut s = RunScores::default();
    let mut seq = 0;
    while let Some((ids, next)) = slice_ids(db, run_id, seq).await? {
        seq = next;
        let preds: Vec<(i64, Value, Option<Value>)> = prediction::Entity::find()
            .select_only()
            .columns([
                prediction::Column::TaskId,
                prediction::Column::Result,
                prediction::Column::Extra,
            ])
            .filter(prediction::Column::ModelRunId.eq(run_id))
            .filter(prediction::Column::TaskId.is_in(ids.clone()))
            .into_tuple()
            .all(db)
            .await?;
        let failed: HashSet<i64> = failed_prediction::Entity::find()
            .select_only()
            .column(failed_prediction::Column::TaskId)
            .filter(failed_prediction::Column::ModelRunId.eq(run_id))
            .filter(failed_prediction::Column::TaskId.is_in(ids.clone()))
            .into_tuple::<i64>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        let gt = ground_truth(db, &ids).await?;
        let mut results: HashMap<i64, Value> = HashMap::with_capacity(preds.len());
        for (task, result, extra) in preds {
            let dropped = extra
                .as_ref()
                .and_then(|e| e.get("dropped_spans"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            s.dropped_spans += dropped;
            s.predictions_with_dropped_spans += u64::from(dropped > 0);
            results.insert(task, result);
        }
        for id in &ids {
            let Some(truth) = gt.get(id) else { continue };
            s.ground_truth_tasks += 1;
            let correct = match results.get(id) {
                Some(result) => {
                    let score = scoring::score_task(config, result, &truth.result);
                    s.predicted += 1;
                    s.correct += u64::from(score.correct);
                    scoring::merge_classes(&mut s.classes, &score.classes);
                    score.correct
                }
                None => {
                    s.failed += u64::from(failed.contains(id));
                    false
                }
            };
            let predicted = results.get(id).unwrap_or(&Value::Null);
            let predicted_key = match results.get(id) {
                Some(result) => scoring::labels_key(result),
                None => scoring::NO_ANSWER.to_string(),
            };
            *s.confusion
                .entry((scoring::labels_key(&truth.result), predicted_key))
                .or_default() += 1;
            for c in scoring::closeness(config, predicted, &truth.result) {
                s.closeness.entry(c.control.clone()).or_default().add(&c);
            }
            if outcomes {
                s.outcomes.insert(*id, correct);
            }
        }
    }
    Ok(s)
}

impl RunScores {
    /// The `ground_truth_accuracy` values: accuracy over the ground-truth tasks of the run by
    /// the one definition ([`scoring::Accuracy`]: failed tasks count as wrong, tasks not run
    /// yet are left out) and its 95% Wilson interval, with every count beside it.
    pub fn accuracy_values(&self) -> Value {
        let n = self.ground_truth_tasks;
        let accuracy = scoring::Accuracy {
            correct: self.correct,
            predicted: self.predicted,
            failed: self.failed,
        };
        let interval = accuracy.interval();
        json!({
            "accuracy": accuracy.value(),
            "correct": self.correct,
            "ground_truth_tasks": n,
            "predicted": self.predicted,
            "wrong": self.predicted - self.correct,
            "failed": self.failed,
            "unanswered": n - self.predicted - self.failed,
            "ci_low": interval.map(|i| i.0),
            "ci_high": interval.map(|i| i.1),
            "confidence_level": 0.95,
            "interval": "wilson",
        })
    }

    /// The `closeness` values: `{"controls": {<name>: {...}}}` (see
    /// [`scoring::Closeness::to_json`]).
    pub fn closeness_values(&self) -> Value {
        let controls: serde_json::Map<String, Value> = self
            .closeness
            .iter()
            .map(|(name, c)| (name.clone(), c.to_json()))
            .collect();
        json!({ "controls": controls })
    }

    /// The confusion matrix of the ground-truth tasks, over the label config's `classes` and
    /// whatever else was predicted or true.
    pub fn confusion_matrix(&self, classes: &[String]) -> Confusion {
        let mut labels: std::collections::BTreeSet<String> = classes.iter().cloned().collect();
        for (truth, predicted) in self.confusion.keys() {
            labels.insert(truth.clone());
            labels.insert(predicted.clone());
        }
        let mut ordered: Vec<String> = labels
            .into_iter()
            .filter(|l| l != scoring::NO_ANSWER)
            .collect();
        if self.confusion.keys().any(|(_, p)| p == scoring::NO_ANSWER) {
            ordered.push(scoring::NO_ANSWER.to_string());
        }
        let index: HashMap<&str, usize> = ordered
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let mut cells = vec![vec![0u64; ordered.len()]; ordered.len()];
        let mut max = 0;
        for ((truth, predicted), n) in &self.confusion {
            if let (Some(&i), Some(&j)) = (index.get(truth.as_str()), index.get(predicted.as_str()))
            {
                cells[i][j] += n;
                max = max.max(cells[i][j]);
            }
        }
        Confusion {
            labels: ordered,
            cells,
            max,
        }
    }

    /// The `dropped_spans` values.
    pub fn dropped_values(&self) -> Value {
        json!({
            "dropped_spans": self.dropped_spans,
            "predictions_with_dropped_spans": self.predictions_with_dropped_spans,
        })
    }
}

/// The runs a run is compared with: `compare_to` (a run of the same project in the caller's
/// organization), else the latest completed runs of the prompt's other versions on the same
/// project and subset (at most [`DEFAULT_COMPARISONS`], newest first).
pub async fn baselines(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    run: &model_run::Model,
    compare_to: Option<i64>,
) -> ApiResult<Vec<model_run::Model>> {
    if let Some(id) = compare_to {
        let other = model_run::Entity::find_by_id(id)
            .filter(model_run::Column::OrganizationId.eq(caller.organization_id))
            .filter(model_run::Column::ProjectId.eq(run.project_id))
            .one(db)
            .await?
            .filter(|o| o.id != run.id)
            .ok_or_else(|| {
                ApiError::field(
                    "compare_to",
                    format!("Invalid pk \"{id}\" - not another run of this run's project."),
                )
            })?;
        return Ok(vec![other]);
    }
    let Some(version) = model_version::Entity::find_by_id(run.model_version_id)
        .one(db)
        .await?
    else {
        return Ok(vec![]);
    };
    let siblings: Vec<i64> = model_version::Entity::find()
        .select_only()
        .column(model_version::Column::Id)
        .filter(model_version::Column::ParentModelId.eq(version.parent_model_id))
        .filter(model_version::Column::Id.ne(version.id))
        .into_tuple()
        .all(db)
        .await?;
    if siblings.is_empty() {
        return Ok(vec![]);
    }
    let mut runs = crate::db::in_chunks(&siblings, |chunk| {
        model_run::Entity::find()
            .filter(model_run::Column::OrganizationId.eq(caller.organization_id))
            .filter(model_run::Column::ProjectId.eq(run.project_id))
            .filter(model_run::Column::ProjectSubset.eq(run.project_subset))
            .filter(model_run::Column::Status.eq(entity::enums::RunStatus::Completed))
            .filter(model_run::Column::ModelVersionId.is_in(chunk))
            .all(db)
    })
    .await?;
    runs.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
    let mut seen = HashSet::new();
    Ok(runs
        .into_iter()
        .filter(|r| seen.insert(r.model_version_id))
        .take(DEFAULT_COMPARISONS as usize)
        .collect())
}

/// McNemar's test of `this` against `baseline` on the ground-truth tasks both runs cover.
pub fn compare(this: &RunScores, baseline: &RunScores) -> Value {
    let (mut both, mut only_this, mut only_base, mut neither) = (0u64, 0u64, 0u64, 0u64);
    for (task, correct) in &this.outcomes {
        let Some(base) = baseline.outcomes.get(task) else {
            continue;
        };
        match (*correct, *base) {
            (true, true) => both += 1,
            (true, false) => only_this += 1,
            (false, true) => only_base += 1,
            (false, false) => neither += 1,
        }
    }
    let paired = both + only_this + only_base + neither;
    let test = stats::mcnemar(only_this, only_base);
    let rate = |k: u64| (paired > 0).then(|| k as f64 / paired as f64);
    json!({
        "paired_tasks": paired,
        "accuracy": rate(both + only_this),
        "baseline_accuracy": rate(both + only_base),
        "difference": (paired > 0)
            .then(|| (only_this as f64 - only_base as f64) / paired as f64),
        "both_correct": both,
        "only_this_correct": only_this,
        "only_baseline_correct": only_base,
        "both_wrong": neither,
        "test": test.method,
        "statistic": test.statistic,
        "p_value": test.p_value,
        "significant": paired > 0 && test.p_value < ALPHA,
    })
}

/// The `version_comparison` values of a run: `{"alpha", "comparisons": [...]}`, one entry per
/// baseline run (see [`baselines`] and [`compare`]), each naming the baseline's run and
/// version.
pub async fn comparison_values(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    config: &LabelConfig,
    run: &model_run::Model,
    this: &RunScores,
    compare_to: Option<i64>,
) -> ApiResult<Value> {
    let mut comparisons = vec![];
    for base in baselines(db, caller, run, compare_to).await? {
        let scores = scan(db, config, base.id, true).await?;
        let title = model_version::Entity::find_by_id(base.model_version_id)
            .one(db)
            .await?
            .map(|v| v.title);
        let mut entry = serde_json::Map::new();
        entry.insert("baseline_run".into(), json!(base.id));
        entry.insert("baseline_version".into(), json!(base.model_version_id));
        entry.insert("baseline_version_title".into(), json!(title));
        entry.insert("baseline_status".into(), json!(base.status));
        if let Value::Object(test) = compare(this, &scores) {
            entry.extend(test);
        }
        comparisons.push(Value::Object(entry));
    }
    Ok(json!({"alpha": ALPHA, "comparisons": comparisons}))
}
