//! Evaluation of a prompt: accuracy with its confidence interval, F1, the per-class report and
//! the confusion matrix of a run; accuracy and cost across versions as a chart; two versions
//! side by side with the tasks where they disagree and McNemar's test.
use super::{Link, Titled, summary};
use crate::error::ApiError;
use crate::presenters::runs::{AccuracyView, CostPerCorrectView};
use crate::services::run_results;
use crate::services::run_scores::Confusion;
use crate::services::{indicators, prompts as prompt_service, runs, versions};
use crate::state::AppState;
use crate::views::runs::RunView;
use crate::web::page::{Frame, Page, PageResult, render};
use crate::web::problems::Problem;
use crate::web::svg::{ChartPoint, has_cost, versions_chart};
use crate::web::{PageError, Visitor};
use actix_web::web;
use entity::enums::RunStatus;
use entity::model_version;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Registers `/prompts/{id}/evaluation` and `/prompts/{id}/compare`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/prompts/{id}/evaluation", web::get().to(evaluation))
        .route("/prompts/{id}/compare", web::get().to(compare));
}

/// A run of the evaluation table, with its accuracy and its cost per correct label by the one
/// definition of each.
#[derive(Serialize)]
struct RunRow {
    #[serde(flatten)]
    run: RunView,
    version_title: String,
    accuracy: AccuracyView,
    cost_per_task: Option<f64>,
    cost_per_correct: CostPerCorrectView,
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
                cost_per_correct: crate::presenters::runs::cost_per_correct(&run, None),
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

/// The evaluation page: every run of the prompt's versions with the one `selected` scored
/// in full (accuracy, F1, cost, per-class report, confusion matrix), the chart across
/// versions and the form comparing two. Before any run, only `prompt` and `runs` are read.
#[derive(Serialize)]
struct EvaluationPage<'a> {
    prompt: Link,
    runs: &'a [RunRow],
    /// The chart of accuracy and cost across versions (SVG).
    chart: String,
    /// Whether the chart has a cost line: some version's latest run has a known cost.
    chart_has_cost: bool,
    selected: Option<&'a RunRow>,
    gt: Option<GroundTruth>,
    f1: Option<F1>,
    cost: Option<Cost>,
    report: Vec<ReportRow>,
    confusion: Option<&'a Confusion>,
    /// The versions to compare, newest first.
    versions: Vec<Link>,
    /// The versions the compare form has chosen.
    compare_form: CompareChoice,
}

/// The two versions the compare form shows chosen: the two newest, or as sent.
#[derive(Debug, Default, Clone, Copy, Serialize)]
struct CompareChoice {
    a: Option<i64>,
    b: Option<i64>,
}

impl Page for EvaluationPage<'_> {
    const TEMPLATE: &'static str = "evaluation.html";
}

/// What the page reads of a run's `ground_truth_accuracy` values.
#[derive(Serialize, Deserialize)]
struct GroundTruth {
    /// Ground-truth tasks the run did not answer.
    unanswered: u64,
}

/// What the page reads of a run's `f1` values.
#[derive(Serialize, Deserialize)]
struct F1 {
    macro_f1: Option<f64>,
    micro_f1: Option<f64>,
}

/// What the page reads of a run's `cost` values.
#[derive(Serialize, Deserialize)]
struct Cost {
    /// Unknown when the model has no price.
    total_cost_usd: Option<f64>,
    total_tokens: i64,
}

/// What the page reads of a `version_comparison` entry: McNemar's test of B against A.
#[derive(Serialize, Deserialize)]
struct Comparison {
    paired_tasks: u64,
    only_this_correct: u64,
    only_baseline_correct: u64,
    p_value: f64,
    significant: bool,
}

/// `values` (an indicator's, named `what`) read as `T`: a key renamed there fails the page.
fn read<T: DeserializeOwned>(what: &str, values: &Value) -> Result<T, ApiError> {
    T::deserialize(values).map_err(|e| ApiError::Internal(format!("{what} values: {e}")))
}

/// A row of the per-class report.
#[derive(Debug, Serialize)]
struct ReportRow {
    name: String,
    precision: Option<f64>,
    recall: Option<f64>,
    f1: Option<f64>,
    support: Option<u64>,
    /// An average row (after the classes).
    average: bool,
}

/// Rows of a classification report (`{class: {precision, recall, f1-score, support}}`), the
/// classes first, then the averages.
fn report_rows(report: &Value) -> Vec<ReportRow> {
    let Some(map) = report.as_object() else {
        return vec![];
    };
    let row = |name: &str, m: &Value, average: bool| ReportRow {
        name: name.to_string(),
        precision: m["precision"].as_f64(),
        recall: m["recall"].as_f64(),
        f1: m["f1-score"].as_f64(),
        support: m["support"].as_u64(),
        average,
    };
    let is_average = |k: &str| k.ends_with(" avg");
    let mut rows: Vec<ReportRow> = map
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
    evaluation_page(&state, &visitor, *id, q.run, None, vec![]).await
}

/// The evaluation page of the prompt `prompt_id` with run `run` scored in full (the newest
/// completed when none), its compare form showing `compare` (the two newest versions when
/// none) and `errors`.
async fn evaluation_page(
    state: &AppState,
    visitor: &Visitor,
    prompt_id: i64,
    run: Option<i64>,
    compare: Option<CompareChoice>,
    errors: Vec<Problem>,
) -> PageResult {
    let caller = visitor.caller();
    let prompt = prompt_service::get(&state.db, caller, prompt_id).await?;
    let (all_versions, rows) = versions_and_runs(state, visitor, prompt.id).await?;
    let prompt_link = Link {
        id: prompt.id,
        title: prompt.title,
    };
    let versions: Vec<Link> = all_versions
        .iter()
        .rev()
        .map(|v| Link {
            id: v.id,
            title: v.title.clone(),
        })
        .collect();
    let compare_form = compare.unwrap_or(CompareChoice {
        a: versions.get(1).map(|v| v.id),
        b: versions.first().map(|v| v.id),
    });
    let frame = Frame::of(visitor, "prompts").with_problems(errors);
    if rows.is_empty() {
        let page = EvaluationPage {
            prompt: prompt_link,
            runs: &rows,
            chart: String::new(),
            chart_has_cost: false,
            selected: None,
            gt: None,
            f1: None,
            cost: None,
            report: vec![],
            confusion: None,
            versions,
            compare_form,
        };
        return render(frame, &page);
    }
    let selected = match run {
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
    let page = EvaluationPage {
        prompt: prompt_link,
        runs: &rows,
        chart: versions_chart(&points),
        chart_has_cost: has_cost(&points),
        selected: Some(selected),
        gt: Some(read(
            "ground_truth_accuracy",
            &scored.ground_truth_accuracy,
        )?),
        f1: Some(read("f1", &scored.f1)?),
        cost: Some(read("cost", &scored.cost)?),
        report: report_rows(&scored.classification_report),
        confusion: Some(&scored.confusion),
        versions,
        compare_form,
    };
    render(frame, &page)
}

/// The compare form as sent: each version's id as text, so that a value that is not one
/// comes back to the form instead of failing the address.
#[derive(Deserialize)]
struct CompareQuery {
    #[serde(default)]
    a: Option<String>,
    #[serde(default)]
    b: Option<String>,
}

/// Two versions side by side: the latest run of each, McNemar's test of B against A and the
/// tasks where they disagree; or the `problem` when one has no run.
#[derive(Serialize)]
struct ComparePage<'a> {
    prompt: Link,
    a: Titled,
    b: Titled,
    problem: Option<&'static str>,
    sa: Option<Side<'a>>,
    sb: Option<Side<'a>>,
    /// None without a ground-truth task both runs answered.
    test: Option<Comparison>,
    disagreement_count: u64,
    /// The first 200 of them.
    disagreements: Vec<DisagreementRow>,
}

impl Page for ComparePage<'_> {
    const TEMPLATE: &'static str = "compare.html";
}

/// One side of a comparison: the version's title and prompt, its run and that run's accuracy
/// and cost per correct label.
#[derive(Serialize)]
struct Side<'a> {
    title: String,
    run: &'a RunView,
    acc: &'a AccuracyView,
    cpc: &'a CostPerCorrectView,
    prompt: String,
}

/// A task the two runs answered differently.
#[derive(Serialize)]
struct DisagreementRow {
    task_id: i64,
    /// Its data in one line.
    text: String,
    a: Vec<String>,
    b: Vec<String>,
    truth: Vec<String>,
}

/// The two versions of the compare form, or its problems: each must be a version of the
/// prompt, and they must differ.
async fn compare_choice(
    state: &AppState,
    visitor: &Visitor,
    prompt_id: i64,
    q: &CompareQuery,
) -> Result<(model_version::Model, model_version::Model), (CompareChoice, Vec<Problem>)> {
    let caller = visitor.caller();
    let a = q.a.as_deref().and_then(|v| v.trim().parse::<i64>().ok());
    let b = q.b.as_deref().and_then(|v| v.trim().parse::<i64>().ok());
    let choice = CompareChoice { a, b };
    let mut found = vec![];
    let mut errors = vec![];
    for (side, id, input) in [("A", a, "compare-a"), ("B", b, "compare-b")] {
        let label = format!("Version {side}");
        let version = match id {
            Some(id) => versions::get(&state.db, caller, prompt_id, id).await.ok(),
            None => None,
        };
        match version {
            Some(v) => found.push(v),
            None => errors.push(Problem::at(
                input,
                &label,
                format!("Choose version {side} from the list of this prompt's versions."),
            )),
        }
    }
    match (found.pop(), found.pop()) {
        (Some(vb), Some(va)) if errors.is_empty() => {
            if va.id == vb.id {
                let count = versions::list(&state.db, caller, prompt_id, None)
                    .await
                    .map(|all| all.len())
                    .unwrap_or(0);
                let message = if count < 2 {
                    format!(
                        "Choose two different versions: this prompt has one, {}. Save a second \
                         version from the prompt's page (edit it, then Save as new version), \
                         run it, and compare the two.",
                        va.title
                    )
                } else {
                    format!(
                        "Choose two different versions: A and B are both {}. Pick another for \
                         B to see where they disagree.",
                        va.title
                    )
                };
                return Err((choice, vec![Problem::at("compare-b", "Version B", message)]));
            }
            Ok((va, vb))
        }
        _ => Err((choice, errors)),
    }
}

async fn compare(
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    q: web::Query<CompareQuery>,
) -> PageResult {
    let caller = visitor.caller();
    let prompt = prompt_service::get(&state.db, caller, *id).await?;
    let (va, vb) = match compare_choice(&state, &visitor, prompt.id, &q).await {
        Ok(pair) => pair,
        Err((choice, errors)) => {
            return evaluation_page(&state, &visitor, prompt.id, None, Some(choice), errors).await;
        }
    };
    let (_, rows) = versions_and_runs(&state, &visitor, prompt.id).await?;
    let latest = |version: i64| {
        rows.iter()
            .find(|r| r.run.model_version == version && r.run.status == RunStatus::Completed)
            .or_else(|| rows.iter().find(|r| r.run.model_version == version))
    };
    let prompt_link = Link {
        id: prompt.id,
        title: prompt.title,
    };
    let (a, b) = (
        Titled {
            title: va.title.clone(),
        },
        Titled {
            title: vb.title.clone(),
        },
    );
    let (Some(ra), Some(rb)) = (latest(va.id), latest(vb.id)) else {
        let page = ComparePage {
            prompt: prompt_link,
            a,
            b,
            problem: Some("Both versions need a run: run each on the same tasks (HasGT) first."),
            sa: None,
            sb: None,
            test: None,
            disagreement_count: 0,
            disagreements: vec![],
        };
        return render(Frame::of(&visitor, "prompts"), &page);
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
    .map(|t| read::<Comparison>("version_comparison", &t))
    .transpose()?
    .filter(|t| t.paired_tasks > 0);
    let (found, disagreement_count) =
        run_results::disagreements(&state.db, caller, ra.run.id, rb.run.id, 200).await?;
    let disagreements = found
        .into_iter()
        .map(|d| DisagreementRow {
            task_id: d.task_id,
            text: summary(&d.data),
            a: d.a,
            b: d.b,
            truth: d.truth,
        })
        .collect();
    let page = ComparePage {
        prompt: prompt_link,
        a,
        b,
        problem: None,
        sa: Some(Side {
            title: va.title.clone(),
            run: &ra.run,
            acc: &ra.accuracy,
            cpc: &ra.cost_per_correct,
            prompt: va.prompt.clone(),
        }),
        sb: Some(Side {
            title: vb.title.clone(),
            run: &rb.run,
            acc: &rb.accuracy,
            cpc: &rb.cost_per_correct,
            prompt: vb.prompt.clone(),
        }),
        test,
        disagreement_count,
        disagreements,
    };
    render(Frame::of(&visitor, "prompts"), &page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn orders_report_rows_classes_first() {
        let report = json!({
            "Positive": {"precision": 1.0, "recall": 0.5, "f1-score": 0.66, "support": 2},
            "micro avg": {"precision": 1.0, "recall": 0.5, "f1-score": 0.66, "support": 2},
            "Negative": {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0},
        });
        let rows = report_rows(&report);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, vec!["Positive", "Negative", "micro avg"]);
        assert!(rows[2].average && !rows[0].average);
        assert_eq!(rows[0].support, Some(2));
        assert_eq!(rows[0].recall, Some(0.5));
        assert!(report_rows(&Value::Null).is_empty());
    }
}
