//! The subset-tasks drill-down and the indicators as tests read them. A subset-tasks page is
//! a [`SubsetTasksView`] whose one page object (`{task_count, next_cursor, previous_cursor,
//! task_result_list}`, the SDK's nesting) the server builds as JSON, so it is read here into
//! test-side structs that refuse unknown keys (an extra or renamed key fails the test). An
//! indicator is an [`IndicatorView`] whose `values` are Label Studio's (and Prompter's) JSON
//! shapes, with no view type: tests keep them raw.
use super::reply::read;
use super::{Reply, TestApp};
use entity::enums::FailureKind;
use prompter::views::evaluation::{IndicatorView, SubsetTasksView};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The page object of a subset-tasks page.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskPage {
    /// Matching tasks; absent with `include_total=false`.
    pub task_count: Option<u64>,
    /// Always null.
    pub next_cursor: Option<String>,
    /// Always null.
    pub previous_cursor: Option<String>,
    /// The tasks of the page.
    pub task_result_list: Vec<SubsetTask>,
}

/// One task of a subset-tasks page.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsetTask {
    /// Task id.
    pub id: i64,
    /// Task data.
    pub data: Value,
    /// The shown run's prediction.
    pub prediction: Option<SubsetPrediction>,
    /// The ground truth.
    pub ground_truth: Option<SubsetGroundTruth>,
    /// Per-task score when both exist.
    pub score: Option<f64>,
    /// The failure.
    pub error: Option<SubsetError>,
    /// Closeness per Rating/Number control, when there is any.
    pub closeness: Option<BTreeMap<String, f64>>,
}

/// The prediction of a subset task.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsetPrediction {
    /// Prediction id.
    pub id: i64,
    /// Label Studio regions.
    pub result: Value,
    /// Score.
    pub score: Option<f64>,
    /// Model version label.
    pub model_version: String,
    /// The run that made it.
    pub model_run: Option<i64>,
    /// Spans dropped from the answer, when any.
    pub dropped_spans: Option<u64>,
}

/// The ground truth of a subset task.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsetGroundTruth {
    /// Annotation id.
    pub id: i64,
    /// Label Studio regions.
    pub result: Value,
}

/// The failure of a subset task.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsetError {
    /// What went wrong.
    pub message: Option<String>,
    /// Its kind.
    pub error_type: Option<FailureKind>,
}

impl SubsetError {
    /// The failure `message` of kind `error_type`.
    pub fn new(message: &str, error_type: FailureKind) -> SubsetError {
        SubsetError {
            message: Some(message.into()),
            error_type: Some(error_type),
        }
    }
}

/// The page object of `page` (its one `results` element).
pub fn task_page(page: &SubsetTasksView) -> TaskPage {
    assert_eq!(page.results.len(), 1, "one page object: {:?}", page.results);
    read(page.results[0].clone())
}

/// The tasks of a subset-tasks page.
pub fn task_list(page: &SubsetTasksView) -> Vec<SubsetTask> {
    task_page(page).task_result_list
}

/// The task ids of a subset-tasks page.
pub fn task_ids(page: &SubsetTasksView) -> Vec<i64> {
    task_list(page).iter().map(|t| t.id).collect()
}

/// The subset-tasks page of `project` for `query` (asserts 200).
pub async fn subset_tasks(app: &TestApp, project: i64, query: &str) -> SubsetTasksView {
    app.get(&format!("/api/projects/{project}/subset-tasks?{query}"))
        .await
        .good()
}

/// The values of indicator `key` of `run`, `query` appended to the path (asserts 200, the
/// key and a title).
pub async fn indicator_values(app: &TestApp, run: i64, key: &str, query: &str) -> Value {
    let indicator: IndicatorView = app
        .get(&format!(
            "/api/inference-runs/{run}/indicators/{key}{query}"
        ))
        .await
        .good();
    assert_eq!(indicator.key, key);
    assert!(!indicator.title.is_empty(), "{indicator:?}");
    indicator.values
}
