//! Annotations: `/api/tasks/{id}/annotations/` and `/api/annotations/{id}/`.
use super::resource;
use crate::auth::AuthUser;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::respond::{Created, Json, NoContent, Paged};
use crate::services::accounts;
use crate::services::annotations as service;
use crate::state::AppState;
use crate::views::PageParams;
use crate::views::annotations::{AnnotationInput, AnnotationView};
use actix_web::{HttpRequest, web};
use entity::annotation;

/// Registers the annotation routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/tasks/{id}/annotations/")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/api/annotations/{id}/")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

async fn views(state: &AppState, items: Vec<annotation::Model>) -> ApiResult<Vec<AnnotationView>> {
    let ids: Vec<i64> = items.iter().filter_map(|a| a.completed_by_id).collect();
    let users = accounts::users_by_id(&state.db, &ids).await?;
    Ok(items
        .into_iter()
        .map(|a| {
            let name = a
                .completed_by_id
                .and_then(|id| users.get(&id))
                .map(|u| u.email.clone())
                .unwrap_or_default();
            AnnotationView::new(a, name)
        })
        .collect())
}

async fn one(state: &AppState, item: annotation::Model) -> ApiResult<AnnotationView> {
    views(state, vec![item])
        .await?
        .pop()
        .ok_or(crate::error::ApiError::NotFound)
}

/// The non-cancelled annotations of a task, by id: a list, paginated by `page` and
/// `page_size` (1,000 a page by default and at most), the total in `X-Total-Count` and the
/// other pages in `Link`.
#[utoipa::path(get, path = "/api/tasks/{id}/annotations/", tag = "annotations", params(("id" = i64, Path, description = "Task id"), PageParams),
    responses((status = 200, body = Vec<AnnotationView>, headers(
        ("X-Total-Count" = u64, description = "Annotations over all pages"),
        ("Link" = String, description = "The next and previous pages (RFC 8288)"))),
        (status = 404, body = ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
    paging: web::Query<PageParams>,
) -> ApiResult<Paged<AnnotationView>> {
    use crate::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
    let request = paging.resolve(DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
    let (items, count, page) = service::list(&state.db, &caller, *id, request).await?;
    let views = views(&state, items).await?;
    Ok(Paged::new(&req, page, count, views))
}

/// Annotates a task as the caller.
#[utoipa::path(post, path = "/api/tasks/{id}/annotations/", tag = "annotations", params(("id" = i64, Path, description = "Task id")),
    request_body = AnnotationInput,
    responses((status = 201, body = AnnotationView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
    body: ApiJson<AnnotationInput>,
) -> ApiResult<Created<AnnotationView>> {
    let created = service::create(&state.db, &caller, *id, body.0).await?;
    Ok(Created(one(&state, created).await?))
}

/// One annotation.
#[utoipa::path(get, path = "/api/annotations/{id}/", tag = "annotations", params(("id" = i64, Path, description = "Annotation id")),
    responses((status = 200, body = AnnotationView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<Json<AnnotationView>> {
    let found = service::get(&state.db, &caller, *id).await?;
    Ok(Json(one(&state, found).await?))
}

/// Partial update of an annotation.
#[utoipa::path(patch, path = "/api/annotations/{id}/", tag = "annotations", params(("id" = i64, Path, description = "Annotation id")),
    request_body = AnnotationInput,
    responses((status = 200, body = AnnotationView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
    body: ApiJson<AnnotationInput>,
) -> ApiResult<Json<AnnotationView>> {
    let updated = service::update(&state.db, &caller, *id, body.0).await?;
    Ok(Json(one(&state, updated).await?))
}

/// Deletes an annotation.
#[utoipa::path(delete, path = "/api/annotations/{id}/", tag = "annotations", params(("id" = i64, Path, description = "Annotation id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<NoContent> {
    service::delete(&state.db, &caller, *id).await?;
    Ok(NoContent)
}
