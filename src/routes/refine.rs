//! Prompt refinement: `POST` and `GET /api/prompts/{id}/versions/{version_id}/refine`
//! (`versions.refine_prompt` and `versions.get_refined_prompt`).
use super::resource;
use crate::auth::{AuthUser, Manager};
use crate::engine::refine as service;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, parse_bool};
use crate::presenters::versions::views;
use crate::respond::{Accepted, Created, Either, Json};
use crate::services::versions;
use crate::state::AppState;
use crate::views::refine::{RefineInput, RefineQuery, RefinedPromptView, RefinedQuery};
use actix_web::web;
use entity::model_refinement;

/// How long `async=false` waits for the end before answering with the job as it is.
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Registers the refinement routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/prompts/{id}/versions/{version_id}/refine")
            .route(web::post().to(refine_prompt))
            .route(web::get().to(get_refined_prompt)),
    );
}

/// The view of `refinement` with its previous version as `GET .../versions/{id}` shows it.
async fn view(
    state: &AppState,
    caller: &AuthUser,
    refinement: model_refinement::Model,
) -> ApiResult<RefinedPromptView> {
    let previous = versions::get(
        &state.db,
        caller,
        refinement.prompt_id,
        refinement.previous_version_id,
    )
    .await?;
    let previous = views(state, vec![previous]).await?.pop();
    Ok(RefinedPromptView::new(refinement, previous))
}

/// Refines a version's prompt with a teacher model into a new version of the same prompt.
///
/// The teacher sees the project's label config, the current prompt and up to 20 tasks with
/// ground truth, with the version's predictions from its newest run on the project. The new
/// version keeps the previous one's provider, model, connection and few-shot setting, and
/// takes the title the teacher proposes when it is free (else the default `v{n}`). A refined
/// prompt that reads a task-data field that neither the current prompt reads nor the project
/// has is rejected: the job ends `Failed` with `error_message`. With `async=true` (the
/// default) the answer comes at once with status `Pending` and `prompt: ""`; poll with `GET`
/// and the job id. With `async=false` the answer waits for the end (`Completed` or `Failed`).
/// Managers and above.
#[utoipa::path(post, path = "/api/prompts/{id}/versions/{version_id}/refine", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id"), RefineQuery),
    request_body = RefineInput,
    responses((status = 201, body = RefinedPromptView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn refine_prompt(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, i64)>,
    query: web::Query<RefineQuery>,
    body: ApiJson<RefineInput>,
) -> ApiResult<Created<RefinedPromptView>> {
    let run_async = match query.run_async.as_deref() {
        None | Some("") => true,
        Some(raw) => {
            parse_bool(raw).ok_or_else(|| ApiError::field("async", "Must be true or false."))?
        }
    };
    let (prompt, version) = path.into_inner();
    // The work is a job of the queue in both modes, so that a client that hangs up on a
    // synchronous call does not leave it half done, and any worker can run it.
    let pending = service::create(&state.db, &caller, prompt, version, body.0).await?;
    state.engine.wake();
    let refinement = if run_async {
        pending
    } else {
        service::wait_end(&state.engine, pending.id, SYNC_WAIT).await?
    };
    Ok(Created(view(&state, &caller, refinement).await?))
}

/// A refinement job: 200 once it is `Completed` or `Failed`, 202 while it runs.
///
/// 202 answers while the job is `Pending` or `InProgress`. An unknown job, or a job of another
/// version, answers 404. A job whose worker stopped is taken over by another worker (see
/// `GET /api/jobs/`).
#[utoipa::path(get, path = "/api/prompts/{id}/versions/{version_id}/refine", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id"), RefinedQuery),
    responses((status = 200, body = RefinedPromptView), (status = 202, body = RefinedPromptView),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_refined_prompt(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(i64, i64)>,
    query: web::Query<RefinedQuery>,
) -> ApiResult<Either<Accepted<RefinedPromptView>, Json<RefinedPromptView>>> {
    let (prompt, version) = path.into_inner();
    let job_id = query
        .refinement_job_id
        .as_deref()
        .map(str::trim)
        .filter(|j| !j.is_empty())
        .ok_or_else(|| ApiError::field("refinement_job_id", "This field is required."))?;
    let found = service::get(&state.db, &caller, prompt, version, job_id).await?;
    let running = service::is_running(&found.status);
    let body = view(&state, &caller, found).await?;
    Ok(if running {
        Either::Left(Accepted(body))
    } else {
        Either::Right(Json(body))
    })
}
