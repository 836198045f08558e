//! Prompt optimization: start one over a version (or estimate it), read one with its
//! candidates, list a prompt's, cancel one.
use super::resource;
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::presenters::optimizations::view;
use crate::respond::{Created, Json};
use crate::services::optimizations as service;
use crate::state::AppState;
use crate::views::optimizations::{OptimizationEstimate, OptimizationInput, OptimizationView};
use actix_web::web;

/// Registers the optimization routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/prompts/{id}/versions/{version_id}/optimizations")
            .route(web::post().to(create_optimization)),
    )
    .service(
        resource("/api/prompts/{id}/versions/{version_id}/optimizations/estimate")
            .route(web::post().to(estimate_optimization)),
    )
    .service(resource("/api/prompts/{id}/optimizations").route(web::get().to(list_optimizations)))
    .service(
        resource("/api/prompts/{id}/optimizations/{optimization_id}")
            .route(web::get().to(get_optimization)),
    )
    .service(
        resource("/api/prompts/{id}/optimizations/{optimization_id}/cancel")
            .route(web::post().to(cancel_optimization)),
    );
}

/// Starts an optimization of a version: the project's ground-truth tasks are split (stratified,
/// seeded, stored) into train and held-out; a teacher model proposes candidate prompts from
/// the failures on train (rewrites of clustered failures, reflective mutations of the best so
/// far) and few-shot candidates are written from train tasks; successive halving on train
/// keeps the best; the best few are scored on the held-out tasks, and one is promoted to a new
/// version only when McNemar's test says it beats the version at `alpha` (divided by the
/// finalists tested). Budgets (`max_cost`, `max_calls`, `max_seconds`) are checked before
/// each step. The optimization is a durable job: it resumes after a crash, and is canceled
/// with `POST .../cancel`. A project with fewer than 10 ground-truth tasks (or fewer than 5
/// held out) is a 400 on `project_id`. Managers and above.
#[utoipa::path(post, path = "/api/prompts/{id}/versions/{version_id}/optimizations", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id")),
    request_body = OptimizationInput,
    responses((status = 201, body = OptimizationView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_optimization(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, i64)>,
    body: ApiJson<OptimizationInput>,
) -> ApiResult<Created<OptimizationView>> {
    let (prompt, version) = path.into_inner();
    let row = service::create(
        &state.db,
        state.engine.prices(),
        &caller,
        prompt,
        version,
        body.0,
    )
    .await?;
    state.engine.wake();
    Ok(Created(view(&state.db, row, true).await?))
}

/// What an optimization with these settings may cost, without starting it: the calls of its
/// schedule when no budget stops it and no candidate is dropped early, at the models' prices,
/// and what a single rewrite (`refine`) costs beside it. `problem` says why it could not run.
#[utoipa::path(post, path = "/api/prompts/{id}/versions/{version_id}/optimizations/estimate", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id")),
    request_body = OptimizationInput,
    responses((status = 200, body = OptimizationEstimate), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn estimate_optimization(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, i64)>,
    body: ApiJson<OptimizationInput>,
) -> ApiResult<Json<OptimizationEstimate>> {
    let (prompt, version) = path.into_inner();
    let e = service::estimate_request(
        &state.db,
        state.engine.prices(),
        &caller,
        prompt,
        version,
        &body.0,
    )
    .await?;
    Ok(Json(e))
}

/// The prompt's optimizations, newest first (at most 100; without their candidates).
#[utoipa::path(get, path = "/api/prompts/{id}/optimizations", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id")),
    responses((status = 200, body = Vec<OptimizationView>), (status = 404, body = ErrorBody)))]
pub async fn list_optimizations(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<Json<Vec<OptimizationView>>> {
    let mut out = vec![];
    for row in service::list(&state.db, &caller, *id).await? {
        out.push(view(&state.db, row, false).await?);
    }
    Ok(Json(out))
}

/// An optimization with its candidates (their train and held-out scores with 95% Wilson
/// intervals, calls and cost), the accuracy/cost front, its progress and its result.
#[utoipa::path(get, path = "/api/prompts/{id}/optimizations/{optimization_id}", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), ("optimization_id" = i64, Path, description = "Optimization id")),
    responses((status = 200, body = OptimizationView), (status = 404, body = ErrorBody)))]
pub async fn get_optimization(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(i64, i64)>,
) -> ApiResult<Json<OptimizationView>> {
    let (prompt, id) = path.into_inner();
    let row = service::get(&state.db, &caller, prompt, id).await?;
    Ok(Json(view(&state.db, row, true).await?))
}

/// Cancels an optimization: a queued one at once, a running one at its worker's next
/// heartbeat (what it spent and found so far stays readable). An ended one is returned
/// unchanged. Managers and above.
#[utoipa::path(post, path = "/api/prompts/{id}/optimizations/{optimization_id}/cancel", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), ("optimization_id" = i64, Path, description = "Optimization id")),
    responses((status = 200, body = OptimizationView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel_optimization(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, i64)>,
) -> ApiResult<Json<OptimizationView>> {
    let (prompt, id) = path.into_inner();
    let row = service::get(&state.db, &caller, prompt, id).await?;
    if row.status.is_open()
        && let Some(job) = row.job_id
    {
        crate::jobs::cancel(&state.engine, &caller, job).await?;
    }
    let row = service::get(&state.db, &caller, prompt, id).await?;
    Ok(Json(view(&state.db, row, true).await?))
}
