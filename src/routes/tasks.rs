//! Tasks: `/api/tasks/` (Label Studio's data-manager list shape) and `/api/tasks/{id}/`.
use super::resource;
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::extract::{ApiJson, parse_bool};
use crate::respond::{Created, Json, NoContent};
use crate::services::{accounts, tasks as service};
use crate::state::AppState;
use crate::views::PageParams;
use crate::views::tasks::{TaskInput, TaskListQuery, TaskListView, TaskUpdate, TaskView};
use actix_web::web;

/// Registers the task routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/tasks/")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/api/tasks/{id}/")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// Tasks with their annotations and predictions, annotators named by email.
async fn full_views(state: &AppState, tasks: Vec<entity::task::Model>) -> ApiResult<Vec<TaskView>> {
    let details = service::with_children(&state.db, tasks).await?;
    let user_ids: Vec<i64> = details
        .iter()
        .flat_map(|d| d.annotations.iter().filter_map(|a| a.completed_by_id))
        .collect();
    let users = accounts::users_by_id(&state.db, &user_ids).await?;
    let name = |id: Option<i64>| {
        id.and_then(|id| users.get(&id))
            .map(|u| u.email.clone())
            .unwrap_or_default()
    };
    Ok(details
        .into_iter()
        .map(|d| TaskView::full(d.task, d.annotations, d.predictions, name))
        .collect())
}

/// One page of a project's tasks, by id, with totals over the whole filtered list. Past the
/// last page the list is empty (200).
#[utoipa::path(get, path = "/api/tasks/", tag = "tasks", params(PageParams, TaskListQuery),
    responses((status = 200, body = TaskListView), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<TaskListQuery>,
) -> ApiResult<Json<TaskListView>> {
    let request = paging.resolve(100, 10_000)?;
    let Some(project) = query.project else {
        return Err(if query.view.is_some() {
            ApiError::bad_request(
                ErrorCode::Unsupported,
                "Data-manager views are not supported; filter by project.",
            )
        } else {
            ApiError::bad_request(
                ErrorCode::MissingProject,
                "Neither project nor view id specified",
            )
        });
    };
    let only_annotated = match query.only_annotated.as_deref() {
        None => false,
        Some(raw) => parse_bool(raw)
            .ok_or_else(|| ApiError::field("only_annotated", "Must be true or false."))?,
    };
    let found = service::list(&state.db, &caller, project, only_annotated, request).await?;
    let tasks = if query.fields.as_deref() == Some("all") {
        full_views(&state, found.tasks).await?
    } else {
        found.tasks.into_iter().map(TaskView::bare).collect()
    };
    Ok(Json(TaskListView {
        tasks,
        total: found.total,
        total_annotations: found.total_annotations,
        total_predictions: found.total_predictions,
    }))
}

/// Creates a task.
#[utoipa::path(post, path = "/api/tasks/", tag = "tasks", request_body = TaskInput,
    responses((status = 201, body = TaskView), (status = 400, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Manager,
    body: ApiJson<TaskInput>,
) -> ApiResult<Created<TaskView>> {
    let input = body.0;
    let created =
        service::create(&state.db, &caller, input.project, input.data, input.meta).await?;
    let view = full_views(&state, vec![created])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Created(view))
}

/// One task with its annotations and predictions.
#[utoipa::path(get, path = "/api/tasks/{id}/", tag = "tasks", params(("id" = i64, Path, description = "Task id")),
    responses((status = 200, body = TaskView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<Json<TaskView>> {
    let found = service::get(&state.db, &caller, *id).await?;
    let view = full_views(&state, vec![found])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Json(view))
}

/// Partial update of a task's data or meta.
#[utoipa::path(patch, path = "/api/tasks/{id}/", tag = "tasks", params(("id" = i64, Path, description = "Task id")),
    request_body = TaskUpdate,
    responses((status = 200, body = TaskView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
    body: ApiJson<TaskUpdate>,
) -> ApiResult<Json<TaskView>> {
    let input = body.0;
    let updated = service::update(&state.db, &caller, *id, input.data, input.meta).await?;
    let view = full_views(&state, vec![updated])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Json(view))
}

/// Deletes a task with its annotations and predictions.
#[utoipa::path(delete, path = "/api/tasks/{id}/", tag = "tasks", params(("id" = i64, Path, description = "Task id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
) -> ApiResult<NoContent> {
    service::delete(&state.db, &caller, *id).await?;
    Ok(NoContent)
}
