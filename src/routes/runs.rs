//! Inference runs: list, create and cancel under a version, and the result callbacks
//! `/api/model-run/batch-predictions` and `/api/model-run/batch-failed-predictions`.
use super::resource;
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::presenters::runs::views;
use crate::respond::{Created, Json};
use crate::services::results::{self, FailureResult, PredictionResult, RunContext};
use crate::services::runs::{self as service, ListFilter};
use crate::state::AppState;
use crate::views::runs::{
    BatchFailedInput, BatchFailedView, BatchPredictionsInput, BatchPredictionsView, BatchQuery,
    CancelView, RunInput, RunListQuery, RunView,
};
use actix_web::web;
use entity::enums::FailureKind;
use serde_json::Value;

/// Registers the run routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/prompts/{id}/versions/{version_id}/inference-runs")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/api/prompts/{id}/versions/{version_id}/inference-runs/{run_id}/cancel")
            .route(web::post().to(cancel)),
    )
    .service(resource("/api/model-run/batch-predictions").route(web::post().to(batch_predictions)))
    .service(
        resource("/api/model-run/batch-failed-predictions")
            .route(web::post().to(batch_failed_predictions)),
    );
}

/// The runs of a version (a bare list, newest first).
#[utoipa::path(get, path = "/api/prompts/{id}/versions/{version_id}/inference-runs", tag = "runs",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id"), RunListQuery),
    responses((status = 200, body = Vec<RunView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(i64, i64)>,
    query: web::Query<RunListQuery>,
) -> ApiResult<Json<Vec<RunView>>> {
    let (prompt, version) = path.into_inner();
    if query.parent_model.is_some_and(|p| p != prompt) {
        return Ok(Json(Vec::<RunView>::new()));
    }
    let query = query.into_inner();
    let filter = ListFilter {
        project: query.project,
        project_subset: query.project_subset,
        ordering: query.ordering,
    };
    let runs = service::list(&state.db, &caller, prompt, version, &filter).await?;
    Ok(Json(views(&state, prompt, runs).await?))
}

/// Creates a run: resolves the subset to tasks once, replaces the previous run of the same
/// project, version and subset (and its predictions), and answers at once; the engine
/// executes it.
#[utoipa::path(post, path = "/api/prompts/{id}/versions/{version_id}/inference-runs", tag = "runs",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id")),
    request_body = RunInput,
    responses((status = 201, body = RunView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, i64)>,
    body: ApiJson<RunInput>,
) -> ApiResult<Created<RunView>> {
    let (prompt, version) = path.into_inner();
    let run =
        crate::engine::use_cases::start_run(&state.engine, &caller, prompt, version, body.0, "api")
            .await?;
    let view = views(&state, prompt, vec![run])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Created(view))
}

/// Cancels a Pending or InProgress run; stored predictions are kept. A finished run answers
/// 200 too, with an explanation, and keeps its status.
#[utoipa::path(post, path = "/api/prompts/{id}/versions/{version_id}/inference-runs/{run_id}/cancel", tag = "runs",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id"), ("run_id" = i64, Path, description = "Run id")),
    responses((status = 200, body = CancelView), (status = 404, body = ErrorBody)))]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, i64, i64)>,
) -> ApiResult<Json<CancelView>> {
    let (prompt, version, run) = path.into_inner();
    let detail = service::cancel(&state.db, &caller, prompt, version, run).await?;
    Ok(Json(CancelView { detail }))
}

const SYSTEM_KEYS: [&str; 13] = [
    "task_id",
    "error",
    "message",
    "details",
    "prompt_tokens",
    "completion_tokens",
    "prompt_cost_usd",
    "completion_cost_usd",
    "total_cost_usd",
    "message_counts",
    "inference_time",
    "output",
    "data",
];

fn int(item: &Value, key: &str) -> Option<i64> {
    item.get(key).and_then(Value::as_i64)
}

fn float(item: &Value, key: &str) -> Option<f64> {
    item.get(key).and_then(Value::as_f64)
}

/// Splits Adala-style items into successes and failures; items without a task id are dropped.
fn read_items(items: &[Value]) -> (Vec<PredictionResult>, Vec<FailureResult>, usize) {
    let (mut ok, mut failed, mut dropped) = (vec![], vec![], 0);
    for item in items {
        let Some(task_id) = int(item, "task_id") else {
            dropped += 1;
            continue;
        };
        if item.get("error").and_then(Value::as_bool).unwrap_or(false) {
            failed.push(FailureResult {
                task_id,
                message: item
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the worker reported an error")
                    .to_string(),
                error_type: item
                    .get("details")
                    .and_then(Value::as_str)
                    .map_or(FailureKind::ProviderError, FailureKind::from_name),
                inference_time: float(item, "inference_time"),
                prompt_tokens: int(item, "prompt_tokens"),
                completion_tokens: int(item, "completion_tokens"),
                total_cost: float(item, "total_cost_usd"),
            });
            continue;
        }
        let output = match item.get("output") {
            Some(output) => output.clone(),
            None => Value::Object(
                item.as_object()
                    .map(|m| {
                        m.iter()
                            .filter(|(k, _)| !SYSTEM_KEYS.contains(&k.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
        };
        ok.push(PredictionResult {
            task_id,
            output,
            prompt_tokens: int(item, "prompt_tokens"),
            completion_tokens: int(item, "completion_tokens"),
            prompt_cost: float(item, "prompt_cost_usd"),
            completion_cost: float(item, "completion_cost_usd"),
            total_cost: float(item, "total_cost_usd"),
            inference_time: float(item, "inference_time"),
            extra: item
                .get("message_counts")
                .map(|m| serde_json::json!({"message_counts": m})),
            ..Default::default()
        });
    }
    (ok, failed, dropped)
}

async fn run_context(
    state: &AppState,
    caller: &AuthUser,
    run_id: Option<i64>,
) -> ApiResult<RunContext> {
    let run_id = run_id.ok_or_else(|| ApiError::field("modelrun_id", "This field is required."))?;
    let run = service::get(&state.db, caller, run_id).await?;
    RunContext::load(&state.db, run).await
}

/// Stores predictions of a run (idempotent per task); outputs that do not fit the label
/// config become `InvalidOutput` failures. Updates counters, accuracy, cost and status.
#[utoipa::path(post, path = "/api/model-run/batch-predictions", tag = "runs", params(BatchQuery),
    request_body = BatchPredictionsInput,
    responses((status = 201, body = BatchPredictionsView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn batch_predictions(
    state: web::Data<AppState>,
    caller: Manager,
    body: ApiJson<BatchPredictionsInput>,
) -> ApiResult<Created<BatchPredictionsView>> {
    let input = body.0;
    let ctx = run_context(&state, &caller, input.modelrun_id).await?;
    let (ok, failed, dropped) = read_items(&input.results);
    let outcome = results::write_batch(&state.db, &ctx, ok, failed).await?;
    tracing::info!(
        run = ctx.run.id,
        predictions = outcome.predictions,
        failures = outcome.failures,
        skipped = outcome.skipped + dropped,
        "batch of predictions"
    );
    Ok(Created(BatchPredictionsView {
        job_id: ctx.run.job_id.clone().unwrap_or_default(),
        results: input.results,
    }))
}

/// Stores failures of a run (idempotent per task; a task with a prediction keeps it).
#[utoipa::path(post, path = "/api/model-run/batch-failed-predictions", tag = "runs", params(BatchQuery),
    request_body = BatchFailedInput,
    responses((status = 201, body = BatchFailedView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn batch_failed_predictions(
    state: web::Data<AppState>,
    caller: Manager,
    body: ApiJson<BatchFailedInput>,
) -> ApiResult<Created<BatchFailedView>> {
    let input = body.0;
    let ctx = run_context(&state, &caller, input.modelrun_id).await?;
    let failures: Vec<FailureResult> = input
        .failed_predictions
        .iter()
        .filter_map(|item| {
            Some(FailureResult {
                task_id: int(item, "task_id")?,
                message: item
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                error_type: item
                    .get("error_type")
                    .and_then(Value::as_str)
                    .map_or(FailureKind::ProviderError, FailureKind::from_name),
                inference_time: float(item, "inference_time"),
                prompt_tokens: int(item, "prompt_tokens"),
                completion_tokens: int(item, "completion_tokens"),
                total_cost: float(item, "total_cost_usd"),
            })
        })
        .collect();
    let outcome = results::write_batch(&state.db, &ctx, vec![], failures).await?;
    tracing::info!(
        run = ctx.run.id,
        failures = outcome.failures,
        skipped = outcome.skipped,
        "batch of failed predictions"
    );
    Ok(Created(BatchFailedView {
        job_id: ctx.run.job_id.clone().unwrap_or_default(),
        failed_predictions: input.failed_predictions,
    }))
}
