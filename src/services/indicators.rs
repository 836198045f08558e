//! The indicators of a run (the Prompt dashboard's `GET /api/inference-runs/{id}/indicators/`):
//! Label Studio's wire keys (`accuracy`, `f1`, `predictions`, `failed_predictions`, `cost`,
//! `classification_report`) and Prompter's honest scores beside them
//! (`ground_truth_accuracy`, `version_comparison`, `closeness`, `dropped_spans`, from the
//! predictions' scores `calibration` and `project_accuracy`: see `services::trust`, and
//! `cost_per_correct_label`: see [`scoring::CostPerCorrectLabel`]), and the same numbers as the
//! summary of a subset-tasks page.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::scoring;
use crate::services::projects;
use crate::services::run_scores::{self, RunScores};
use crate::services::scan_cache;
use crate::services::trust;
use entity::{failed_prediction, model_run, project};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};

/// Keys of the indicators, in list order.
pub const INDICATORS: [&str; 13] = [
    "accuracy",
    "f1",
    "predictions",
    "failed_predictions",
    "cost",
    "classification_report",
    "ground_truth_accuracy",
    "version_comparison",
    "closeness",
    "dropped_spans",
    "calibration",
    "project_accuracy",
    "cost_per_correct_label",
];

/// One indicator: a title and its values.
#[derive(Debug, Clone)]
pub struct Indicator {
    /// The key, for `indicators/{key}`.
    pub key: &'static str,
    /// Title for display.
    pub title: &'static str,
    /// Values.
    pub values: Value,
}

/// The wire `accuracy` values, from the run's counters: Label Studio's keys, the value by the
/// one definition ([`scoring::Accuracy`]: failed tasks count as wrong), and the failures beside.
fn accuracy_values(run: &model_run::Model) -> Value {
    let accuracy = scoring::Accuracy::of_run(run);
    json!({
        "accuracy": accuracy.value(),
        "total_correct_predictions": run.total_correct_predictions,
        "total_predictions": run.total_predictions,
        "total_failed_predictions": run.total_failed,
        "scored_predictions": accuracy.predicted,
        "scored_failed_predictions": accuracy.failed,
    })
}

/// The `f1` values of a run's scores.
fn f1_values(scores: &RunScores) -> Value {
    let report = scoring::classification_report(&scores.classes);
    let f1 = |row: &str| {
        report
            .get(row)
            .and_then(|m| m.get("f1-score"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({
        "micro_f1": f1("micro avg"),
        "macro_f1": f1("macro avg"),
        "scored_tasks": scores.predicted,
        "correct_tasks": scores.correct,
    })
}

/// The run's cost in USD, `None` when its model has no price (a note on the run says so).
fn known_cost(run: &model_run::Model) -> Option<f64> {
    let notes: Vec<String> = run
        .notes
        .clone()
        .and_then(|n| serde_json::from_value(n).ok())
        .unwrap_or_default();
    (!crate::pricing::has_unpriced_note(&notes)).then_some(run.total_cost)
}

/// The run's cost per correct label, by the one definition
/// ([`scoring::CostPerCorrectLabel`]), from its counters.
fn cost_per_correct_label(run: &model_run::Model) -> scoring::CostPerCorrectLabel {
    scoring::CostPerCorrectLabel::of_run(run, known_cost(run))
}

/// The `cost` values of a run (`total_cost_usd` null when its model has no price), with its
/// `cost_per_correct_label` (null when that cost, or its accuracy, is not known or 0).
fn cost_values(run: &model_run::Model) -> Value {
    json!({
        "total_cost_usd": known_cost(run),
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "total_tokens": run.prompt_tokens + run.completion_tokens,
        "cost_per_correct_label": cost_per_correct_label(run).value,
        // Predictions answered from the response cache: they cost nothing.
        "cached_predictions": run.total_cached_predictions,
    })
}

/// What a page shows of a run's evaluation, from one scan of its results: the
/// `ground_truth_accuracy`, `f1`, `classification_report` and `cost` values, and the confusion
/// matrix of its ground-truth tasks.
#[derive(Debug, Clone)]
pub struct RunEvaluation {
    /// Accuracy over every ground-truth task, with its Wilson interval.
    pub ground_truth_accuracy: Value,
    /// Micro and macro F1.
    pub f1: Value,
    /// Precision, recall, F1 and support per class, then the averages.
    pub classification_report: Value,
    /// Cost and tokens.
    pub cost: Value,
    /// The confusion matrix.
    pub confusion: crate::services::run_scores::Confusion,
}

/// Evaluations computed, by the watermark of what they read.
static EVALUATIONS: std::sync::LazyLock<scan_cache::Cache<scan_cache::Watermark, RunEvaluation>> =
    std::sync::LazyLock::new(scan_cache::Cache::new);

/// The [`RunEvaluation`] of run `run_id` of the caller's organization; computed again only
/// when its results or its project's annotations changed (see [`scan_cache`]).
pub async fn evaluation(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    run_id: i64,
) -> ApiResult<std::sync::Arc<RunEvaluation>> {
    let run = model_run::Entity::find_by_id(run_id)
        .filter(model_run::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mark = scan_cache::watermark(db, &run).await?;
    if let Some(found) = EVALUATIONS.get(&mark) {
        return Ok(found);
    }
    let config = config_of_run(db, &run).await?;
    let scores = run_scores::scan(db, &config, run.id, false).await?;
    Ok(EVALUATIONS.put(
        mark,
        RunEvaluation {
            ground_truth_accuracy: scores.accuracy_values(),
            f1: f1_values(&scores),
            classification_report: scoring::classification_report(&scores.classes),
            cost: cost_values(&run),
            confusion: scores.confusion_matrix(&config.output_classes()),
        },
    ))
}

/// The run's project label config.
pub async fn config_of_run(
    db: &impl ConnectionTrait,
    run: &model_run::Model,
) -> ApiResult<crate::label_config::LabelConfig> {
    let project = project::Entity::find_by_id(run.project_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(projects::config_of(&project))
}

/// The indicators of a run (all, or the one named `only`); `compare_to` names the run the
/// `version_comparison` compares with (default: the prompt's other versions' latest
/// completed runs on the same project and subset).
pub async fn indicators(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    run_id: i64,
    only: Option<&str>,
    compare_to: Option<i64>,
) -> ApiResult<Vec<Indicator>> {
    if only.is_some_and(|k| !INDICATORS.contains(&k)) {
        return Err(ApiError::NotFound);
    }
    let run = model_run::Entity::find_by_id(run_id)
        .filter(model_run::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let wants = |k: &str| only.is_none_or(|o| o == k);
    let needs_scan = [
        "f1",
        "classification_report",
        "ground_truth_accuracy",
        "version_comparison",
        "closeness",
        "dropped_spans",
        "calibration",
        "project_accuracy",
    ]
    .iter()
    .any(|k| wants(k));
    // Each ground-truth task's correctness: for the comparison and for the scores' trust.
    let outcomes = wants("version_comparison") || wants("calibration") || wants("project_accuracy");
    let config = if needs_scan {
        Some(config_of_run(db, &run).await?)
    } else {
        None
    };
    let scores = match &config {
        Some(config) => run_scores::scan(db, config, run.id, outcomes).await?,
        None => RunScores::default(),
    };
    let mut out = vec![];
    let mut push = |key: &'static str, title: &'static str, values: Value| {
        out.push(Indicator { key, title, values });
    };
    if wants("accuracy") {
        push("accuracy", "Accuracy", accuracy_values(&run));
    }
    if wants("f1") {
        push("f1", "F1 score", f1_values(&scores));
    }
    if wants("predictions") {
        let done = run.total_predictions + run.total_failed;
        let progress = if run.total_tasks > 0 {
            done as f64 / run.total_tasks as f64
        } else {
            1.0
        };
        push(
            "predictions",
            "Predictions",
            json!({
                "total_predictions": run.total_predictions,
                "total_tasks": run.total_tasks,
                "progress": progress,
                "status": run.status,
            }),
        );
    }
    if wants("failed_predictions") {
        let by_type: Vec<(Option<entity::enums::FailureKind>, i64)> =
            failed_prediction::Entity::find()
                .select_only()
                .column(failed_prediction::Column::ErrorType)
                .expr(Expr::cust("COUNT(*)"))
                .filter(failed_prediction::Column::ModelRunId.eq(run.id))
                .group_by(failed_prediction::Column::ErrorType)
                .into_tuple()
                .all(db)
                .await?;
        let map: serde_json::Map<String, Value> = by_type
            .into_iter()
            .map(|(t, n)| {
                let kind = t.map_or_else(|| "Unknown".to_string(), |k| k.to_string());
                (kind, Value::from(n))
            })
            .collect();
        push(
            "failed_predictions",
            "Failed predictions",
            json!({"total_failed_predictions": run.total_failed, "by_error_type": map}),
        );
    }
    if wants("cost") {
        push("cost", "Cost", cost_values(&run));
    }
    if wants("classification_report") {
        push(
            "classification_report",
            "Classification report",
            scoring::classification_report(&scores.classes),
        );
    }
    if wants("ground_truth_accuracy") {
        push(
            "ground_truth_accuracy",
            "Accuracy over all ground-truth tasks",
            scores.accuracy_values(),
        );
    }
    if wants("version_comparison")
        && let Some(config) = &config
    {
        let values =
            run_scores::comparison_values(db, caller, config, &run, &scores, compare_to).await?;
        push("version_comparison", "Version comparison", values);
    }
    if wants("closeness") {
        push(
            "closeness",
            "Rating and number closeness",
            scores.closeness_values(),
        );
    }
    if wants("dropped_spans") {
        push("dropped_spans", "Dropped spans", scores.dropped_values());
    }
    if wants("calibration") || wants("project_accuracy") {
        let tasks = trust::tasks_with(db, run.id, &scores.outcomes).await?;
        if wants("calibration") {
            let report = trust::calibration_report(&tasks);
            push("calibration", "Calibration of the scores", report.values());
        }
        if wants("project_accuracy") {
            let found = trust::project_accuracy(&tasks, run.id, trust::LABEL_NEXT);
            push(
                "project_accuracy",
                "Accuracy over all tasks",
                found.values(),
            );
        }
    }
    if wants("cost_per_correct_label") {
        push(
            "cost_per_correct_label",
            "Cost per correct label",
            cost_per_correct_label(&run).values(),
        );
    }
    Ok(out)
}

/// The summary of a run for a subset-tasks page: `{"model_run", "accuracy" (the wire
/// indicator), "ground_truth_accuracy", "version_comparison"}`, the last two as the indicators
/// of the same keys.
pub async fn summary(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    run: &model_run::Model,
    compare_to: Option<i64>,
) -> ApiResult<Value> {
    let config = config_of_run(db, run).await?;
    let scores = run_scores::scan(db, &config, run.id, true).await?;
    let comparison =
        run_scores::comparison_values(db, caller, &config, run, &scores, compare_to).await?;
    Ok(json!({
        "model_run": run.id,
        "accuracy": accuracy_values(run),
        "ground_truth_accuracy": scores.accuracy_values(),
        "version_comparison": comparison,
    }))
}
