//! The job queue: `GET /api/jobs/`, `GET /api/jobs/{id}/` and `POST /api/jobs/{id}/cancel`.
use super::resource;
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::pagination::page_links;
use crate::presenters::jobs::views;
use crate::respond::Json;
use crate::services::jobs::{self as service, ListFilter};
use crate::state::AppState;
use crate::views::jobs::{JobListQuery, JobView};
use crate::views::{PageParams, Paginated};
use actix_web::{HttpRequest, web};
use entity::enums::{JobKind, JobStatus};

/// Registers the job routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/jobs").route(web::get().to(list)))
        .service(resource("/api/jobs/{id}").route(web::get().to(get)))
        .service(resource("/api/jobs/{id}/cancel").route(web::post().to(cancel)));
}

/// A filter value: absent or empty is no filter; anything else must be a known name.
fn choice<T>(
    raw: Option<&str>,
    field: &str,
    parse: fn(&str) -> Option<T>,
    invalid: fn(&str) -> String,
) -> ApiResult<Option<T>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(name) => parse(name)
            .map(Some)
            .ok_or_else(|| ApiError::field(field, invalid(name))),
    }
}

/// The jobs of the caller's organization, newest first, paginated (50 per page by default):
/// every piece of background work (inference runs, refinements, Label Studio syncs and
/// pushes, ML-backend events, schedule firings) in one id space, filtered by `kind` and
/// `status`. Any member.
#[utoipa::path(get, path = "/api/jobs/", tag = "jobs", params(PageParams, JobListQuery),
    responses((status = 200, body = Paginated<JobView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<JobListQuery>,
) -> ApiResult<Json<Paginated<JobView>>> {
    let request = paging.resolve(50, 500)?;
    let filter = ListFilter {
        kind: choice(
            query.kind.as_deref(),
            "kind",
            JobKind::parse,
            JobKind::invalid_choice,
        )?,
        status: choice(
            query.status.as_deref(),
            "status",
            JobStatus::parse,
            JobStatus::invalid_choice,
        )?,
    };
    let (rows, count, page) = service::list(&state.db, &caller, &filter, request).await?;
    let (next, previous) = page_links(&req, page, count);
    Ok(Json(Paginated {
        count,
        next,
        previous,
        results: views(&state.db, rows).await?,
    }))
}

/// A job of the caller's organization (another organization's answers 404). Any member.
#[utoipa::path(get, path = "/api/jobs/{id}/", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<Json<JobView>> {
    let row = service::get(&state.db, &caller, *id).await?;
    let view = views(&state.db, vec![row])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Json(view))
}

/// Cancels a job: a queued one at once; a running one stops at its worker's next heartbeat
/// (a third of the lease), with `cancel_requested` true until then; an inference run's job
/// cancels the run. A job that has ended is returned unchanged. Managers and above.
#[utoipa::path(post, path = "/api/jobs/{id}/cancel", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
) -> ApiResult<Json<JobView>> {
    let row = crate::jobs::cancel(&state.engine, &caller, *id).await?;
    let view = views(&state.db, vec![row])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Json(view))
}
