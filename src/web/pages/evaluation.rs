//! Evaluation of a prompt: accuracy with its confidence interval, F1, the per-class report and
//! the confusion matrix of a run; accuracy and cost across versions as a chart; two versions
//! side by side with the tasks where they disagree and McNemar's test.
use super::summary;
use crate::error::ApiError;
use crate::presenters::runs::AccuracyView;
use crate::services::run_results;
use crate::services::{indicators, prompts as prompt_service, runs, versions};
use crate::state::AppState;
use crate::views::runs::RunView;
use crate::web::page::{PageResult, render};
use crate::web::svg::{ChartPoint, versions_chart};
use crate::web::{PageError, Visitor};
use actix_web::web;
use entity::enums::RunStatus;
use entity::model_version;
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Registers `/prompts/{id}/evaluation` and `/prompts/{id}/compare`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/prompts/{id}/evaluation", web::get().to(evaluation))
        .route("/prompts/{id}/compare", web::get().to(compare));
}

/// A run of the evaluation table, with its accuracy by the one definition.
#[derive(Serialize)]
struct RunRow {
    #[serde(flatten)]
    run: RunView,
    version_title: String,
    accuracy: AccuracyView,
    cost_per_task: Option<f64>,
}

/// The prompt's versions (oldest first) and every run of them (newest first).
async fn versions_and_runs(
    state: &AppState,
    visitor: &Visitor,
    prompt_id: i64,
) -> Result<(Vec<model_version::Model>, Vec<RunRow>), PageError> {
    let caller = visitor.caller();
    let all = versions::list(&state.db, caller, prompt_id, Some("id")).await?;
    let mut rows = vec![];
    for v in &all {
        let found = runs::list(
            &state.db,
            caller,
            prompt_id,
            v.id,
            &runs::ListFilter {
                project: None,
                project_subset: None,
                ordering: Some("-id".into()),
            },
        )
        .await?;
        for run in crate::presenters::runs::views(state, prompt_id, found).await? {
            let done = run.total_predictions + run.total_failed_predictions;
            rows.push(RunRow {
                accuracy: AccuracyView::from(run.accuracy()),
                cost_per_task: run
                    .total_cost_usd
                    .filter(|_| done > 0)
                    .map(|c| c / done as f64),
                version_title: v.title.clone(),
                run,
            });
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.run.id));
    Ok((all, rows))
}

/// Rows of a classification report (`{class: {precision, recall, f1-score, support}}`), the
/// classes first, then the averages.
fn report_rows(report: &Value) -> Vec<Value> {
    let Some(map) = report.as_object() else {
        return vec![];
    };
    let row = |name: &str, m: &Value, average: bool| {
        json!({"name": name, "precision": m["precision"], "recall": m["recall"],
            "f1": m["f1-score"], "support": m["support"], "average": average})
    };
    let is_average = |k: &str| k.ends_with(" avg");
    let mut rows: Vec<Value> = map
        .iter()
        .filter(|(k, _)| !is_average(k))
        .map(|(k, m)| row(k, m, false))
        .collect();
    rows.extend(
        map.iter()
            .filter(|(k, _)| is_average(k))
            .map(|(k, m)| row(k, m, true)),
    );
    rows
}

#[derive(Deserialize)]
struct EvaluationQuery {
    run: Option<i64>,
}

async fn evaluation(
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    q: web::Query<EvaluationQuery>,
) -> PageResult {
    let caller = visitor.caller();
    let prompt = prompt_service::get(&state.db, caller, *id).await?;
    let (all_versions, rows) = versions_and_runs(&state, &visitor, prompt.id).await?;
    let prompt_ctx = context! { id => prompt.id, title => prompt.title };
    let version_list: Vec<_> = all_versions
        .iter()
        .rev()
        .map(|v| context! { id => v.id, title => v.title.clone() })
        .collect();
    if rows.is_empty() {
        return render(
            &visitor,
            "prompts",
            "evaluation.html",
            context! { prompt => prompt_ctx, runs => rows, versions => version_list },
        );
    }
    let selected = match q.run {
        Some(run) => rows
            .iter()
            .find(|r| r.run.id == run)
            .ok_or(ApiError::NotFound)?,
        None => rows
            .iter()
            .find(|r| r.run.status == RunStatus::Completed)
            .unwrap_or(&rows[0]),
    };
    let scored = indicators::evaluation(&state.db, caller, selected.run.id).await?;
    // The chart: each version's latest run, oldest version first.
    let points: Vec<ChartPoint> = all_versions
        .iter()
        .map(|v| {
            let latest = rows.iter().find(|r| r.run.model_version == v.id);
            ChartPoint {
                label: v.title.clone(),
                accuracy: latest.map(|r| r.run.accuracy()),
                cost: latest.and_then(|r| r.run.total_cost_usd),
            }
        })
        .collect();
    render(
        &visitor,
        "prompts",
        "evaluation.html",
        context! {
            prompt => prompt_ctx, runs => &rows, selected, versions => version_list,
            gt => &scored.ground_truth_accuracy, f1 => &scored.f1, cost => &scored.cost,
            report => report_rows(&scored.classification_report), confusion => &scored.confusion,
            chart => versions_chart(&points),
        },
    )
}

#[derive(Deserialize)]
struct CompareQuery {
    a: i64,
    b: i64,
}

async fn compare(
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    q: web::Query<CompareQuery>,
) -> PageResult {
    let caller = visitor.caller();
    let prompt = prompt_service::get(&state.db, caller, *id).await?;
    let va = versions::get(&state.db, caller, prompt.id, q.a).await?;
    let vb = versions::get(&state.db, caller, prompt.id, q.b).await?;
    let (_, rows) = versions_and_runs(&state, &visitor, prompt.id).await?;
    let latest = |version: i64| {
        rows.iter()
            .find(|r| r.run.model_version == version && r.run.status == RunStatus::Completed)
            .or_else(|| rows.iter().find(|r| r.run.model_version == version))
    };
    let prompt_ctx = context! { id => prompt.id, title => prompt.title };
    let (a, b) = (
        context! { id => va.id, title => va.title.clone() },
        context! { id => vb.id, title => vb.title.clone() },
    );
    let (Some(ra), Some(rb)) = (latest(va.id), latest(vb.id)) else {
        return render(
            &visitor,
            "prompts",
            "compare.html",
            context! { prompt => prompt_ctx, a, b,
            problem => "Both versions need a run: run each on the same tasks (HasGT) first." },
        );
    };
    // B against A: McNemar's test on the ground-truth tasks both runs answered.
    let test = indicators::indicators(
        &state.db,
        caller,
        rb.run.id,
        Some("version_comparison"),
        Some(ra.run.id),
    )
    .await?
    .pop()
    .and_then(|i| i.values["comparisons"].get(0).cloned())
    .filter(|t| t["paired_tasks"].as_u64().unwrap_or(0) > 0);
    let (found, disagreement_count) =
        run_results::disagreements(&state.db, caller, ra.run.id, rb.run.id, 200).await?;
    let disagreements: Vec<Value> = found
        .into_iter()
        .map(|d| json!({"task_id": d.task_id, "text": summary(&d.data), "a": d.a, "b": d.b, "truth": d.truth}))
        .collect();
    render(
        &visitor,
        "prompts",
        "compare.html",
        context! {
            prompt => prompt_ctx, a, b, test, disagreements, disagreement_count,
            sa => context! { title => va.title.clone(), run => &ra.run, acc => &ra.accuracy, prompt => va.prompt.clone() },
            sb => context! { title => vb.title.clone(), run => &rb.run, acc => &rb.accuracy, prompt => vb.prompt.clone() },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_report_rows_classes_first() {
        let report = json!({
            "Positive": {"precision": 1.0, "recall": 0.5, "f1-score": 0.66, "support": 2},
            "micro avg": {"precision": 1.0, "recall": 0.5, "f1-score": 0.66, "support": 2},
            "Negative": {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0},
        });
        let rows = report_rows(&report);
        let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["Positive", "Negative", "micro avg"]);
        assert_eq!(rows[2]["average"], true);
        assert!(report_rows(&Value::Null).is_empty());
    }
}
