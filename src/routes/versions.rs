//! Prompt versions: `/api/prompts/{id}/versions`, `/api/prompts/{id}/versions/{version_id}` and
//! `/api/prompts/{id}/get-default-version-name`.
use super::resource;
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::presenters::versions::views;
use crate::respond::{Created, Json, NoContent, Paged};
use crate::services::versions as service;
use crate::state::AppState;
use crate::views::PageParams;
use crate::views::versions::{
    CalibrationInput, CostEstimateView, DefaultVersionNameView, VersionInput, VersionListQuery,
    VersionView,
};
use actix_web::{HttpRequest, web};
use entity::model_version;

/// Registers the version routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/prompts/{id}/get-default-version-name").route(web::get().to(default_name)),
    )
    .service(
        resource("/api/prompts/{id}/versions")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/api/prompts/{id}/versions/{version_id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(
        resource("/api/prompts/{id}/versions/{version_id}/cost-estimate")
            .route(web::get().to(cost_estimate)),
    )
    .service(
        resource("/api/prompts/{id}/versions/{version_id}/calibration")
            .route(web::post().to(calibrate))
            .route(web::delete().to(uncalibrate)),
    );
}

/// Prompter extension: fits a calibration map (`isotonic` or `temperature`) on a run of this
/// version with scored predictions on at least 20 tasks with ground truth, and stores it on the
/// version: the scores its runs write from then on go through it (the raw score is kept in the
/// prediction's `extra.raw_score`). A new version derived from it starts without one.
#[utoipa::path(post, path = "/api/prompts/{id}/versions/{version_id}/calibration", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id")),
    request_body = CalibrationInput,
    responses((status = 200, body = VersionView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn calibrate(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, i64)>,
    body: ApiJson<CalibrationInput>,
) -> ApiResult<Json<VersionView>> {
    let (prompt, version) = path.into_inner();
    let updated = service::calibrate(&state.db, &caller, prompt, version, body.0).await?;
    Ok(Json(one(&state, updated).await?))
}

/// Prompter extension: removes the version's calibration map; its later scores are used as
/// they come.
#[utoipa::path(delete, path = "/api/prompts/{id}/versions/{version_id}/calibration", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id")),
    responses((status = 200, body = VersionView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn uncalibrate(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, i64)>,
) -> ApiResult<Json<VersionView>> {
    let (prompt, version) = path.into_inner();
    let updated = service::uncalibrate(&state.db, &caller, prompt, version).await?;
    Ok(Json(one(&state, updated).await?))
}

async fn one(state: &AppState, version: model_version::Model) -> ApiResult<VersionView> {
    views(state, vec![version])
        .await?
        .pop()
        .ok_or(crate::error::ApiError::NotFound)
}

/// The name a new version of the prompt gets by default: `v{n+1}`, free within the prompt.
#[utoipa::path(get, path = "/api/prompts/{id}/get-default-version-name", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id")),
    responses((status = 200, body = DefaultVersionNameView), (status = 404, body = ErrorBody)))]
pub async fn default_name(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<Json<DefaultVersionNameView>> {
    let name = service::default_name(&state.db, &caller, *id).await?;
    Ok(Json(DefaultVersionNameView {
        default_model_version_name: name,
        message: None,
    }))
}

/// The versions of a prompt (a bare list), paginated by `page` and `page_size` (1,000 a page
/// by default and at most); the total is in `X-Total-Count` and the other pages in `Link`.
#[utoipa::path(get, path = "/api/prompts/{id}/versions", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), VersionListQuery, PageParams),
    responses((status = 200, body = Vec<VersionView>, headers(
        ("X-Total-Count" = u64, description = "Versions over all pages"),
        ("Link" = String, description = "The next and previous pages (RFC 8288)"))),
        (status = 404, body = ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
    query: web::Query<VersionListQuery>,
    paging: web::Query<PageParams>,
) -> ApiResult<Paged<VersionView>> {
    use crate::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
    let request = paging.resolve(DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
    let (items, count, page) =
        service::list_page(&state.db, &caller, *id, query.ordering.as_deref(), request).await?;
    let views = views(&state, items).await?;
    Ok(Paged::new(&req, page, count, views))
}

/// Creates a version: a prompt template bound to a provider model.
#[utoipa::path(post, path = "/api/prompts/{id}/versions", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id")), request_body = VersionInput,
    responses((status = 201, body = VersionView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
    body: ApiJson<VersionInput>,
) -> ApiResult<Created<VersionView>> {
    let created = service::create(&state.db, &caller, *id, body.0).await?;
    Ok(Created(one(&state, created).await?))
}

/// One version.
#[utoipa::path(get, path = "/api/prompts/{id}/versions/{version_id}", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id")),
    responses((status = 200, body = VersionView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(i64, i64)>,
) -> ApiResult<Json<VersionView>> {
    let (prompt, version) = path.into_inner();
    let found = service::get(&state.db, &caller, prompt, version).await?;
    Ok(Json(one(&state, found).await?))
}

/// Partial update of a version.
#[utoipa::path(patch, path = "/api/prompts/{id}/versions/{version_id}", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id")),
    request_body = VersionInput,
    responses((status = 200, body = VersionView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, i64)>,
    body: ApiJson<VersionInput>,
) -> ApiResult<Json<VersionView>> {
    let (prompt, version) = path.into_inner();
    let updated = service::update(&state.db, &caller, prompt, version, body.0).await?;
    Ok(Json(one(&state, updated).await?))
}

/// Deletes a version with its runs and their predictions; other predictions stay.
#[utoipa::path(delete, path = "/api/prompts/{id}/versions/{version_id}", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Manager,
    path: web::Path<(i64, i64)>,
) -> ApiResult<NoContent> {
    let (prompt, version) = path.into_inner();
    service::delete(&state.db, &caller, prompt, version).await?;
    Ok(NoContent)
}

/// Estimates what running the version over its prompt's first associated project (All
/// tasks) costs: the rendered prompts' tokens (counted on up to 1,000 tasks, extrapolated)
/// and a typical answer's, priced by the price table. Images (image projects) count by the
/// provider's rules for their size, read from up to 20 of them (an unreadable one counts as
/// 1024×1024, see `images_assumed`). An unknown model answers 200 with `is_error`.
#[utoipa::path(get, path = "/api/prompts/{id}/versions/{version_id}/cost-estimate", tag = "versions",
    params(("id" = i64, Path, description = "Prompt id"), ("version_id" = i64, Path, description = "Version id")),
    responses((status = 200, body = CostEstimateView), (status = 404, body = ErrorBody)))]
pub async fn cost_estimate(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(i64, i64)>,
) -> ApiResult<Json<CostEstimateView>> {
    let (prompt, version) = path.into_inner();
    let estimate =
        crate::engine::use_cases::estimate(&state.engine, &caller, prompt, version).await?;
    Ok(Json(estimate))
}
