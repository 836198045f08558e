//! How far a run's predictions can be trusted, from their scores (see `scoring::confidence`):
//! their calibration against the ground truth (`calibration` indicator), the run's accuracy over
//! all its tasks from the few with ground truth (`project_accuracy`, prediction-powered
//! inference) with the tasks to label next, and the lowest score threshold whose predictions meet
//! an accuracy target with a guarantee.
//!
//! Which tasks are right is the one rule of `run_scores::scan` (a failed task is wrong); a task
//! that failed has score 0, since it has no answer. Only predictions whose score has a method
//! (`score_method`) are scored: Label Studio's constant 1.0 says nothing.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::label_config::LabelConfig;
use crate::services::indicators;
use crate::services::run_scores;
use crate::stats::calibration::{self, Pair};
use crate::stats::ppi;
use entity::enums::ScoreMethod;
use entity::{failed_prediction, model_run, prediction};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Tasks suggested for labeling by default.
pub const LABEL_NEXT: usize = 40;

/// Score bins of the reliability table.
pub const BINS: usize = 10;

/// The thresholds the calibration table shows.
pub const THRESHOLDS: [f64; 8] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99];

/// Beyond this many standard errors between the labeled tasks' mean score and the others', the
/// labeled tasks do not look like a random sample.
pub const NOT_RANDOM_Z: f64 = 3.0;

/// One task of a run, as far as trust goes.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskTrust {
    /// The task.
    pub task_id: i64,
    /// Its prediction's score (0 for a failed task).
    pub score: f64,
    /// The score before the version's calibration map, when one changed it (else `score`).
    pub raw: f64,
    /// How the score was found (`None`: a failure, or a score that means nothing).
    pub method: Option<ScoreMethod>,
    /// Whether it failed.
    pub failed: bool,
    /// Right or wrong by the ground truth, when the task has one.
    pub correct: Option<bool>,
}

/// What a run's prediction says of trust: task, score, its method, and `extra` (the raw score).
type PredictionRow = (i64, Option<f64>, Option<ScoreMethod>, Option<Value>);

/// Run `run_id` of the caller's organization, with its project's label config.
pub async fn run_with_config(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    run_id: i64,
) -> ApiResult<(model_run::Model, LabelConfig)> {
    let run = model_run::Entity::find_by_id(run_id)
        .filter(model_run::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let config = indicators::config_of_run(db, &run).await?;
    Ok((run, config))
}

/// The run's answered tasks (a prediction or a failure), each with its score and, where the
/// ground truth says, whether it is right.
pub async fn tasks(
    db: &impl ConnectionTrait,
    config: &LabelConfig,
    run_id: i64,
) -> ApiResult<Vec<TaskTrust>> {
    let outcomes = run_scores::scan(db, config, run_id, true).await?.outcomes;
    tasks_with(db, run_id, &outcomes).await
}

/// [`tasks`] with the ground-truth tasks' correctness already known (the `outcomes` of a
/// `run_scores::scan` made for other figures too, so the run is scanned once).
pub async fn tasks_with(
    db: &impl ConnectionTrait,
    run_id: i64,
    outcomes: &HashMap<i64, bool>,
) -> ApiResult<Vec<TaskTrust>> {
    let predicted: Vec<PredictionRow> = prediction::Entity::find()
        .select_only()
        .columns([
            prediction::Column::TaskId,
            prediction::Column::Score,
            prediction::Column::ScoreMethod,
            prediction::Column::Extra,
        ])
        .filter(prediction::Column::ModelRunId.eq(run_id))
        .into_tuple()
        .all(db)
        .await?;
    let failed: Vec<i64> = failed_prediction::Entity::find()
        .select_only()
        .column(failed_prediction::Column::TaskId)
        .filter(failed_prediction::Column::ModelRunId.eq(run_id))
        .into_tuple()
        .all(db)
        .await?;
    let mut out: Vec<TaskTrust> = predicted
        .into_iter()
        .map(|(task_id, score, method, extra)| {
            let score = score.unwrap_or(1.0).clamp(0.0, 1.0);
            TaskTrust {
                task_id,
                score,
                raw: extra
                    .as_ref()
                    .and_then(|e| e.get("raw_score"))
                    .and_then(Value::as_f64)
                    .map_or(score, |r| r.clamp(0.0, 1.0)),
                method,
                failed: false,
                correct: outcomes.get(&task_id).copied(),
            }
        })
        .collect();
    out.extend(failed.into_iter().map(|task_id| TaskTrust {
        task_id,
        score: 0.0,
        raw: 0.0,
        method: None,
        failed: true,
        correct: outcomes.get(&task_id).map(|_| false),
    }));
    out.sort_by_key(|t| t.task_id);
    Ok(out)
}

/// The method of the run's scores: the one they share, `mixed`, or `None` when none has one.
fn method_of(tasks: &[TaskTrust]) -> Option<&'static str> {
    let mut methods = tasks.iter().filter_map(|t| t.method);
    let first = methods.next()?;
    Some(if methods.all(|m| m == first) {
        first.as_str()
    } else {
        "mixed"
    })
}

/// The (score, right) pairs of the scored predictions with ground truth.
pub fn pairs(tasks: &[TaskTrust]) -> Vec<Pair> {
    labeled(tasks, |t| t.score)
}

/// The same pairs with the scores before any calibration map: what a map is fitted on.
pub fn raw_pairs(tasks: &[TaskTrust]) -> Vec<Pair> {
    labeled(tasks, |t| t.raw)
}

fn labeled(tasks: &[TaskTrust], score: impl Fn(&TaskTrust) -> f64) -> Vec<Pair> {
    tasks
        .iter()
        .filter(|t| t.method.is_some())
        .filter_map(|t| {
            Some(Pair {
                score: score(t),
                correct: t.correct?,
            })
        })
        .collect()
}

/// How well a run's scores predict its accuracy (the `calibration` indicator).
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationReport {
    /// The scores' method (`logprobs`, `agreement`, `mixed`), `None` when nothing is scored.
    pub method: Option<&'static str>,
    /// Predictions with a score.
    pub scored: usize,
    /// Of them, on tasks with ground truth.
    pub labeled: usize,
    /// The reliability table.
    pub bins: Vec<calibration::Bin>,
    /// Its expected calibration error.
    pub ece: Option<f64>,
    /// The accuracy above each of [`THRESHOLDS`].
    pub thresholds: Vec<calibration::ThresholdRow>,
    /// The share of agreement-scored tasks whose samples disagreed.
    pub flip_rate: Option<f64>,
    /// The isotonic map the labels give.
    pub isotonic: Vec<(f64, f64)>,
}

/// The calibration of `tasks`' scores.
pub fn calibration_report(tasks: &[TaskTrust]) -> CalibrationReport {
    let pairs = pairs(tasks);
    let bins = calibration::reliability(&pairs, BINS);
    let agreement: Vec<&TaskTrust> = tasks
        .iter()
        .filter(|t| t.method == Some(ScoreMethod::Agreement))
        .collect();
    let flips = agreement.iter().filter(|t| t.score < 1.0).count();
    CalibrationReport {
        method: method_of(tasks),
        scored: tasks.iter().filter(|t| t.method.is_some()).count(),
        labeled: pairs.len(),
        ece: calibration::ece(&bins),
        bins,
        thresholds: calibration::threshold_table(&pairs, &THRESHOLDS),
        flip_rate: (!agreement.is_empty()).then(|| flips as f64 / agreement.len() as f64),
        isotonic: calibration::isotonic(&pairs),
    }
}

impl CalibrationReport {
    /// The indicator's values.
    pub fn values(&self) -> Value {
        json!({
            "score_method": self.method,
            "scored_predictions": self.scored,
            "labeled_predictions": self.labeled,
            "expected_calibration_error": self.ece,
            "bins": self.bins,
            "thresholds": self.thresholds,
            "flip_rate": self.flip_rate,
            "isotonic_map": self.isotonic,
        })
    }
}

/// The run's accuracy over all its answered tasks (the `project_accuracy` indicator).
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectAccuracy {
    /// The estimate, when the scores and labels allow one.
    pub estimate: Option<ppi::Estimate>,
    /// Answered tasks.
    pub tasks: usize,
    /// Of them, with ground truth.
    pub labeled: usize,
    /// Of those, right.
    pub labeled_right: usize,
    /// Without ground truth.
    pub unlabeled: usize,
    /// Failed (counted wrong, score 0).
    pub failed: usize,
    /// Welch's z of the labeled tasks' mean score against the others'.
    pub sample_z: Option<f64>,
    /// Whether the labeled tasks look like a random sample.
    pub looks_random: bool,
    /// Tasks to label next.
    pub label_next: Vec<i64>,
    /// What to do, when something stands in the way.
    pub message: Option<String>,
}

/// The accuracy estimate of `tasks` over all of them, whether the labeled ones look like a
/// random sample, and `label_next` tasks to label (chosen at random among the unlabeled, the
/// same ones each time for a run).
pub fn project_accuracy(tasks: &[TaskTrust], run_id: i64, label_next: usize) -> ProjectAccuracy {
    let scored = method_of(tasks).is_some();
    let labeled: Vec<(f64, f64)> = tasks
        .iter()
        .filter_map(|t| Some((t.score, f64::from(u8::from(t.correct?)))))
        .collect();
    let unlabeled: Vec<&TaskTrust> = tasks.iter().filter(|t| t.correct.is_none()).collect();
    let unlabeled_scores: Vec<f64> = unlabeled.iter().map(|t| t.score).collect();
    let ids: Vec<i64> = unlabeled
        .iter()
        .filter(|t| !t.failed)
        .map(|t| t.task_id)
        .collect();
    let (estimate, sample_z) = if scored {
        let labeled_scores: Vec<f64> = labeled.iter().map(|p| p.0).collect();
        (
            ppi::estimate(&labeled, &unlabeled_scores),
            ppi::sample_check(&labeled_scores, &unlabeled_scores),
        )
    } else {
        (None, None)
    };
    let looks_random = sample_z.is_none_or(|z| z.abs() <= NOT_RANDOM_Z);
    let message = if !scored {
        Some(
            "The run's predictions have no scores (the model gave no log-probabilities and the \
             version asks one answer per task), so only the labeled tasks' accuracy is known."
                .to_string(),
        )
    } else if estimate.is_none() {
        Some(format!(
            "Label at least {} of the run's tasks ({} have ground truth) to estimate its accuracy \
             over all of them: the tasks in label_next are chosen at random for it.",
            ppi::MIN_LABELED,
            labeled.len()
        ))
    } else if !looks_random {
        Some(
            "The tasks with ground truth score differently from the others: they do not look \
             like a random sample, so the interval may not hold. Label the tasks in label_next \
             (chosen at random) to make it hold."
                .to_string(),
        )
    } else {
        None
    };
    ProjectAccuracy {
        estimate,
        tasks: tasks.len(),
        labeled: labeled.len(),
        labeled_right: labeled.iter().filter(|p| p.1 > 0.5).count(),
        unlabeled: unlabeled.len(),
        failed: tasks.iter().filter(|t| t.failed).count(),
        sample_z,
        looks_random,
        label_next: ppi::random_sample(&ids, label_next, run_id as u64),
        message,
    }
}

impl ProjectAccuracy {
    /// The accuracy on the labeled tasks alone, when there are some.
    pub fn labeled_accuracy(&self) -> Option<f64> {
        (self.labeled > 0).then(|| self.labeled_right as f64 / self.labeled as f64)
    }

    /// The indicator's values.
    pub fn values(&self) -> Value {
        let e = self.estimate;
        json!({
            "accuracy": e.map(|e| e.accuracy),
            "ci_low": e.map(|e| e.low),
            "ci_high": e.map(|e| e.high),
            "confidence_level": 0.95,
            "method": "ppi++",
            "tasks": self.tasks,
            "labeled": self.labeled,
            "unlabeled": self.unlabeled,
            "failed": self.failed,
            "labeled_accuracy": self.labeled_accuracy(),
            "mean_score": e.map(|e| e.mean_score),
            "lambda": e.map(|e| e.lambda),
            "sample_z": self.sample_z,
            "looks_random": self.looks_random,
            "label_next": self.label_next,
            "message": self.message,
        })
    }
}
