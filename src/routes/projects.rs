//! Projects: `/api/projects/`, `/api/projects/{id}/`, import and label-config validation.
use super::{page_links, parse_ids, resource};
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, parse_bool};
use crate::presenters::projects::views;
use crate::respond::{Created, Json, NoContent};
use crate::services::projects::{self as service, ListFilter, config_of};
use crate::services::tasks;
use crate::state::AppState;
use crate::views::projects::{
    ImportQuery, ImportView, LabelConfigInput, LabelConfigView, ProjectInput, ProjectListQuery,
    ProjectView,
};
use crate::views::{PageParams, Paginated};
use actix_web::{HttpRequest, web};
use entity::project;
use std::time::Instant;

/// Registers the project routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/projects/")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(resource("/api/projects/validate/").route(web::post().to(validate_config)))
    .service(
        resource("/api/projects/{id}/")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(resource("/api/projects/{id}/import").route(web::post().to(import)))
    .service(
        resource("/api/projects/{id}/validate/").route(web::post().to(validate_project_config)),
    )
    .service(resource("/api/projects/{id}/tasks/").route(web::delete().to(delete_all_tasks)));
}

async fn one_view(state: &AppState, project: project::Model) -> ApiResult<ProjectView> {
    views(state, vec![project])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)
}

/// The caller organization's projects, paginated (30 per page by default, at most 100;
/// newest first; `page=last` for the last page).
#[utoipa::path(get, path = "/api/projects/", tag = "projects", params(PageParams, ProjectListQuery),
    responses((status = 200, body = Paginated<ProjectView>), (status = 401, body = ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<ProjectListQuery>,
) -> ApiResult<Json<Paginated<ProjectView>>> {
    let request = paging.resolve(30, 100)?;
    let query = query.into_inner();
    let filter = ListFilter {
        title: query.title.filter(|t| !t.is_empty()),
        search: query.search.filter(|t| !t.is_empty()),
        ids: query
            .ids
            .as_deref()
            .map(|raw| parse_ids("ids", raw))
            .transpose()?
            .flatten(),
        ordering: query.ordering,
    };
    let (items, count, page) = service::list(&state.db, &caller, &filter, request).await?;
    let (next, previous) = page_links(&req, page, count);
    let results = views(&state, items).await?;
    Ok(Json(Paginated {
        count,
        next,
        previous,
        results,
    }))
}

/// Creates a project; its label config is validated (400 names the problem and position).
#[utoipa::path(post, path = "/api/projects/", tag = "projects", request_body = ProjectInput,
    responses((status = 201, body = ProjectView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Manager,
    body: ApiJson<ProjectInput>,
) -> ApiResult<Created<ProjectView>> {
    let created = service::create(&state.db, &caller, body.0).await?;
    Ok(Created(one_view(&state, created).await?))
}

/// One project.
#[utoipa::path(get, path = "/api/projects/{id}/", tag = "projects", params(("id" = i64, Path, description = "Project id")),
    responses((status = 200, body = ProjectView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<Json<ProjectView>> {
    let found = service::get(&state.db, &caller, *id).await?;
    Ok(Json(one_view(&state, found).await?))
}

/// Partial update; a new label config is validated.
#[utoipa::path(patch, path = "/api/projects/{id}/", tag = "projects", params(("id" = i64, Path, description = "Project id")),
    request_body = ProjectInput,
    responses((status = 200, body = ProjectView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
    body: ApiJson<ProjectInput>,
) -> ApiResult<Json<ProjectView>> {
    let updated = service::update(&state.db, &caller, *id, body.0).await?;
    Ok(Json(one_view(&state, updated).await?))
}

/// Deletes a project with its tasks, annotations, predictions and runs.
#[utoipa::path(delete, path = "/api/projects/{id}/", tag = "projects", params(("id" = i64, Path, description = "Project id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
) -> ApiResult<NoContent> {
    service::delete(&state.db, &caller, *id).await?;
    Ok(NoContent)
}

/// Imports tasks, with inline `annotations` and `predictions`, in one transaction.
#[utoipa::path(post, path = "/api/projects/{id}/import", tag = "projects", params(("id" = i64, Path, description = "Project id"), ImportQuery),
    request_body(content = Vec<Object>, description = "Tasks: data objects, or {data, annotations, predictions, meta}"),
    responses((status = 201, body = ImportView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn import(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
    query: web::Query<ImportQuery>,
    body: ApiJson<serde_json::Value>,
) -> ApiResult<Created<ImportView>> {
    let started = Instant::now();
    let flag = |name: &str, raw: Option<&str>, default: bool| match raw {
        None => Ok(default),
        Some(raw) => parse_bool(raw).ok_or_else(|| ApiError::field(name, "Must be true or false.")),
    };
    let commit = flag(
        "commit_to_project",
        query.commit_to_project.as_deref(),
        true,
    )?;
    let return_ids = flag("return_task_ids", query.return_task_ids.as_deref(), false)?;
    let ground_truth = match query.ground_truth.as_deref() {
        None => false,
        Some(raw) => parse_bool(raw)
            .ok_or_else(|| ApiError::field("ground_truth", "Must be true or false."))?,
    };
    let outcome = service::import(&state.db, &caller, *id, body.0, commit, ground_truth).await?;
    tracing::info!(
        project = *id,
        tasks = outcome.task_ids.len(),
        commit,
        "imported tasks"
    );
    Ok(Created(ImportView {
        task_count: outcome.task_ids.len(),
        annotation_count: outcome.annotation_count,
        prediction_count: outcome.prediction_count,
        predictions_count: outcome.prediction_count,
        duration: started.elapsed().as_secs_f64(),
        file_upload_ids: vec![],
        could_be_tasks_list: false,
        found_formats: vec![],
        data_columns: outcome.data_columns,
        task_ids: return_ids.then_some(outcome.task_ids),
    }))
}

/// Validates a label config against a project (400 names the problem and its position).
#[utoipa::path(post, path = "/api/projects/{id}/validate/", tag = "projects", params(("id" = i64, Path, description = "Project id")),
    request_body = LabelConfigInput,
    responses((status = 200, body = LabelConfigView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn validate_project_config(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
    body: ApiJson<LabelConfigInput>,
) -> ApiResult<Json<LabelConfigView>> {
    let project = service::get(&state.db, &caller, *id).await?;
    let config = service::parse_config_off_thread("label_config", &body.0.label_config).await?;
    let changed = config.parsed_label_config() != config_of(&project).parsed_label_config();
    Ok(Json(LabelConfigView {
        label_config: body.0.label_config,
        config_essential_data_has_changed: changed,
    }))
}

/// Validates a label config on its own.
#[utoipa::path(post, path = "/api/projects/validate/", tag = "projects", request_body = LabelConfigInput,
    responses((status = 200, body = LabelConfigView), (status = 400, body = ErrorBody)))]
pub async fn validate_config(
    _caller: AuthUser,
    body: ApiJson<LabelConfigInput>,
) -> ApiResult<Json<LabelConfigView>> {
    service::parse_config_off_thread("label_config", &body.0.label_config).await?;
    Ok(Json(LabelConfigView {
        label_config: body.0.label_config,
        config_essential_data_has_changed: false,
    }))
}

/// Deletes every task of a project.
#[utoipa::path(delete, path = "/api/projects/{id}/tasks/", tag = "tasks", params(("id" = i64, Path, description = "Project id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_all_tasks(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
) -> ApiResult<NoContent> {
    tasks::delete_all(&state.db, &caller, *id).await?;
    Ok(NoContent)
}
